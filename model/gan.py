"""One iteration of the GAN, and what it is built from: networks, optimisers, losses, EMA.

Per iteration, on a batch of (music, dance) pairs:
  1. the generator dances the music:                  fake = G(music, noise)
  2. local discriminator step (5-frame windows):       0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))
       (with --lambda_r1, not the paper's: + lambda_r1 / 2 * R1 at the real windows)
  3. sequence discriminator step (music-conditioned):  0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + GP
       (with --gp_every K, not the paper's: K * GP on every K-th step, none on the others;
        with --lambda_r1_seq, not the paper's: + lambda_r1_seq / 2 * R1 at the real sequences)
  4. generator step (when asked):
       BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1(fake, real) + lambda_grad * L_perceptual
       (+ lambda_motion * L_speed with --lambda_motion, + lambda_bone * L_bone with --lambda_bone,
        + lambda_move * L_move with --lambda_move, not the paper's)
     with --latent L (not the paper's): the generator dances twice, from the choice the noise holds
     (fake, what the discriminators see) and from the choice whose dance is nearest the true one
     (recon, what L1, perceptual and motion compare)
     with --d_logits (not the paper's numerics, the same loss): every BCE from the logits

With ``--rhythm`` the generator (and, unless --no-rhythm_discriminator, the sequence
discriminator) also take the batch's per-frame rhythm features.

``train.py`` runs it in its loop and ``bench.py`` times it. The speed-ups (``config.SPEEDUPS``,
passed in by name) keep the paper's maths.
"""

import contextlib
import functools

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel

from .generator import Generator, prior_latent
from .local_discriminator import LocalDiscriminator
from .losses import (bone_length_loss, choice_spread_loss, feature_matching_loss, gradient_penalty,
                     move_size_loss, moved_to_place, neck_relative_l1, pose_gap, pose_perceptual_loss,
                     real_gradient_penalty, speed_profile_loss, stage_loss)
from .sequence_discriminator import SequenceDiscriminator
from .st_gcn import GraphConv

LOSS_TERMS = ("g_total", "g_local_adv", "g_seq_adv", "feature_matching", "l1", "perceptual",
              "d_local", "d_seq", "gradient_penalty")  # plus "motion" with --lambda_motion,
# "bone" with --lambda_bone, "move" with --lambda_move, "stage" with --lambda_stage,
# "modes" with --lambda_modes, "local_r1" with --lambda_r1, "sequence_r1" with --lambda_r1_seq
# (with --gp_every K > 1, "gradient_penalty" and the R1 terms only on the steps that compute them)
PHASES = ("generate", "local_d", "sequence_d", "generator")  # the parts of one iteration
NETWORKS = ("generator", "local_discriminator", "sequence_discriminator")


# ----------------------------------------------------------------------------- speed and precision

