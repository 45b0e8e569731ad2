"""Train the pose-to-frame network on one subject, top to bottom.

    python -m pose2vid.train --subject DIR --out pretrain_model/person.pth
    python -m pose2vid.train --subject DIR --out pretrain_model/person.pth --resume

Config, subject data, networks, optimisers, the loop, checkpoints. One iteration, on a batch of
consecutive frame pairs (t - 1, t), as Everybody Dance Now's temporal smoothing does it: the
generator draws frame t - 1 from its pose map and a blank previous frame, then frame t from its
pose map and the frame it just drew; the frame discriminator (multi-scale PatchGAN on pose map
and frame) judges both, the temporal one judges the pair (both pose maps, both frames); then
the generator takes a step on the LSGAN terms, discriminator feature matching and the
reconstruction term (L1 + SSIM, in place of pix2pixHD's ImageNet-VGG term, whose weights cannot
be downloaded here). Training state goes to ``--work`` every ``--save_every`` iterations and at
the end; ``--out`` gets the generator alone in float16 (what ``get_demo.py --person`` loads).
"""

import logging
import math
import os
import sys
import time
from dataclasses import asdict

import numpy as np
import torch
from tensorboardX import SummaryWriter
from tqdm import tqdm

from config import pose2vid_train_parser
from dataset.errors import DanceSynthError
from model import checkpoint
from pose2vid.losses import feature_matching_loss, lsgan_loss, reconstruction_loss
from pose2vid.network import FrameGenerator, MultiScaleDiscriminator, temporal_pair
from pose2vid.normalize import body_stats
from pose2vid.person_model import FORMAT, export_person, to_tensor
from pose2vid.subject import load_subject
from runtime import report_errors, resolve_amp, resolve_device, rng_state, seed_everything, set_rng_state, set_threads

log = logging.getLogger("pose2vid.train")

MIN_JOINTS = 8  # a training frame's pose must show at least this many joints


def training_pairs(subject, held_out):
    """Indices ``t`` of the pairs (t - 1, t) to train on: both poses show the person, and both
    frames lie before the last ``held_out`` share of the video (kept for measures)."""
    shown = (~np.all(subject.poses == 0, axis=-1)).sum(axis=1) >= MIN_JOINTS
    end = len(subject.poses) - int(round(held_out * len(subject.poses)))
    pairs = np.flatnonzero(shown[1:end] & shown[:end - 1]) + 1
    if len(pairs) == 0:
        raise DanceSynthError("the subject has no two consecutive training frames that show the person")
    return pairs


def generator_sizes(args):
    """The generator's constructor arguments, as the exported file records them."""
    return {"width": args.width, "blocks": args.blocks, "coordinates": args.coordinates}


def build(args, device):
    """Generator, frame and temporal discriminators, and their Adam optimisers."""
    nets = {"generator": FrameGenerator(**generator_sizes(args)),
            "frame_discriminator": MultiScaleDiscriminator(6, scales=args.scales),
            "temporal_discriminator": MultiScaleDiscriminator(12, scales=args.scales)}
    nets = {name: net.to(device) for name, net in nets.items()}
    optimizers = {name: torch.optim.Adam(net.parameters(), lr=args.lr, betas=(0.5, 0.999))
                  for name, net in nets.items()}
    return nets, optimizers


def batch(subject, pairs, rng, size, device):
    """A random batch of consecutive pairs: pose maps and frames at t - 1 and t, in [-1, 1].

    Shape: -> four ``(B, 3, S, S)`` tensors.
    """
    t = rng.choice(pairs, size=size)
    return [to_tensor(array[index], device) for array in (subject.maps, subject.frames) for index in (t - 1, t)]


