"""Set-level scores of dances against their music: the per-clip metrics of :mod:`metrics.beats`
averaged over clips, cross-modal retrieval accuracy, genre accuracy, and helpers to build controls.

Pure numpy functions, no I/O. A set is N clips: dances ``(N, T, 18, 2)`` pixels and, per clip,
its music's beat times (seconds from the clip start), true tempo or genre label.
"""

import math

import numpy as np

from dataset.format import FPS
from dataset.skeleton import BONES, CANVAS_HEIGHT, CANVAS_WIDTH, missing_mask
from metrics.beats import (beat_align_score_motion, beat_align_score_music, beat_coverage, beat_hit_rate,
                           kinematic_beats, kinematic_tempo, tempo_error)
from metrics.fid import fid
from metrics.inputs import as_array


def _nanmean(values):
    """Mean of the finite values; NaN when there are none (no warning)."""
    values = np.asarray(values, dtype=np.float64)
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else float("nan")


def derangement(n, rng):
    """A uniformly random permutation of ``range(n)`` with no fixed point (rejection sampling).

    Shape: int n >= 2 -> ``(n,)`` int64 with ``perm[i] != i`` for every i.
    """
    if n < 2:
        raise ValueError(f"derangement: need n >= 2, got {n}")
    while True:
        perm = rng.permutation(n)
        if np.all(perm != np.arange(n)):
            return perm


def window_beats(beats, window_s, num_windows):
    """Split beat times of a long piece into consecutive windows, each relative to its start.

    Shape: ``(B,)`` seconds -> list of ``num_windows`` arrays; window w holds the beats in
    ``[w * window_s, (w + 1) * window_s)`` minus ``w * window_s``.
    """
    beats = as_array(beats).reshape(-1)
    windows = []
    for w in range(num_windows):
        start = w * window_s
        inside = beats[(beats >= start - 1e-9) & (beats < start + window_s - 1e-9)]
        windows.append(inside - start)
    return windows


def beat_scores(dances, music_beats, sigma=0.1, tolerance_s=0.1, fps=FPS):
    """Beat alignment of every dance with its music, averaged over the clips where defined.

    Per clip: kinematic beats of the dance (:func:`metrics.beats.kinematic_beats`), then
    alignment averaged over music beats (Bailando) and over motion beats (FACT), beat coverage and
    beat hit rate against ``music_beats[i]``. A clip where a score is undefined (NaN: no music
    beats, or a dance without kinematic beats for the motion-averaged scores) is left out of
    that score's mean; a static dance still scores 0 on the music-averaged alignment and on
    coverage.

    Args:
        dances: ``(N, T, 18, 2)`` pixel poses.
        music_beats: N arrays of beat times in seconds from the clip start.
        sigma: Gaussian width of the alignment scores in seconds; tolerance_s: hit tolerance.

    Returns:
        dict ``beat_align_music``, ``beat_align_motion``, ``beat_coverage``, ``beat_hit_rate``
        (means) and ``motion_beats_per_clip``.
    """
    if len(dances) != len(music_beats):
        raise ValueError(f"beat_scores: {len(dances)} dances but {len(music_beats)} beat lists")
    per_clip = {"beat_align_music": [], "beat_align_motion": [], "beat_coverage": [], "beat_hit_rate": []}
    counts = []
    for dance, music in zip(dances, music_beats):
        motion = kinematic_beats(dance, fps=fps)
        counts.append(len(motion))
        per_clip["beat_align_music"].append(beat_align_score_music(music, motion, sigma))
        per_clip["beat_align_motion"].append(beat_align_score_motion(music, motion, sigma))
        per_clip["beat_coverage"].append(beat_coverage(music, motion))
        per_clip["beat_hit_rate"].append(beat_hit_rate(music, motion, tolerance_s))
    scores = {name: _nanmean(values) for name, values in per_clip.items()}
    scores["motion_beats_per_clip"] = float(np.mean(counts)) if counts else float("nan")
    return scores


