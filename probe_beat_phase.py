"""Does the model's music encoder hear the beat of unseen music? Linear probes of beat phase.

Each row fits a ridge regression from per-frame features (with ``--context`` neighbouring
frames on each side) to the (sin, cos) of the true beat phase on the training videos, and
scores it on the held-out test videos: R^2 and the median phase error in beats (0.25 is
chance). It needs a corpus whose sidecar has the true beats (``dataset.synthetic``).

Rows:
    energy_envelope   log loudness of each frame and of 16 slices of it: the phase that plain
                      audio features give away
    music_code        the model's music encoder output (its BiGRU's ``(T, 256)`` code)
    untrained_code    the same encoder freshly initialised (control)

(Poses are no use as features here: a linear probe finds little phase even in the true dances,
R^2 0.09, since each dancer's moves map the phase differently; the beat metrics of
``evaluate.py`` judge the dance.)

    python probe_beat_phase.py --model pretrain_model/generator.pth
"""

import logging
import sys

import numpy as np
import torch

from config import probe_parser
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.format import FPS, SAMPLE_FRAMES
from metrics.phase_probe import beat_phase, energy_envelope, ridge_probe, with_context
from model.checkpoint import generator_args, load_generator
from model.generator import Generator
from model.inference import music_code
from runtime import report_errors, resolve_device, set_threads


def phase_targets(dataset):
    """True beat phase of every frame of every item: ``(N, 50, 2)`` (NaN off the beat grid)."""
    if not dataset.has_beats():
        raise DanceSynthError(f"{dataset.path}: no sidecar with true beats (make the corpus with "
                              "`python -m dataset.synthetic`)")
    targets = []
    for index, (video, clip, _) in enumerate(dataset.keys):
        beats = dataset.clip_beats(video, clip)
        times = (np.arange(SAMPLE_FRAMES) + dataset.window_start(index)) / FPS
        targets.append(beat_phase(times, beats))
    return np.stack(targets)


def probe(argv=None):
    args = probe_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    device = resolve_device(args.device)
    sets = {split: DanceDataset(args.data, split=split, split_rule=args.split) for split in ("train", "test")}
    targets = {split: phase_targets(data) for split, data in sets.items()}
    audio = {split: data.as_tensors()[0] for split, data in sets.items()}
    model = load_generator(args.model, device)
    torch.manual_seed(args.seed)
    untrained = Generator(**generator_args(args.model)).to(device).eval()

    rows = {
        "energy_envelope": lambda split: energy_envelope(audio[split].numpy()),
        "music_code": lambda split: music_code(model, audio[split]).cpu().numpy(),
        "untrained_code": lambda split: music_code(untrained, audio[split]).cpu().numpy(),
    }
    print(f"beat phase probes: {args.data}, train {len(sets['train'])} clips -> held-out test "
          f"{len(sets['test'])} clips; context +-{args.context} frames, ridge {args.ridge}; model {args.model}")
    print(f"{'features':<18}{'R2':>8}{'phase error (beats)':>22}")
    for name, features in rows.items():
        train_x, test_x = (with_context(features(split), args.context) for split in ("train", "test"))
        score = ridge_probe(train_x, targets["train"], test_x, targets["test"], args.ridge)
        print(f"{name:<18}{score['r2']:>8.3f}{score['phase_error']:>22.3f}")


def main(argv=None):
    return report_errors(probe, argv)


if __name__ == "__main__":
    sys.exit(main())
