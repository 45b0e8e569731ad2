"""Choose a run's generator again, from its saved checkpoints, by another held-out score.

    python select_checkpoint.py log/run1 --by beat_genre
    python select_checkpoint.py log/run1 --by fid --min_genre 0.75

``train.py --eval_every`` keeps one ``generator_best.pth`` by one score. This scores every
generator the run saved (``generator_XXXX.pth``, ``generator_last.pth``, ``generator_best.pth``;
the averaged weights where the run kept them) on the run's own held-out clips, the same clips
and noise draw as training used, prints a line each, and writes the best as
``generator_selected.pth`` in ``generator_best.pth``'s format (with its scores, ``selected_by``
and ``min_genre``).
"""

import glob
import logging
import math
import os
import sys

from config import select_parser
from dataset.errors import DanceSynthError
from metrics.heldout import HeldOutScorer, choose, selection_score
from model import checkpoint
from runtime import report_errors, resolve_device, set_threads

log = logging.getLogger("select_checkpoint")

SELECTED = "generator_selected.pth"


def run_checkpoints(run):
    """The run's generator files, oldest step first: ``[(step, path, stored checkpoint)]``, the
    tensors memory-mapped from the files (a run's checkpoints can be gigabytes)."""
    found = []
    for path in glob.glob(os.path.join(run, "generator_*.pth")):
        if os.path.basename(path) == SELECTED:
            continue
        stored = checkpoint.read(path, mmap=True)
        if isinstance(stored, dict) and "generator" in stored and "config" in stored:
            found.append((stored.get("step", -1), path, stored))
    if not found:
        raise DanceSynthError(f"{run}: no generator_*.pth written by train.py")
    return sorted(found, key=lambda item: item[:2])


def select(args):
    """Score the run's generators, write the best; returns the path written."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    device = resolve_device(args.device)
    found = run_checkpoints(args.run)
    latest = found[-1][2]
    config = latest["config"]
    if not config.get("val_videos"):
        log.warning("%s held out no validation videos: this scores the test split, which then "
                    "judges the chosen generator optimistically", args.run)
    gcn_path = args.gcn or config["pretrain_GCN"]
    scorer = HeldOutScorer(config["data"], config["split"], config["seed"], config.get("val_videos", 0),
                           latest.get("generator_args", {}).get("rhythm"),
                           checkpoint.load_st_gcn(gcn_path, device),
                           checkpoint.st_gcn_record(gcn_path).get("classes"), device)
    scorer.check_selection(args.by, config["data"], gcn_path, args.min_genre)
    scored = []  # [(step, path, stored, scores)]
    for step, path, stored in found:
        generator = checkpoint.load_generator(path, device, stored)
        if generator.genres and not int(generator.genre.updates):
            log.warning("%s: skipped, its genre head has heard no labelled clip (a run's start "
                        "that training has not filled yet)", os.path.basename(path))
            continue
        scores = scorer(generator)
        log.info("%-28s step %5s  beat_align %.3f  genre %.3f  fid %.2f  %s %.3f", os.path.basename(path),
                 step, scores["beat_align"], scores.get("genre_accuracy", math.nan),
                 scores.get("fid_gcn", math.nan), args.by, selection_score(scores, args.by))
        scored.append((step, path, stored, scores))
    if not scored:
        raise DanceSynthError(f"{args.run}: every generator was skipped, none to choose from")
    index, floor_met = choose([item[3] for item in scored], args.by, args.min_genre)
    if not floor_met:
        log.warning("no generator reaches genre %.3f: chosen among all by %s", args.min_genre, args.by)
    step, path, stored, scores = scored[index]
    generator = checkpoint.load_generator(path, "cpu", stored)
    chosen = {"step": step, "epoch": stored.get("epoch"), "config": stored["config"],
              "generator_args": stored.get("generator_args", {}), "heldout": scores,
              "heldout_split": scorer.split, "selected_by": args.by, "min_genre": args.min_genre,
              "selected_from": os.path.basename(path)}
    out = args.out or os.path.join(args.run, SELECTED)
    checkpoint.save_generator(out, generator.state_dict(), chosen)
    heldout = chosen["heldout"]
    log.info("%s: step %s (%s) by %s (beat_align %.3f, genre %.3f, fid %.2f) on the %s videos %s",
             out, chosen["step"], chosen["selected_from"], args.by, heldout["beat_align"],
             heldout.get("genre_accuracy", math.nan), heldout.get("fid_gcn", math.nan), scorer.split,
             " ".join(scorer.video_ids))
    return out


def run(argv=None):
    select(select_parser().parse_args(argv))


def main(argv=None):
    return report_errors(run, argv)


if __name__ == "__main__":
    sys.exit(main())
