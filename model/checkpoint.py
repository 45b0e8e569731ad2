"""Every checkpoint this project reads or writes, in one place.

Formats (the ``"format"`` entry of each file):

* ``dance-synth/1``: training checkpoints, written by ``train.py`` as a pair per tag:
  ``generator_<tag>.pth`` holds the generator, its optimiser (and with ``--ema`` the averaged
  weights ``generator_ema``); ``discriminator_<tag>.pth`` the two discriminators and their
  optimisers. Both carry the progress (``epoch``, ``batch``, ``step``), the full ``config``,
  every process's random state and ``generator_args``. ``generator_best.pth`` has the same
  format with the generator alone (plus the held-out scores that chose it).
* ``dance-synth/1-inference``: a generator alone, float16 weights (``model.export``).
* ``dance-synth/st-gcn/1`` and ``dance-synth/st-gcn/1-inference``: the ST-GCN classifier
  (``st_gcn`` state, ``num_class``, ``trained_on`` record), from ``pretrain_gcn.py`` and its
  float16 copy.
* ``dance-synth/music-dance-embedding/1``: the evaluation's music-dance embedding.
* The original release's files: plain state dicts (``generator_XXXX.pth``, ``GCN.pth``); a
  ``module.`` prefix left by ``DataParallel`` is stripped.

Files are read with ``torch.load(weights_only=True)``, so they hold only tensors and plain
Python values, and written through :mod:`dataset.atomic`. Network weights are checked when
they load: the right keys and shapes, and finite values (a damaged file whose bits turned a
weight into NaN or Inf is refused, naming the file and the tensor). Floating tensors load as
float32.
"""

import glob
import os

import torch

from dataset.atomic import atomic_path, atomic_paths
from dataset.errors import DanceSynthError
from dataset.format import NOISE_DIM
from dataset.rhythm_cache import SOURCES as RHYTHM_SOURCES

from .gan import unwrap
from .generator import Generator
from .pose_generator import OUTPUTS as POSE_OUTPUTS
from .st_gcn import STGCN

TRAINING_FORMAT = "dance-synth/1"
INFERENCE_FORMAT = "dance-synth/1-inference"
GCN_FORMAT = "dance-synth/st-gcn/1"
GCN_INFERENCE_FORMAT = "dance-synth/st-gcn/1-inference"
EMBEDDING_FORMAT = "dance-synth/music-dance-embedding/1"

# Entries of a training pair: state name -> the network (or its optimiser) it belongs to.
GENERATOR_ENTRIES = {"generator": "generator", "optimizer": "generator"}
DISCRIMINATOR_ENTRIES = {"local_discriminator": "local_discriminator",
                         "sequence_discriminator": "sequence_discriminator",
                         "optimizer_local": "local_discriminator",
                         "optimizer_seq": "sequence_discriminator"}
GENERATOR_ARGS = ("edge_pad", "rhythm", "audio_level", "code_cap", "code_hold", "genres", "pose_output",
                  "genre_gain", "latent_dim", "max_bpm")
LAST_WITH_RETIRED = "1fc2e5f"  # the last commit that has --key_codebook and --latent_kind
# generator options that lost their experiments and left the code (docs/experiments.md), and where
# they can still be found
RETIRED_GENERATOR_ARGS = {"decoder_norm": "retired in issue 36", "rhythm_tempo": "retired in issue 36",
                          "code_offset_norm": "retired in issue 36",
                          "key_codebook": f"removed after commit {LAST_WITH_RETIRED}, the last that has it"}
# the kinds of --latent that left the code after LAST_WITH_RETIRED; "choice", the one kept, is what
# a latent is now
RETIRED_LATENT_KINDS = ("gaussian", "beat")
_SHOWN = 5  # keys listed in an error message


class CheckpointError(DanceSynthError, ValueError):
    """A file is not a usable checkpoint of the expected network; the message names file and cause."""


# ----------------------------------------------------------------------------- reading and writing

