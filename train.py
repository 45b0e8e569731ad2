"""Train the music-to-dance GAN with the pose perceptual loss, top to bottom.

Per iteration, on a batch of (music, dance) pairs:
  1. the generator dances the music:                  fake = G(music, noise)
  2. local discriminator step (5-frame windows):       0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))
  3. sequence discriminator step (music-conditioned):  0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + GP
  4. generator step (every ``--gap`` iterations):
       BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1(fake, real) + lambda_grad * L_perceptual
The ST-GCN of the perceptual loss is frozen. Defaults are the paper's (see config.py); the
speed-ups (config.SPEEDUPS, ``--no-optimize`` for the loop as written) keep its maths.

    python pretrain_gcn.py --data dataset/synthetic.json
    python train.py --data dataset/synthetic.json --out log/run1
    python train.py --data dataset/synthetic.json --out log/run1 --resume auto
    torchrun --nproc_per_node=4 train.py --data dataset/synthetic.json --out log/run1

Under ``torchrun`` every process trains on its own shard of each epoch with ``--batch_size``
samples per step (the global batch is ``batch_size * world_size``), gradients are averaged by
DistributedDataParallel, and only rank 0 writes logs and checkpoints. BatchNorm statistics stay
per process (no SyncBatchNorm): each process normalises its own batch, as a single process
would, and the checkpoints hold rank 0's running statistics.
"""

import contextlib
import functools
import glob
import hashlib
import json
import logging
import math
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F
from tensorboardX import SummaryWriter
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from config import SPEEDUPS, parse_train_args
from dataset.dance_dataset import DanceDataset
from heldout import HeldOutScorer
from model.compat import CheckpointError, load_st_gcn
from model.generator import Generator
from model.local_discriminator import LocalDiscriminator
from model.losses import (feature_matching_loss, gradient_penalty, pose_perceptual_loss,
                          saturation_penalty, velocity_l1_loss, visible_l1_loss)
from model.sequence_discriminator import SequenceDiscriminator
from runtime import (atomic_torch_save, atomic_torch_save_all, init_distributed, release_freed_memory, rng_state,
                     seed_everything, set_rng_state, set_threads)

CHECKPOINT_FORMAT = "dance-synth/1"
LOSS_TERMS = ("g_total", "g_local_adv", "g_seq_adv", "feature_matching", "l1", "perceptual",
              "d_local", "d_seq", "gradient_penalty")  # + "saturation", "l1_velocity" with their flags
PHASES = ("generate", "local_d", "sequence_d", "generator")  # the parts of one iteration
NETWORKS = ("generator", "local_discriminator", "sequence_discriminator")
# Checkpoint entries: generator_*.pth holds the generator, discriminator_*.pth the two others.
GENERATOR_ENTRIES = {"generator": "generator", "optimizer": "generator"}
DISCRIMINATOR_ENTRIES = {"local_discriminator": "local_discriminator",
                         "sequence_discriminator": "sequence_discriminator",
                         "optimizer_local": "local_discriminator",
                         "optimizer_seq": "sequence_discriminator"}

log = logging.getLogger("train")


# ----------------------------------------------------------------------------- speed and precision

def enabled_speedups(args):
    """Names of the speed-ups (config.SPEEDUPS) this run uses."""
    return frozenset(SPEEDUPS) - set(args.no_speedup) if args.optimize else frozenset()


