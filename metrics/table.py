"""Rows of an evaluation (dances paired with music) and every metric scored on them.

A row is a set of (music, dance) pairs; :func:`score_rows` scores each with the same pure
functions (:mod:`metrics.beats`, :mod:`metrics.fid`, :mod:`metrics.diversity`,
:mod:`metrics.evaluation`, :mod:`metrics.repertoire`), using the frozen ST-GCN's features and
the music-dance embedding when they are given. The control rows (ground truth, shuffled
music, mean pose, untrained generator) put a model's figures in context.
"""

import functools
import logging
import math
from dataclasses import dataclass

import numpy as np
import torch

from dataset.skeleton import NUM_JOINTS, missing_mask, normalize
from metrics.diversity import diversity, multimodality
from metrics.evaluation import (beat_scores, bone_error, corner_frames, dancers_stage, derangement,
                                edge_jump, fid_in_sample_span, genre_accuracy, genre_labels,
                                median_step, off_stage_frames, retrieval_accuracy, standardize,
                                tempo_scores, thrown_steps)
from metrics.fid import kinetic_features
from metrics.repertoire import ANKLES, WRISTS, dancers_px, move_size, multimodality_px

METRICS = ("beat_align_music", "beat_align_motion", "beat_coverage", "beat_hit_rate", "motion_beats_per_clip",
           "fid_gcn", "fid_kinetic", "diversity_gcn", "diversity_kinetic", "multimodality_gcn",
           "multimodality_kinetic", "multimodality_px", "retrieval_top1", "genre_accuracy",
           "tempo_within_5pct", "tempo_median_error", "edge_jump", "corner_frames", "median_step",
           "thrown_steps", "bone_error", "off_stage", "wrist_range_px", "ankle_range_px")
BATCH = 64

log = logging.getLogger(__name__)


@dataclass
class Row:
    """One row of the table: dances paired with music.

    Shape:
        dances: ``(N, T, 18, 2)`` pixel poses; dance i is paired with music ``music[i]``.
        music: ``(N,)`` int indices into the :class:`MusicSet`.
        draws: ``(N, K, T, 18, 2)`` pixel poses, K noise draws per music clip, or None.
        recorded: the dances are recorded ones, whose (0, 0) joints are missing detections (in
            generated dances (0, 0) is a joint thrown to the corner).
        videos: N video ids of recorded dances with their own music (the ground truth), or None;
            given, ``multimodality_px`` holds the distance between dancers of one genre
            (:func:`metrics.repertoire.dancers_px`) instead of between noise draws.
    """

    dances: np.ndarray
    music: np.ndarray
    draws: np.ndarray = None
    recorded: bool = False
    videos: list = None


def mean_pose(dances):
    """Per-joint mean position over every frame where the joint is present (0, 0 if never).

    Shape: ``(N, T, 18, 2)`` pixels -> ``(18, 2)`` pixels.
    """
    joints = dances.reshape(-1, NUM_JOINTS, 2)
    present = ~missing_mask(joints)
    total = np.where(present[..., None], joints, 0.0).sum(axis=0)
    return total / np.maximum(present.sum(axis=0), 1)[:, None]


def control_rows(dances, still_pose, untrained_draws, rng, truth=True, videos=None):
    """The control rows over recorded ``dances`` ``(N, T, 18, 2)`` pixels.

    ``truth`` adds the dances with their own music (ground_truth), with their N video ids
    ``videos`` (or None) for its ``dancers_px``; ``still_pose`` ``(18, 2)``
    gives the mean-pose row; ``untrained_draws`` ``(N, K, T, 18, 2)`` (or None) the untrained
    row; ``rng`` draws the shuffled row's derangement (left out when N < 2).
    """
    n, frames = dances.shape[:2]
    identity = np.arange(n)
    static = np.broadcast_to(still_pose, (n, frames, NUM_JOINTS, 2)).copy()
    rows = {}
    if truth:
        rows["ground_truth"] = Row(dances, identity, recorded=True, videos=videos)
    if n >= 2:
        rows["shuffled_music"] = Row(dances, derangement(n, rng), recorded=True)
    rows["mean_pose"] = Row(static, identity, np.repeat(static[:, None], 2, axis=1))
    if untrained_draws is not None:
        rows["untrained"] = Row(untrained_draws[:, 0], identity, untrained_draws)
    return rows


@torch.no_grad()
def gcn_outputs(st_gcn, dances, device):
    """Pooled last-block features and class logits of the frozen ST-GCN.

    Shape: ``(N, T, 18, 2)`` pixels -> ``(N, 256)``, ``(N, C)`` float64.
    """
    poses = torch.as_tensor(normalize(dances).reshape(*dances.shape[:2], -1), dtype=torch.float32)
    features, logits = [], []
    for i in range(0, len(poses), BATCH):
        last = st_gcn.extract_feature(poses[i:i + BATCH].to(device))[-1].mean(dim=(2, 3))  # (B, 256)
        features.append(last.cpu())
        logits.append(st_gcn.fcn(last[..., None, None]).flatten(1).cpu())
    return torch.cat(features).double().numpy(), torch.cat(logits).double().numpy()


@torch.no_grad()
def embedding_similarity(embedding, dances, audio, device):
    """``S[i, j]``: similarity of dance i and music clip j under the music-dance embedding.

    Shape: dances ``(N, T, 18, 2)`` pixels, audio ``(N, T, 1600)`` -> ``(N, N)``.
    """
    poses = torch.as_tensor(normalize(dances).reshape(*dances.shape[:2], -1), dtype=torch.float32)
    audio = torch.as_tensor(audio, dtype=torch.float32)
    dance = torch.cat([embedding.embed_dance(poses[i:i + BATCH].to(device)).cpu() for i in range(0, len(poses), BATCH)])
    music = torch.cat([embedding.embed_music(audio[i:i + BATCH].to(device)).cpu() for i in range(0, len(audio), BATCH)])
    return (dance @ music.T).double().numpy()