def read(path, mmap=False):
    """The object stored in ``path`` (on the CPU); :class:`CheckpointError` for a missing or
    unreadable file, in one line. ``mmap`` maps the tensors from the file instead of reading
    them, so a caller that holds many checkpoints pays memory only for what it touches."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except Exception as exc:  # torch raises many types, with long messages, for foreign files
        first = (str(exc).strip().splitlines() or [""])[0]
        raise CheckpointError(f"{path}: not a readable torch checkpoint ({type(exc).__name__}: {first})") from None


def save(obj, path):
    """``torch.save`` atomically (temporary file beside ``path``, then a rename)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def save_all(items):
    """``torch.save`` each ``(obj, path)`` of ``items``; every file is complete before the first
    rename (see :func:`dataset.atomic.atomic_paths`)."""
    with atomic_paths([path for _, path in items]) as temps:
        for (obj, _), tmp in zip(items, temps):
            torch.save(obj, tmp)


def _listed(keys):
    keys = sorted(keys)
    more = f", ... ({len(keys)} in all)" if len(keys) > _SHOWN else ""
    return ", ".join(keys[:_SHOWN]) + more


def require_finite(path, state, what="weights"):
    """Raise :class:`CheckpointError` naming ``path`` and the first tensor of ``state`` (a flat
    or nested dict) holding NaN or Inf."""
    for key, value in state.items():
        if isinstance(value, dict):
            require_finite(path, value, f"{what} {key}")
        elif torch.is_tensor(value) and value.is_floating_point() and not torch.isfinite(value).all():
            bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(f"{path}: {what} tensor {key!r} holds {bad} non-finite value(s) "
                                  f"(NaN or Inf): the file is damaged")


# ----------------------------------------------------------------------------- network weights

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
    """``state`` cast to float32 after checking its keys, shapes and values against ``reference``."""
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
        raise CheckpointError(f"{path}: {network} state dict with wrong shapes: {_listed(wrong)}")
    require_finite(path, state, f"{network}")
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}


def _holds_dance_encoder(checkpoint):
    """Whether the generator weights in ``checkpoint`` (a dict) include the dance encoder of
    ``--latent_kind gaussian``, the kind that checkpoints did not record."""
    state = checkpoint.get("generator_ema", checkpoint.get("generator"))
    return isinstance(state, dict) and any(str(key).removeprefix("module.").startswith("dance_encoder.")
                                           for key in state)


def _refuse_retired(path, args, checkpoint):
    """Raise :class:`CheckpointError` naming ``path`` when ``args`` (the generator_args of
    ``checkpoint``) record an option that has left the code (:data:`RETIRED_GENERATOR_ARGS`,
    :data:`RETIRED_LATENT_KINDS`), saying where it can still be found."""
    retired = sorted(set(args) & set(RETIRED_GENERATOR_ARGS))
    kind = args.get("latent_kind")
    if retired:
        what, where = f"generator_args name {retired[0]}", RETIRED_GENERATOR_ARGS[retired[0]]
    elif kind in RETIRED_LATENT_KINDS:
        what = f"a generator with --latent_kind {kind}"
        where = f"removed after commit {LAST_WITH_RETIRED}, the last that has it"
    elif kind is None and args.get("latent_dim") and _holds_dance_encoder(checkpoint):
        what = "a generator with --latent_kind gaussian (its weights hold a dance encoder)"
        where = f"removed after commit {LAST_WITH_RETIRED}, the last that has it"
    else:
        return
    raise CheckpointError(f"{path}: {what}, an option {where} (docs/experiments.md); this version cannot "
                          f"build that generator")