def autocast(device, amp):
    """Autocast context for the forward passes: bf16 when ``amp == "bf16"``, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16")


def configure_process(device, args):
    """Process-wide settings: cuDNN autotuning (a speed-up), glibc memory release (an option)."""
    torch.backends.cudnn.benchmark = ("cudnn_benchmark" in enabled_speedups(args)
                                      and device.type == "cuda")
    if args.release_memory and not release_freed_memory():
        log.warning("--release_memory: this C library has no mallopt; ignored")


def use_memory_format(nets, device, args, world_size=1):
    """The ``channels_last`` speed-up: both discriminators' 2-D conv weights in channels-last
    layout, on CPU (oneDNN) in a single process (DistributedDataParallel cannot broadcast such
    weights). ``nets`` (from :func:`build_networks`) is converted in place."""
    if "channels_last" in enabled_speedups(args) and device.type == "cpu" and world_size == 1:
        for name in ("local_discriminator", "sequence_discriminator"):
            nets[name].to(memory_format=torch.channels_last)
    return nets


def unwrap(net):
    """The module inside a DistributedDataParallel wrapper (or ``net`` itself)."""
    return net.module if isinstance(net, DistributedDataParallel) else net


@contextlib.contextmanager
def frozen(modules, enabled=True):
    """Inside the block the parameters of ``modules`` do not require grad (when ``enabled``)."""
    params = [p for m in modules for p in m.parameters() if p.requires_grad] if enabled else []
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _untimed(_phase):
    return contextlib.nullcontext()


# ----------------------------------------------------------------------------- losses

def bce(prob, target):
    """Binary cross-entropy of sigmoid outputs against a constant target (1 real, 0 fake).

    Computed in float32 outside autocast (autocast refuses BCE on probabilities).
    """
    with torch.autocast(prob.device.type, enabled=False):
        prob = prob.float()
        return F.binary_cross_entropy(prob, torch.full_like(prob, target))


def local_discriminator_loss(D_local, real, fake):
    """``0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))`` over the 16 windows of each sequence."""
    return 0.5 * (bce(D_local(real), 1.0) + bce(D_local(fake), 0.0))


def sequence_discriminator_loss(D_seq, real, fake, music, lambda_gp, music_code=None):
    """``0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + lambda_gp * GP``; returns (loss, GP).

    With ``music_code`` (from :func:`shared_music_code`) the three passes use it instead of
    encoding ``music`` each time.
    """
    if music_code is None:
        critic, audio = D_seq, music
    else:
        critic, audio = functools.partial(D_seq, music_code=music_code), None
    prob_real, _ = critic(real, audio)
    prob_fake, _ = critic(fake, audio)
    gp = gradient_penalty(critic, real, fake, audio)
    return 0.5 * (bce(prob_real, 1.0) + bce(prob_fake, 0.0)) + lambda_gp * gp, gp


def generator_loss(nets, st_gcn, real, fake, music, args, music_code=None, logits=None):
    """The generator's objective and its terms.

    ``BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1 + lambda_grad * perceptual``,
    plus ``saturation_penalty * saturation(logits)`` when ``args.saturation_penalty`` is set
    (``logits``: the generator's pre-tanh outputs, ``fake = tanh(logits)``), and
    ``l1_velocity * L1(motion(fake), motion(real))`` when ``args.l1_velocity`` is set. With
    ``args.l1_visible`` the L1 leaves out the joints missing from ``real``.
    ``music_code`` (optional) replaces encoding ``music`` in both sequence-discriminator passes.
    Returns ``(total, {term name: tensor})``.
    """
    D_local, D_seq = unwrap(nets["local_discriminator"]), unwrap(nets["sequence_discriminator"])
    condition = {"audio": music} if music_code is None else {"music_code": music_code}
    prob_fake, feats_fake = D_seq(fake, **condition)
    with torch.no_grad():
        _, feats_real = D_seq(real, **condition)
    terms = {
        "g_local_adv": bce(D_local(fake), 1.0),
        "g_seq_adv": bce(prob_fake, 1.0),
        "feature_matching": feature_matching_loss(feats_fake, feats_real).float(),
        "l1": visible_l1_loss(fake, real) if args.l1_visible else F.l1_loss(fake, real),
        "perceptual": pose_perceptual_loss(st_gcn, fake, real).float(),
    }
    total = (terms["g_local_adv"] + terms["g_seq_adv"] + terms["feature_matching"]
             + args.alpha * terms["l1"] + args.lambda_grad * terms["perceptual"])
    if args.l1_velocity:
        terms["l1_velocity"] = velocity_l1_loss(fake, real)
        total = total + args.l1_velocity * terms["l1_velocity"]
    if args.saturation_penalty:
        terms["saturation"] = saturation_penalty(logits)
        total = total + args.saturation_penalty * terms["saturation"]
    return total, terms


def shared_music_code(D_seq, music, passes):
    """``D_seq``'s music code for ``passes`` passes over the batch ``music``, computed once.

    In train mode the music path (conv stack with BatchNorm, BiGRU, attention pooling) has no
    dropout and its BatchNorms see this same batch on every pass, so each pass would compute
    exactly this code; autograd sums the passes' gradients through it. The BatchNorm running
    statistics are then updated ``passes - 1`` more times from the same inputs, as the separate
    passes would have done. Shape: ``(B, T, 1600)`` -> ``(B, 1, 256)``.
    """
    path = [D_seq.music_encoder, D_seq.attention]
    if any(isinstance(m, nn.RNNBase) and m.dropout or "Dropout" in type(m).__name__
           for part in path for m in part.modules()):
        raise ValueError("the sequence discriminator's music path has dropout: its passes differ, "
                         "so the music code cannot be shared (--no_speedup share_music_code)")
    inputs = []
    hooks = [m.register_forward_hook(lambda module, args, _out: inputs.append((module, args[0])))
             for m in D_seq.music_encoder.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    try:
        code = D_seq.encode_music(music)
    finally:
        for hook in hooks:
            hook.remove()
    if D_seq.training:
        with torch.no_grad():
            for batchnorm, x in inputs:
                for _ in range(passes - 1):
                    batchnorm(x)
    return code


# ----------------------------------------------------------------------------- one iteration

def training_step(nets, optimizers, st_gcn, music, real, args, update_generator=True, timer=None):
    """One iteration: generate, step both discriminators, then (optionally) the generator.

    ``nets`` may hold DistributedDataParallel wrappers; the discriminator steps train through
    them, the generator step reads the discriminators unwrapped (their gradients are not used).
    ``timer(phase)`` (optional) returns a context manager timing each of :data:`PHASES`.

    Shapes: ``music`` (B, 50, 1600) raw int16-range audio, ``real`` (B, 50, 36) normalised poses.
    Returns ``{term name: float}`` for every loss computed.
    """
    speedups, phase = enabled_speedups(args), timer or _untimed
    skip_grads, share = "skip_unused_grads" in speedups, "share_music_code" in speedups
    cast = functools.partial(autocast, music.device, args.amp)
    G, D_local, D_seq = (nets[name] for name in NETWORKS)

    with phase("generate"), cast(), torch.set_grad_enabled(update_generator or not skip_grads):
        if args.saturation_penalty:  # the penalty needs the pose layer's pre-tanh outputs
            logits = G(music, logits=True).float()
            fake = logits.tanh()
        else:
            logits, fake = None, G(music).float()

    with phase("local_d"):
        with cast():
            d_local = local_discriminator_loss(D_local, real, fake.detach())
        optimizers["local_discriminator"].zero_grad(set_to_none=True)
        d_local.backward()
        optimizers["local_discriminator"].step()

    with phase("sequence_d"):
        with cast():
            code = shared_music_code(unwrap(D_seq), music, passes=3) if share else None
            d_seq, gp = sequence_discriminator_loss(D_seq, real, fake.detach(), music,
                                                    args.lambda_gp, music_code=code)
        optimizers["sequence_discriminator"].zero_grad(set_to_none=True)
        d_seq.backward()
        optimizers["sequence_discriminator"].step()

    values = {"d_local": d_local.item(), "d_seq": d_seq.item(), "gradient_penalty": gp.item()}
    if update_generator:
        with phase("generator"):
            with cast(), torch.set_grad_enabled(not skip_grads):  # frozen D: no graph needed
                code = shared_music_code(unwrap(D_seq), music, passes=2) if share else None
            with frozen([unwrap(D_local), unwrap(D_seq)], enabled=skip_grads), cast():
                g_total, terms = generator_loss(nets, st_gcn, real, fake, music, args,
                                                music_code=code, logits=logits)
            optimizers["generator"].zero_grad(set_to_none=True)
            g_total.backward()
            optimizers["generator"].step()
        values["g_total"] = g_total.item()
        values.update({name: term.item() for name, term in terms.items()})
    return values


# ----------------------------------------------------------------------------- networks, optimisers

def build_networks(device, edge_pad=0):
    """The generator and both discriminators, freshly initialised, in train mode on ``device``."""
    nets = {"generator": Generator(edge_pad=edge_pad), "local_discriminator": LocalDiscriminator(),
            "sequence_discriminator": SequenceDiscriminator()}
    for net in nets.values():
        net.to(device).train()
    return nets


def build_optimizers(nets, args):
    """Adam per network at the paper's learning rates (from ``args``)."""
    return {
        "generator": torch.optim.Adam(nets["generator"].parameters(), lr=args.lr_g),
        "local_discriminator": torch.optim.Adam(nets["local_discriminator"].parameters(),
                                                lr=args.lr_d_frame),
        "sequence_discriminator": torch.optim.Adam(nets["sequence_discriminator"].parameters(),
                                                   lr=args.lr_d_seq),
    }


def load_frozen_st_gcn(path, device):
    """The pre-trained ST-GCN, frozen in eval mode; a clear error that says how to make it."""
    if not os.path.exists(path):
        raise SystemExit("error: no pre-trained ST-GCN at %s (the pose perceptual loss needs it).\n"
                         "Make it first:\n    python pretrain_gcn.py --data <dataset file> --out %s"
                         % (path, path))
    return load_st_gcn(path, device)


# ----------------------------------------------------------------------------- checkpoints

def ema_decay(decay, updates):
    """The averaging decay at update ``updates``: ``min(decay, (1 + n) / (10 + n))``.

    Early on the average forgets fast (0.1, 0.18, 0.25, ...), so the untrained first weights do
    not linger in it for thousands of steps; after about ``10 / (1 - decay)`` updates it is ``decay``.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


def build_ema(generator, decay):
    """Warmed-up moving average of the generator's weights and BatchNorm statistics (or None)."""
    if not decay:
        return None

    @torch.no_grad()
    def update(averaged, current, updates):  # one call per (device, dtype) group of tensors
        if torch.is_floating_point(averaged[0]):
            torch._foreach_lerp_(averaged, current, 1.0 - ema_decay(decay, int(updates)))
        else:  # BatchNorm's batch counters
            torch._foreach_copy_(averaged, current)

    return AveragedModel(generator, multi_avg_fn=update, use_buffers=True)


def save_checkpoints(out, tag, nets, optimizers, epoch, step, args, batch=None, rng=None, ema=None):
    """Write ``generator_<tag>.pth`` and ``discriminator_<tag>.pth`` (atomically, as a pair).

    Each holds its networks' (unwrapped) and optimizers' states, the progress (``epoch`` in
    progress, ``batch``: its batches done, None = all; ``step``: iterations done), the full
    config and every process's random state (``rng``: a list by rank, default this process's),
    so the run can be rebuilt and continued exactly (``--resume``). With ``ema`` the generator
    file also holds the averaged weights (``generator_ema``), which inference prefers.
    """
    common = {"format": CHECKPOINT_FORMAT, "epoch": epoch, "batch": batch, "step": step,
              "config": vars(args), "rng": rng if rng is not None else [rng_state()],
              "generator_args": {"edge_pad": args.edge_pad}}
    averaged = ({"generator_ema": ema.module.state_dict(), "ema_steps": int(ema.n_averaged)}
                if ema is not None else {})

    def entries(names):
        return {key: (optimizers[net] if key.startswith("optimizer") else unwrap(nets[net]))
                .state_dict() for key, net in names.items()}

    atomic_torch_save_all([
        ({**common, **entries(GENERATOR_ENTRIES), **averaged},
         os.path.join(out, "generator_%s.pth" % tag)),
        ({**common, **entries(DISCRIMINATOR_ENTRIES)},
         os.path.join(out, "discriminator_%s.pth" % tag)),
    ])


def read_training_checkpoint(path, entries):
    """A training checkpoint written by :func:`save_checkpoints`, with the given state entries.

    Raises :class:`CheckpointError` naming the file when it is missing, unreadable, or not such
    a checkpoint (a release-format state dict, another network's file, another format).
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError("%s: no such file" % path) from None
    except Exception as exc:  # torch raises many types for foreign or corrupt files
        raise CheckpointError("%s: not a readable torch checkpoint (%s: %s)"
                              % (path, type(exc).__name__, exc)) from exc
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        found = ckpt.get("format") if isinstance(ckpt, dict) else type(ckpt).__name__
        raise CheckpointError("%s: not a training checkpoint of this project (format %r, "
                              "expected %r); a release generator can be read by get_demo.py but "
                              "cannot be resumed" % (path, found, CHECKPOINT_FORMAT))
    missing = [key for key in (*entries, "epoch", "step", "rng", "config") if key not in ckpt]
    if missing:
        raise CheckpointError("%s: training checkpoint without %s" % (path, ", ".join(missing)))
    return ckpt


def checkpoint_pair(path):
    """``(generator file, discriminator file)`` for a path to either of the twins."""
    folder, name = os.path.split(path)
    for first, second in (("generator_", "discriminator_"), ("discriminator_", "generator_")):
        if name.startswith(first):
            twin = os.path.join(folder, second + name[len(first):])
            return (path, twin) if first == "generator_" else (twin, path)
    raise CheckpointError("%s: expected a generator_XXXX.pth or discriminator_XXXX.pth file" % path)


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
    naming the file and the cause when a state does not fit (another network, another size).
    """
    gen_path, disc_path = checkpoint_pair(path)
    gen = read_training_checkpoint(gen_path, GENERATOR_ENTRIES)
    disc = read_training_checkpoint(disc_path, DISCRIMINATOR_ENTRIES)
    if (gen["step"], gen["epoch"]) != (disc["step"], disc["epoch"]):
        raise CheckpointError("%s (step %s) and %s (step %s) are not one checkpoint"
                              % (gen_path, gen["step"], disc_path, disc["step"]))
    for ckpt, file, entries in ((gen, gen_path, GENERATOR_ENTRIES),
                                (disc, disc_path, DISCRIMINATOR_ENTRIES)):
        for key, net in entries.items():
            target = optimizers[net] if key.startswith("optimizer") else unwrap(nets[net])
            try:
                target.load_state_dict(ckpt[key])
            except (RuntimeError, ValueError, KeyError) as exc:
                raise CheckpointError("%s: its %r does not fit this run's %s (%s)"
                                      % (file, key, net, str(exc).splitlines()[0])) from exc
    if ema is not None:
        if "generator_ema" not in gen:
            raise CheckpointError("%s: no generator_ema to continue --ema from" % gen_path)
        ema.module.load_state_dict(gen["generator_ema"])
        ema.n_averaged.fill_(gen["ema_steps"])
    return gen


def replicas_agree(nets):
    """Whether every process holds bit-identical parameters (call on all processes at once)."""
    digest = hashlib.sha256()
    for name in NETWORKS:
        for param in unwrap(nets[name]).parameters():
            digest.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    digests = [None] * dist.get_world_size()
    dist.all_gather_object(digests, digest.hexdigest())
    return len(set(digests)) == 1


# ----------------------------------------------------------------------------- data

def epoch_batches(dataset, sampler, epoch, skip, args):
    """This process's batches of ``epoch`` from batch ``skip`` on.

    The shuffle (the sampler's) and ``--random_crop``'s windows derive from ``--seed`` and the
    epoch alone, and the loader does not touch the global random state, so a resumed run sees
    exactly the batches it would have.
    """
    sampler.set_epoch(epoch)
    dataset.set_epoch(epoch)
    order = list(sampler)[skip * args.batch_size:]
    return DataLoader(dataset, batch_size=args.batch_size, sampler=order, drop_last=True,
                      num_workers=args.num_workers,
                      generator=torch.Generator().manual_seed(args.seed + epoch))


# ----------------------------------------------------------------------------- main

def main(argv=None):
    args = parse_train_args(argv)
    rank, world_size, device = init_distributed(args.device)
    master = rank == 0
    logging.basicConfig(level=logging.INFO if master else logging.WARNING, format="%(message)s")
    set_threads(args.threads)
    seed_everything(args.seed)
    speedups = enabled_speedups(args)
    configure_process(device, args)

    # ---- data
    train_set = DanceDataset(args.data, split="train", split_rule=args.split,
                             val_videos=args.val_videos,
                             crop="random" if args.random_crop else "halves", crop_seed=args.seed)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    batches_per_epoch = len(sampler) // args.batch_size  # the original used full batches only
    if batches_per_epoch == 0:
        raise SystemExit("error: %s has %d training samples, fewer than one batch of %d per "
                         "process (%d processes)" % (args.data, len(train_set), args.batch_size,
                                                     world_size))

    # ---- networks, optimisers, and the state to continue from
    st_gcn = load_frozen_st_gcn(args.pretrain_GCN, device)
    nets = build_networks(device, args.edge_pad)
    use_memory_format(nets, device, args, world_size)
    optimizers = build_optimizers(nets, args)
    ema = build_ema(nets["generator"], args.ema)
    scorer = None
    if args.eval_every and master:
        scorer = HeldOutScorer(args.data, args.split, device, args.seed, args.val_videos)
        if scorer.split == "test":
            log.warning("--eval_every scores the test videos: generator_best.pth is chosen on "
                        "them, so its scores there are optimistic (--val_videos N avoids this)")
        log.info("checkpoint selection on %s videos %s", scorer.split, " ".join(scorer.video_ids))
    best = -math.inf
    step, epoch, batch, rng = 0, 1, 0, None
    resume = latest_checkpoint(args.out) if args.resume == "auto" else args.resume
    if resume:
        try:
            ckpt = load_training_state(resume, nets, optimizers, ema)
        except CheckpointError as exc:
            raise SystemExit("error: cannot resume: %s" % exc) from None
        step, epoch, batch = ckpt["step"], ckpt["epoch"], ckpt["batch"]
        if batch is None or batch >= batches_per_epoch:
            epoch, batch = epoch + 1, 0
        if len(ckpt["rng"]) == world_size:
            rng = ckpt["rng"][rank]
        else:
            log.warning("%s was written by %d processes, this run has %d: random streams restart "
                        "from --seed", resume, len(ckpt["rng"]), world_size)
        changed = sorted(k for k in ("data", "split", "val_videos", "batch_size", "seed", "gap", "amp",
                                     "random_crop")
                         if ckpt["config"].get(k) != getattr(args, k))
        if changed:
            log.warning("resuming with other %s than %s's run: it will not continue exactly",
                        ", ".join(changed), resume)
        log.info("resuming from %s: step %d, epoch %d, batch %d", resume, step, epoch, batch)
    elif args.resume == "auto":
        log.info("no checkpoint in %s: starting afresh", args.out)
    if world_size > 1:
        seed_everything(args.seed + rank)  # own noise, dropout and GP draws per process
        nets = {name: DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False) for name, net in nets.items()}
    if rng is not None:
        set_rng_state(rng)

    def checkpoint(tag, batch_done):
        states = [rng_state()]
        if world_size > 1:
            states = [None] * world_size
            dist.all_gather_object(states, rng_state())
        if master:
            save_checkpoints(args.out, tag, nets, optimizers, epoch, step, args, batch_done, states,
                             ema)

    def evaluate_held_out():
        """Score the (averaged) generator on held-out clips; keep it when it is the best yet."""
        nonlocal best
        dancer = ema.module if ema is not None else unwrap(nets["generator"])
        scores = scorer(dancer)
        for name, value in scores.items():
            writer.add_scalar("heldout/" + name, value, step)
        with open(os.path.join(args.out, "heldout.jsonl"), "a") as f:
            f.write(json.dumps({"step": step, "split": scorer.split, **scores}) + "\n")
        if scores["beat_align"] > best:
            best = scores["beat_align"]
            atomic_torch_save({"format": CHECKPOINT_FORMAT, "step": step, "epoch": epoch,
                               "config": vars(args), "generator_args": {"edge_pad": args.edge_pad},
                               "generator": dancer.state_dict(), "heldout": scores,
                               "heldout_split": scorer.split},
                              os.path.join(args.out, "generator_best.pth"))
        log.info("step %d %s beat alignment %.3f (best %.3f)", step, scorer.split,
                 scores["beat_align"], best)

    # ---- loop
    writer = None
    if master:
        os.makedirs(args.out, exist_ok=True)
        writer = SummaryWriter(args.out_tensorboard or os.path.join(args.out, "tensorboard"))
        log.info("training on %s: %d samples, %d iterations/epoch, %d epochs, %d process(es) on "
                 "%s, speed-ups: %s, %s -> %s", args.data, len(train_set), batches_per_epoch,
                 args.niter, world_size, device, ", ".join(sorted(speedups)) or "none",
                 args.amp, args.out)
    start, start_step, first_epoch, first_batch = time.time(), step, epoch, batch
    stop = bool(args.max_steps and step >= args.max_steps)
    for epoch in range(first_epoch, args.niter + 1 if not stop else first_epoch):
        sums, done = dict.fromkeys(LOSS_TERMS, 0.0), 0
        skip = first_batch if epoch == first_epoch else 0  # batches a resumed run has done
        batch = skip
        bar = tqdm(epoch_batches(train_set, sampler, epoch, skip, args), disable=not master,
                   desc="epoch %d/%d" % (epoch, args.niter), leave=False)
        for batch, data in enumerate(bar, start=skip + 1):
            music = data["audio"].to(device)
            real = data["pose"].to(device)

            terms = training_step(nets, optimizers, st_gcn, music, real, args,
                                  update_generator=step % args.gap == 0)
            bad = [name for name, value in terms.items() if not math.isfinite(value)]
            if bad:
                raise SystemExit("error: non-finite loss at step %d (epoch %d): %s; the last "
                                 "checkpoint in %s is intact" % (step, epoch, ", ".join(bad), args.out))
            step += 1
            done += 1
            if ema is not None:
                ema.update_parameters(unwrap(nets["generator"]))
            if scorer is not None and step % args.eval_every == 0:
                evaluate_held_out()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
                if master:
                    writer.add_scalar("iter/" + name, value, step - 1)
            bar.set_postfix(G="%.3f" % terms.get("g_total", float("nan")),
                            L1="%.4f" % terms.get("l1", float("nan")),
                            perc="%.3f" % terms.get("perceptual", float("nan")),
                            Dl="%.3f" % terms["d_local"], Ds="%.3f" % terms["d_seq"])
            if args.save_every_steps and step % args.save_every_steps == 0:
                checkpoint("last", batch)
            stop = bool(args.max_steps and step >= args.max_steps)
            if args.max_minutes:
                elapsed = torch.tensor(float(time.time() - start >= 60 * args.max_minutes),
                                       device=device)
                if world_size > 1:
                    dist.all_reduce(elapsed, op=dist.ReduceOp.MAX)  # every process stops together
                stop = stop or bool(elapsed)
            if stop:
                break

        if master:
            means = {name: total / max(done, 1) for name, total in sums.items()}
            for name, value in means.items():
                writer.add_scalar("epoch/" + name, value, epoch)
            log.info("epoch %d step %d  %s  (%.1f s, %.2f it/s)", epoch, step, "  ".join(
                "%s=%.4f" % (k, means[k]) for k in ("g_total", "l1", "perceptual", "d_local", "d_seq")),
                time.time() - start, (step - start_step) / max(time.time() - start, 1e-9))
        if batch == batches_per_epoch and (epoch % args.gap_save == 0 or epoch == args.niter):
            checkpoint("%04d" % epoch, None)
        if stop:
            break

    if step > start_step:
        checkpoint("last", None if batch == batches_per_epoch else batch)
    if master:
        writer.close()
        log.info("done: %d iterations in %.1f s; checkpoints in %s", step - start_step,
                 time.time() - start, args.out)
    if world_size > 1:
        if not replicas_agree(nets):
            raise SystemExit("error: the processes' parameters differ at step %d" % step)
        log.info("parameters identical on all %d processes", world_size)
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
