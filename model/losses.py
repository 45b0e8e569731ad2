"""Loss terms of the paper beyond plain BCE and L1, as small pure functions.

All L1 terms are means over elements (``F.l1_loss``'s default), as in the original.
"""

import torch
import torch.nn.functional as F

from dataset.skeleton import BONES, denormalize

# Weights of the ten ST-GCN block outputs in the pose perceptual loss (the paper's).
PERCEPTUAL_WEIGHTS = (20.0, 5.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0)


def pose_perceptual_loss(st_gcn, fake, real, weights=PERCEPTUAL_WEIGHTS):
    """``sum_i w_i * L1(phi_i(fake), phi_i(real))`` over the ST-GCN's block outputs ``phi_i``.

    The ST-GCN should be frozen and in eval mode; gradients flow to ``fake`` only.

    Shape:
        fake, real: ``(B, T, 36)`` flat poses.
        output: scalar.
    """
    fake_features = st_gcn.extract_feature(fake)
    with torch.no_grad():
        real_features = st_gcn.extract_feature(real)
    if len(weights) != len(fake_features):
        raise ValueError(f"{len(weights)} perceptual weights for {len(fake_features)} feature maps")
    return sum(w * F.l1_loss(f, r) for w, f, r in zip(weights, fake_features, real_features))


def neck_relative(poses):
    """Flat poses with every joint taken relative to the frame's neck (joint 1, which becomes 0).

    Shape: ``(..., 36)`` -> the same.
    """
    joints = poses.reshape(*poses.shape[:-1], -1, 2)
    return (joints - joints[..., 1:2, :]).reshape(poses.shape)


def pose_gap(a, b):
    """Per clip, the mean absolute difference of two dances' poses taken relative to the neck
    (:func:`neck_relative`): how far apart the moves are, wherever each dancer stands.

    Shape: ``(B, T, 36)`` and ``(B, T, 36)`` flat poses -> ``(B,)``.
    """
    return (neck_relative(a) - neck_relative(b)).abs().mean(dim=(-2, -1))


def moves(poses):
    """Each clip's moves: its poses relative to the neck (:func:`neck_relative`), less the clip's
    mean pose, so that a pose held throughout is no move at all.

    Shape: ``(B, T, 36)`` flat poses -> the same.
    """
    relative = neck_relative(poses)
    return relative - relative.mean(dim=-2, keepdim=True)


def move_gap(a, b):
    """Per clip, the mean absolute difference of two dances' :func:`moves`: how differently they
    move, whatever pose each holds on average.

    Shape: ``(B, T, 36)`` and ``(B, T, 36)`` flat poses -> ``(B,)``.
    """
    return (moves(a) - moves(b)).abs().mean(dim=(-2, -1))


def moved_to_place(fake, real):
    """``fake`` moved, clip by clip, so that its neck's mean position over the clip is ``real``'s.

    The dance itself (its pose in every frame, and how its neck moves within the clip) is kept;
    only where the dancer stands changes, a shift whose gradient is dropped by construction (each
    clip's shift is the mean of its own neck, so the result does not depend on ``fake``'s place).
    Shape: ``fake``, ``real`` ``(B, T, 36)`` flat poses (joint 1 the neck) -> ``(B, T, 36)``.
    """
    def mean_neck(poses):
        return poses.reshape(*poses.shape[:-1], -1, 2)[:, :, 1].mean(dim=1)  # (B, 2)

    shift = (mean_neck(real.to(fake.dtype)) - mean_neck(fake))[:, None, None]
    return (fake.reshape(*fake.shape[:-1], -1, 2) + shift).reshape(fake.shape)


