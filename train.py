"""Train the music-to-dance GAN with the pose perceptual loss, top to bottom.

Config, data, networks, optimisers, the loop, checkpoints. One iteration (``model.gan``):
the generator dances the music; the local (5-frame windows) and the music-conditioned sequence
discriminators take a step; every ``--gap`` iterations the generator takes one on
``BCE + BCE + FM + alpha * L1 + lambda_grad * L_perceptual`` (the ST-GCN of the perceptual loss
is frozen). Defaults are the paper's (see config.py); the speed-ups (config.SPEEDUPS,
``--no-optimize`` for the loop as written) keep its maths.

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

import hashlib
import json
import logging
import math
import os
import sys
import time

import torch
import torch.distributed as dist
from tensorboardX import SummaryWriter
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from config import enabled_speedups, parse_train_args
from dataset.dance_dataset import training_set
from dataset.errors import DanceSynthError
from dataset.format import NOISE_DIM
from dataset.skeleton import normalize
from metrics.evaluation import bone_lengths, dancers_stage
from metrics.heldout import HeldOutScorer, selection_score
from model import checkpoint
from model.gan import (LOSS_TERMS, NETWORKS, apply_speedups, build_ema, build_networks,
                       build_optimizers, training_step, unwrap)
from model.losses import dancers_spread
from runtime import (configure_process, init_distributed, report_errors, resolve_amp, rng_state,
                     seed_everything, set_rng_state, set_threads)

log = logging.getLogger("train")


def replicas_agree(nets):
    """Whether every process holds bit-identical parameters (call on all processes at once)."""
    digest = hashlib.sha256()
    for name in NETWORKS:
        for param in unwrap(nets[name]).parameters():
            digest.update(param.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    digests = [None] * dist.get_world_size()
    dist.all_gather_object(digests, digest.hexdigest())
    return len(set(digests)) == 1


def kept_score(out, select):
    """The selection score of the ``generator_best.pth`` already in ``out`` (-inf if there is
    none, or it was scored without what ``select`` needs), so a resumed run replaces it only
    with a better generator."""
    path = os.path.join(out, "generator_best.pth")
    if not os.path.exists(path):
        return -math.inf
    try:
        return selection_score(checkpoint.read(path).get("heldout") or {}, select)
    except (KeyError, ValueError):
        return -math.inf


# ----------------------------------------------------------------------------- data

def epoch_batches(dataset, sampler, epoch, skip, args):
    """This process's batches of ``epoch`` from batch ``skip`` on.

    The shuffle (the sampler's) derives from ``--seed`` and the epoch alone, and the loader does
    not touch the global random state, so a resumed run sees exactly the batches it would have.
    """
    sampler.set_epoch(epoch)
    order = list(sampler)[skip * args.batch_size:]
    return DataLoader(dataset, batch_size=args.batch_size, sampler=order, drop_last=True,
                      num_workers=args.num_workers,
                      generator=torch.Generator().manual_seed(args.seed + epoch))


# ----------------------------------------------------------------------------- main

def run_networks(args, train_set, device):
    """The generator and both discriminators that ``args`` describe, freshly initialised.

    Returns ``(nets, generator_args, genre_of)``: :func:`model.gan.build_networks`'s dict, the
    generator's arguments (recorded in every checkpoint, so that it can be rebuilt) and, with
    ``--genre_input``, each training video's genre index (else empty).
    """
    # rebuilds the generator from a checkpoint; songs are brought to its training music's level
    generator_args = {"edge_pad": args.edge_pad, "audio_level": train_set.audio_level()}
    if args.rhythm:
        generator_args["rhythm"] = args.rhythm
    if args.code_cap:
        generator_args["code_cap"] = args.code_cap
    if args.code_hold:
        if not args.rhythm:
            raise DanceSynthError("--code_hold leaves only the rhythm features to say when to move: "
                                  "give --rhythm librosa (or truth) too")
        generator_args["code_hold"] = True
    genre_of = {}  # video -> genre index, for --genre_input
    if args.genre_input:
        labels = train_set.genre_labels()
        genre_of = {video: int(label) for (video, _, _), label in zip(train_set.keys, labels)}
        generator_args["genres"] = len(train_set.meta.get("genres") or []) or int(labels.max()) + 1
    if args.pose_output != "joints":
        generator_args["pose_output"] = args.pose_output
    if args.latent:
        if not 2 <= args.latent <= NOISE_DIM:
            raise DanceSynthError("--latent %d: a choice is read off the noise, so 2 to %d choices"
                                  % (args.latent, NOISE_DIM))
        generator_args["latent_dim"] = args.latent
    sidecar = (train_set.meta or {}).get("videos") or {}
    tempi = [sidecar.get(video, {}).get("bpm") for video in {key[0] for key in train_set.keys}]
    if args.rhythm and tempi and all(tempi):  # songs faster than any training song: half time
        generator_args["max_bpm"] = float(max(tempi))
    nets = build_networks(device, **generator_args, decoder_dropout=args.decoder_dropout,
                          audio_gaps=args.audio_gaps,
                          rhythm_discriminator=bool(args.rhythm and args.rhythm_discriminator))
    if args.pose_output == "bones":  # the dancers' build, which the generator lays its bones out with
        nets["generator"].pose_generator.final_linear.set_lengths(bone_lengths(train_set.pixel_poses()))
    return nets, generator_args, genre_of


def train(argv=None):
    args = parse_train_args(argv)
    rank, world_size, device = init_distributed(args.device)
    master = rank == 0
    logging.basicConfig(level=logging.INFO if master else logging.WARNING, format="%(message)s")
    args.amp = resolve_amp(args.amp, device)
    threads = set_threads(args.threads)
    seed_everything(args.seed)
    speedups = enabled_speedups(args)
    configure_process(device, speedups, args.release_memory)

    # ---- data
    train_set = training_set(args)
    sampler = DistributedSampler(train_set, num_replicas=world_size, rank=rank, shuffle=True,
                                 seed=args.seed, drop_last=True)
    batches_per_epoch = len(sampler) // args.batch_size  # the original used full batches only
    if batches_per_epoch == 0:
        raise DanceSynthError("%s: %d training samples, fewer than one batch of %d per process "
                              "(%d processes)" % (args.data, len(train_set), args.batch_size, world_size))

    # ---- networks, optimisers, and the state to continue from
    st_gcn = checkpoint.load_st_gcn(args.pretrain_GCN, device)
    nets, generator_args, genre_of = run_networks(args, train_set, device)
    apply_speedups(nets, st_gcn, device, speedups, world_size)
    stage = None  # with --lambda_stage, the box the training dancers' necks keep to, normalised
    if args.lambda_stage:
        box = torch.tensor(dancers_stage(train_set.pixel_poses(), margin_px=0.0), dtype=torch.float32)
        stage = normalize(box.reshape(2, 2)).to(device)
    spread = None  # with --lambda_modes, how differently two training dancers of a genre move, normalised
    if args.lambda_modes:
        if not args.latent:
            raise DanceSynthError("--lambda_modes %g: the term keeps the latent's choices apart; "
                                  "give --latent too" % args.lambda_modes)
        spread = dancers_spread(train_set.pose_windows(), train_set.genre_labels(), train_set.video_labels())
        if not spread > 0:
            raise DanceSynthError("%s: --lambda_modes needs two training videos of one genre to "
                                  "measure how differently dancers move; no genre has two" % args.data)
        log.info("mode seeking: two dancers of a genre move %.4f apart (normalised, from the neck, "
                 "less the clip's mean pose)", spread)
    optimizers = build_optimizers(nets, args, speedups)
    ema = build_ema(nets["generator"], args.ema)
    scorer = None
    if args.eval_every and master:
        scorer = HeldOutScorer(args.data, args.split, args.seed, args.val_videos, args.rhythm,
                               st_gcn, checkpoint.st_gcn_record(args.pretrain_GCN).get("classes"),
                               device)
        if scorer.split == "test":
            log.warning("--eval_every scores the test videos: generator_best.pth is chosen on "
                        "them, so its scores there are optimistic (--val_videos N avoids this)")
        scorer.check_selection(args.select, args.data, args.pretrain_GCN)
        log.info("checkpoint selection on %s videos %s by %s", scorer.split,
                 " ".join(scorer.video_ids), args.select)
    best = -math.inf
    step, epoch, batch, rng = 0, 1, 0, None
    resume = checkpoint.latest_checkpoint(args.out) if args.resume == "auto" else args.resume
    if resume:
        try:
            ckpt = checkpoint.load_training_state(resume, nets, optimizers, ema)
        except checkpoint.CheckpointError as exc:
            raise checkpoint.CheckpointError("cannot resume: %s" % exc) from None
        step, epoch, batch = ckpt["step"], ckpt["epoch"], ckpt["batch"]
        if batch is None or batch >= batches_per_epoch:
            epoch, batch = epoch + 1, 0
        if len(ckpt["rng"]) == world_size:
            rng = ckpt["rng"][rank]
        else:
            log.warning("%s was written by %d processes, this run has %d: random streams restart "
                        "from --seed", resume, len(ckpt["rng"]), world_size)
        changed = sorted(k for k in ("data", "split", "val_videos", "batch_size", "seed", "gap", "amp")
                         if ckpt["config"].get(k) != getattr(args, k))
        if changed:
            log.warning("resuming with other %s than %s's run: it will not continue exactly",
                        ", ".join(changed), resume)
        log.info("resuming from %s: step %d, epoch %d, batch %d", resume, step, epoch, batch)
        if scorer is not None:
            best = kept_score(args.out, args.select)
    elif args.resume == "auto":
        log.info("no checkpoint in %s: starting afresh", args.out)
    if world_size > 1:
        if args.latent:
            raise DanceSynthError("--latent dances with the generator outside its DDP wrapper: run "
                                  "it in one process")
        seed_everything(args.seed + rank)  # own noise, dropout and GP draws per process
        nets = {name: DistributedDataParallel(
            net, device_ids=[device.index] if device.type == "cuda" else None,
            broadcast_buffers=False) for name, net in nets.items()}
    if rng is not None:
        set_rng_state(rng)

    def save(tag, batch_done):
        states = [rng_state()]
        if world_size > 1:
            states = [None] * world_size
            dist.all_gather_object(states, rng_state())
        if master:
            checkpoint.save_training_state(
                args.out, tag, nets, optimizers, ema=ema,
                common={"epoch": epoch, "batch": batch_done, "step": step, "config": vars(args),
                        "rng": states, "generator_args": generator_args})

    def evaluate_held_out():
        """Score the (averaged) generator on held-out clips; keep it when it is the best yet."""
        nonlocal best
        dancer = ema.module if ema is not None else unwrap(nets["generator"])
        scores = scorer(dancer)
        for name, value in scores.items():
            writer.add_scalar("heldout/" + name, value, step)
        with open(os.path.join(args.out, "heldout.jsonl"), "a") as f:
            f.write(json.dumps({"step": step, "split": scorer.split, **scores}) + "\n")
        score = selection_score(scores, args.select)
        if score > best:
            best = score
            checkpoint.save_generator(
                os.path.join(args.out, "generator_best.pth"), dancer.state_dict(),
                {"step": step, "epoch": epoch, "config": vars(args),
                 "generator_args": generator_args, "heldout": scores,
                 "heldout_split": scorer.split})
        log.info("step %d %s beat alignment %.3f, genre accuracy %.3f, bone error %.3f (%s: %.3f, "
                 "best %.3f)", step, scorer.split, scores["beat_align"],
                 scores.get("genre_accuracy", math.nan), scores["bone_error"], args.select, score, best)

    # ---- loop
    writer = None
    if master:
        os.makedirs(args.out, exist_ok=True)
        writer = SummaryWriter(args.out_tensorboard or os.path.join(args.out, "tensorboard"))
        log.info("training on %s: %d samples, %d iterations/epoch, %d epochs, %d process(es) on "
                 "%s (%d torch threads%s), speed-ups: %s, %s -> %s", args.data, len(train_set),
                 batches_per_epoch, args.niter, world_size, device, torch.get_num_threads(),
                 ", automatic" if threads is not None else "",
                 ", ".join(sorted(speedups)) or "none", args.amp, args.out)
    start, start_step, first_epoch, first_batch = time.time(), step, epoch, batch
    stop = bool(args.max_steps and step >= args.max_steps)
    for epoch in range(first_epoch, args.niter + 1 if not stop else first_epoch):
        sums, counts = dict.fromkeys(LOSS_TERMS, 0.0), dict.fromkeys(LOSS_TERMS, 0)
        skip = first_batch if epoch == first_epoch else 0  # batches a resumed run has done
        batch = skip
        bar = tqdm(epoch_batches(train_set, sampler, epoch, skip, args), disable=not master,
                   desc="epoch %d/%d" % (epoch, args.niter), leave=False)
        for batch, data in enumerate(bar, start=skip + 1):
            music = data["audio"].to(device)
            real = data["pose"].to(device)
            rhythm = data["rhythm"].to(device) if args.rhythm else None
            genre = (torch.tensor([genre_of[video] for video in data["video"]], device=device)
                     if genre_of else None)

            terms = training_step(nets, optimizers, st_gcn, music, real, args, speedups,
                                  update_generator=step % args.gap == 0, rhythm=rhythm,
                                  penalise=step % args.gp_every == 0, genre=genre, stage=stage,
                                  spread=spread)
            bad = [name for name, value in terms.items() if not math.isfinite(value)]
            if bad:
                raise DanceSynthError("%s: non-finite loss at step %d (epoch %d): %s; the last "
                                      "checkpoint there is intact" % (args.out, step, epoch, ", ".join(bad)))
            step += 1
            if threads is not None and threads.tick():
                log.info("torch threads: %d (the cores other processes leave free)", threads.threads)
            if ema is not None:
                ema.update_parameters(unwrap(nets["generator"]))
            if scorer is not None and step % args.eval_every == 0:
                evaluate_held_out()
            for name, value in terms.items():
                sums[name] = sums.get(name, 0.0) + value
                counts[name] = counts.get(name, 0) + 1
                if master:
                    writer.add_scalar("iter/" + name, value, step - 1)
            bar.set_postfix(G="%.3f" % terms.get("g_total", float("nan")),
                            L1="%.4f" % terms.get("l1", float("nan")),
                            perc="%.3f" % terms.get("perceptual", float("nan")),
                            Dl="%.3f" % terms["d_local"], Ds="%.3f" % terms["d_seq"])
            if args.save_every_steps and step % args.save_every_steps == 0:
                save("last", batch)
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
            means = {name: total / max(counts[name], 1) for name, total in sums.items()}
            for name, value in means.items():
                writer.add_scalar("epoch/" + name, value, epoch)
            log.info("epoch %d step %d  %s  (%.1f s, %.2f it/s)", epoch, step, "  ".join(
                "%s=%.4f" % (k, means[k]) for k in ("g_total", "l1", "perceptual", "d_local", "d_seq")),
                time.time() - start, (step - start_step) / max(time.time() - start, 1e-9))
        if batch == batches_per_epoch and (epoch % args.gap_save == 0 or epoch == args.niter):
            save("%04d" % epoch, None)
        if stop:
            break

    if step > start_step:
        save("last", None if batch == batches_per_epoch else batch)
    if master:
        writer.close()
        log.info("done: %d iterations in %.1f s; checkpoints in %s", step - start_step,
                 time.time() - start, args.out)
    if world_size > 1:
        if not replicas_agree(nets):
            raise DanceSynthError("%s: the processes' parameters differ at step %d" % (args.out, step))
        log.info("parameters identical on all %d processes", world_size)
        dist.destroy_process_group()


def main(argv=None):
    return report_errors(train, argv)


if __name__ == "__main__":
    sys.exit(main())