def tempo_scores(dances, bpm_true, tolerance=0.05, fps=FPS):
    """How well each dance's kinematic tempo matches its music's true tempo.

    Tempo error allows a factor 2 or 1/2 (:func:`metrics.beats.tempo_error`). A dance without a
    tempo (static, or too short) counts as a miss and is left out of the median.

    Shape: dances ``(N, T, 18, 2)`` pixels, bpm_true ``(N,)`` -> dict ``tempo_within_5pct``
    (fraction of clips within ``tolerance``) and ``tempo_median_error`` (relative; NaN if no
    dance has a tempo).
    """
    estimates = np.array([kinematic_tempo(dance, fps=fps) for dance in dances])
    errors = tempo_error(estimates, as_array(bpm_true).reshape(-1))
    errors = np.atleast_1d(errors)
    finite = errors[np.isfinite(errors)]
    return {
        "tempo_within_5pct": float(np.mean(np.isfinite(errors) & (errors <= tolerance))) if len(errors) else float("nan"),
        "tempo_median_error": float(np.median(finite)) if finite.size else float("nan"),
    }


def retrieval_accuracy(similarity, num_distractors, rng):
    """Top-1 accuracy of finding each dance's own music among random distractor music clips.

    For dance i the candidates are music i and ``num_distractors`` music clips drawn without
    replacement from the others (``min(num_distractors, N - 1)``); it scores 1 when its own
    music is strictly the most similar, ``1/k`` when it ties with k-1 distractors for the top,
    else 0. Chance level is ``1 / (1 + num_distractors)``.

    Args:
        similarity: ``similarity[i, j]`` between dance i and music j, ``(N, N)`` with N >= 2.
        rng: numpy Generator drawing the distractors.

    Returns:
        float in [0, 1], the mean over dances.
    """
    similarity = as_array(similarity)
    n = len(similarity)
    if similarity.shape != (n, n) or n < 2:
        raise ValueError(f"similarity: expected (N, N) with N >= 2, got {similarity.shape}")
    k = min(num_distractors, n - 1)
    hits = []
    for i in range(n):
        others = np.delete(np.arange(n), i)
        distractors = similarity[i, rng.choice(others, size=k, replace=False)]
        own = similarity[i, i]
        hits.append(0.0 if np.any(distractors > own) else 1.0 / (1 + np.sum(distractors == own)))
    return float(np.mean(hits))


def fid_in_sample_span(features_a, features_b, eps=1e-6):
    """:func:`metrics.fid.fid` computed in the span of the samples, for few samples of many features.

    Both Gaussians live in the affine span of the samples (all centred on ``features_b``'s mean),
    so an orthonormal basis of that span (rank r <= N_a + N_b - 1, from an SVD) maps both sets
    isometrically and leaves the Frechet distance unchanged; the square root is then of an
    r x r matrix instead of D x D. Only ``fid``'s eps regularisation of singular covariances acts
    on r instead of D directions (a difference of the order of ``D * eps``). Falls back to
    :func:`metrics.fid.fid` when r = D.

    Shape: ``(N_a, D), (N_b, D)`` with N_a, N_b >= 2 -> float >= 0.
    """
    features_a, features_b = as_array(features_a), as_array(features_b)
    origin = features_b.mean(axis=0)
    centred = np.concatenate([features_a, features_b]) - origin
    _, singular, basis = np.linalg.svd(centred, full_matrices=False)
    basis = basis[singular > singular.max(initial=0.0) * 1e-10].T  # (D, r)
    if basis.shape[1] == 0:
        return 0.0
    if basis.shape[1] >= features_a.shape[1]:
        return fid(features_a, features_b, eps)
    return fid((features_a - origin) @ basis, (features_b - origin) @ basis, eps)


def genre_labels(genres, classes):
    """Class index of each clip's genre in ``classes`` (-1 where the classifier lacks it).

    Shape: N genre names, C class names -> ``(N,)`` ints.
    """
    index = {name: k for k, name in enumerate(classes)}
    return np.array([index.get(genre, -1) for genre in genres], dtype=int)


def genre_accuracy(logits, labels):
    """Fraction of clips whose arg-max class is their label; labels < 0 (unknown) are skipped.

    Shape: ``(N, C)``, ``(N,)`` ints -> float; NaN if no clip has a known label.
    """
    logits, labels = as_array(logits), np.asarray(labels).reshape(-1)
    known = labels >= 0
    if not np.any(known):
        return float("nan")
    return float(np.mean(np.argmax(logits[known], axis=1) == labels[known]))


