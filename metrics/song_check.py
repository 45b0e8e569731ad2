"""Does a generator dance whole songs like the dancers? Motion, thrown joints, tempo, beat, range.

    python -m metrics.song_check --model pretrain_model/generator.pth --audio a.ogg b.wav ...

Each song is danced whole (``get_demo.py --audio``'s path) and scored:

    median_step    median one-frame joint step (px) over every joint and frame step
    max_step       the largest one-frame step of any joint (px); > 120 px is a thrown joint
    thrown         frame steps in which some joint moves more than 120 px
    song_bpm       the song's tempo from librosa's beats; dance_bpm the dance's kinematic tempo
    tempo_ok       dance tempo within 5 % of the song's (x1/2 and x2 allowed)
    bas            beat alignment (music-averaged, sigma 0.1 s) with the song's beats;
    bas_other      the same dance against the other songs' beats (mean; the chance level)
    bone_error     bone lengths against the dancers' of ``--data`` (metrics.evaluation.bone_error);
                   0.1 is about 10 % off, a skeleton coming apart scores 0.2 and more
    wrist_range_px move size (px): the diagonal of the box between the 5th and 95th percentiles
                   of a wrist's neck-relative x and y over the song, mean of the two wrists
    ankle_range_px the same for the ankles (metrics.repertoire.move_size)
    off_stage      frames whose neck is outside the box the dancers' necks of ``--data`` keep
                   to, widened by 40 px (metrics.evaluation.off_stage_frames): a slide to a
                   side or corner of the canvas, however smooth; NaN without ``--data``
    broken         frames in which some bone is over 3 times longer or shorter than the
                   dancers' median of it (metrics.evaluation.broken_frames): a body come apart,
                   even with its neck on the stage; NaN without ``--data``
    seeds_px       how much the noise changes the dance: the neck-relative joint distance (px,
                   metrics.repertoire.neck_relative_distance) between the song danced with
                   seed 1 and with seed 2, whatever ``--seed`` is

The ratio ``bas / bas_other`` says how much of the alignment is the music's doing.
"""

import sys

import numpy as np

from config import song_check_parser
from dataset.audio import load_audio
from dataset.dance_dataset import DanceDataset
from dataset.format import FPS
from metrics.beats import beat_align_score_music, kinematic_beats, kinematic_tempo, music_beats, tempo_error
from metrics.evaluation import (THROWN_PX, bone_error, broken_frames, dancers_stage, joint_steps,
                                off_stage_frames)
from metrics.repertoire import ANKLES, WRISTS, move_size, neck_relative_distance
from model.checkpoint import load_generator
from model.inference import dance_song, require_finite_poses
from runtime import report_errors, resolve_device, set_threads

COLUMNS = ("median_step", "max_step", "thrown", "song_bpm", "dance_bpm", "tempo_ok", "bas", "bas_other",
           "bone_error", "wrist_range_px", "ankle_range_px", "off_stage", "broken",
           "seeds_px")
SEEDS = (1, 2)  # the two noise seeds that seeds_px compares


def song_scores(dances, beats, reference=None, seed_pairs=None, tolerance=0.05, sigma=0.1):
    """Scores of whole-song dances against their songs' beats (see the module docstring).

    Shape: ``dances`` list of ``(T_i, 18, 2)`` generated pixel poses, ``beats`` list of beat
    times (s), ``reference`` recorded dances ``(N, T, 18, 2)`` pixels or None, ``seed_pairs``
    list of two ``(T_i, 18, 2)`` dances of each song (seeds :data:`SEEDS`) or None -> list of
    dicts with :data:`COLUMNS` (``bone_error``, ``off_stage`` and ``broken`` NaN without a reference,
    ``seeds_px`` without seed pairs).
    """
    stage = None if reference is None else dancers_stage(reference)
    motion = [kinematic_beats(d) for d in dances]
    rows = []
    for i, (dance, song_beats) in enumerate(zip(dances, beats)):
        steps = joint_steps(dance[None], skip_missing=False)
        song_bpm = 60.0 / float(np.median(np.diff(song_beats))) if len(song_beats) > 1 else np.nan
        dance_bpm = kinematic_tempo(dance)
        length = len(dance) / FPS
        other = [beat_align_score_music(b[b < length], motion[i]) for j, b in enumerate(beats) if j != i]
        rows.append({
            "median_step": float(np.median(steps)),
            "max_step": float(steps.max()),
            "thrown": int((steps > THROWN_PX).any(axis=-1).sum()),
            "song_bpm": song_bpm,
            "dance_bpm": dance_bpm,
            "tempo_ok": bool(tempo_error(dance_bpm, song_bpm) <= tolerance),
            "bas": beat_align_score_music(song_beats, motion[i], sigma),
            "bas_other": float(np.mean(other)) if other else np.nan,
            "bone_error": (np.nan if reference is None
                           else bone_error(dance[None], reference, skip_missing=False)),
            "wrist_range_px": move_size(dance[None], WRISTS),
            "ankle_range_px": move_size(dance[None], ANKLES),
            "off_stage": (np.nan if stage is None
                          else int(round(off_stage_frames(dance[None], stage) * len(dance)))),
            "broken": (np.nan if reference is None
                       else int(round(broken_frames(dance[None], reference) * len(dance)))),
            "seeds_px": np.nan if seed_pairs is None else float(neck_relative_distance(*seed_pairs[i])),
        })
    return rows


def check(argv=None):
    args = song_check_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    set_threads(args.threads)
    generator = load_generator(args.model, resolve_device(args.device))
    dances, beats, seed_pairs = [], [], []
    for path in args.audio:
        samples = load_audio(path)
        dance = require_finite_poses(dance_song(generator, samples, seed=args.seed), args.model)
        dances.append(dance.astype(np.float64))
        seed_pairs.append([require_finite_poses(dance_song(generator, samples, seed=seed), args.model)
                           for seed in SEEDS])
        found = np.asarray(music_beats(samples))
        beats.append(found[found < len(dance) / FPS])
    reference = None
    if args.data:
        reference = DanceDataset(args.data, split="all").pixel_poses()
    rows = song_scores(dances, beats, reference, seed_pairs)
    print(f"{args.model}: {len(rows)} songs, seed {args.seed}")
    widths = [max(12, len(c) + 2) for c in COLUMNS]
    print(f"{'song':<28}" + "".join(f"{c:>{w}}" for c, w in zip(COLUMNS, widths)))
    for path, row in zip(args.audio, rows):
        print(f"{path.rsplit('/', 1)[-1][:27]:<28}" + "".join(
            f"{row[c]:>{w}}" if isinstance(row[c], (bool, int)) else f"{row[c]:>{w}.2f}"
            for c, w in zip(COLUMNS, widths)))
    print(f"{'tempo right on':<28}{sum(r['tempo_ok'] for r in rows)} of {len(rows)} songs; "
          f"bas / bas_other {np.mean([r['bas'] for r in rows]) / np.mean([r['bas_other'] for r in rows]):.2f}"
          + ("" if reference is None else f"; off stage on {sum(r['off_stage'] > 0 for r in rows)} songs, "
                                          f"broken on {sum(r['broken'] > 0 for r in rows)}"))


def main(argv=None):
    return report_errors(check, argv)


if __name__ == "__main__":
    sys.exit(main())
