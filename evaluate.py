"""Measure how well generated dances follow their music, beside control rows from the same code.

    python evaluate.py --model log/test/generator_0200.pth --data dataset/synthetic.json --json eval.json
    python evaluate.py --data dataset/synthetic.json                      # control rows only
    python evaluate.py --poses demo_out/ --data dataset/synthetic.json    # a folder of dances

Clips: by default the HELD-OUT split (``--subset test``: the test videos of ``--split``), cut
into 5 s samples (50 frames). ``--poses DIR`` instead reads every ``DIR/<name>.npy`` (pixel poses
``(T, 18, 2)`` on the 640x360 canvas at 10 fps, as get_demo.py writes them) with its
``DIR/<name>.wav`` (the music; any rate, resampled to 16 kHz), cut into consecutive 50-frame
windows (a remainder shorter than 50 frames is dropped); ``--data``'s held-out split is then
only the reference for FID and the source of the mean pose.

Rows (each a set of (music, dance) pairs scored by the same functions):
    model           the checkpoint's dances (noise draw 0 of ``--samples``), ``--model`` only
    poses           the folder's dances, ``--poses`` only
    ground_truth    the recorded dances with their own music
    shuffled_music  the same dances with the music of other clips (a random derangement)
    mean_pose       the training split's mean pose, standing still
    untrained       a randomly initialised generator (seed ``--seed``)

Metrics (NaN, written as null in JSON, where undefined):
    beat_align_music    Bailando's beat alignment: mean over music beats of exp(-d^2 / 2 sigma^2),
                        d the distance (s) to the nearest kinematic beat; sigma ``--sigma`` (0.1 s).
    beat_align_motion   the AIST++/FACT variant: the mean over kinematic beats instead.
    beat_coverage       kinematic beats per music beat (Dancing2Music).
    beat_hit_rate       fraction of kinematic beats within ``--tolerance`` (0.1 s) of a music beat.
        Music beats: librosa's tracker on each whole 10 s clip (or whole song), split into the
        5 s windows (``--music-beats truth`` uses the synthetic corpus's sidecar beats instead).
        Kinematic beats: minima of the smoothed mean joint speed (metrics.beats). Each score is
        the mean over the clips where it is defined.
    fid_gcn             FID between the frozen ST-GCN's features of the row's dances and of the
                        held-out ground truth; the feature is the last block's output averaged
                        over time and joints (256 values, what the classifier head sees).
                        Both FIDs are computed in the span of the samples (same value, faster).
    fid_kinetic         FID on 2-D kinetic features (metrics.fid.kinetic_features), each dimension
                        standardised by the held-out ground truth's mean and deviation.
    diversity_gcn, diversity_kinetic            mean pairwise distance across the row's dances.
    multimodality_gcn, multimodality_kinetic    mean pairwise distance across ``--samples`` noise
                        draws for the same music, averaged over the music (generators only).
    retrieval_top1      the music-dance embedding (train_embedding.py, trained on the training
                        split) finds a dance's own music among itself and ``--distractors`` (9)
                        other clips' music of the set: top-1 accuracy (chance 0.1).
    genre_accuracy      the ST-GCN classifier's genre of the dance equals the genre of its music
                        (synthetic sidecar; classes from the GCN's ``trained_on.classes``).
    tempo_within_5pct   the dance's kinematic tempo is within 5% of its music's true BPM (x2 and
                        x0.5 allowed); tempo_median_error: median relative error (sidecar BPM).
    motion_beats_per_clip   mean number of kinematic beats per clip.

FID against the held-out ground truth is 0 for the ground-truth and shuffled rows by construction
(the same dances); those rows show the alignment and cross-modal scores of real data.
"""

import argparse
import functools
import json
import logging
import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from config import DEFAULT_GCN, add_data_args, add_device_args
from dataset.audio import frame_audio, load_audio
from dataset.dance_dataset import DanceDataset
from dataset.format import FPS, NOISE_STD, SAMPLE_FRAMES
from dataset.skeleton import NUM_JOINTS, denormalize, missing_mask, normalize
from metrics.beats import beat_hit_rate, music_beats
from metrics.diversity import diversity, multimodality
from metrics.evaluation import (beat_scores, corner_frames, derangement, edge_jump, fid_in_sample_span, genre_accuracy, retrieval_accuracy,
                                standardize, tempo_scores, window_beats)