def standardize(features, reference):
    """Scale features by the per-dimension mean and standard deviation of ``reference``.

    Dimensions constant in the reference are only centred. Shape: ``(N, D)``, ``(M, D)`` -> ``(N, D)``.
    """
    features, reference = as_array(features), as_array(reference)
    std = reference.std(axis=0)
    return (features - reference.mean(axis=0)) / np.where(std > 0, std, 1.0)


def edge_jump(dances):
    """How much the first and last frame steps of a clip outdo its other frame steps.

    Per clip, the largest joint displacement of the steps 0->1 and T-2->T-1 divided by the
    median largest displacement of the steps in between; averaged over clips. About 1 for
    smooth motion; a generator that throws its boundary frames across the canvas scores far
    above it. Missing joints ((0, 0) pixels) are ignored; clips without interior motion are
    left out (NaN when none is left).

    Shape: ``(N, T, 18, 2)`` pixels, ``T >= 4`` -> float.
    """
    dances = np.asarray(dances, dtype=np.float64)
    present = ~np.all(dances == 0, axis=-1)
    both = present[:, 1:] & present[:, :-1]
    step = np.where(both, np.linalg.norm(np.diff(dances, axis=1), axis=-1), 0.0).max(axis=-1)
    interior = np.median(step[:, 1:-1], axis=1)
    edges = np.maximum(step[:, 0], step[:, -1])
    moving = interior > 0
    return _nanmean(edges[moving] / interior[moving]) if moving.any() else float("nan")


def corner_frames(dances, min_joints=4, tol_px=2.0):
    """Share of frames with at least ``min_joints`` joints on a corner of the 640x360 canvas.

    A generator whose pose layer saturates its tanh throws joints to the corners ((0, 0), the
    missing-joint mark, or (640, 360)), which draws as long bars across the frame. Real poses
    reach a corner only as missing joints, a few per frame at most in the embedded corpus.

    Shape: ``(N, T, 18, 2)`` pixels -> float in [0, 1].
    """
    dances = np.asarray(dances, dtype=np.float64)
    corners = np.array([[0.0, 0.0], [CANVAS_WIDTH, 0.0], [0.0, CANVAS_HEIGHT],
                        [CANVAS_WIDTH, CANVAS_HEIGHT]])
    distance = np.abs(dances[..., None, :] - corners).max(axis=-1).min(axis=-1)  # (N, T, J)
    return float(((distance <= tol_px).sum(axis=-1) >= min_joints).mean())


def dancers_stage(reference, margin_px=40.0):
    """The box the dancers' necks keep to: the 0.1st to 99.9th percentile of the recorded necks'
    x and y (missing necks left out), widened by ``margin_px`` on every side.

    Shape: ``(N, T, 18, 2)`` pixels -> ``(x0, y0, x1, y1)`` floats.
    """
    necks = np.asarray(reference, dtype=np.float64)[..., 1, :].reshape(-1, 2)
    necks = necks[~missing_mask(necks)]
    low, high = np.percentile(necks, [0.1, 99.9], axis=0)
    return (low[0] - margin_px, low[1] - margin_px, high[0] + margin_px, high[1] + margin_px)


def off_stage_frames(dances, stage):
    """Share of frames whose neck is outside ``stage`` (:func:`dancers_stage`): the dancer has
    slid where no recorded dancer goes, towards a side or a corner of the canvas, however
    smoothly (a slide moves no joint far in one frame, so :data:`THROWN_PX` misses it).

    Shape: ``(N, T, 18, 2)`` pixels, ``(x0, y0, x1, y1)`` -> float in [0, 1].
    """
    necks = np.asarray(dances, dtype=np.float64)[..., 1, :]
    x0, y0, x1, y1 = stage
    outside = (necks[..., 0] < x0) | (necks[..., 0] > x1) | (necks[..., 1] < y0) | (necks[..., 1] > y1)
    return float(outside.mean())


THROWN_PX = 120.0  # the corpus's largest visible one-frame step is 68 px


def joint_steps(dances, skip_missing=True):
    """Distance (px) each joint moves between consecutive frames.

    With ``skip_missing`` (recorded dances) a joint stored as missing ((0, 0)) in either frame
    gives NaN; without (generated dances, where (0, 0) is a joint thrown to the corner) every
    step counts.

    Shape: ``(N, T, 18, 2)`` pixels -> ``(N, T - 1, 18)`` float64.
    """
    dances = np.asarray(dances, dtype=np.float64)
    step = np.linalg.norm(np.diff(dances, axis=1), axis=-1)
    if not skip_missing:
        return step
    visible = ~missing_mask(dances)
    return np.where(visible[:, 1:] & visible[:, :-1], step, np.nan)


