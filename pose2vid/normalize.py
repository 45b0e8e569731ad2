"""Global pose normalisation (Everybody Dance Now, section 3.2): a source's poses on a target's body.

A pose-to-video model learns one subject, filmed at its own distance and framing; poses taken
from someone else (or generated) have another body size and another place in the image. The
normalisation is one scale and one translation per frame, read from where the feet are:

- From each video's poses, :func:`body_stats` finds where the ankles are in the image (``y``
  grows downwards, so a larger ankle ``y`` means a person nearer the camera), its far end (a low
  percentile) and near end (a high percentile), and how tall the person appears at each: a high
  percentile of the head-to-ankle heights of the frames standing near that end, so that crouches
  and missed joints do not count.
- :func:`normalize_poses` places each source frame by its ankle ``y`` along the source's depth
  range, ``u = 0`` at the far end and ``1`` at the near end, and gives it the target's ankle ``y``
  and the target-to-source height ratio at that same fraction of the target's range (both
  interpolated linearly, extrapolated beyond the ends). The frame is scaled about its own
  feet and moved sideways so that the source's median body centre lands on the target's.

All coordinates are pixels, ``(x, y)``, a missing joint stored as ``(0, 0)``.
"""

from dataclasses import dataclass

import numpy as np

from dataset.skeleton import JOINT_INDEX, NUM_JOINTS, missing_mask

_ANKLES = [JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"]]
_HEAD = [JOINT_INDEX[name] for name in ("nose", "r_eye", "l_eye", "r_ear", "l_ear", "neck")]
_CENTRE = [JOINT_INDEX[name] for name in ("neck", "r_hip", "l_hip")]


@dataclass(frozen=True)
class BodyStats:
    """Where a video's person stands and how tall it appears, all in pixels.

    ``far_y`` and ``near_y``: the ankle ``y`` at the far and near ends of the depth range;
    ``far_height`` and ``near_height``: the head-to-ankle height at each end;
    ``median_ankle_y``: the median ankle ``y``; ``centre_x``: the median ``x`` of the body centre.
    """

    far_y: float
    near_y: float
    far_height: float
    near_height: float
    median_ankle_y: float
    centre_x: float


def _present(poses):
    """True where a joint is present (finite, not (0, 0)). Shape ``(..., 18, 2)`` -> ``(..., 18)``."""
    poses = np.asarray(poses, dtype=np.float64)
    return np.isfinite(poses).all(axis=-1) & ~missing_mask(np.nan_to_num(poses))


def _check_shape(poses, name):
    """``poses`` as a float array, or a ValueError naming ``name`` unless it is ``(T, 18, 2)``."""
    poses = np.asarray(poses, dtype=np.float64)
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"{name}: expected poses of shape (T, {NUM_JOINTS}, 2) in pixels, got {poses.shape}")
    return poses


def lowest_ankle_y(poses):
    """Per frame, the ankle ``y`` (the lower of the present ankles in the image) and NaN without one.

    Shape: ``(T, 18, 2)`` pixels -> ``(T,)``.
    """
    poses = _check_shape(poses, "lowest_ankle_y")
    ankle_y = np.where(_present(poses)[:, _ANKLES], poses[:, _ANKLES, 1], -np.inf).max(axis=1)
    return np.where(np.isfinite(ankle_y), ankle_y, np.nan)


