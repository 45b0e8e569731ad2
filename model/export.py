"""Compact inference copies of checkpoints, for shipping in ``pretrain_model/``.

``python -m model.export generator IN OUT [--note TEXT]`` keeps the generator's weights (the
averaged ones when the run kept an average), its constructor arguments and the config, drops
optimizer and random states, and stores floating weights as float16. ``python -m model.export
st_gcn IN OUT`` does the same for an ST-GCN. BatchNorm statistics and the graph stay float32:
they are small and rounding them would shift every activation. Loading casts back to float32.
"""

import sys

from config import export_parser
from runtime import report_errors

from . import checkpoint

_KEEP_FP32 = ("running_mean", "running_var", "A")


def halve(state):
    """Floating tensors to float16, except BatchNorm statistics and the adjacency ``A``."""
    return {key: value.half() if value.is_floating_point() and not key.endswith(_KEEP_FP32)
            else value for key, value in state.items()}


def export_generator(source, out, note=""):
    """Write the generator of ``source`` as an inference checkpoint with float16 weights."""
    stored = checkpoint.read(source)
    info = stored if isinstance(stored, dict) and "generator" in stored else {}
    checkpoint.save_inference_generator(
        out, halve(checkpoint.load_generator_state(source, stored)),
        checkpoint.generator_args(source, stored), info.get("config", {}), step=info.get("step"),
        heldout=info.get("heldout"), note=note)


def export_st_gcn(source, out, note=""):
    """Write the ST-GCN of ``source`` as an inference checkpoint with float16 weights."""
    stored = checkpoint.read(source)
    state, num_class = checkpoint.load_st_gcn_state(source, stored)
    checkpoint.save_st_gcn(out, halve(state), num_class, stored.get("trained_on"), inference=True,
                           note=note)


def run(argv=None):
    args = export_parser().parse_args(argv)
    export = export_generator if args.network == "generator" else export_st_gcn
    export(args.source, args.out, args.note)
    print("wrote", args.out)


def main(argv=None):
    return report_errors(run, argv)


if __name__ == "__main__":
    sys.exit(main())