def generator_args(path, checkpoint=None):
    """Constructor arguments of the generator in ``path`` (``{}`` for release checkpoints).

    Project checkpoints record them under ``"generator_args"`` (e.g. ``{"edge_pad": 6,
    "rhythm": "librosa", "audio_level": 15696.0}``: the rhythm features and the level of the
    music the generator was trained with). A ``"latent_kind": "choice"``, which checkpoints of
    a latent recorded until commit :data:`LAST_WITH_RETIRED`, is left out: it is the only kind
    now. A generator built with a retired option raises :class:`CheckpointError`, saying where
    that option can still be found.
    """
    checkpoint = read(path) if checkpoint is None else checkpoint
    args = checkpoint.get("generator_args", {}) if isinstance(checkpoint, dict) else {}
    if isinstance(args, dict):
        _refuse_retired(path, args, checkpoint)
        if args.get("latent_kind") == "choice":  # the only kind now: no argument of the generator
            args = {key: value for key, value in args.items() if key != "latent_kind"}
    level = args.get("audio_level", 1.0) if isinstance(args, dict) else None
    cap = args.get("code_cap", 1.0) if isinstance(args, dict) else None
    genres = args.get("genres", 0) if isinstance(args, dict) else None
    gain = args.get("genre_gain", 1.0) if isinstance(args, dict) else None
    latent = args.get("latent_dim", 0) if isinstance(args, dict) else None
    max_bpm = args.get("max_bpm", 1.0) if isinstance(args, dict) else None
    if (not isinstance(args, dict) or set(args) - set(GENERATOR_ARGS)
            or args.get("rhythm") not in (None, *RHYTHM_SOURCES)
            or args.get("code_hold", False) not in (False, True)
            or args.get("pose_output", "joints") not in POSE_OUTPUTS
            or (args.get("code_hold") and not args.get("rhythm"))
            or not (isinstance(genres, int) and (genres == 0 or genres >= 2))
            or not isinstance(level, (int, float)) or not level > 0
            or not isinstance(cap, (int, float)) or not cap > 0
            or not isinstance(gain, (int, float)) or not gain > 0
            or ("genre_gain" in args and not genres)
            or not (isinstance(latent, int) and 0 <= latent <= NOISE_DIM and latent != 1)
            or not isinstance(max_bpm, (int, float)) or not max_bpm > 0):
        raise CheckpointError(f"{path}: unknown generator_args {args!r}")
    return args


def load_generator_state(path, checkpoint=None):
    """Generator state dict (float32) from a release or project checkpoint file.

    A project checkpoint's averaged weights (``generator_ema``) are preferred when present.
    Raises :class:`CheckpointError` naming the file when it is unreadable, holds something
    else, or holds non-finite weights.
    """
    checkpoint = read(path) if checkpoint is None else checkpoint
    # a run with --ema also saved the averaged weights: those are the ones to dance with
    entry = "generator_ema" if isinstance(checkpoint, dict) and "generator_ema" in checkpoint else "generator"
    state = _state_dict(path, checkpoint, entry, "generator")
    with torch.device("meta"):
        reference = Generator(**generator_args(path, checkpoint))
    return _checked(path, state, reference, "generator")


def load_generator(path, device="cpu", checkpoint=None):
    """A :class:`Generator` built and loaded from ``path`` (or from ``checkpoint``, what ``path``
    holds when it has been read already), in eval mode on ``device``."""
    checkpoint = read(path) if checkpoint is None else checkpoint
    generator = Generator(**generator_args(path, checkpoint))
    generator.load_state_dict(load_generator_state(path, checkpoint))
    return generator.to(device).eval()


def load_st_gcn_state(path, checkpoint=None):
    """``(state_dict, num_class)`` of an ST-GCN from a release ``GCN.pth`` or project checkpoint.

    The class count comes from the head's weight (checked against a ``"num_class"`` entry when
    present). Raises :class:`CheckpointError` naming the file when it is unreadable, holds
    something else, or holds non-finite weights.
    """
    checkpoint = read(path) if checkpoint is None else checkpoint
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


