"""Checkpoints in the original release's format, and the proof that the networks match it.

Two checkpoint layouts are recognised for each network:

* release format: a plain state dict, keys exactly as the original's ``generator_XXXX.pth``
  and ``GCN.pth`` (this project's module names equal them, so no renaming is needed; a
  ``module.`` prefix left by ``DataParallel`` is stripped);
* project format: a dict holding the state dict under ``"generator"`` (the training loop's
  checkpoints, ``{"generator": ..., "config": {...}, ...}``) or under ``"st_gcn"`` with the
  label count under ``"num_class"`` (the pre-training script's ``GCN.pth``).

Files are read with ``torch.load(weights_only=True)``, so project checkpoints must hold only
tensors and plain Python values. Floating tensors are cast to float32 (the release fixtures
store float16).

``python -m model.compat --check DIR`` loads ``DIR/generator_state_dict.pt`` and
``DIR/st_gcn_state_dict.pt``, runs ``DIR/io.pt``'s inputs in eval mode and prints the largest
absolute difference of every output to the one the original code recorded; it exits with 1
when any exceeds 1e-4.
"""

import argparse
import sys
from pathlib import Path

import torch

from .generator import Generator
from .st_gcn import STGCN

TOLERANCE = 1e-4
_SHOWN = 5  # keys listed in an error message


class CheckpointError(ValueError):
    """A file is not a checkpoint of the expected network; the message names file and cause."""


def _read(path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise CheckpointError(f"{path}: not a readable torch checkpoint "
                              f"({type(exc).__name__}: {exc})") from exc


def _listed(keys):
    keys = sorted(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def _state_dict(path, checkpoint, entry, network):
    """The state dict inside ``checkpoint``: its ``entry`` item, or the checkpoint itself."""
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: expected a dict (a {network} state dict or a checkpoint "
                              f"with a {entry!r} entry), found {type(checkpoint).__name__}")
    state = checkpoint.get(entry, checkpoint)
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        keys = _listed(map(str, checkpoint))
        raise CheckpointError(f"{path}: neither a {network} state dict nor a checkpoint with a "
                              f"{entry!r} state dict; top-level keys: {keys}")
    if state and all(k.startswith("module.") for k in state):
        state = {k[len("module."):]: v for k, v in state.items()}
    return state


def _checked(path, state, reference, network):
    """``state`` cast to float32 after checking its keys and shapes against ``reference``."""
    expected = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    missing, unexpected = expected.keys() - state.keys(), state.keys() - expected.keys()
    if missing or unexpected:
        found = f"missing keys: {_listed(missing)}" if missing else ""
        if unexpected:
            found += ("; " if found else "") + f"unexpected keys: {_listed(unexpected)}"
        raise CheckpointError(f"{path}: not a {network} state dict ({found})")
    wrong = [f"{k} {tuple(state[k].shape)} (expected {shape})"
             for k, shape in expected.items() if tuple(state[k].shape) != shape]
    if wrong:
        raise CheckpointError(f"{path}: {network} state dict with wrong shapes: "
                              f"{_listed(wrong)}")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def load_generator_state(path):
    """Generator state dict (float32) from a release or project checkpoint file.

    A project checkpoint's averaged weights (``generator_ema``) are preferred when present.

    Raises :class:`CheckpointError` naming the file when it is unreadable or holds something else.
    """
    checkpoint = _read(path)
    # a run with --ema also saved the averaged weights: those are the ones to dance with
    entry = "generator_ema" if isinstance(checkpoint, dict) and "generator_ema" in checkpoint else "generator"
    state = _state_dict(path, checkpoint, entry, "generator")
    with torch.device("meta"):
        reference = Generator()
    return _checked(path, state, reference, "generator")


def load_st_gcn_state(path):
    """``(state_dict, num_class)`` of an ST-GCN from a release ``GCN.pth`` or project checkpoint.

    The class count comes from the head's weight (checked against a ``"num_class"`` entry when
    present). Raises :class:`CheckpointError` naming the file when it is unreadable or holds
    something else.
    """
    checkpoint = _read(path)
    state = _state_dict(path, checkpoint, "st_gcn", "ST-GCN")
    head = state.get("fcn.weight")
    if head is None:
        raise CheckpointError(f"{path}: not an ST-GCN state dict (missing keys: fcn.weight; "
                              f"found keys: {_listed(state)})")
    num_class = head.shape[0]
    stated = checkpoint.get("num_class", num_class) if "st_gcn" in checkpoint else num_class
    if stated != num_class:
        raise CheckpointError(f"{path}: num_class is {stated} but the classifier head has "
                              f"{num_class} outputs")
    with torch.device("meta"):
        reference = STGCN(num_class=num_class)
    return _checked(path, state, reference, "ST-GCN"), num_class


def generator_args(path):
    """Constructor arguments of the generator in ``path`` (``{}`` for release checkpoints).

    Project checkpoints record them under ``"generator_args"`` (e.g. ``{"edge_pad": 6}``).
    """
    checkpoint = _read(path)
    args = checkpoint.get("generator_args", {}) if isinstance(checkpoint, dict) else {}
    if not isinstance(args, dict) or set(args) - {"edge_pad"}:
        raise CheckpointError(f"{path}: unknown generator_args {args!r}")
    return args


def load_generator(path, device="cpu"):
    """A :class:`Generator` built and loaded from ``path``, in eval mode on ``device``."""
    generator = Generator(**generator_args(path))
    generator.load_state_dict(load_generator_state(path))
    return generator.to(device).eval()


def load_st_gcn(path, device="cpu"):
    """A frozen :class:`STGCN` (eval mode, no gradients) with the weights of ``path``."""
    state, num_class = load_st_gcn_state(path)
    st_gcn = STGCN(num_class=num_class)
    st_gcn.load_state_dict(state)
    return st_gcn.to(device).eval().requires_grad_(False)


def compare_with_fixtures(directory):
    """Largest absolute difference of each output to the original's, by output name.

    ``directory`` holds ``generator_state_dict.pt``, ``st_gcn_state_dict.pt`` and ``io.pt``
    (see the fixtures' README). Returns ``{"generator_output": d, "st_gcn_feature_0": d, ...,
    "st_gcn_feature_9": d, "st_gcn_logits": d}``.
    """
    directory = Path(directory)
    generator = load_generator(directory / "generator_state_dict.pt")
    st_gcn = load_st_gcn(directory / "st_gcn_state_dict.pt")
    io = _read(directory / "io.pt")
    recorded = {"audio", "noise", "generator_output", "pose", "st_gcn_features", "st_gcn_logits"}
    if not isinstance(io, dict) or not recorded <= io.keys():
        found = _listed(map(str, io)) if isinstance(io, dict) else type(io).__name__
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


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m model.compat",
        description="Check this project's networks against outputs recorded with the original "
                    "release's code.")
    parser.add_argument("--check", required=True, metavar="DIR",
                        help="folder with generator_state_dict.pt, st_gcn_state_dict.pt, io.pt")
    parser.add_argument("--tolerance", type=float, default=TOLERANCE,
                        help="largest allowed absolute difference")
    args = parser.parse_args(argv)
    try:
        diffs = compare_with_fixtures(args.check)
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    width = max(map(len, diffs))
    for name, diff in diffs.items():
        verdict = "ok" if diff <= args.tolerance else "FAIL"
        print(f"{name:<{width}}  max|diff| = {diff:.3e}  {verdict}")
    failed = [name for name, diff in diffs.items() if diff > args.tolerance]
    print(f"{len(diffs) - len(failed)}/{len(diffs)} outputs within {args.tolerance:g}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