def neck_relative_l1(fake, real):
    """L1 between poses laid out as the neck's position and every other joint relative to the neck.

    The plain L1 compares joints where they stand. Where the dancer stands on the canvas is not
    in the music, so a generator's placement error is as large as the spread of the dancers'
    places (about 40 px on the built-in corpus, against about 12 px for the pose around the
    neck): each joint's L1 gradient, a sign, then mostly says "move the body", and the pose
    learns little. Laid out from the neck, the placement error stays in the neck's two numbers
    and the other 34 compare the pose alone. Same element count and scale as the plain L1.

    Shape: ``fake``, ``real`` ``(B, T, 36)`` flat poses (joint 1 the neck) -> scalar.
    """
    def from_neck(poses):  # neck_relative leaves zeros at the neck: put its position there
        return neck_relative(poses) + F.pad(poses[..., 2:4], (2, poses.shape[-1] - 4))

    return F.l1_loss(from_neck(fake), from_neck(real))


def feature_matching_loss(fake_features, real_features):
    """Sum of L1 distances between matching feature maps (weight 1 each); real maps detached.

    Shape:
        fake_features, real_features: equal-length lists of equally shaped tensors (the
        sequence discriminator's 6 maps).
        output: scalar.
    """
    if len(fake_features) != len(real_features):
        raise ValueError(f"{len(fake_features)} fake vs {len(real_features)} real feature maps")
    return sum(F.l1_loss(f, r.detach()) for f, r in zip(fake_features, real_features))


def gradient_penalty(discriminator, real, fake, audio):
    """``mean((||grad_x D(x, audio)||_2 - 1)^2)`` at random interpolates ``x`` of real and fake.

    One interpolation factor per sample, uniform in [0, 1); ``D`` is the sequence discriminator,
    returning ``(prob, features)``; the same music conditions every interpolate. The graph is
    kept (``create_graph=True``) so the penalty trains the discriminator.

    Shape:
        real, fake: ``(B, T, 36)``; audio: ``(B, T, 1600)``.
        output: scalar.
    """
    alpha = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device,
                       dtype=real.dtype)
    interpolates = (alpha * real.detach() + (1 - alpha) * fake.detach()).requires_grad_(True)
    prob, _ = discriminator(interpolates, audio)
    grad, = torch.autograd.grad(prob.sum(), interpolates, create_graph=True)
    return ((grad.flatten(1).norm(2, dim=1) - 1) ** 2).mean()


def real_gradient_penalty(critic, real):
    """R1 (Mescheder et al. 2018): ``mean ||grad_x sum critic(x)||^2`` at the real sequences,
    ``critic`` giving a discriminator's logits (for the local one, all of a sequence's windows
    together). It keeps a discriminator's surface flat around the real data, so that it cannot
    grow sure of every fake while the generator's dances are still far from the dancers'.

    Shape: real ``(B, T, 36)``; ``critic(x)`` -> ``(B, ...)`` logits. Output: scalar.
    """
    real = real.detach().requires_grad_(True)
    grad, = torch.autograd.grad(critic(real).sum(), real, create_graph=True)
    return grad.float().pow(2).flatten(1).sum(1).mean()