def score_row(row, music, reference=None, gcn=None, reference_gcn=None, classes=None, similarity=None,
              seed=0, distractors=9, sigma=0.1, tolerance_s=0.1):
    """Every metric of one row that its inputs define (the others are NaN).

    Args:
        row: the :class:`Row`; music: the :class:`MusicSet` its indices point into.
        reference: held-out ground-truth dances ``(M, T, 18, 2)`` pixels for FID, or None.
        gcn: a function ``(N, T, 18, 2) -> (features (N, F), logits (N, C))``, or None.
        reference_gcn: ``gcn(reference)[0]``, the reference's features ``(M, F)``, or None.
        classes: the GCN's class names (genre accuracy needs them and ``music.genres``).
        similarity: ``S[i, j]`` dance i vs the music paired with dance j ``(N, N)``, or None.
        seed: seeds the retrieval distractors (the same for every row).

    Returns:
        dict metric name -> float, keys :data:`METRICS`.
    """
    scores = dict.fromkeys(METRICS, math.nan)
    scores.update(beat_scores(row.dances, [music.beats[m] for m in row.music], sigma, tolerance_s))
    kinetic = np.stack([kinetic_features(d) for d in row.dances])
    reference_kinetic = np.stack([kinetic_features(d) for d in reference]) if reference is not None else kinetic
    scores["diversity_kinetic"] = diversity(standardize(kinetic, reference_kinetic))
    if reference is not None:
        scores["fid_kinetic"] = fid_in_sample_span(standardize(kinetic, reference_kinetic),
                                    standardize(reference_kinetic, reference_kinetic))
    if row.draws is not None:
        draws = np.stack([kinetic_features(d) for d in row.draws.reshape(-1, *row.draws.shape[2:])])
        scores["multimodality_kinetic"] = multimodality(
            standardize(draws, reference_kinetic).reshape(*row.draws.shape[:2], -1))
        scores["multimodality_px"] = multimodality_px(row.draws)
    elif row.videos is not None and music.genres is not None:
        scores["multimodality_px"] = dancers_px(row.dances, row.videos, [music.genres[m] for m in row.music])
    if gcn is not None:
        features, logits = gcn(row.dances)
        scores["diversity_gcn"] = diversity(features)
        if reference_gcn is not None:
            scores["fid_gcn"] = fid_in_sample_span(features, reference_gcn)
        if row.draws is not None:
            draw_features = gcn(row.draws.reshape(-1, *row.draws.shape[2:]))[0]
            scores["multimodality_gcn"] = multimodality(draw_features.reshape(*row.draws.shape[:2], -1))
        if classes is not None and music.genres is not None:
            labels = genre_labels([music.genres[m] for m in row.music], classes)
            scores["genre_accuracy"] = genre_accuracy(logits, labels)
    if similarity is not None and len(row.dances) >= 2:
        scores["retrieval_top1"] = retrieval_accuracy(similarity, distractors, np.random.default_rng([seed, 2]))
    if music.bpm is not None:
        scores.update(tempo_scores(row.dances, music.bpm[row.music]))
    scores["edge_jump"] = edge_jump(row.dances)
    scores["corner_frames"] = corner_frames(row.dances)
    scores["median_step"] = median_step(row.dances, skip_missing=row.recorded)
    scores["thrown_steps"] = thrown_steps(row.dances, skip_missing=row.recorded)
    if reference is not None:
        scores["bone_error"] = bone_error(row.dances, reference, skip_missing=row.recorded)
        scores["off_stage"] = off_stage_frames(row.dances, dancers_stage(reference))
    scores["wrist_range_px"] = move_size(row.dances, WRISTS)
    scores["ankle_range_px"] = move_size(row.dances, ANKLES)
    return scores


def score_rows(rows, music, reference=None, st_gcn=None, classes=None, embedding=None, device="cpu", **options):
    """:func:`score_row` for every row, with the networks' features computed here.

    ``st_gcn`` and ``embedding`` are optional torch modules; ``options`` go to :func:`score_row`.
    Returns ``{row name: {metric: float}}`` in the order of ``rows``.
    """
    gcn = reference_gcn = None
    if st_gcn is not None:
        gcn = functools.partial(gcn_outputs, st_gcn, device=device)
        reference_gcn = gcn(reference)[0] if reference is not None else None
    results = {}
    for name, row in rows.items():
        similarity = None
        if embedding is not None:
            similarity = embedding_similarity(embedding, row.dances, music.audio[row.music], device)
        results[name] = score_row(row, music, reference, gcn, reference_gcn, classes, similarity, **options)
        log.info("scored row %s", name)
    return results


def format_table(results):
    """The results as a text table: one line per metric, one column per row."""
    names = list(results)
    width = max(len(m) for m in METRICS) + 2
    columns = [max(len(n), 9) + 2 for n in names]
    lines = ["metric".ljust(width) + "".join(n.rjust(c) for n, c in zip(names, columns))]
    for metric in METRICS:
        cells = []
        for name, column in zip(names, columns):
            value = results[name].get(metric, math.nan)
            cells.append(("n/a" if not np.isfinite(value) else f"{value:.4g}").rjust(column))
        lines.append(metric.ljust(width) + "".join(cells))
    return "\n".join(lines)