def training_step(nets, optimizers, maps_prev, maps, frames_prev, frames, args, cast):
    """One iteration (module docstring); returns ``{term: float}``."""
    G, D_frame, D_time = nets["generator"], nets["frame_discriminator"], nets["temporal_discriminator"]
    with cast():
        fake_prev = G(maps_prev, torch.zeros_like(frames_prev))
        fake = G(maps, fake_prev)

    def judged(fake_prev, fake):
        return (D_frame(torch.cat([maps_prev, fake_prev], 1)), D_frame(torch.cat([maps, fake], 1)),
                D_time(temporal_pair(maps_prev, maps, fake_prev, fake)))

    with cast():
        real = judged(frames_prev, frames)
        fakes = judged(fake_prev.detach(), fake.detach())
        d_loss = sum(lsgan_loss(out, True) + lsgan_loss(out_fake, False) for out, out_fake in zip(real, fakes)) / 2
    for name in ("frame_discriminator", "temporal_discriminator"):
        optimizers[name].zero_grad(set_to_none=True)
    d_loss.backward()
    for name in ("frame_discriminator", "temporal_discriminator"):
        optimizers[name].step()

    with cast():
        fakes = judged(fake_prev, fake)
        adversarial = sum(lsgan_loss(out, True) for out in fakes)
        matching = sum(feature_matching_loss(out_fake, [[f.detach() for f in scale] for scale in out])
                       for out, out_fake in zip(real, fakes))
        reconstruction = (reconstruction_loss(fake_prev.float(), frames_prev, ssim_weight=args.ssim_weight)
                          + reconstruction_loss(fake.float(), frames, ssim_weight=args.ssim_weight))
        g_loss = adversarial + args.lambda_fm * matching + args.lambda_rec * reconstruction
    optimizers["generator"].zero_grad(set_to_none=True)
    g_loss.backward()
    optimizers["generator"].step()
    terms = {"d": d_loss, "g": g_loss, "adversarial": adversarial, "feature_matching": matching,
             "reconstruction": reconstruction}
    return {name: float(value.detach()) for name, value in terms.items()}


def save_state(path, nets, optimizers, step, args, subject, stats):
    checkpoint.save({"format": FORMAT, "step": step, "config": vars(args), "rng": rng_state(),
                     "nets": {name: net.state_dict() for name, net in nets.items()},
                     "optimizers": {name: opt.state_dict() for name, opt in optimizers.items()},
                     "subject": {"crop": asdict(subject.crop), "stats": asdict(stats), "fps": subject.fps}},
                    path)


def main_train(argv=None):
    args = pose2vid_train_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = resolve_device(args.device)
    threads = set_threads(args.threads)
    seed_everything(args.seed)
    amp = resolve_amp(args.amp, device)
    cast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16")  # noqa: E731

    subject = load_subject(args.subject, args.size)
    stats = body_stats(subject.poses)
    pairs = training_pairs(subject, args.held_out)
    nets, optimizers = build(args, device)
    state_path = os.path.join(args.work, "last.pth")
    step = 0
    if args.resume:
        state = checkpoint.read(state_path)
        for name, net in nets.items():
            net.load_state_dict(state["nets"][name])
            optimizers[name].load_state_dict(state["optimizers"][name])
        set_rng_state(state["rng"])
        step = state["step"]
        log.info("resumed from %s at iteration %d", state_path, step)
    rng = np.random.default_rng([args.seed, step])
    writer = SummaryWriter(os.path.join(args.work, "tensorboard"))
    log.info("subject %s: %d frames, %d training pairs, crop %s, %dx%d; %s on %s",
             args.subject, len(subject.frames), len(pairs), subject.crop, args.size, args.size, amp, device)

    start = time.time()
    bar = tqdm(total=args.iterations, initial=step, desc="pose2vid", dynamic_ncols=True)
    while step < args.iterations and (not args.max_minutes or time.time() - start < 60 * args.max_minutes):
        terms = training_step(nets, optimizers, *batch(subject, pairs, rng, args.batch_size, device), args, cast)
        if not all(math.isfinite(value) for value in terms.values()):
            raise DanceSynthError(f"iteration {step + 1}: a loss is not finite ({terms}); stopping")
        step += 1
        bar.update(1)
        bar.set_postfix({name: f"{value:.3f}" for name, value in terms.items()})
        for name, value in terms.items():
            writer.add_scalar(f"loss/{name}", value, step)
        if threads is not None:
            threads.tick()
        if step % args.save_every == 0:
            save_state(state_path, nets, optimizers, step, args, subject, stats)
    bar.close()
    writer.close()
    save_state(state_path, nets, optimizers, step, args, subject, stats)
    export_person(args.out, nets["generator"], generator_sizes(args), subject, stats)
    print(f"done: {step} iterations in {time.time() - start:.0f} s; generator in {args.out}, "
          f"training state in {state_path}")


def main(argv=None):
    return report_errors(main_train, argv)


if __name__ == "__main__":
    sys.exit(main())