def for_every_dance(target, fake):
    """A per-clip ``target`` ``(B, ...)`` repeated for ``fake``'s ``B' = k B`` dances of the same
    clips (several latent choices of each clip, stacked along the batch)."""
    return target.repeat(fake.shape[0] // target.shape[0], *[1] * (target.dim() - 1))


def joint_speed(poses, eps=1e-8):
    """Mean joint speed per frame step: ``(B, T, 36)`` flat poses -> ``(B, T - 1)`` (normalised
    units per frame; ``eps`` keeps the gradient finite for a joint at rest)."""
    step = (poses[:, 1:] - poses[:, :-1]).reshape(*poses.shape[:1], poses.shape[1] - 1, -1, 2)
    return (step.pow(2).sum(-1) + eps).sqrt().mean(-1)


def smooth_in_time(poses, sigma):
    """Poses blurred along time by a Gaussian of ``sigma`` frames (truncated at 3 sigma, the ends
    repeated); ``sigma`` 0 returns them unchanged.

    Shape: ``(B, T, D)`` -> ``(B, T, D)``.
    """
    if sigma <= 0:
        return poses
    radius = max(1, int(3 * sigma + 0.5))
    offsets = torch.arange(-radius, radius + 1, device=poses.device, dtype=poses.dtype)
    kernel = torch.exp(-offsets ** 2 / (2 * sigma ** 2))
    batch, frames, dim = poses.shape
    rows = poses.transpose(1, 2).reshape(batch * dim, 1, frames)
    rows = F.pad(rows, (radius, radius), mode="replicate")
    blurred = F.conv1d(rows, (kernel / kernel.sum()).view(1, 1, -1))
    return blurred.reshape(batch, dim, frames).transpose(1, 2)


def speed_profile_loss(fake, real, sigma=0.0):
    """``L1(speed(fake), speed(real))`` of :func:`joint_speed`: moving as much as the dancer, at
    the same moments (at rest on the beat, moving between beats, as the dancer does).

    With ``sigma`` > 0 both are first blurred over time (:func:`smooth_in_time`), so the target
    is the dancer's movement rather than the tracker's frame-to-frame jitter (in the synthetic
    corpus the jitter is about half the raw per-frame speed).

    Shape: fake ``(B', T, 36)`` with ``B'`` a multiple of ``B`` (several dances of each clip,
    as for :func:`bone_length_loss`), real ``(B, T, 36)`` -> scalar.
    """
    target = joint_speed(smooth_in_time(real, sigma)).detach()
    target = for_every_dance(target, fake)
    return F.l1_loss(joint_speed(smooth_in_time(fake, sigma)), target)


def joint_move_sizes(poses, sigma=0.0):
    """How far and how fast each joint swings about the neck over the clip: the standard
    deviation over time of its x and y taken relative to the neck, then that of their frame
    steps, after blurring over ``sigma`` frames (:func:`smooth_in_time`). Where the dancer walks
    does not count. The two halves tell a wide slow swing from a narrow quick one: a wrist that
    goes to and fro twice as often over half the distance has half the first and the same second.

    Shape: ``(B, T, 36)`` flat poses -> ``(B, 72)``: 36 position spreads, then 36 step spreads
    (normalised units, and normalised units per frame).
    """
    relative = neck_relative(smooth_in_time(poses, sigma))
    steps = relative[:, 1:] - relative[:, :-1]
    return torch.cat([relative.std(dim=1), steps.std(dim=1)], dim=1)


def move_size_loss(fake, real, sigma=0.0):
    """``L1(sizes(fake), sizes(real))`` of :func:`joint_move_sizes`: each joint of every dance
    swings about the neck as far and as fast as the clip's dancer swings it, whenever in the
    clip it does.

    The L1 term reaches only the choice that fits, and pulls it to the mean of the moves it
    stands for, which is smaller than any of them; this term needs no matching pose, so it holds
    every dance (the prior's too) to the dancer's size of move. Shape: fake ``(B', T, 36)`` with
    ``B'`` a multiple of ``B`` (as for :func:`bone_length_loss`), real ``(B, T, 36)`` -> scalar.
    """
    target = for_every_dance(joint_move_sizes(real, sigma).detach(), fake)
    return F.l1_loss(joint_move_sizes(fake, sigma), target)


def stage_loss(fake, stage):
    """How far the neck stands outside ``stage``, the box the dancers' necks keep to: the mean
    over frames of its distance beyond the box's edges in x plus that in y (0 inside).

    Where a dancer stands is not in the music, and with the L1 term taken from the neck
    (``--l1_relative``) only the discriminators say where to stand; for a minority of clips they
    let the dancer drift to a corner of the canvas (docs/experiments.md section 44). The hinge
    is zero wherever the dancers stand, so it leaves the place free within the box.

    Shape: ``fake`` ``(B, T, 36)`` flat normalised poses (joint 1 the neck), ``stage``
    ``(2, 2)`` normalised ``[[x0, y0], [x1, y1]]`` -> scalar.
    """
    neck = fake.reshape(*fake.shape[:-1], -1, 2)[..., 1, :].float()
    low, high = stage[0].to(neck), stage[1].to(neck)
    return (F.relu(low - neck) + F.relu(neck - high)).sum(dim=-1).mean()


def choice_spread_loss(fake, recon, differ, spread):
    """Mode seeking between the latent's choices (``--lambda_modes``; after MSGAN, Mao et al.,
    CVPR 2019): on every clip whose two dances come from different choices, how far short their
    moves fall of ``spread``, the distance between two dancers of one genre:
    ``relu(1 - d / spread)``, with ``d`` the :func:`move_gap` of the two dances.

    Multiple-choice learning reaches only the choice that fits a clip (``recon``); nothing keeps
    the others (``fake``, the noise's choice) from drifting onto the same dance, and over
    training they do (docs/experiments.md section 45). The hinge is zero once two choices move
    as differently as two dancers, so it asks for a repertoire, not for noise. It compares moves,
    not poses: asked for distance between poses, the choices found the cheapest, an odd pose held
    still (section 45).

    Shape: ``fake``, ``recon`` ``(B, T, 36)`` flat normalised poses, ``differ`` ``(B,)`` bool
    (the clip's two choices differ), ``spread`` a positive float in the same units -> scalar
    (0 when no clip's choices differ).
    """
    distance = move_gap(fake.float(), recon.float())
    shortfall = F.relu(1.0 - distance / spread) * differ.to(distance.dtype)
    return shortfall.sum() / differ.sum().clamp(min=1)


def dancers_spread(poses, genres, videos):
    """How differently two dancers of one genre move: the mean over every pair of clips of one
    genre from two different videos of their :func:`move_gap` (the measure of
    :func:`choice_spread_loss`; :func:`metrics.repertoire.dancers_px` pairs the clips alike but
    measures poses, in pixels). Pure torch, no gradients.

    Shape: ``poses`` ``(N, T, 36)`` flat normalised poses, ``genres`` and ``videos`` ``(N,)``
    integer labels -> float (NaN when no two clips of a genre come from different videos).
    """
    relative = moves(torch.as_tensor(poses, dtype=torch.float32))  # once, then paired
    genres, videos = torch.as_tensor(genres), torch.as_tensor(videos)
    distances = []
    for genre in genres.unique():
        index = (genres == genre).nonzero().flatten()
        first, second = torch.triu_indices(len(index), len(index), 1)
        pairs = videos[index[first]] != videos[index[second]]
        first, second = index[first[pairs]], index[second[pairs]]
        distances.append((relative[first] - relative[second]).abs().mean(dim=(1, 2)))
    distances = torch.cat(distances) if distances else torch.empty(0)
    return float(distances.mean()) if len(distances) else float("nan")


def bone_length_loss(fake, real, bones=BONES, min_px=1.0):
    """``mean |ln(length_fake / length_real)|`` over frames and bones: every frame's skeleton held
    to the dancer's build. The dancer's length of a bone is its median over the clip's frames of
    ``real`` (one body per clip; its frames differ by foreshortening and tracker noise, so the
    term's floor on the corpus's own dances is about 0.12, not 0). Lengths are in pixels (x and y
    are normalised by different half-sizes); a bone shorter than ``min_px`` in the dancer's clip
    (a joint missing throughout) does not count, and generated lengths are floored at it.

    A joint thrown away from its neighbours, or a limb folded to nothing, costs in every frame
    it happens, whichever latent choice danced it: unlike L1 this needs no matching true frame.

    Shape: fake ``(B', T, 36)`` with ``B'`` a multiple of ``B``, real ``(B, T, 36)`` flat
    normalised poses; ``bones`` (joint, joint) pairs -> scalar.
    """
    def lengths(poses):
        joints = denormalize(poses.reshape(*poses.shape[:2], -1, 2).float())
        ends = torch.tensor(bones, device=poses.device)
        return (joints[:, :, ends[:, 0]] - joints[:, :, ends[:, 1]]).norm(dim=-1)  # (B, T, bones)

    with torch.no_grad():
        build = lengths(real).median(dim=1).values  # (B, bones)
    build = for_every_dance(build, fake).unsqueeze(1)
    counted = (build >= min_px).expand(-1, fake.shape[1], -1)
    ratio = lengths(fake).clamp_min(min_px) / build.clamp_min(min_px)
    return ratio.log().abs()[counted].mean()