from metrics.fid import kinetic_features
from model.compat import generator_args, load_generator, load_st_gcn
from model.generator import Generator
from runtime import atomic_path, resolve_device, set_threads
from train_embedding import DEFAULT_EMBEDDING, load_or_train

REPORT_FORMAT = "dance-synth/evaluation/1"
METRICS = ("beat_align_music", "beat_align_motion", "beat_coverage", "beat_hit_rate", "motion_beats_per_clip",
           "fid_gcn", "fid_kinetic", "diversity_gcn", "diversity_kinetic", "multimodality_gcn",
           "multimodality_kinetic", "retrieval_top1", "genre_accuracy", "tempo_within_5pct",
           "tempo_median_error", "edge_jump", "corner_frames")
TRUTH_TOLERANCE_S = 0.07  # librosa beats within this of a true beat count as found
BATCH = 64

log = logging.getLogger("evaluate")


@dataclass
class MusicSet:
    """The music clips of an evaluation, with what is known about them.

    Shape:
        names: N clip names ("video/clip/half" or "song@start_s").
        audio: ``(N, T, 1600)`` float32 raw int16-range audio.
        beats: N arrays, the beat times (s from the clip start) that scores use.
        truth_beats: N arrays of true beats, or None; bpm: ``(N,)`` true BPM, or None.
        genres: N genre names, or None.
    """

    names: list
    audio: np.ndarray
    beats: list
    truth_beats: list = None
    bpm: np.ndarray = None
    genres: list = None


@dataclass
class Row:
    """One row of the table: dances paired with music.

    Shape:
        dances: ``(N, T, 18, 2)`` pixel poses; dance i is paired with music ``music[i]``.
        music: ``(N,)`` int indices into the :class:`MusicSet`.
        draws: ``(N, K, T, 18, 2)`` pixel poses, K noise draws per music clip, or None.
    """

    dances: np.ndarray
    music: np.ndarray
    draws: np.ndarray = None


# ---------------------------------------------------------------------------------------------
# Music and reference dances


def dataset_music(dataset, beat_source="librosa"):
    """The :class:`MusicSet` of a :class:`DanceDataset` split and its ground-truth pixel dances.

    librosa beats are tracked on each whole clip (its samples joined in order), then split into
    the samples' windows; the sidecar (when present) gives true beats, BPM and genre.

    Returns ``(MusicSet, dances (N, T, 18, 2) pixels)``.
    """
    audio, pose = dataset.as_tensors()
    audio = audio.numpy()
    frames = audio.shape[1]
    window_s = frames / FPS
    meta = dataset.meta
    videos = meta.get("videos", {}) if isinstance(meta, dict) else {}
    halves_of = {}
    for index, (video, clip, half) in enumerate(dataset.keys):
        halves_of.setdefault((video, clip), []).append((half, index))
    tracked, truth = [None] * len(audio), [None] * len(audio)
    for (video, clip), halves in halves_of.items():
        halves.sort()
        last = halves[-1][0] + 1
        whole = np.zeros((last, frames, audio.shape[2]), dtype=np.float32)
        for half, index in halves:
            whole[half] = audio[index]
        beats = window_beats(music_beats(whole.reshape(-1)), window_s, last)
        clip_truth = videos.get(video, {}).get("clips", {}).get(clip, {}).get("beats")
        true_beats = window_beats(clip_truth, window_s, last) if clip_truth is not None else None
        for half, index in halves:
            tracked[index] = beats[half]
            truth[index] = true_beats[half] if true_beats is not None else None
    has_truth = all(t is not None for t in truth)
    if beat_source == "truth" and not has_truth:
        raise ValueError(f"{dataset.path}: --music-beats truth needs per-clip 'beats' in the sidecar")
    known = all(video in videos and "bpm" in videos[video] for video, _, _ in dataset.keys)
    music = MusicSet(
        names=[f"{video}/{clip}/{half}" for video, clip, half in dataset.keys],
        audio=audio,
        beats=truth if beat_source == "truth" else tracked,
        truth_beats=truth if has_truth else None,
        bpm=np.array([videos[v]["bpm"] for v, _, _ in dataset.keys], dtype=np.float64) if known else None,
        genres=[videos[v]["genre"] for v, _, _ in dataset.keys] if known else None,
    )
    dances = denormalize(pose.numpy().reshape(len(pose), frames, NUM_JOINTS, 2).astype(np.float64))
    return music, dances


