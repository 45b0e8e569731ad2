"""Loss terms of the paper beyond plain BCE and L1, as small pure functions.

All L1 terms are means over elements (``F.l1_loss``'s default), as in the original.
"""

import torch
import torch.nn.functional as F

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


SATURATION_MARGIN = 3.0  # tanh(3) = 0.995: 1.6 px from the canvas edge


def saturation_penalty(logits, margin=SATURATION_MARGIN):
    """``mean(relu(|z| - margin)^2)`` over the generator's pre-tanh outputs ``z``.

    Where ``|z|`` is large the tanh is flat, so a pose coordinate stuck there gets no gradient
    from any loss on the pose; this term gives it one (``2 (|z| - margin) sign(z)``) and is zero
    inside the margin, where poses live.

    Shape: ``(B, T, 36)`` -> scalar.
    """
    return F.relu(logits.abs() - margin).pow(2).mean()


def visible_l1_loss(fake, real):
    """L1 over the joints present in ``real``: a missing joint (stored at pixel (0, 0), so
    exactly (-1, -1) once normalised) adds nothing, and the mean is over the present joints'
    coordinates. Equals ``F.l1_loss(fake, real)`` when no joint is missing.

    Shape: ``fake``, ``real`` ``(B, T, 36)`` joint-major ``x0, y0, x1, ...`` -> scalar.
    """
    present = (real.unflatten(-1, (-1, 2)) != -1).any(-1)  # (B, T, 18)
    weight = present.repeat_interleave(2, dim=-1).to(fake.dtype)  # (B, T, 36)
    return ((fake - real).abs() * weight).sum() / weight.sum().clamp_min(1)


def velocity_l1_loss(fake, real):
    """L1 between frame-to-frame motions: ``mean |(fake[t+1] - fake[t]) - (real[t+1] - real[t])|``.

    Shape: ``fake``, ``real`` ``(B, T, 36)`` -> scalar (``T >= 2``).
    """
    return F.l1_loss(fake.diff(dim=1), real.diff(dim=1))
