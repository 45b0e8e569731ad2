"""Compact inference copies of checkpoints, for shipping in ``pretrain_model/``.

``python -m model.export generator IN [IN ...] OUT [--note TEXT] [--code_cap NORM]`` keeps the
generator's weights (the averaged ones when the run kept an average), its constructor arguments
and the config, drops optimizer and random states, and stores floating weights as float16;
``--code_cap`` records a cap on the music code's norm for inference (``train.py --code_cap``).
Several checkpoints of one run are averaged, weight by weight, into one generator (a uniform
average over a stretch of training, as stochastic weight averaging does), which takes the
last one's step and config.
``python -m model.export st_gcn IN OUT`` does the same for an ST-GCN. Normalisation statistics
(BatchNorm's, the music code's offset norm, the genre head's moments) and the graph stay
float32: they are small and rounding them would shift every activation (or a genre). Loading
casts back to float32.
"""

import os
import sys

from config import export_parser
from dataset.errors import DanceSynthError
from runtime import report_errors

from . import checkpoint

_KEEP_FP32 = ("running_mean", "running_var", "A", "code_offset.centre", "code_offset.length",
              "genre.mean", "genre.second", "genre.cross", "genre.prior")


def halve(state):
    """Floating tensors to float16, except normalisation statistics and the adjacency ``A``."""
    return {key: value.half() if value.is_floating_point() and not key.endswith(_KEEP_FP32)
            else value for key, value in state.items()}


def average_states(states):
    """The uniform mean of state dicts with the same keys and shapes: floating tensors averaged
    (in float64, returned in their own dtype), others (BatchNorm's batch counters) the last's."""
    averaged = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            total = sum(state[key].double() for state in states)
            averaged[key] = (total / len(states)).to(last.dtype)
        else:
            averaged[key] = last
    return averaged


def export_generator(sources, out, note="", code_cap=None):
    """Write the generator of ``sources`` (one checkpoint path, or several of one run, averaged)
    as an inference checkpoint with float16 weights; a positive ``code_cap`` is recorded in its
    constructor arguments."""
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
    args = dict(args)
    if code_cap:
        args["code_cap"] = float(code_cap)
    checkpoint.save_inference_generator(
        out, halve(average_states(states)), args, info.get("config", {}), step=info.get("step"),
        heldout=info.get("heldout") if len(sources) == 1 else None, note=note)


def export_st_gcn(source, out, note=""):
    """Write the ST-GCN of ``source`` as an inference checkpoint with float16 weights."""
    stored = checkpoint.read(source)
    state, num_class = checkpoint.load_st_gcn_state(source, stored)
    checkpoint.save_st_gcn(out, halve(state), num_class, stored.get("trained_on"), inference=True,
                           note=note)


def run(argv=None):
    args = export_parser().parse_args(argv)
    if args.network == "generator":
        export_generator(args.sources, args.out, args.note, args.code_cap)
    elif args.code_cap:
        raise DanceSynthError("--code_cap is a generator's: an ST-GCN has no music code")
    elif len(args.sources) > 1:
        raise DanceSynthError("only generators average: give one ST-GCN checkpoint")
    else:
        export_st_gcn(args.sources[0], args.out, args.note)
    print("wrote", args.out)


def main(argv=None):
    return report_errors(run, argv)


if __name__ == "__main__":
    sys.exit(main())
