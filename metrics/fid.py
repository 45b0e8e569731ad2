"""Frechet distance between feature sets, and 2-D kinetic features of a dance to feed it.

FID fits a Gaussian to each feature set and measures

    ||mu_a - mu_b||^2 + tr(S_a + S_b - 2 (S_a S_b)^(1/2)),

the squared 2-Wasserstein distance between the two Gaussians. The features can be any
per-clip vectors, e.g. :func:`kinetic_features` (the "FID_k" of AIST++/Bailando, here in 2-D)
or embeddings from the pre-trained ST-GCN.
"""

import warnings

import numpy as np
import scipy.linalg

from dataset.format import FPS
from dataset.skeleton import missing_mask
from metrics.inputs import as_array, as_pixel_poses


def gaussian_stats(features):
    """Mean and covariance (unbiased, N - 1) of a feature set.

    Shape: ``(N, D)`` with N >= 2 -> ``(mu (D,), sigma (D, D))``.
    """
    features = as_array(features)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features: expected (N, D) with N >= 2, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], -1)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``(S1 S2)^(1/2)`` comes from ``scipy.linalg.sqrtm``. For singular or ill-conditioned
    covariances (fewer samples than dimensions, constant features) sqrtm warns that the product
    is singular or returns non-finite values; the square root is then taken of
    ``(S1 + eps I)(S2 + eps I)`` instead (the traces stay unshifted), a bias of the order of
    ``sqrt(eps)`` per degenerate direction for features of unit scale. The exact square root of
    a product of covariance matrices has a real trace, so imaginary parts are rounding error and
    are dropped, and a result a rounding error below 0 is returned as 0.

    Shape: ``(D,), (D, D), (D,), (D, D)`` -> float >= 0.
    """
    mu1, mu2 = as_array(mu1).reshape(-1), as_array(mu2).reshape(-1)
    sigma1, sigma2 = np.atleast_2d(as_array(sigma1)), np.atleast_2d(as_array(sigma2))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != 2 * mu1.shape:
        raise ValueError(
            f"frechet_distance: expected mu (D,) and sigma (D, D) on both sides, got "
            f"{mu1.shape}, {sigma1.shape}, {mu2.shape}, {sigma2.shape}")
    covmean = _sqrtm_or_none(sigma1 @ sigma2)
    if covmean is None:
        offset = eps * np.eye(len(mu1))
        covmean = scipy.linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    diff = mu1 - mu2
    distance = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(np.real(covmean))
    return float(max(distance, 0.0))


def _sqrtm_or_none(matrix):
    """``scipy.linalg.sqrtm(matrix)``, or None where scipy finds it singular or the result is not finite."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", scipy.linalg.LinAlgWarning)
        try:
            root = scipy.linalg.sqrtm(matrix)
        except scipy.linalg.LinAlgWarning:
            return None
    return root if np.all(np.isfinite(root)) else None


def fid(features_a, features_b, eps=1e-6):
    """Frechet distance between Gaussians fitted to two feature sets.

    Shape: ``(N_a, D), (N_b, D)`` -> float >= 0 (0 for a set against itself).
    """
    return frechet_distance(*gaussian_stats(features_a), *gaussian_stats(features_b), eps=eps)


def kinetic_features(poses, fps=FPS, normalized=False):
    """2-D kinetic features of one dance: mean horizontal and vertical kinetic energy per joint.

    For joint j, with ``v[t] = (p[t+1] - p[t]) * fps`` in pixels per second, the features are the
    time averages of ``0.5 * vx^2`` and ``0.5 * vy^2`` in px^2/s^2 (energy per unit mass), taken
    over the steps where the joint is present in both frames. A joint never tracked over a step
    has 0 for both. The 2-D counterpart of AIST++'s kinetic features (which also carry an
    energy-expenditure term per joint and are 3-D); here x is horizontal and y vertical on the
    640x360 canvas.

    Args:
        poses: pixel ``(T, 18, 2)`` / ``(T, 36)``, or normalised ``(T, 36)`` with
            ``normalized=True``. Missing joints are pixel (0, 0).
        fps: pose frame rate.

    Shape: ``(T, 18, 2)`` or ``(T, 36)`` with T >= 2 -> ``(36,)`` ordered like the pose vector:
    ``[KE_x(joint 0), KE_y(joint 0), KE_x(joint 1), ...]``.
    """
    poses = as_pixel_poses(poses, normalized)
    if len(poses) < 2:
        raise ValueError(f"poses: need at least 2 frames for a velocity, got {len(poses)}")
    present = ~missing_mask(poses)
    valid = (present[1:] & present[:-1])[..., None]  # (T-1, J, 1)
    energy = 0.5 * (np.diff(poses, axis=0) * fps) ** 2  # (T-1, J, 2)
    counts = valid.sum(axis=0)  # (J, 1)
    totals = np.where(valid, energy, 0.0).sum(axis=0)  # (J, 2)
    return (totals / np.maximum(counts, 1)).reshape(-1)