def folder_music(directory, frames=SAMPLE_FRAMES):
    """Music windows and dances from ``directory``: ``<name>.npy`` pixel poses with ``<name>.wav``.

    Each song is cut into consecutive windows of ``frames`` frames; librosa beats are tracked on
    the whole song. A ``.npy`` without its ``.wav`` is skipped with a warning.

    Returns ``(MusicSet, dances (N, frames, 18, 2) pixels)``.
    """
    directory = Path(directory)
    names, audio, beats, dances = [], [], [], []
    for pose_file in sorted(directory.glob("*.npy")):
        wav = pose_file.with_suffix(".wav")
        if not wav.exists():
            log.warning("%s: no %s beside it; skipped", pose_file, wav.name)
            continue
        poses = np.load(pose_file).astype(np.float64)
        if poses.ndim == 2 and poses.shape[1] == 2 * NUM_JOINTS:
            poses = poses.reshape(len(poses), NUM_JOINTS, 2)
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
            raise ValueError(f"{pose_file}: expected pixel poses of shape (T, {NUM_JOINTS}, 2), got {poses.shape}")
        windows = len(poses) // frames
        if windows == 0:
            raise ValueError(f"{pose_file}: {len(poses)} frames; need at least {frames} (one 5 s window)")
        song = frame_audio(load_audio(wav), windows * frames)
        song_beats = window_beats(music_beats(song.reshape(-1)), frames / FPS, windows)
        for w in range(windows):
            names.append(f"{pose_file.stem}@{w * frames / FPS:g}s")
            audio.append(song[w * frames:(w + 1) * frames])
            beats.append(song_beats[w])
            dances.append(poses[w * frames:(w + 1) * frames])
    if not names:
        raise ValueError(f"{directory}: no <name>.npy with a matching <name>.wav")
    return MusicSet(names=names, audio=np.stack(audio), beats=beats), np.stack(dances)


def mean_pose(dances):
    """Per-joint mean position over every frame where the joint is present (0, 0 if never).

    Shape: ``(N, T, 18, 2)`` pixels -> ``(18, 2)`` pixels.
    """
    joints = dances.reshape(-1, NUM_JOINTS, 2)
    present = ~missing_mask(joints)
    total = np.where(present[..., None], joints, 0.0).sum(axis=0)
    return total / np.maximum(present.sum(axis=0), 1)[:, None]


def beats_against_truth(music, tolerance_s=TRUTH_TOLERANCE_S):
    """How well the scoring beats match the true ones: mean recall and precision over clips."""
    if music.truth_beats is None:
        return None
    recall = [beat_hit_rate(found, true, tolerance_s) for found, true in zip(music.beats, music.truth_beats)]
    precision = [beat_hit_rate(true, found, tolerance_s) for found, true in zip(music.beats, music.truth_beats)]
    return {"tolerance_s": tolerance_s, "recall": float(np.nanmean(recall)), "precision": float(np.nanmean(precision))}


# ---------------------------------------------------------------------------------------------
# Dances of the rows


@torch.no_grad()
def generate(generator, audio, samples, seed, device):
    """``samples`` noise draws of the generator's dance for every music clip.

    Noise is N(0, 0.33) from a torch generator seeded with ``seed`` (draw k of every clip comes
    from the same stream, so rows of two generators see the same noise).

    Shape: audio ``(N, T, 1600)`` -> ``(N, K, T, 18, 2)`` pixel poses.
    """
    rng = torch.Generator().manual_seed(seed)
    n, frames, _ = audio.shape
    noise = torch.randn(samples, n, frames, generator.noise_dim, generator=rng) * NOISE_STD
    audio = torch.as_tensor(audio, dtype=torch.float32)
    draws = []
    for k in range(samples):
        poses = [generator(audio[i:i + BATCH].to(device), noise[k, i:i + BATCH].to(device)).cpu()
                 for i in range(0, n, BATCH)]
        draws.append(torch.cat(poses).reshape(n, frames, NUM_JOINTS, 2))
    return denormalize(torch.stack(draws, dim=1).double()).numpy()


