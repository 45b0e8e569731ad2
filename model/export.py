"""Compact inference copies of checkpoints, for shipping in ``pretrain_model/``.

``python -m model.export generator IN OUT [--note TEXT]`` keeps the generator's weights (the
averaged ones when the run kept an average), its constructor arguments and the config, drops
optimizer and random states, and stores floating weights as float16. ``python -m model.export
st_gcn IN OUT`` does the same for an ST-GCN. BatchNorm statistics and the graph stay float32:
they are small and rounding them would shift every activation. Loading casts back to float32.
"""

import argparse

import torch

from runtime import atomic_torch_save

from .compat import generator_args, load_generator_state, load_st_gcn_state

_KEEP_FP32 = ("running_mean", "running_var", "A")


def halve(state):
    """Floating tensors to float16, except BatchNorm statistics and the adjacency ``A``."""
    return {key: value.half() if value.is_floating_point() and not key.endswith(_KEEP_FP32)
            else value for key, value in state.items()}


def export_generator(source, out, note=""):
    """Write ``{"generator", "generator_args", "config", "step", "note"}`` with float16 weights."""
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    info = checkpoint if isinstance(checkpoint, dict) and "generator" in checkpoint else {}
    atomic_torch_save({"format": "dance-synth/1-inference",
                       "generator": halve(load_generator_state(source)),
                       "generator_args": generator_args(source),
                       "config": info.get("config", {}), "step": info.get("step"),
                       "heldout": info.get("heldout"), "note": note}, out)


def export_st_gcn(source, out, note=""):
    """Write ``{"st_gcn", "num_class", "trained_on", "note"}`` with float16 weights."""
    checkpoint = torch.load(source, map_location="cpu", weights_only=True)
    state, num_class = load_st_gcn_state(source)
    atomic_torch_save({"format": "dance-synth/st-gcn/1-inference", "st_gcn": halve(state),
                       "num_class": num_class, "trained_on": checkpoint.get("trained_on"),
                       "note": note}, out)


def main(argv=None):
    parser = argparse.ArgumentParser(description="Write a compact float16 inference copy of a "
                                                 "generator or ST-GCN checkpoint.")
    parser.add_argument("network", choices=("generator", "st_gcn"))
    parser.add_argument("source")
    parser.add_argument("out")
    parser.add_argument("--note", default="", help="how the weights were made")
    args = parser.parse_args(argv)
    export = export_generator if args.network == "generator" else export_st_gcn
    export(args.source, args.out, args.note)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