def load_st_gcn(path, device="cpu"):
    """A frozen :class:`STGCN` (eval mode, no gradients) with the weights of ``path``."""
    if not os.path.exists(path):
        raise CheckpointError(f"{path}: no pre-trained ST-GCN here; make one with "
                              f"`python pretrain_gcn.py --data <dataset file> --out {path}`")
    state, num_class = load_st_gcn_state(path)
    st_gcn = STGCN(num_class=num_class)
    st_gcn.load_state_dict(state)
    return st_gcn.to(device).eval().requires_grad_(False)


def st_gcn_record(path):
    """The ``trained_on`` record of a project ST-GCN file (``{}`` for a release ``GCN.pth``)."""
    checkpoint = read(path)
    record = checkpoint.get("trained_on") if isinstance(checkpoint, dict) else None
    return record if isinstance(record, dict) else {}


def save_st_gcn(path, state, num_class, trained_on, inference=False, note=None):
    """Write an ST-GCN checkpoint (``inference``: the float16 copy's format, with a ``note``)."""
    record = {"format": GCN_INFERENCE_FORMAT if inference else GCN_FORMAT, "st_gcn": state,
              "num_class": num_class, "trained_on": trained_on}
    if inference:
        record["note"] = note or ""
    save(record, path)


def save_inference_generator(path, state, args, config, step=None, heldout=None, note=""):
    """Write a generator alone (``dance-synth/1-inference``): weights, constructor arguments, config."""
    save({"format": INFERENCE_FORMAT, "generator": state, "generator_args": args, "config": config,
          "step": step, "heldout": heldout, "note": note}, path)


def save_embedding(path, state, config, trained_on):
    """Write the music-dance embedding: weights, constructor ``config`` and ``trained_on`` record."""
    save({"format": EMBEDDING_FORMAT, "embedding": state, "config": config,
          "trained_on": trained_on}, path)


def read_embedding(path):
    """``(state, config, trained_on)`` of a file written by :func:`save_embedding`."""
    checkpoint = read(path)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != EMBEDDING_FORMAT:
        raise CheckpointError(f"{path}: not a music-dance embedding checkpoint "
                              f"(expected format {EMBEDDING_FORMAT!r})")
    require_finite(path, checkpoint["embedding"], "embedding")
    return checkpoint["embedding"], checkpoint["config"], checkpoint["trained_on"]


# ----------------------------------------------------------------------------- training checkpoints

def _states(names, nets, optimizers):
    return {key: (optimizers[net] if key.startswith("optimizer") else unwrap(nets[net])).state_dict()
            for key, net in names.items()}


def save_training_state(out, tag, nets, optimizers, common, ema=None):
    """Write ``generator_<tag>.pth`` and ``discriminator_<tag>.pth`` in ``out`` as one pair.

    Each holds its networks' (unwrapped) and optimisers' states (:data:`GENERATOR_ENTRIES`,
    :data:`DISCRIMINATOR_ENTRIES`) and ``common`` (progress, config, random states,
    ``generator_args``); with ``ema`` the generator file also holds the averaged weights
    (``generator_ema``, which inference prefers) and their update count.
    """
    common = {"format": TRAINING_FORMAT, **common}
    averaged = ({"generator_ema": ema.module.state_dict(), "ema_steps": int(ema.n_averaged)}
                if ema is not None else {})
    save_all([({**common, **_states(GENERATOR_ENTRIES, nets, optimizers), **averaged},
               os.path.join(out, f"generator_{tag}.pth")),
              ({**common, **_states(DISCRIMINATOR_ENTRIES, nets, optimizers)},
               os.path.join(out, f"discriminator_{tag}.pth"))])


def save_generator(path, generator_state, common):
    """Write a training-format file holding a generator alone (``generator_best.pth``)."""
    save({"format": TRAINING_FORMAT, **common, "generator": generator_state}, path)


