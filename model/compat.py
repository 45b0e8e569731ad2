"""Agreement with the original release: its checkpoint layout and its recorded outputs.

The original's files are plain state dicts whose keys equal this project's module names, so
they load through :mod:`model.checkpoint` unchanged. ``python -m model.compat --check DIR``
loads ``DIR/generator_state_dict.pt`` and ``DIR/st_gcn_state_dict.pt``, runs ``DIR/io.pt``'s
inputs in eval mode and prints the largest absolute difference of every output to the one the
original code recorded; it exits with 1 when any exceeds 1e-4.
"""

import sys
from pathlib import Path

import torch

from config import compat_parser
from runtime import report_errors

from .checkpoint import CheckpointError, load_generator, load_st_gcn, read

TOLERANCE = 1e-4


def compare_with_fixtures(directory):
    """Largest absolute difference of each output to the original's, by output name.

    ``directory`` holds ``generator_state_dict.pt``, ``st_gcn_state_dict.pt`` and ``io.pt``
    (see the fixtures' README). Returns ``{"generator_output": d, "st_gcn_feature_0": d, ...,
    "st_gcn_feature_9": d, "st_gcn_logits": d}``.
    """
    directory = Path(directory)
    generator = load_generator(directory / "generator_state_dict.pt")
    st_gcn = load_st_gcn(directory / "st_gcn_state_dict.pt")
    io = read(directory / "io.pt")
    recorded = {"audio", "noise", "generator_output", "pose", "st_gcn_features", "st_gcn_logits"}
    if not isinstance(io, dict) or not recorded <= io.keys():
        found = ", ".join(sorted(map(str, io))) if isinstance(io, dict) else type(io).__name__
        raise CheckpointError(f"{directory / 'io.pt'}: expected a dict with "
                              f"{', '.join(sorted(recorded))}; found {found}")
    with torch.no_grad():
        diffs = {"generator_output": generator(io["audio"], io["noise"]) - io["generator_output"]}
        features = st_gcn.extract_feature(io["pose"])
        if len(features) != len(io["st_gcn_features"]):
            raise CheckpointError(f"{directory / 'io.pt'}: {len(io['st_gcn_features'])} recorded "
                                  f"ST-GCN features, the network gives {len(features)}")
        for i, (ours, theirs) in enumerate(zip(features, io["st_gcn_features"])):
            diffs[f"st_gcn_feature_{i}"] = ours - theirs
        diffs["st_gcn_logits"] = st_gcn(io["pose"]) - io["st_gcn_logits"]
    return {name: diff.abs().max().item() for name, diff in diffs.items()}


def check(argv=None):
    args = compat_parser(TOLERANCE).parse_args(argv)
    diffs = compare_with_fixtures(args.check)
    width = max(map(len, diffs))
    for name, diff in diffs.items():
        verdict = "ok" if diff <= args.tolerance else "FAIL"
        print(f"{name:<{width}}  max|diff| = {diff:.3e}  {verdict}")
    failed = [name for name, diff in diffs.items() if diff > args.tolerance]
    print(f"{len(diffs) - len(failed)}/{len(diffs)} outputs within {args.tolerance:g}")
    return 1 if failed else 0


def main(argv=None):
    return report_errors(check, argv)


if __name__ == "__main__":
    sys.exit(main())
