"""Pose2Vid's networks and losses: shapes, sizes, gradients, hand-known loss values, a tiny
overfit."""

import pytest
import torch

from pose2vid.losses import (feature_matching_loss, lsgan_loss, reconstruction_loss,
                             ssim_loss)
from pose2vid.network import (FrameGenerator, MultiScaleDiscriminator, PatchDiscriminator,
                              ResidualBlock, temporal_pair)

GENERATOR_PARAMETERS = 1_971_955


def _count(module):
    return sum(p.numel() for p in module.parameters())


def _images(batch, channels, height, width=None, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand(batch, channels, height, width or height, generator=generator) * 2 - 1


def _patch_sizes(size, layers=3):
    """Spatial sizes of a PatchDiscriminator's outputs: 4x4 convs with padding 2 give
    ``n // 2 + 1`` at stride 2 and ``n + 1`` at stride 1."""
    sizes = []
    for _ in range(layers):
        size = size // 2 + 1
        sizes.append(size)
    return sizes + [size + 1, size + 2]


@pytest.mark.parametrize("size", [64, 128])
def test_generator_shape_and_range(size):
    torch.manual_seed(0)
    generator = FrameGenerator()
    frames = generator(_images(2, 3, size), _images(2, 3, size, seed=1))
    assert frames.shape == (2, 3, size, size)
    assert frames.min() >= -1 and frames.max() <= 1


def test_generator_sizes_come_from_inputs():
    torch.manual_seed(0)
    generator = FrameGenerator(pose_channels=1, frame_channels=4, width=4, blocks=1,
                               downsamples=2)
    for batch, height, width in [(1, 16, 24), (3, 32, 20)]:
        poses, previous = _images(batch, 1, height, width), _images(batch, 4, height, width)
        assert generator(poses, previous).shape == (batch, 4, height, width)
    with pytest.raises(ValueError, match="multiple of 4"):
        generator(_images(1, 1, 18, 16), _images(1, 4, 18, 16))
    with pytest.raises(ValueError, match="differ in size"):
        generator(_images(1, 1, 16), _images(1, 4, 32))


def test_coordinates_let_the_generator_tell_places_apart():
    """On a uniform input a convolution sees the same thing at every place beyond the borders'
    reach (with one downsampling, every other pixel); with the coordinate maps (2 * 4 * 7 * 7
    more weights in the first layer) it does not."""
    torch.manual_seed(0)
    plain = FrameGenerator(width=4, blocks=1, downsamples=1)
    placed = FrameGenerator(width=4, blocks=1, downsamples=1, coordinates=True)
    assert _count(placed) - _count(plain) == 2 * 4 * 7 * 7
    flat = torch.zeros(1, 3, 128, 128)
    for generator, differs in ((plain, False), (placed, True)):
        with torch.no_grad():
            middle = generator(flat, flat)[0, :, 50:78:2, 50:78:2]
        assert bool((middle - middle[:, :1, :1]).abs().amax() > 1e-4) == differs


def test_default_sizes():
    assert _count(FrameGenerator()) == GENERATOR_PARAMETERS
    assert GENERATOR_PARAMETERS < 10_000_000  # fp16 checkpoint under 20 MB
    # Channels double per downsampling: the defaults' residual blocks have 16 * 2**3.
    blocks = [m for m in FrameGenerator().net if isinstance(m, ResidualBlock)]
    assert len(blocks) == 6
    assert all(b.body[1].in_channels == 128 for b in blocks)


@pytest.mark.parametrize("size", [64, 128])
def test_patch_discriminator_shapes(size):
    outputs = PatchDiscriminator(6)(_images(2, 6, size))
    channels = [16, 32, 64, 128, 1]
    assert [tuple(o.shape) for o in outputs] == [
        (2, c, s, s) for c, s in zip(channels, _patch_sizes(size))]


@pytest.mark.parametrize("size", [64, 128])
def test_multiscale_and_temporal_discriminator_shapes(size):
    pair = temporal_pair(*(_images(2, 3, size, seed=s) for s in range(4)))
    assert pair.shape == (2, 12, size, size)
    outputs = MultiScaleDiscriminator(12, scales=3, width=8, layers=2)(pair)
    assert len(outputs) == 3
    for scale, features in enumerate(outputs):
        scaled = size
        for _ in range(scale):
            scaled = (scaled - 1) // 2 + 1  # 3x3 average pooling, stride 2, padding 1
        assert [tuple(f.shape) for f in features] == [
            (2, c, s, s) for c, s in zip([8, 16, 32, 1], _patch_sizes(scaled, layers=2))]


def test_temporal_pair_order():
    parts = [torch.full((1, 3, 4, 4), float(i)) for i in range(4)]
    pair = temporal_pair(*parts)
    assert pair[0, :, 0, 0].tolist() == [0.0] * 3 + [1.0] * 3 + [2.0] * 3 + [3.0] * 3


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    generator, discriminator = FrameGenerator(width=8, blocks=2), MultiScaleDiscriminator(6)
    poses, previous, real = _images(2, 3, 64), _images(2, 3, 64, seed=1), _images(2, 3, 64, seed=2)
    fake = generator(poses, previous)
    fake_outputs = discriminator(torch.cat([poses, fake], dim=1))
    real_outputs = discriminator(torch.cat([poses, real], dim=1))
    loss = (lsgan_loss(fake_outputs, True) + feature_matching_loss(fake_outputs, real_outputs)
            + reconstruction_loss(fake, real) + lsgan_loss(real_outputs, False))
    loss.backward()
    for name, p in [*generator.named_parameters(), *discriminator.named_parameters()]:
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_lsgan_loss_hand_values():
    half = [[torch.zeros(2, 4, 3, 3), torch.full((2, 1, 5, 5), 0.5)]]
    assert lsgan_loss(half, True).item() == pytest.approx(0.25)
    assert lsgan_loss(half, False).item() == pytest.approx(0.25)
    ones_then_zeros = [[torch.ones(1, 1, 4, 4)], [torch.zeros(1, 1, 2, 2)]]
    assert lsgan_loss(ones_then_zeros, True).item() == pytest.approx(0.5)  # (0 + 1) / 2 scales
    assert lsgan_loss([[torch.full((1, 1, 2, 2), 3.0)]], False).item() == pytest.approx(9.0)


def test_feature_matching_loss_hand_values():
    def features(values, score):
        return [torch.full((1, 2, 3, 3), v) for v in values] + [torch.full((1, 1, 2, 2), score)]

    # Scale 1: three layers 1 apart -> 3 * 4/3 = 4; scale 2: equal -> 0; the scores never count.
    real = [features([0.0, 0.0, 0.0], 5.0), features([2.0, 2.0, 2.0], 5.0)]
    fake = [features([1.0, -1.0, 1.0], -5.0), features([2.0, 2.0, 2.0], 0.0)]
    fake = [[f.requires_grad_(True) for f in scale] for scale in fake]
    real = [[f.requires_grad_(True) for f in scale] for scale in real]
    loss = feature_matching_loss(fake, real)
    assert loss.item() == pytest.approx(2.0)  # (4 + 0) / 2 scales
    loss.backward()
    assert all(f.grad is None for scale in real for f in scale)
    with pytest.raises(ValueError, match="2 fake scales vs 1 real"):
        feature_matching_loss(fake, real[:1])


def test_reconstruction_loss_hand_values():
    image = _images(2, 3, 16)
    assert ssim_loss(image, image).item() == pytest.approx(0.0, abs=1e-6)
    # Constant images: SSIM is the luminance term alone, (2 mx my + C1) / (mx^2 + my^2 + C1)
    # with mx = 0.5, my = 0 in [0, 1] units and C1 = 0.01^2.
    fake, real = torch.zeros(1, 3, 16, 16), -torch.ones(1, 3, 16, 16)
    expected_ssim = 1e-4 / (0.25 + 1e-4)
    assert ssim_loss(fake, real).item() == pytest.approx(1 - expected_ssim)
    assert reconstruction_loss(fake, real, l1_weight=2.0, ssim_weight=3.0).item() == \
        pytest.approx(2.0 * 1.0 + 3.0 * (1 - expected_ssim))
    with pytest.raises(ValueError, match="smaller than the 11x11 window"):
        ssim_loss(torch.zeros(1, 3, 10, 32), torch.zeros(1, 3, 10, 32))


def test_generator_overfits_one_pair():
    torch.manual_seed(0)
    size = 32
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size),
                            indexing="ij")
    poses = torch.stack([(xs.abs() < 0.1).float(), (ys.abs() < 0.1).float(),
                         torch.zeros_like(xs)])[None] * 2 - 1
    target = torch.stack([0.8 * xs, 0.8 * ys, 0.8 * (xs * ys)])[None]
    generator = FrameGenerator()
    optimizer = torch.optim.Adam(generator.parameters(), lr=2e-3)
    losses = []
    for _ in range(100):
        loss = torch.nn.functional.l1_loss(generator(poses, torch.zeros_like(target)), target)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] / 10