def median_step(dances, skip_missing=True):
    """Median one-frame joint step (px) over every joint and frame step (:func:`joint_steps`):
    how much a dance moves. Shape: ``(N, T, 18, 2)`` -> float (NaN when nothing is visible)."""
    steps = joint_steps(dances, skip_missing)
    return float(np.nanmedian(steps)) if np.isfinite(steps).any() else math.nan


def bone_lengths(dances, skip_missing=True):
    """Median length (px) of each of the 17 bones of :data:`dataset.skeleton.BONES` over every
    frame of every clip; with ``skip_missing`` (recorded dances) frames where either end is
    stored as missing do not count. Shape: ``(N, T, 18, 2)`` -> ``(17,)`` float64 (NaN for a
    bone never seen)."""
    dances = np.asarray(dances, dtype=np.float64)
    visible = ~missing_mask(dances) if skip_missing else np.ones(dances.shape[:-1], dtype=bool)
    every_frame = frame_bone_lengths(dances)
    lengths = []
    for k, (a, b) in enumerate(BONES):
        length = every_frame[..., k][visible[..., a] & visible[..., b]]
        lengths.append(np.median(length) if length.size else math.nan)
    return np.array(lengths)


def frame_bone_lengths(dances):
    """Length (px) of each of the 17 bones of :data:`dataset.skeleton.BONES` in every frame.

    Shape: ``(..., 18, 2)`` -> ``(..., 17)`` float64.
    """
    dances = np.asarray(dances, dtype=np.float64)
    ends = np.array(BONES)
    return np.linalg.norm(dances[..., ends[:, 0], :] - dances[..., ends[:, 1], :], axis=-1)


def bone_error(dances, reference, skip_missing=True):
    """How far a set's skeletons are from the reference dancers' build: the mean over bones of
    ``|ln(median length / reference median length)|`` (:func:`bone_lengths`; the reference is
    recorded, so its missing joints are skipped). 0 for the reference itself; 0.1 is about
    10 % longer or shorter bones. A skeleton whose joints drift apart or fold onto each other,
    which FID on pose features and beat scores can miss, scores high.
    Bones that the reference never shows, or shows with no length, do not count.
    Shape: ``(N, T, 18, 2)`` and ``(M, T', 18, 2)`` pixels -> float."""
    lengths, reference_lengths = bone_lengths(dances, skip_missing), bone_lengths(reference)
    counted = np.isfinite(lengths) & (reference_lengths > 0)
    ratio = lengths[counted] / reference_lengths[counted]
    return float(np.mean(np.abs(np.log(np.maximum(ratio, 1e-6))))) if counted.any() else math.nan


BROKEN_RATIO = 3.0  # a bone three times longer or shorter than the dancers' is a body come apart


def broken_frames(dances, reference, ratio=BROKEN_RATIO):
    """Share of frames in which some bone is more than ``ratio`` times longer or shorter than the
    reference dancers' median length of it (:func:`bone_lengths`): the skeleton has come apart in
    that frame, even where its neck stays on the stage and no joint moves far in one frame (a
    body stretched over a few seconds trips neither :func:`off_stage_frames` nor
    :data:`THROWN_PX`), and even where the mean build over a song (:func:`bone_error`) still
    looks near the dancers'. Bones that the reference never shows do not count.

    Shape: ``(N, T, 18, 2)`` generated pixels, ``(M, T', 18, 2)`` recorded pixels -> float.
    """
    reference_lengths = bone_lengths(reference)
    counted = reference_lengths > 0
    lengths = frame_bone_lengths(dances)[..., counted]
    log_ratio = np.abs(np.log(np.maximum(lengths, 1e-6) / reference_lengths[counted]))
    return float((log_ratio > math.log(ratio)).any(axis=-1).mean())


def thrown_steps(dances, skip_missing=True, limit_px=THROWN_PX):
    """Frame steps in which some joint moves more than ``limit_px`` (:func:`joint_steps`), per
    clip (mean count). Shape: ``(N, T, 18, 2)`` -> float."""
    steps = np.nan_to_num(joint_steps(dances, skip_missing), nan=0.0)
    return float((steps > limit_px).any(axis=-1).sum(axis=-1).mean())
