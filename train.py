"""Train the music-to-dance GAN with the pose perceptual loss, top to bottom.

Per iteration, on a batch of (music, dance) pairs:
  1. the generator dances the music:                  fake = G(music, noise)
  2. local discriminator step (5-frame windows):       0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))
  3. sequence discriminator step (music-conditioned):  0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + GP
  4. generator step (every ``--gap`` iterations):
       BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1(fake, real) + lambda_grad * L_perceptual
The ST-GCN of the perceptual loss is frozen. Defaults are the paper's (see config.py).

    python pretrain_gcn.py --data dataset/synthetic.json
    python train.py --data dataset/synthetic.json --out log/run1
"""

import logging
import math
import os
import sys
import time

import torch
import torch.nn.functional as F
from tensorboardX import SummaryWriter
from torch.utils.data import DataLoader
from tqdm import tqdm

from config import train_parser
from dataset.dance_dataset import DanceDataset
from model.compat import load_st_gcn
from model.generator import Generator
from model.local_discriminator import LocalDiscriminator
from model.losses import feature_matching_loss, gradient_penalty, pose_perceptual_loss
from model.sequence_discriminator import SequenceDiscriminator
from runtime import atomic_torch_save, resolve_device, seed_everything, set_threads

CHECKPOINT_FORMAT = "dance-synth/1"
LOSS_TERMS = ("g_total", "g_local_adv", "g_seq_adv", "feature_matching", "l1", "perceptual",
              "d_local", "d_seq", "gradient_penalty")

log = logging.getLogger("train")


def load_frozen_st_gcn(path, device):
    """The pre-trained ST-GCN, frozen in eval mode; a clear error that says how to make it."""
    if not os.path.exists(path):
        raise SystemExit("error: no pre-trained ST-GCN at %s (the pose perceptual loss needs it).\n"
                         "Make it first:\n    python pretrain_gcn.py --data <dataset file> --out %s"
                         % (path, path))
    return load_st_gcn(path, device)


