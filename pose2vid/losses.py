"""Pose2Vid's loss terms: least-squares GAN, pix2pixHD feature matching, and L1 + SSIM
reconstruction (in place of pix2pixHD's ImageNet-VGG perceptual term, whose weights are not
available here).

Discriminator outputs are :class:`pose2vid.network.MultiScaleDiscriminator`'s: a list per scale
of feature lists, the patch score map last. Images are in [-1, 1], ``(B, C, H, W)``.
"""

import torch
import torch.nn.functional as F

# SSIM's constants and window (Wang et al. 2004; scikit-image's gaussian_weights=True).
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_SIGMA = 1.5
SSIM_RADIUS = 5  # int(3.5 * sigma + 0.5): an 11-tap window


def lsgan_loss(outputs, real):
    """Least-squares GAN loss: mean squared distance of every patch score to 1 (``real``) or 0,
    averaged over scales.

    Shape:
        outputs: list per scale of feature lists, the last ``(B, 1, H_s, W_s)`` scores.
        output: scalar.
    """
    target = 1.0 if real else 0.0
    return sum(F.mse_loss(scale[-1], torch.full_like(scale[-1], target))
               for scale in outputs) / len(outputs)


def feature_matching_loss(fake_features, real_features):
    """pix2pixHD's discriminator feature matching: L1 (mean over elements) between the fake's
    and the real's intermediate feature maps (all but each scale's last, the scores), the real
    ones detached, each layer weighted ``4 / n_layers`` and each scale ``1 / scales``: that is,
    4x the mean over layers, averaged over scales. pix2pixHD's weight on this term is 10.

    Shape:
        fake_features, real_features: lists per scale of feature lists, alike in shape.
        output: scalar.
    """
    if len(fake_features) != len(real_features):
        raise ValueError(f"feature_matching_loss: {len(fake_features)} fake scales vs "
                         f"{len(real_features)} real")
    total = 0.0
    for fake, real in zip(fake_features, real_features):
        layers = len(fake) - 1
        total = total + sum(F.l1_loss(f, r.detach())
                            for f, r in zip(fake[:-1], real[:-1])) * 4.0 / layers
    return total / len(fake_features)


def _gaussian_window(dtype, device):
    """The normalised 1-D Gaussian, ``(2 * SSIM_RADIUS + 1,)``."""
    offsets = torch.arange(-SSIM_RADIUS, SSIM_RADIUS + 1, dtype=dtype, device=device)
    window = torch.exp(-offsets ** 2 / (2 * SSIM_SIGMA ** 2))
    return window / window.sum()


def _blur(x, window):
    """Separable Gaussian blur of each channel, valid positions only (no padding).

    Shape: ``(B, C, H, W)`` -> ``(B, C, H - 10, W - 10)``.
    """
    channels = x.shape[1]
    x = F.conv2d(x, window.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(x, window.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def ssim_loss(fake, real):
    """``1 - SSIM`` of images mapped from [-1, 1] to [0, 1] (data range 1): the SSIM map with an
    11x11 Gaussian window (sigma 1.5), K1 0.01, K2 0.03, population covariance, over the valid
    window positions, averaged over pixels, channels and the batch. It equals
    ``1 - pose2vid.measures.ssim`` of the same images, as scikit-image computes it.

    Shape:
        fake, real: ``(B, C, H, W)`` with ``H, W >= 11``.
        output: scalar in [0, 2].
    """
    if fake.shape[-2] <= 2 * SSIM_RADIUS or fake.shape[-1] <= 2 * SSIM_RADIUS:
        raise ValueError(f"ssim_loss: images {tuple(fake.shape[-2:])} are smaller than the "
                         f"{2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} window")
    x, y = (fake + 1) / 2, (real + 1) / 2
    window = _gaussian_window(x.dtype, x.device)
    mu_x, mu_y = _blur(x, window), _blur(y, window)
    var_x = _blur(x * x, window) - mu_x ** 2
    var_y = _blur(y * y, window) - mu_y ** 2
    cov = _blur(x * y, window) - mu_x * mu_y
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)
                / ((mu_x ** 2 + mu_y ** 2 + c1) * (var_x + var_y + c2)))
    return 1 - ssim_map.mean()


def reconstruction_loss(fake, real, l1_weight=1.0, ssim_weight=1.0):
    """``l1_weight * L1(fake, real) + ssim_weight * ssim_loss(fake, real)``, L1 the mean
    absolute difference in [-1, 1] units.

    Shape:
        fake, real: ``(B, C, H, W)``.
        output: scalar.
    """
    return l1_weight * F.l1_loss(fake, real) + ssim_weight * ssim_loss(fake, real)
