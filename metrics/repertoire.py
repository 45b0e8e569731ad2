"""How much of a dancer's range a generator uses: how far apart its dances for one piece of
music are, next to how far apart two recorded dancers of one genre are, and how large its moves.

Every measure works on joint positions relative to the neck of their frame (pixels), so a body
that only walks across the canvas neither moves nor differs. A joint stored as missing (pixel
(0, 0); in a generated dance, a joint thrown exactly to that corner), or any joint of a frame
whose neck is missing, is skipped. Pure numpy functions.
"""

import math

import numpy as np

from dataset.skeleton import JOINT_INDEX, NUM_JOINTS, missing_mask
from metrics.inputs import as_array

NECK = JOINT_INDEX["neck"]
WRISTS = (JOINT_INDEX["r_wrist"], JOINT_INDEX["l_wrist"])
ANKLES = (JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"])


def _mean(values):
    """Mean of the finite values; NaN when there are none."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def neck_relative(dances):
    """Each joint's position relative to its frame's neck, and where that position is known.

    Shape: ``(..., T, 18, 2)`` pixels -> offsets ``(..., T, 18, 2)`` pixels and visible
    ``(..., T, 18)`` bool (the joint and the neck both present; always False for the neck
    itself, whose offset is 0 by construction).
    """
    dances = as_array(dances)
    if dances.ndim < 3 or dances.shape[-2:] != (NUM_JOINTS, 2):
        raise ValueError(f"dances: expected (..., T, {NUM_JOINTS}, 2) pixels, got shape {dances.shape}")
    present = ~missing_mask(dances)
    visible = present & present[..., NECK:NECK + 1]
    visible[..., NECK] = False
    return dances - dances[..., NECK:NECK + 1, :], visible


def neck_relative_distance(a, b):
    """Mean Euclidean distance (px) between the neck-relative joints of two dances of one length.

    The mean runs over every frame and every joint but the neck that is visible in both dances
    (:func:`neck_relative`); NaN where there is none. Moving either whole body, in any frame,
    leaves it unchanged.

    Shape: ``(T, 18, 2)`` and ``(T, 18, 2)`` pixels -> float64 scalar; leading dimensions
    broadcast: ``(..., T, 18, 2)`` and ``(..., T, 18, 2)`` -> ``(...)``.
    """
    offsets_a, visible_a = neck_relative(a)
    offsets_b, visible_b = neck_relative(b)
    if offsets_a.shape[-3] != offsets_b.shape[-3]:
        raise ValueError(f"neck_relative_distance: dances of {offsets_a.shape[-3]} and "
                         f"{offsets_b.shape[-3]} frames; expected the same length")
    both = visible_a & visible_b
    distance = np.where(both, np.linalg.norm(offsets_a - offsets_b, axis=-1), 0.0).sum(axis=(-2, -1))
    count = both.sum(axis=(-2, -1))
    return np.where(count > 0, distance / np.maximum(count, 1), np.nan)[()]


def multimodality_px(draws):
    """How far apart a generator's dances for one clip are: the mean
    :func:`neck_relative_distance` over every pair of the K noise draws of a clip, averaged over
    clips (pairs and clips where it is undefined are left out).

    Shape: ``(N, K, T, 18, 2)`` pixels with K >= 2 -> float px (NaN when nothing is defined).
    """
    draws = as_array(draws)
    if draws.ndim != 5 or draws.shape[1] < 2:
        raise ValueError(f"draws: expected (N, K, T, {NUM_JOINTS}, 2) with K >= 2, got shape {draws.shape}")
    first, second = np.triu_indices(draws.shape[1], 1)
    pairs = neck_relative_distance(draws[:, first], draws[:, second])  # (N, K (K - 1) / 2)
    return _mean([_mean(clip) for clip in pairs])


def dancers_px(dances, videos, genres):
    """How far apart two recorded dancers of one genre are, on the scale of
    :func:`multimodality_px`: each clip's :func:`neck_relative_distance` to the clips of OTHER
    videos of its genre, averaged over those, then over the clips that have any.

    Shape: ``(N, T, 18, 2)`` pixels, N video ids, N genre names -> float px (NaN when no two
    videos share a genre).
    """
    dances = as_array(dances)
    videos, genres = np.asarray(videos, dtype=object), np.asarray(genres, dtype=object)
    if not len(dances) == len(videos) == len(genres):
        raise ValueError(f"dancers_px: {len(dances)} dances, {len(videos)} video ids and "
                         f"{len(genres)} genres; expected one of each per clip")
    per_clip = []
    for i, dance in enumerate(dances):
        others = (genres == genres[i]) & (videos != videos[i])
        if others.any():
            per_clip.append(_mean(neck_relative_distance(dance, dances[others])))
    return _mean(per_clip)


def joint_extent(offsets):
    """Size of one joint's moves: the diagonal of the box between the 5th and 95th percentiles
    of its x and of its y positions (robust to a few jittered frames).

    Shape: ``(F, 2)`` pixels -> float px (NaN for F = 0).
    """
    if len(offsets) == 0:
        return math.nan
    low, high = np.percentile(offsets, [5, 95], axis=0)
    return float(np.hypot(*(high - low)))


def move_size(dances, joints):
    """Mean over clips of the :func:`joint_extent` of each of ``joints``' neck-relative
    positions over the clip, averaged over those joints (e.g. :data:`WRISTS`, :data:`ANKLES`).
    Frames where a joint or the neck is missing are skipped; a joint never seen in a clip is
    left out of that clip's mean, a clip with none of them out of the mean over clips.

    Shape: ``(N, T, 18, 2)`` pixels -> float px (NaN when no joint is ever seen).
    """
    offsets, visible = neck_relative(dances)
    return _mean([_mean([joint_extent(clip[seen[:, j], j]) for j in joints])
                  for clip, seen in zip(offsets, visible)])