def save_checkpoints(out, tag, nets, optimizers, epoch, step, args):
    """Write ``generator_<tag>.pth`` and ``discriminator_<tag>.pth`` atomically.

    Each holds its networks' and optimizers' states, the epoch and step, the full config and the
    RNG state, so a run can be rebuilt and continued from them.
    """
    common = {"format": CHECKPOINT_FORMAT, "epoch": epoch, "step": step, "config": vars(args),
              "rng": {"torch": torch.get_rng_state(),
                      "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}}
    atomic_torch_save({**common, "generator": nets["generator"].state_dict(),
                       "optimizer": optimizers["generator"].state_dict()},
                      os.path.join(out, "generator_%s.pth" % tag))
    atomic_torch_save({**common,
                       "local_discriminator": nets["local_discriminator"].state_dict(),
                       "sequence_discriminator": nets["sequence_discriminator"].state_dict(),
                       "optimizer_local": optimizers["local_discriminator"].state_dict(),
                       "optimizer_seq": optimizers["sequence_discriminator"].state_dict()},
                      os.path.join(out, "discriminator_%s.pth" % tag))


def bce(prob, target):
    """Binary cross-entropy of sigmoid outputs against a constant target (1 real, 0 fake)."""
    return F.binary_cross_entropy(prob, torch.full_like(prob, target))


def local_discriminator_loss(D_local, real, fake):
    """``0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))`` over the 16 windows of each sequence."""
    return 0.5 * (bce(D_local(real), 1.0) + bce(D_local(fake), 0.0))


def sequence_discriminator_loss(D_seq, real, fake, music, lambda_gp):
    """``0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + lambda_gp * GP``; returns (loss, GP)."""
    prob_real, _ = D_seq(real, music)
    prob_fake, _ = D_seq(fake, music)
    gp = gradient_penalty(D_seq, real, fake, music)
    return 0.5 * (bce(prob_real, 1.0) + bce(prob_fake, 0.0)) + lambda_gp * gp, gp


def generator_loss(nets, st_gcn, real, fake, music, args):
    """The generator's objective and its terms.

    ``BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1 + lambda_grad * perceptual``.
    Returns ``(total, {term name: tensor})``.
    """
    D_local, D_seq = nets["local_discriminator"], nets["sequence_discriminator"]
    prob_fake, feats_fake = D_seq(fake, music)
    with torch.no_grad():
        _, feats_real = D_seq(real, music)
    terms = {
        "g_local_adv": bce(D_local(fake), 1.0),
        "g_seq_adv": bce(prob_fake, 1.0),
        "feature_matching": feature_matching_loss(feats_fake, feats_real),
        "l1": F.l1_loss(fake, real),
        "perceptual": pose_perceptual_loss(st_gcn, fake, real),
    }
    total = (terms["g_local_adv"] + terms["g_seq_adv"] + terms["feature_matching"]
             + args.alpha * terms["l1"] + args.lambda_grad * terms["perceptual"])
    return total, terms


def training_step(nets, optimizers, st_gcn, music, real, args, update_generator=True):
    """One iteration: generate, step both discriminators, then (optionally) the generator.

    Shapes: ``music`` (B, 50, 1600) raw int16-range audio, ``real`` (B, 50, 36) normalised poses.
    Returns ``{term name: float}`` for every loss computed.
    """
    G, D_local, D_seq = nets["generator"], nets["local_discriminator"], nets["sequence_discriminator"]
    fake = G(music)

    d_local = local_discriminator_loss(D_local, real, fake.detach())
    optimizers["local_discriminator"].zero_grad(set_to_none=True)
    d_local.backward()
    optimizers["local_discriminator"].step()

    d_seq, gp = sequence_discriminator_loss(D_seq, real, fake.detach(), music, args.lambda_gp)
    optimizers["sequence_discriminator"].zero_grad(set_to_none=True)
    d_seq.backward()
    optimizers["sequence_discriminator"].step()

    values = {"d_local": d_local.item(), "d_seq": d_seq.item(), "gradient_penalty": gp.item()}
    if update_generator:
        g_total, terms = generator_loss(nets, st_gcn, real, fake, music, args)
        optimizers["generator"].zero_grad(set_to_none=True)
        g_total.backward()
        optimizers["generator"].step()
        values["g_total"] = g_total.item()
        values.update({name: term.item() for name, term in terms.items()})
    return values


def build_networks(device):
    """The generator and both discriminators, freshly initialised, in train mode on ``device``."""
    nets = {"generator": Generator(), "local_discriminator": LocalDiscriminator(),
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


def main(argv=None):
    args = train_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    seed_everything(args.seed)
    device = resolve_device(args.device)
    os.makedirs(args.out, exist_ok=True)
    writer = SummaryWriter(args.out_tensorboard or os.path.join(args.out, "tensorboard"))

    # ---- data
    train_set = DanceDataset(args.data, split="train", split_rule=args.split)
    # The original reshaped with a hard-coded batch size, so it could only use full batches.
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, drop_last=True,
                        num_workers=args.num_workers,
                        generator=torch.Generator().manual_seed(args.seed))
    if len(loader) == 0:
        raise SystemExit("error: %s has %d training samples, fewer than one batch of %d"
                         % (args.data, len(train_set), args.batch_size))

    # ---- networks and optimisers
    st_gcn = load_frozen_st_gcn(args.pretrain_GCN, device)
    nets = build_networks(device)
    optimizers = build_optimizers(nets, args)

    print("training on %s: %d samples, %d iterations/epoch, %d epochs, device %s -> %s"
          % (args.data, len(train_set), len(loader), args.niter, device, args.out))
    step, start = 0, time.time()
    stop = False
    for epoch in range(1, args.niter + 1):
        sums = dict.fromkeys(LOSS_TERMS, 0.0)
        bar = tqdm(loader, desc="epoch %d/%d" % (epoch, args.niter), leave=False)
        for batch in bar:
            music = batch["audio"].to(device)
            real = batch["pose"].to(device)

            terms = training_step(nets, optimizers, st_gcn, music, real, args,
                                  update_generator=step % args.gap == 0)
            bad = [name for name, value in terms.items() if not math.isfinite(value)]
            if bad:
                raise SystemExit("error: non-finite loss at step %d (epoch %d): %s; the last "
                                 "checkpoint in %s is intact" % (step, epoch, ", ".join(bad), args.out))
            for name, value in terms.items():
                writer.add_scalar("iter/" + name, value, step)
                sums[name] += value
            step += 1
            bar.set_postfix(G="%.3f" % terms.get("g_total", float("nan")), L1="%.4f" % terms.get("l1", float("nan")),
                            perc="%.3f" % terms.get("perceptual", float("nan")), Dl="%.3f" % terms["d_local"],
                            Ds="%.3f" % terms["d_seq"])
            if (args.max_steps and step >= args.max_steps) or (
                    args.max_minutes and time.time() - start >= 60 * args.max_minutes):
                stop = True
                break

        iterations = max(bar.n, 1)
        means = {name: total / iterations for name, total in sums.items()}
        for name, value in means.items():
            writer.add_scalar("epoch/" + name, value, epoch)
        print("epoch %d step %d  %s  (%.1f s)" % (epoch, step, "  ".join(
            "%s=%.4f" % (k, means[k]) for k in ("g_total", "l1", "perceptual", "d_local", "d_seq")),
            time.time() - start))
        if epoch % args.gap_save == 0 or epoch == args.niter:
            save_checkpoints(args.out, "%04d" % epoch, nets, optimizers, epoch, step, args)
        if stop:
            break

    save_checkpoints(args.out, "last", nets, optimizers, epoch, step, args)
    writer.close()
    print("done: %d iterations in %.1f s; checkpoints in %s" % (step, time.time() - start, args.out))


if __name__ == "__main__":
    sys.exit(main())
