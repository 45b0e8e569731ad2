"""Measure how well generated dances follow their music, beside control rows from the same code.

    python evaluate.py --model log/test/generator_0200.pth --data dataset/synthetic.json --json eval.json
    python evaluate.py --data dataset/synthetic.json                      # control rows only
    python evaluate.py --poses demo_out/ --data dataset/synthetic.json    # a folder of dances
    python evaluate.py --model M --data dataset/synthetic.json --plots plots/  # + a beat plot per clip

Clips: by default the HELD-OUT split (``--subset test``: the test videos of ``--split``), cut
into 5 s samples (50 frames). ``--poses DIR`` instead reads every ``DIR/<name>.npy`` (pixel poses
``(T, 18, 2)`` on the 640x360 canvas at 10 fps, as get_demo.py writes them) with its
``DIR/<name>.wav`` (the music; any rate, resampled to 16 kHz), cut into consecutive 50-frame
windows (a remainder shorter than 50 frames is dropped); ``--data``'s held-out split is then
only the reference for FID and the source of the mean pose.

Rows (each a set of (music, dance) pairs scored by the same functions):
    model           the checkpoint's dances (noise draw 0 of ``--samples``), ``--model`` only
    model_true_latent  for a generator with a latent (``--latent``): its dances from the latent
                    that fits each clip's true dance (``true_latents``), the choice of moves given
                    (an upper bound for the prior's draws; multimodality then shows the noise alone)
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
    multimodality_px    the same in pixels: the neck-relative joint distance (mean over frames and
                        the 17 joints besides the neck of the distance between the two dances'
                        joints, each taken relative to its frame's neck; missing joints skipped;
                        metrics.repertoire) between every two of the ``--samples`` draws
                        (default 5, the K this measure is meant for) of a clip, averaged over
                        pairs and clips. In the ground_truth row the column holds dancers_px
                        instead: the same distance between each held-out clip's true dance and
                        the true dances of held-out clips of OTHER videos of its genre (synthetic
                        sidecar), averaged over those, then over clips: what two recorded dancers
                        of a genre differ by. null without genres or without two held-out videos
                        of one genre.
    retrieval_top1      the music-dance embedding (train_embedding.py, trained on the training
                        split) finds a dance's own music among itself and ``--distractors`` (9)
                        other clips' music of the set: top-1 accuracy (chance 0.1).
    genre_accuracy      the ST-GCN classifier's genre of the dance equals the genre of its music
                        (synthetic sidecar; classes from the GCN's ``trained_on.classes``).
    tempo_within_5pct   the dance's kinematic tempo is within 5% of its music's true BPM (x2 and
                        x0.5 allowed); tempo_median_error: median relative error (sidecar BPM).
    motion_beats_per_clip   mean number of kinematic beats per clip.
    wrist_range_px, ankle_range_px  move size: per clip, for each wrist (ankle), the diagonal of
                        the box between the 5th and 95th percentiles of its neck-relative x and y
                        over the clip's frames (missing joints skipped), averaged over the two
                        wrists (ankles), then over clips. Every row.
    edge_jump, corner_frames, median_step, thrown_steps, bone_error   glitches and build
                        (metrics.evaluation).
    off_stage           share of frames whose neck is outside the box the held-out dancers'
                        necks keep to, widened by 40 px (metrics.evaluation.off_stage_frames).

FID against the held-out ground truth is 0 for the ground-truth and shuffled rows by construction
(the same dances); those rows show the alignment and cross-modal scores of real data.
"""

import json
import logging
import os
import sys

import numpy as np
import torch

from config import DEFAULT_GCN, evaluate_parser
from dataset.atomic import atomic_open
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.skeleton import NUM_JOINTS, fill_missing_joints
from metrics.music_set import beats_against_truth, dataset_music, folder_music
from metrics.table import Row, control_rows, format_table, mean_pose, score_rows
from model import checkpoint
from model.generator import Generator
from model.inference import generate_draws, require_finite_poses
from model.music_dance_embedding import load_or_train
from render import write_beat_plot
from runtime import report_errors, resolve_device, set_threads

REPORT_FORMAT = "dance-synth/evaluation/1"

log = logging.getLogger("evaluate")


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
    with atomic_open(path) as f:
        json.dump(_json_safe(report), f, indent=1, allow_nan=False)


def _load_gcn(path, device):
    """``(frozen ST-GCN, class names or None)``; ``(None, None)`` when the default file is absent."""
    if not os.path.exists(path):
        if path != DEFAULT_GCN:
            raise checkpoint.CheckpointError(f"{path}: no such file (--gcn)")
        log.warning("%s not found (make it with pretrain_gcn.py): ST-GCN metrics are skipped", path)
        return None, None
    return checkpoint.load_st_gcn(path, device), checkpoint.st_gcn_record(path).get("classes")