def body_stats(poses, far_percentile=5.0, near_percentile=95.0, height_percentile=90.0, band=0.03):
    """A video's depth range and apparent body heights, from its poses.

    The height of a frame is its ankle ``y`` minus the ``y`` of its highest present head joint
    (nose, eyes, ears, neck); frames without a present ankle or head joint, or with the head not
    above the ankle, are left out. The height at each end of the range is the
    ``height_percentile`` of the heights of the frames whose ankle ``y`` is that end's to within
    ``band`` times the median height (the frames nearest to it when none is). The centre
    ``x`` of a frame is the mean ``x`` of its present neck and hips.

    Shape: ``poses`` ``(T, 18, 2)`` pixels -> :class:`BodyStats`. Raises ValueError when no frame
    is usable or no usable frame has a neck or hip.
    """
    poses = _check_shape(poses, "body_stats")
    present = _present(poses)
    poses = np.where(present[..., None], poses, 0.0)
    ankle_y = lowest_ankle_y(poses)
    head_y = np.where(present[:, _HEAD], poses[:, _HEAD, 1], np.inf).min(axis=1)
    usable = np.isfinite(ankle_y) & np.isfinite(head_y)
    usable[usable] = ankle_y[usable] > head_y[usable]
    if not usable.any():
        raise ValueError(f"body_stats: none of the {len(poses)} frames has both an ankle and a head joint "
                         "(nose, eyes, ears or neck) present, the head above the ankle")
    ankle_y, heights = ankle_y[usable], ankle_y[usable] - head_y[usable]
    far_y, near_y = np.percentile(ankle_y, [far_percentile, near_percentile])
    window = band * np.median(heights)

    def height_near(position):
        distance = np.abs(ankle_y - position)
        return float(np.percentile(heights[distance <= max(window, distance.min())], height_percentile))

    with_centre = usable & present[:, _CENTRE].any(axis=1)
    if not with_centre.any():
        raise ValueError(f"body_stats: none of the usable frames (of {len(poses)}) has a neck or hip present")
    weights = present[with_centre][:, _CENTRE]
    centres_x = (poses[with_centre][:, _CENTRE, 0] * weights).sum(axis=1) / weights.sum(axis=1)
    return BodyStats(far_y=float(far_y), near_y=float(near_y), far_height=height_near(far_y),
                     near_height=height_near(near_y), median_ankle_y=float(np.median(ankle_y)),
                     centre_x=float(np.median(centres_x)))


def normalize_poses(poses, source, target, min_depth_range=0.05):
    """The source's poses moved and scaled onto the target's body, frame by frame.

    A frame with ankle ``y`` ``a`` (its source median when no ankle is present) lies at
    ``u = (a - source.far_y) / (source.near_y - source.far_y)`` along the source's depth range;
    it is scaled by the target-to-source height ratio interpolated at ``u`` between the far and
    near ends, about the point ``(source.centre_x, a)``, which goes to
    ``(target.centre_x, target.far_y + u * (target.near_y - target.far_y))``. A source whose
    range is under ``min_depth_range`` times its far height has no depth: ``u = 0`` and its feet
    go to the target's median ankle ``y``.

    Shape: ``poses`` ``(T, 18, 2)`` pixels, ``source`` and ``target`` :class:`BodyStats` ->
    ``(T, 18, 2)`` float64 pixels; missing joints stay exactly ``(0, 0)``.
    """
    poses = _check_shape(poses, "normalize_poses")
    present = _present(poses)
    poses = np.where(present[..., None], poses, 0.0)
    ankle_y = lowest_ankle_y(poses)
    ankle_y = np.where(np.isnan(ankle_y), source.median_ankle_y, ankle_y)
    depth = source.near_y - source.far_y
    if depth > min_depth_range * source.far_height:
        u = (ankle_y - source.far_y) / depth
        new_ankle_y = target.far_y + u * (target.near_y - target.far_y)
    else:
        u = np.zeros_like(ankle_y)
        new_ankle_y = np.full_like(ankle_y, target.median_ankle_y)
    far_ratio = target.far_height / source.far_height
    scale = far_ratio + u * (target.near_height / source.near_height - far_ratio)
    origin = np.stack([np.full_like(ankle_y, source.centre_x), ankle_y], axis=-1)
    destination = np.stack([np.full_like(ankle_y, target.centre_x), new_ankle_y], axis=-1)
    moved = (poses - origin[:, None]) * scale[:, None, None] + destination[:, None]
    return np.where(present[..., None], moved, 0.0)
