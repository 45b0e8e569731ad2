"""Image and video quality measures of Pose2Vid's output: pure numpy functions, no I/O.

Images are uint8 ``(H, W, 3)`` arrays (any channel count works), or batches ``(N, H, W, 3)``
of equally sized images; a batch's figure is the mean of its images'. Videos are ``(T, H, W, 3)``.
"""

import numpy as np

# SSIM as scikit-image's structural_similarity(gaussian_weights=True, sigma=1.5,
# use_sample_covariance=False): an 11-tap Gaussian (truncated at 3.5 sigma), K1 0.01, K2 0.03.
SSIM_K1, SSIM_K2 = 0.01, 0.03
SSIM_SIGMA = 1.5
SSIM_RADIUS = int(3.5 * SSIM_SIGMA + 0.5)


def _image_batch(a, b, name):
    """``a`` and ``b`` as float64 ``(N, H, W, C)`` batches, checked to match."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{name}: images differ in shape, {a.shape} vs {b.shape}")
    if a.ndim not in (3, 4):
        raise ValueError(f"{name}: expected (H, W, C) images or (N, H, W, C) batches, "
                         f"got shape {a.shape}")
    return (a[None], b[None]) if a.ndim == 3 else (a, b)


def psnr(a, b, data_range=255):
    """Peak signal-to-noise ratio ``10 log10(data_range**2 / MSE)`` in dB; ``inf`` for
    identical images. A batch's is the mean of its images' PSNRs.

    Shape: ``(H, W, C)`` or ``(N, H, W, C)`` each -> float.
    """
    a, b = _image_batch(a, b, "psnr")
    mse = ((a - b) ** 2).mean(axis=(1, 2, 3))
    with np.errstate(divide="ignore"):
        values = 10 * np.log10(data_range ** 2 / mse)
    return float(values.mean())


def _blur(x):
    """Separable Gaussian blur over ``H`` and ``W``, valid positions only (the window wholly
    inside the image).

    Shape: ``(N, H, W, C)`` -> ``(N, H - 10, W - 10, C)``.
    """
    offsets = np.arange(-SSIM_RADIUS, SSIM_RADIUS + 1)
    window = np.exp(-offsets ** 2 / (2 * SSIM_SIGMA ** 2))
    window /= window.sum()
    taps = len(window)
    height, width = x.shape[1] - taps + 1, x.shape[2] - taps + 1
    x = sum(w * x[:, k:k + height] for k, w in enumerate(window))
    return sum(w * x[:, :, k:k + width] for k, w in enumerate(window))


def ssim(a, b, data_range=255):
    """Structural similarity (Wang et al. 2004) with an 11x11 Gaussian window (sigma 1.5),
    K1 0.01, K2 0.03 and population covariance: the SSIM map over the window positions wholly
    inside the image, averaged over pixels and channels (then over a batch's images). Equal to
    ``skimage.metrics.structural_similarity(a, b, channel_axis=-1, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, data_range=data_range)``.

    Shape: ``(H, W, C)`` or ``(N, H, W, C)`` each, ``H, W >= 11`` -> float in [-1, 1].
    """
    a, b = _image_batch(a, b, "ssim")
    if min(a.shape[1:3]) <= 2 * SSIM_RADIUS:
        raise ValueError(f"ssim: images {a.shape[1:3]} are smaller than the "
                         f"{2 * SSIM_RADIUS + 1}x{2 * SSIM_RADIUS + 1} window")
    mu_a, mu_b = _blur(a), _blur(b)
    var_a = _blur(a * a) - mu_a ** 2
    var_b = _blur(b * b) - mu_b ** 2
    cov = _blur(a * b) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)
                / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2)))
    return float(ssim_map.mean())


def frame_difference(frames):
    """Temporal stability: the mean absolute difference between consecutive frames, in grey
    levels (0 for a still video).

    Shape: ``(T, H, W, C)`` with ``T >= 2`` -> float.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 4 or len(frames) < 2:
        raise ValueError(f"frame_difference: expected a (T, H, W, C) video of at least 2 "
                         f"frames, got shape {frames.shape}")
    return float(np.abs(np.diff(frames, axis=0)).mean())