def _generated(generator, music, args, source, latent=None):
    """``(dances (N, T, 18, 2), music indices (N,), draws (N, K, T, 18, 2))`` of a generator;
    ``latent`` ``(N, L)``: every draw danced from it (else each draw's prior latent)."""
    draws = require_finite_poses(generate_draws(generator, music.audio, args.samples, args.seed,
                                                music.rhythm, latent), source)
    return draws[:, 0], np.arange(len(draws)), draws


def true_latents(generator, dances, music, seed=0):
    """The choice that fits each true dance: the choice whose dance of the clip's music (noise
    draw 0 of ``seed``) moves nearest to it (joints relative to the neck, the true dance's missing
    joints filled), as training picks.

    Shape: ``dances`` ``(N, T, 18, 2)`` pixels, ``music`` the clips' :class:`MusicSet` -> ``(N, L)``
    float32 one-hots.
    """
    filled = np.stack([fill_missing_joints(dance) for dance in dances])
    moves = filled - filled[:, :, 1:2]  # relative to the neck, as training picks
    eye = torch.eye(generator.latent_dim)
    errors = []
    for k in range(generator.latent_dim):
        dance = generate_draws(generator, music.audio, 1, seed, music.rhythm, eye[k].expand(len(dances), -1))[:, 0]
        errors.append(np.abs(dance - dance[:, :, 1:2] - moves).mean(axis=(1, 2, 3)))
    return eye[np.argmin(np.stack(errors, axis=1), axis=1)]


def write_plots(folder, music, dances):
    """A beat plot per clip (:func:`render.write_beat_plot`) in ``folder``, named after the clip.

    Shape: ``dances`` ``(N, T, 18, 2)`` pixels, one per clip of ``music``.
    """
    for name, audio, beats, poses in zip(music.names, music.audio, music.beats, dances):
        safe = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in name)
        write_beat_plot(os.path.join(folder, f"{safe}.png"), audio.ravel(), poses, beats, title=name)
    print(f"wrote {len(dances)} beat plots to {folder}")


def evaluate(argv=None):
    args = evaluate_parser(__doc__.split("\n\n")[0], __doc__.split("\n\n", 1)[1]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    device = resolve_device(args.device)
    if args.samples < 2:
        raise DanceSynthError(f"--samples {args.samples}: must be at least 2 (multimodality compares noise draws)")
    have_data = os.path.exists(args.data)
    if not have_data and args.poses is None:
        raise DanceSynthError(f"{args.data}: no such dataset file (make one with `python -m dataset.synthetic`)")

    beat_source = "librosa" if args.poses else args.music_beats  # a folder's songs have no true beats
    built = checkpoint.generator_args(args.model) if args.model else {}  # its rhythm features, too
    if args.rhythm:
        if not built.get("rhythm"):
            raise DanceSynthError(f"--rhythm {args.rhythm}: " + (f"{args.model} hears no rhythm features"
                                                                 if args.model else "needs --model"))
        built = {**built, "rhythm": args.rhythm}
    reference = train_set = None
    if have_data:
        held_out = DanceDataset(args.data, split=args.subset, split_rule=args.split,
                                rhythm=None if args.poses else built.get("rhythm"))
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
    still = mean_pose(train_set.pixel_poses().reshape(-1, NUM_JOINTS, 2)
                      if train_set is not None else dances)
    untrained = None
    if not args.poses:
        torch.manual_seed(args.seed)
        # same architecture as the evaluated model (e.g. its edge_pad, its rhythm), fresh weights;
        # no genre input (nor its gain), whose head would have no training clips to read genres off
        fresh = {key: value for key, value in built.items() if key not in ("genres", "genre_gain")}
        generator = Generator(**fresh)
        if fresh.get("pose_output") == "bones":  # the dancers' bone lengths are data, not weights
            generator.pose_generator.final_linear.set_lengths(
                checkpoint.load_generator_state(args.model)["pose_generator.final_linear.length"])
        untrained = generate_draws(generator.to(device).eval(), music.audio, args.samples,
                                   args.seed, music.rhythm)
    rows = {}
    if args.model:
        model = checkpoint.load_generator(args.model, device)
        rows["model"] = Row(*_generated(model, music, args, args.model))
        if model.latent_dim and not args.poses:  # the upper bound: the choice of moves given
            rows["model_true_latent"] = Row(*_generated(model, music, args, args.model,
                                                        true_latents(model, dances, music, args.seed)))
    if args.poses:
        rows["poses"] = Row(dances, np.arange(len(dances)))
    videos = None if args.poses else [video for video, _, _ in held_out.keys]
    rows.update(control_rows(dances, still, untrained, rng, truth=not args.poses, videos=videos))

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
    if args.plots:  # the model's dances, else the folder's, else the recorded ones
        shown = "model" if args.model else "poses" if args.poses else "ground_truth"
        write_plots(args.plots, music, rows[shown].dances)
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


def main(argv=None):
    return report_errors(evaluate, argv)


if __name__ == "__main__":
    sys.exit(main())
