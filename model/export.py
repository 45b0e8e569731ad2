"""Compact inference copies of checkpoints, for shipping in ``pretrain_model/``.

``python -m model.export generator IN [IN ...] OUT [--note TEXT] [--code_cap NORM]
[--genre_gain G]`` keeps the generator's weights (the averaged ones when the run kept an
average), its constructor arguments and the config, drops optimizer and random states, and
stores floating weights as float16;
``--code_cap`` records a cap on the music code's norm for inference (``train.py --code_cap``);
``--genre_gain`` a factor on the genre one-hot that a ``--genre_input`` generator hears.
Several checkpoints of one run are averaged, weight by weight, into one generator that takes
the last one's step and config; ``--refresh_bn`` then measures its BatchNorm statistics again
on the run's training clips (``model/weight_average.py``).
``python -m model.export st_gcn IN OUT`` does the same for an ST-GCN. Normalisation statistics
(BatchNorm's, the genre head's moments) and the graph stay
float32: they are small and rounding them would shift every activation (or a genre). Loading
casts back to float32.
"""

import argparse
import os
import sys

from config import export_parser
from dataset.dance_dataset import training_set
from dataset.errors import DanceSynthError
from runtime import report_errors, set_threads

from . import checkpoint
from .generator import Generator
from .weight_average import average_states, refresh_batchnorm

_KEEP_FP32 = ("running_mean", "running_var", "A", "genre.mean", "genre.second", "genre.cross", "genre.prior")


def halve(state):
    """Floating tensors to float16, except normalisation statistics, the genre head's moments and
    the adjacency ``A``."""
    return {key: value.half() if value.is_floating_point() and not key.endswith(_KEEP_FP32)
            else value for key, value in state.items()}


def training_clips(source, config):
    """The training split that the run behind ``source`` (its ``config``) trained on."""
    if not config.get("data"):
        raise DanceSynthError(f"{source}: records no training data (a release checkpoint?), so "
                              f"its BatchNorm statistics cannot be refreshed")
    recorded = {"split": "auto", "val_videos": 0, "rhythm": None, "fill_missing": False, **config}
    return training_set(argparse.Namespace(**recorded))


def export_generator(sources, out, note="", code_cap=None, refresh_bn=False, genre_gain=None):
    """Write the generator of ``sources`` (one checkpoint path, or several of one run, averaged)
    as an inference checkpoint with float16 weights; a positive ``code_cap`` or ``genre_gain``
    is recorded in its constructor arguments; ``refresh_bn`` measures its BatchNorm statistics
    again on the run's training clips (with the cap and the gain)."""
    sources = [sources] if isinstance(sources, (str, os.PathLike)) else list(sources)
    states, args = [], None
    for source in sources:
        stored = checkpoint.read(source)
        source_args = checkpoint.generator_args(source, stored)
        if args is not None and source_args != args:
            raise DanceSynthError(f"{source}: generator_args {source_args!r} differ from "
                                  f"{sources[0]}'s {args!r}; only one run's checkpoints average")
        args = source_args
        states.append(checkpoint.load_generator_state(source, stored))
    info = stored if isinstance(stored, dict) and "generator" in stored else {}
    args, state = dict(args), average_states(states)
    if code_cap:
        args["code_cap"] = float(code_cap)
    if genre_gain:
        if not args.get("genres"):
            raise DanceSynthError(f"{sources[-1]}: --genre_gain scales the genre one-hot of a "
                                  f"--genre_input generator, and this one hears no genre")
        args["genre_gain"] = float(genre_gain)
    if refresh_bn:
        generator = Generator(**args)
        generator.load_state_dict(state)
        refresh_batchnorm(generator, training_clips(sources[-1], info.get("config", {})))
        state = generator.state_dict()
    checkpoint.save_inference_generator(
        out, halve(state), args, info.get("config", {}), step=info.get("step"),
        heldout=info.get("heldout") if len(sources) == 1 and not refresh_bn else None, note=note)


def export_st_gcn(source, out, note=""):
    """Write the ST-GCN of ``source`` as an inference checkpoint with float16 weights."""
    stored = checkpoint.read(source)
    state, num_class = checkpoint.load_st_gcn_state(source, stored)
    checkpoint.save_st_gcn(out, halve(state), num_class, stored.get("trained_on"), inference=True,
                           note=note)


def run(argv=None):
    args = export_parser().parse_args(argv)
    set_threads(args.threads)
    if args.network == "generator":
        export_generator(args.sources, args.out, args.note, args.code_cap, args.refresh_bn,
                         args.genre_gain)
    elif args.code_cap or args.refresh_bn or args.genre_gain:
        raise DanceSynthError("--code_cap, --genre_gain and --refresh_bn are a generator's options")
    elif len(args.sources) > 1:
        raise DanceSynthError("only generators average: give one ST-GCN checkpoint")
    else:
        export_st_gcn(args.sources[0], args.out, args.note)
    print("wrote", args.out)


def main(argv=None):
    return report_errors(run, argv)


if __name__ == "__main__":
    sys.exit(main())
