"""Pose2Vid's image and video measures on hand-known cases, against scikit-image, and against
the torch SSIM loss."""

import math

import numpy as np
import pytest
import torch

from pose2vid.losses import ssim_loss
from pose2vid.measures import frame_difference, psnr, ssim


def _image(shape=(32, 40, 3), seed=0):
    """A smooth pattern plus noise, uint8."""
    rng = np.random.default_rng(seed)
    ys, xs = np.mgrid[:shape[0], :shape[1]]
    base = 128 + 60 * np.sin(xs / 5.0 + seed)[..., None] * np.cos(ys / 7.0)[..., None]
    return np.clip(base + rng.normal(0, 20, shape), 0, 255).astype(np.uint8)


def test_identical_images():
    image = _image()
    assert psnr(image, image) == math.inf
    assert ssim(image, image) == pytest.approx(1.0)


def test_psnr_of_a_known_mse():
    a = np.full((8, 8, 3), 100, np.uint8)
    assert psnr(a, a + 5) == pytest.approx(20 * math.log10(255 / 5))  # MSE 25
    # Half the pixels off by 10: MSE 50.
    b = a.copy()
    b[:4] += 10
    assert psnr(a, b) == pytest.approx(10 * math.log10(255 ** 2 / 50))
    assert psnr(a / 255, b / 255, data_range=1) == pytest.approx(psnr(a, b))


def test_psnr_of_a_batch_is_the_mean_of_its_images():
    a = np.full((2, 8, 8, 3), 100, np.uint8)
    b = a.copy()
    b[0] += 5
    b[1] += 10
    expected = (20 * math.log10(255 / 5) + 20 * math.log10(255 / 10)) / 2
    assert psnr(a, b) == pytest.approx(expected)


def test_ssim_of_constant_images():
    # No variance: SSIM is the luminance term (2 ma mb + C1) / (ma^2 + mb^2 + C1), C1 = 2.55^2.
    c1 = (0.01 * 255) ** 2
    a = np.full((16, 16, 3), 100, np.uint8)
    assert ssim(a, a + 10) == pytest.approx((2 * 100 * 110 + c1) / (100 ** 2 + 110 ** 2 + c1))
    assert ssim(a, a // 2) == pytest.approx((2 * 100 * 50 + c1) / (100 ** 2 + 50 ** 2 + c1))


def test_ssim_of_a_batch_is_the_mean_of_its_images():
    a, b, c = _image(seed=0), _image(seed=1), _image(seed=2)
    assert ssim(np.stack([a, a]), np.stack([b, c])) == pytest.approx((ssim(a, b) + ssim(a, c)) / 2)


def test_ssim_rejects_mismatched_or_small_images():
    with pytest.raises(ValueError, match="differ in shape"):
        ssim(_image((16, 16, 3)), _image((16, 17, 3)))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        ssim(_image((10, 16, 3)), _image((10, 16, 3)))


@pytest.mark.parametrize("shape", [(32, 40, 3), (11, 23, 3), (64, 64, 1)])
def test_ssim_matches_scikit_image(shape):
    metrics = pytest.importorskip("skimage.metrics")
    a, b = _image(shape, seed=0), _image(shape, seed=1)
    for other in (b, np.clip(a.astype(int) * 3 // 4 + 30, 0, 255).astype(np.uint8), 255 - a):
        expected = metrics.structural_similarity(
            a, other, channel_axis=-1, gaussian_weights=True, sigma=1.5,
            use_sample_covariance=False, data_range=255)
        assert ssim(a, other) == pytest.approx(expected, abs=1e-4)


def test_frame_difference_of_a_hand_made_video():
    video = np.zeros((3, 4, 4, 3), np.uint8)
    video[1] = 10
    video[2] = 4
    video[2, 0, 0, 0] = 16  # |16 - 10| = 6 at one of 48 values, like the rest
    assert frame_difference(video) == pytest.approx((10 + 6) / 2)
    video[2, 0, 0, 0] = 64  # |64 - 10| = 6 + 48 at one of 48 values: +1 on the second step
    assert frame_difference(video) == pytest.approx((10 + 7) / 2)
    assert frame_difference(np.repeat(video[:1], 5, axis=0)) == 0.0
    with pytest.raises(ValueError, match="at least 2 frames"):
        frame_difference(video[:1])


def test_torch_ssim_loss_is_one_minus_numpy_ssim():
    a = np.stack([_image(seed=0), _image(seed=2)])
    b = np.stack([_image(seed=1), 255 - _image(seed=2)])

    def to_tensor(images):
        return torch.from_numpy(images).permute(0, 3, 1, 2).double() / 127.5 - 1

    assert ssim_loss(to_tensor(a), to_tensor(b)).item() == pytest.approx(1 - ssim(a, b), abs=1e-9)