def control_rows(dances, still_pose, untrained_draws, rng, truth=True):
    """The control rows over recorded ``dances`` ``(N, T, 18, 2)`` pixels.

    ``truth`` adds the dances with their own music (ground_truth); ``still_pose`` ``(18, 2)``
    gives the mean-pose row; ``untrained_draws`` ``(N, K, T, 18, 2)`` (or None) the untrained
    row; ``rng`` draws the shuffled row's derangement (left out when N < 2).
    """
    n, frames = dances.shape[:2]
    identity = np.arange(n)
    static = np.broadcast_to(still_pose, (n, frames, NUM_JOINTS, 2)).copy()
    rows = {}
    if truth:
        rows["ground_truth"] = Row(dances, identity)
    if n >= 2:
        rows["shuffled_music"] = Row(dances, derangement(n, rng))
    rows["mean_pose"] = Row(static, identity, np.repeat(static[:, None], 2, axis=1))
    if untrained_draws is not None:
        rows["untrained"] = Row(untrained_draws[:, 0], identity, untrained_draws)
    return rows


# ---------------------------------------------------------------------------------------------
# Features and scores


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
    if gcn is not None:
        features, logits = gcn(row.dances)
        scores["diversity_gcn"] = diversity(features)
        if reference_gcn is not None:
            scores["fid_gcn"] = fid_in_sample_span(features, reference_gcn)
        if row.draws is not None:
            draw_features = gcn(row.draws.reshape(-1, *row.draws.shape[2:]))[0]
            scores["multimodality_gcn"] = multimodality(draw_features.reshape(*row.draws.shape[:2], -1))
        if classes is not None and music.genres is not None:
            index = {name: k for k, name in enumerate(classes)}
            labels = np.array([index.get(music.genres[m], -1) for m in row.music])
            scores["genre_accuracy"] = genre_accuracy(logits, labels)
    if similarity is not None and len(row.dances) >= 2:
        scores["retrieval_top1"] = retrieval_accuracy(similarity, distractors, np.random.default_rng([seed, 2]))
    if music.bpm is not None:
        scores.update(tempo_scores(row.dances, music.bpm[row.music]))
    scores["edge_jump"] = edge_jump(row.dances)
    scores["corner_frames"] = corner_frames(row.dances)
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


# ---------------------------------------------------------------------------------------------
# Output


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


def _json_safe(value):
    """NaN and infinities become None (JSON null); containers are converted recursively."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def write_report(path, report):
    """Write ``report`` as JSON (NaN -> null) through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as f:
            json.dump(_json_safe(report), f, indent=1, allow_nan=False)


# ---------------------------------------------------------------------------------------------
# Command line


def parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 1)[1],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(p)
    add_device_args(p)
    p.add_argument("--model", default=None, help="generator checkpoint (release or project format)")
    p.add_argument("--poses", default=None, help="folder of <name>.npy pixel poses + <name>.wav music")
    p.add_argument("--subset", default="test", choices=("test", "train", "all"),
                   help="which part of --data to evaluate (default: the held-out test videos)")
    p.add_argument("--gcn", default=DEFAULT_GCN, help="frozen ST-GCN classifier (pretrain_gcn.py)")
    p.add_argument("--embedding", default=DEFAULT_EMBEDDING,
                   help="music-dance embedding; trained on --data's training split when missing or stale")
    p.add_argument("--retrain-embedding", action="store_true", help="train the embedding again")
    p.add_argument("--samples", type=int, default=5, help="noise draws per music clip for multimodality")
    p.add_argument("--music-beats", default="librosa", choices=("librosa", "truth"),
                   help="music beats from librosa's tracker or from the synthetic sidecar")
    p.add_argument("--sigma", type=float, default=0.1, help="beat alignment Gaussian width (s)")
    p.add_argument("--tolerance", type=float, default=0.1, help="beat hit tolerance (s)")
    p.add_argument("--distractors", type=int, default=9, help="distractor music clips per retrieval")
    p.add_argument("--json", default=None, help="write the report here as JSON")
    return p


def _load_gcn(path, device):
    """``(frozen ST-GCN, class names or None)``; ``(None, None)`` when the default file is absent."""
    if not os.path.exists(path):
        if path != DEFAULT_GCN:
            raise FileNotFoundError(f"--gcn {path}: no such file")
        log.warning("%s not found (make it with pretrain_gcn.py): ST-GCN metrics are skipped", path)
        return None, None
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    classes = checkpoint.get("trained_on", {}).get("classes") if isinstance(checkpoint, dict) else None
    return load_st_gcn(path, device), classes