def read_training_checkpoint(path, entries):
    """A training checkpoint written by :func:`save_training_state`, with the given state entries.

    Raises :class:`CheckpointError` naming the file when it is missing, unreadable, not such a
    checkpoint (a release-format state dict, another network's file, another format), or
    holds non-finite weights.
    """
    ckpt = read(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != TRAINING_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError(f"{path}: not a training checkpoint of this project (format {found!r}, "
                              f"expected {TRAINING_FORMAT!r}); a release generator can be read by "
                              f"get_demo.py but cannot be resumed")
    missing = [key for key in (*entries, "epoch", "step", "rng", "config") if key not in ckpt]
    if missing:
        raise CheckpointError(f"{path}: training checkpoint without {', '.join(missing)}")
    for key in entries:
        if not key.startswith("optimizer"):
            require_finite(path, ckpt[key], key)
    if "generator_ema" in ckpt:
        require_finite(path, ckpt["generator_ema"], "generator_ema")
    return ckpt


def checkpoint_pair(path):
    """``(generator file, discriminator file)`` for a path to either of the twins."""
    folder, name = os.path.split(path)
    for first, second in (("generator_", "discriminator_"), ("discriminator_", "generator_")):
        if name.startswith(first):
            twin = os.path.join(folder, second + name[len(first):])
            return (path, twin) if first == "generator_" else (twin, path)
    raise CheckpointError(f"{path}: expected a generator_XXXX.pth or discriminator_XXXX.pth file")


def latest_checkpoint(out):
    """The generator file of the latest complete checkpoint pair in ``out`` (most steps), or None.

    Pairs whose twins disagree (a kill between the two renames) are skipped.
    """
    best, best_step = None, -1
    for path in glob.glob(os.path.join(out, "generator_*.pth")):
        try:
            steps = [torch.load(p, map_location="cpu", weights_only=True, mmap=True)["step"]
                     for p in checkpoint_pair(path)]
        except Exception:  # unreadable or missing twin: not a candidate
            continue
        if steps[0] == steps[1] and steps[0] > best_step:
            best, best_step = path, steps[0]
    return best


def load_training_state(path, nets, optimizers, ema=None):
    """Restore networks, optimisers (and the weight average) from the checkpoint pair of ``path``.

    Returns the generator file's dict (progress, config, rng). Raises :class:`CheckpointError`
    naming the file and the cause when the twins are not one checkpoint or a state does not
    fit (another network, another size).
    """
    gen_path, disc_path = checkpoint_pair(path)
    gen = read_training_checkpoint(gen_path, GENERATOR_ENTRIES)
    disc = read_training_checkpoint(disc_path, DISCRIMINATOR_ENTRIES)
    if (gen["step"], gen["epoch"]) != (disc["step"], disc["epoch"]):
        raise CheckpointError(f"{gen_path} (step {gen['step']}) and {disc_path} (step "
                              f"{disc['step']}) are not one checkpoint")
    for ckpt, file, entries in ((gen, gen_path, GENERATOR_ENTRIES), (disc, disc_path, DISCRIMINATOR_ENTRIES)):
        for key, net in entries.items():
            is_optimizer = key.startswith("optimizer")
            target = optimizers[net] if is_optimizer else unwrap(nets[net])
            if is_optimizer:
                kernels = [(group.get("fused"), group.get("foreach")) for group in target.param_groups]
            try:
                target.load_state_dict(ckpt[key])
            except (RuntimeError, ValueError, KeyError) as exc:
                raise CheckpointError(f"{file}: its {key!r} does not fit this run's {net} "
                                      f"({str(exc).splitlines()[0]})") from exc
            if is_optimizer:  # this run's kernels, the checkpoint's state: same maths
                for group, (fused, foreach) in zip(target.param_groups, kernels):
                    group["fused"], group["foreach"] = fused, foreach
    if ema is not None:
        if "generator_ema" not in gen:
            raise CheckpointError(f"{gen_path}: no generator_ema to continue --ema from")
        ema.module.load_state_dict(gen["generator_ema"])
        ema.n_averaged.fill_(gen["ema_steps"])
    return gen