def autocast(device, amp):
    """Autocast context for the forward passes: bf16 when ``amp == "bf16"``, else a no-op."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp == "bf16")


def apply_speedups(nets, st_gcn, device, speedups, world_size=1):
    """Set up the speed-ups that change how the networks compute, not what (``config.SPEEDUPS``).

    ``channels_last``: both discriminators' 2-D conv weights in channels-last layout, on CPU
    (oneDNN) in a single process (DistributedDataParallel cannot broadcast such weights);
    ``skip_pooled_out_rows``: the local discriminator's conv6 skips the row its pool drops;
    ``aggregate_first``: the ST-GCN's graph convolutions take the adjacency first.
    ``nets`` (from :func:`build_networks`) and ``st_gcn`` (or None) are changed in place.
    """
    if "channels_last" in speedups and device.type == "cpu" and world_size == 1:
        for name in ("local_discriminator", "sequence_discriminator"):
            nets[name].to(memory_format=torch.channels_last)
    nets["local_discriminator"].hcn.skip_pooled_out_rows = "skip_pooled_out_rows" in speedups
    for module in st_gcn.modules() if st_gcn is not None else ():
        if isinstance(module, GraphConv):
            module.aggregate_first = "aggregate_first" in speedups
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

def bce(output, target, logits=False):
    """Binary cross-entropy of a discriminator's outputs against a constant target (1 real, 0 fake).

    ``output`` holds sigmoid probabilities (the paper's), or with ``logits`` the scores before the
    sigmoid (``--d_logits``): the same loss, but where float32 rounds a probability to exactly 1
    (a logit above about 17) the probability form is clamped at 100 with no gradient, and the
    logit form keeps its gradient. Computed in float32 outside autocast (autocast refuses BCE on
    probabilities).
    """
    with torch.autocast(output.device.type, enabled=False):
        output = output.float()
        loss = F.binary_cross_entropy_with_logits if logits else F.binary_cross_entropy
        return loss(output, torch.full_like(output, target))


def local_discriminator_loss(D_local, real, fake, logits=False, lambda_r1=0.0):
    """``0.5 * (BCE(D_l(real), 1) + BCE(D_l(fake), 0))`` over the 16 windows of each sequence,
    plus ``lambda_r1 / 2 * R1`` (:func:`real_gradient_penalty`) when ``lambda_r1`` is set;
    returns (loss, R1 or None)."""
    loss = 0.5 * (bce(D_local(real, logits=logits), 1.0, logits)
                  + bce(D_local(fake, logits=logits), 0.0, logits))
    if not lambda_r1:
        return loss, None
    r1 = real_gradient_penalty(functools.partial(D_local, logits=True), real)
    return loss + 0.5 * lambda_r1 * r1, r1


def sequence_discriminator_loss(D_seq, real, fake, music, lambda_gp, music_code=None, rhythm=None,
                                logits=False, lambda_r1=0.0):
    """``0.5 * (BCE(D_s(real), 1) + BCE(D_s(fake), 0)) + lambda_gp * GP``, plus
    ``lambda_r1 / 2 * R1`` (:func:`real_gradient_penalty` of the logits, the same music heard)
    when ``lambda_r1`` is set; returns (loss, GP, R1), each penalty None when not computed.

    With ``music_code`` (from :func:`shared_music_code`) the passes use it instead of encoding
    ``music`` each time; ``rhythm`` conditions them (when ``D_s`` hears it). ``lambda_gp=None``
    leaves the penalty pass out (a lazy-regularisation step). ``logits``: the BCE terms from the
    scores before the sigmoid (:func:`bce`); the penalty is always on the probability, as the
    paper's: where the sigmoid saturates it no longer holds the logits' slope, which R1 does.
    """
    condition = {} if rhythm is None else {"rhythm": rhythm}
    if music_code is None:
        critic, audio = functools.partial(D_seq, **condition), music
    else:
        critic, audio = functools.partial(D_seq, music_code=music_code, **condition), None
    score_real, _ = critic(real, audio, logits=logits)
    score_fake, _ = critic(fake, audio, logits=logits)
    loss = 0.5 * (bce(score_real, 1.0, logits) + bce(score_fake, 0.0, logits))
    gp = r1 = None
    if lambda_gp is not None:
        gp = gradient_penalty(critic, real, fake, audio)
        loss = loss + lambda_gp * gp
    if lambda_r1:
        r1 = real_gradient_penalty(lambda x: critic(x, audio, logits=True)[0], real)
        loss = loss + 0.5 * lambda_r1 * r1
    return loss, gp, r1


def generator_loss(nets, st_gcn, real, fake, music, args, music_code=None, rhythm=None, recon=None,
                   stage=None, differ=None, spread=None):
    """The generator's objective and its terms.

    ``BCE(D_l(fake), 1) + BCE(D_s(fake), 1) + FM + alpha * L1 + lambda_grad * perceptual``
    (``alpha``, ``lambda_grad`` from ``args``; with ``args.l1_relative`` the L1 of the poses laid
    out from the neck, :func:`model.losses.neck_relative_l1`; with ``args.perceptual_in_place``
    the perceptual term of the dance moved onto the true dance's place,
    :func:`model.losses.moved_to_place`), plus ``lambda_motion * motion`` when
    ``args.lambda_motion`` is set (with ``args.motion_prior`` on both dances: when the dancer
    rests is the music's, whichever move the latent chose), and ``lambda_bone * bone``
    (:func:`bone_length_loss`, on both dances) when ``args.lambda_bone`` is, and
    ``lambda_move * move`` (:func:`move_size_loss`, on both dances, blurred as the motion term)
    when ``args.lambda_move`` is, and ``lambda_stage * stage`` (:func:`stage_loss` of both dances
    against ``stage``, the dancers' box, ``(2, 2)`` normalised) when ``args.lambda_stage`` is,
    and ``lambda_modes * modes`` (:func:`choice_spread_loss` of ``fake`` against ``recon`` on
    the clips where ``differ``, ``(B,)`` bool, says their choices differ, short of ``spread``,
    the dancers' distance) when ``args.lambda_modes`` is.
    ``music_code`` (optional) replaces encoding ``music`` in both sequence-discriminator passes;
    ``rhythm`` conditions them (when ``D_s`` hears it).
    ``recon`` (``--latent``): the dance made from the choice nearest the true dance, which the
    terms that compare with ``real`` (L1, perceptual, motion) judge instead of ``fake``.
    Returns ``(total, {term name: tensor})``.
    """
    recon = fake if recon is None else recon
    D_local, D_seq = unwrap(nets["local_discriminator"]), unwrap(nets["sequence_discriminator"])
    condition = {"audio": music} if music_code is None else {"music_code": music_code}
    if rhythm is not None:
        condition["rhythm"] = rhythm
    logits = args.d_logits
    score_fake, feats_fake = D_seq(fake, logits=logits, **condition)
    with torch.no_grad():
        _, feats_real = D_seq(real, **condition)
    terms = {
        "g_local_adv": bce(D_local(fake, logits=logits), 1.0, logits),
        "g_seq_adv": bce(score_fake, 1.0, logits),
        "feature_matching": feature_matching_loss(feats_fake, feats_real).float(),
        "l1": neck_relative_l1(recon, real) if args.l1_relative else F.l1_loss(recon, real),
        "perceptual": pose_perceptual_loss(st_gcn, moved_to_place(recon, real) if args.perceptual_in_place
                                           else recon, real).float(),
    }
    total = (terms["g_local_adv"] + terms["g_seq_adv"] + terms["feature_matching"]
             + args.alpha * terms["l1"] + args.lambda_grad * terms["perceptual"])
    danced = fake if recon is fake else torch.cat([fake, recon])
    if args.lambda_motion:
        moved = danced if args.motion_prior else recon
        terms["motion"] = speed_profile_loss(moved, real, args.motion_smooth)
        total = total + args.lambda_motion * terms["motion"]
    if args.lambda_bone:
        terms["bone"] = bone_length_loss(danced, real)
        total = total + args.lambda_bone * terms["bone"]
    if args.lambda_move:
        terms["move"] = move_size_loss(danced, real, args.motion_smooth)
        total = total + args.lambda_move * terms["move"]
    if args.lambda_stage:
        if stage is None:
            raise ValueError("--lambda_stage needs the dancers' stage box (stage)")
        terms["stage"] = stage_loss(danced, stage)
        total = total + args.lambda_stage * terms["stage"]
    if args.lambda_modes:
        if recon is fake or differ is None or spread is None:
            raise ValueError("--lambda_modes needs a --latent generator's two choices (differ) and "
                             "the dancers' spread")
        terms["modes"] = choice_spread_loss(fake, recon, differ, spread)
        total = total + args.lambda_modes * terms["modes"]
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


def dance_with_latents(G, music, real, heard):
    """The generator's two dances of a batch for ``--latent``: ``fake`` from the choice that the
    noise holds (:func:`model.generator.prior_latent`), which the discriminators judge, and
    ``recon`` from the choice whose dance moves nearest to the true one (:func:`best_choice`,
    found without gradients: multiple-choice learning), which L1, perceptual and motion judge.
    One music code, one noise draw.

    Shape: ``music`` (B, T, 1600), ``real`` (B, T, 36) -> ``(fake, recon, differ)``: (B, T, 36)
    each, and (B,) bool, whether the clip's two choices differ.
    """
    noise = G.sample_noise(music)
    prior = prior_latent(noise, G.latent_dim)
    code = G.encode(music)
    fake = G.decode(code, noise, latent=prior, **heard)
    fits = best_choice(G, code.detach(), noise, real, heard)
    recon = G.decode(code, noise, latent=fits, **heard)
    return fake.float(), recon.float(), prior.argmax(dim=1) != fits.argmax(dim=1)


@contextlib.contextmanager
def batch_statistics_only(G):
    """Inside the block the pose generator's BatchNorm layers use the batch's statistics (in
    train mode) and leave their running ones as they are."""
    norms = [m for m in G.pose_generator.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    try:
        for m in norms:
            m.momentum = 0.0
        yield
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum


def best_choice(G, code, noise, real, heard):
    """The one-hot of the choice whose dance is nearest (mean L1 of the poses taken relative to
    the neck) to ``real``, per clip: the choice is about the moves, not where the dancer stands.

    Every choice is danced once without gradients (:func:`batch_statistics_only`).
    Shape: ``code`` (B, T, 256), ``real`` (B, T, 36) -> (B, L).
    """
    eye = torch.eye(G.latent_dim, device=code.device, dtype=code.dtype)
    errors = []
    with batch_statistics_only(G), torch.no_grad():
        for k in range(G.latent_dim):
            dance = G.decode(code, noise, latent=eye[k].expand(len(code), -1), **heard)
            errors.append(pose_gap(dance.float(), real))
    return eye[torch.stack(errors, dim=1).argmin(dim=1)]


# ----------------------------------------------------------------------------- one iteration

def training_step(nets, optimizers, st_gcn, music, real, args, speedups=frozenset(),
                  update_generator=True, timer=None, rhythm=None, penalise=True, genre=None, stage=None,
                  spread=None):
    """One iteration: generate, step both discriminators, then (optionally) the generator.

    ``penalise``: whether this step's discriminators have their penalties (with
    ``args.gp_every`` K > 1, every K-th step does, each weighted K times: ``K * lambda_gp``,
    ``K * lambda_r1``, ``K * lambda_r1_seq``; else every step, weighted as given).

    ``nets`` may hold DistributedDataParallel wrappers; the discriminator steps train through
    them, the generator step reads the discriminators unwrapped (their gradients are not used).
    ``args`` gives the loss weights and ``amp``; ``speedups`` the names of the speed-ups to use.
    ``timer(phase)`` (optional) returns a context manager timing each of :data:`PHASES`.

    Shapes: ``music`` (B, 50, 1600) raw int16-range audio, ``real`` (B, 50, 36) normalised poses,
    ``rhythm`` (B, 50, 8) rhythm features (for a generator built with ``rhythm``; else None),
    ``genre`` (B,) the clips' genre indices (for a generator built with ``genres``; else None),
    ``stage`` (2, 2) the dancers' box in normalised units (for ``args.lambda_stage``; else None),
    ``spread`` the distance between two dancers of a genre (for ``args.lambda_modes``; else None).
    Returns ``{term name: float}`` for every loss computed.
    """
    phase = timer or _untimed
    skip_grads, share = "skip_unused_grads" in speedups, "share_music_code" in speedups
    cast = functools.partial(autocast, music.device, args.amp)
    G, D_local, D_seq = (nets[name] for name in NETWORKS)
    heard = {name: value for name, value in (("rhythm", rhythm), ("genre", genre)) if value is not None}
    d_rhythm = rhythm if unwrap(D_seq).rhythm_dim else None

    latent = unwrap(G).latent_dim
    with phase("generate"), cast(), torch.set_grad_enabled(update_generator or not skip_grads):
        if latent:
            fake, recon, differ = dance_with_latents(unwrap(G), music, real, heard)
        else:
            fake, recon, differ = G(music, **heard).float(), None, None

    # lazy regularisation (--gp_every K): the penalties only every K-th step, weighted K times
    lambda_gp = args.lambda_gp * args.gp_every if penalise else None
    lambda_r1, lambda_r1_seq = ((args.lambda_r1 * args.gp_every, args.lambda_r1_seq * args.gp_every)
                                if penalise else (0.0, 0.0))
    with phase("local_d"):
        with cast():
            d_local, r1 = local_discriminator_loss(D_local, real, fake.detach(), args.d_logits,
                                                   lambda_r1)
        optimizers["local_discriminator"].zero_grad(set_to_none=True)
        d_local.backward()
        optimizers["local_discriminator"].step()

    with phase("sequence_d"):
        with cast():
            # real, fake (and the penalties' interpolates and real copy)
            passes = 2 + penalise + bool(lambda_r1_seq)
            code = shared_music_code(unwrap(D_seq), music, passes) if share else None
            d_seq, gp, seq_r1 = sequence_discriminator_loss(
                D_seq, real, fake.detach(), music, lambda_gp, music_code=code, rhythm=d_rhythm,
                logits=args.d_logits, lambda_r1=lambda_r1_seq)
        optimizers["sequence_discriminator"].zero_grad(set_to_none=True)
        d_seq.backward()
        optimizers["sequence_discriminator"].step()

    losses = {"d_local": d_local, "d_seq": d_seq}
    if r1 is not None:
        losses["local_r1"] = r1
    if seq_r1 is not None:
        losses["sequence_r1"] = seq_r1
    if gp is not None:
        losses["gradient_penalty"] = gp
    if update_generator:
        with phase("generator"):
            with cast(), torch.set_grad_enabled(not skip_grads):  # frozen D: no graph needed
                code = shared_music_code(unwrap(D_seq), music, passes=2) if share else None
            with frozen([unwrap(D_local), unwrap(D_seq)], enabled=skip_grads), cast():
                g_total, terms = generator_loss(nets, st_gcn, real, fake, music, args,
                                                music_code=code, rhythm=d_rhythm, recon=recon,
                                                stage=stage, differ=differ, spread=spread)
            optimizers["generator"].zero_grad(set_to_none=True)
            g_total.backward()
            optimizers["generator"].step()
        losses["g_total"] = g_total
        losses.update(terms)
    # One copy to the host for all of them (on CUDA each .item() would wait for the device).
    values = torch.stack([loss.detach().float() for loss in losses.values()]).tolist()
    return dict(zip(losses, values))


# ----------------------------------------------------------------------------- networks, optimisers

def build_networks(device, rhythm_discriminator=False, **generator_args):
    """The generator and both discriminators, freshly initialised, in train mode on ``device``.

    ``generator_args`` are :class:`Generator`'s (the paper's generator without any). A ``rhythm``
    source makes the generator hear rhythm features, and with ``rhythm_discriminator`` the
    sequence discriminator too.
    """
    generator = Generator(**generator_args)
    heard = generator.rhythm_dim if rhythm_discriminator else 0
    nets = {"generator": generator, "local_discriminator": LocalDiscriminator(),
            "sequence_discriminator": SequenceDiscriminator(rhythm_dim=heard)}
    for net in nets.values():
        net.to(device).train()
    return nets


def build_optimizers(nets, args, speedups=frozenset()):
    """Adam per network at the paper's learning rates (from ``args``); one fused kernel per
    network with the ``fused_adam`` speed-up."""
    adam = functools.partial(torch.optim.Adam, fused=True if "fused_adam" in speedups else None)
    return {
        "generator": adam(nets["generator"].parameters(), lr=args.lr_g),
        "local_discriminator": adam(nets["local_discriminator"].parameters(), lr=args.lr_d_frame),
        "sequence_discriminator": adam(nets["sequence_discriminator"].parameters(),
                                       lr=args.lr_d_seq),
    }


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