def _generated(generator, music, args, device):
    """``(dances (N, T, 18, 2), music indices (N,), draws (N, K, T, 18, 2))`` of a generator."""
    draws = generate(generator, music.audio, args.samples, args.seed, device)
    return draws[:, 0], np.arange(len(draws)), draws


def main(argv=None):
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    device = resolve_device(args.device)
    if args.samples < 2:
        raise SystemExit("--samples must be at least 2 (multimodality compares noise draws)")
    have_data = os.path.exists(args.data)
    if not have_data and args.poses is None:
        raise SystemExit(f"--data {args.data}: no such file (make one with `python -m dataset.synthetic`)")

    beat_source = "librosa" if args.poses else args.music_beats  # a folder's songs have no true beats
    reference = train_set = None
    if have_data:
        held_out = DanceDataset(args.data, split=args.subset, split_rule=args.split)
        train_set = DanceDataset(args.data, split="train", split_rule=args.split)
        ref_music, reference = dataset_music(held_out, beat_source)
    if args.poses:
        music, dances = folder_music(args.poses)
        where = f"{args.poses}: {len(dances)} windows of 5 s"
    else:
        music, dances = ref_music, reference
        split_name = "HELD-OUT test videos" if args.subset == "test" else f"{args.subset} videos"
        where = (f"{args.data}, {split_name} ({held_out.split_rule} split: {' '.join(held_out.video_ids)}): "
                 f"{len(dances)} clips of 5 s")

    rng = np.random.default_rng([args.seed, 1])
    still = mean_pose(denormalize(train_set.as_tensors()[1].numpy().reshape(-1, NUM_JOINTS, 2).astype(np.float64))
                      if train_set is not None else dances)
    untrained = None
    if not args.poses:
        torch.manual_seed(args.seed)
        # same architecture as the evaluated model (e.g. its edge_pad), fresh weights
        built = generator_args(args.model) if args.model else {}
        untrained = generate(Generator(**built).to(device).eval(), music.audio, args.samples, args.seed, device)
    rows = {}
    if args.model:
        rows["model"] = Row(*_generated(load_generator(args.model, device), music, args, device))
    if args.poses:
        rows["poses"] = Row(dances, np.arange(len(dances)))
    rows.update(control_rows(dances, still, untrained, rng, truth=not args.poses))

    st_gcn, classes = _load_gcn(args.gcn, device)
    embedding = None
    if have_data:
        embedding = load_or_train(args.embedding, args.data, args.split, args.seed, device, args.retrain_embedding)
    results = score_rows(rows, music, reference, st_gcn, classes, embedding, device, seed=args.seed,
                         distractors=args.distractors, sigma=args.sigma, tolerance_s=args.tolerance)

    beat_check = beats_against_truth(music)
    print(f"Evaluation on {where}")
    beats_from = ("the synthetic sidecar's true beats" if beat_source == "truth"
                  else "librosa on each whole clip or song, split into 5 s windows")
    print(f"music beats: {beats_from}; sigma {args.sigma} s, hit tolerance {args.tolerance} s; "
          f"{args.samples} noise draws; retrieval among 1 + {args.distractors}; seed {args.seed}")
    if beat_check is not None:
        print(f"scoring beats vs true beats (+-{beat_check['tolerance_s']} s): recall {beat_check['recall']:.3f}, "
              f"precision {beat_check['precision']:.3f}")
    print(format_table(results))
    if args.json:
        report = {
            "format": REPORT_FORMAT, "model": args.model, "poses": args.poses, "data": args.data,
            "subset": None if args.poses else args.subset, "held_out": args.subset == "test" and not args.poses,
            "split_rule": held_out.split_rule if have_data else None,
            "videos": held_out.video_ids if have_data and not args.poses else None,
            "clips": music.names, "gcn": args.gcn if st_gcn is not None else None, "gcn_classes": classes,
            "embedding": args.embedding if embedding is not None else None,
            "settings": {"music_beats": beat_source, "sigma_s": args.sigma, "tolerance_s": args.tolerance,
                         "samples": args.samples, "distractors": args.distractors, "seed": args.seed},
            "beats_vs_truth": beat_check,
            "results": results,
        }
        write_report(args.json, report)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
