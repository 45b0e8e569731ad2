"""Pose2Vid's networks: the frame generator and the PatchGAN discriminators.

Everybody Dance Now (Chan et al., ICCV 2019) renders a person from a skeleton with pix2pixHD's
global generator, made temporally coherent by feeding it the previous generated frame, and
judged by multi-scale PatchGAN discriminators: a spatial one on (pose t, frame t) and a temporal
one on two consecutive (pose, frame) pairs (:func:`temporal_pair`).

Images are float tensors in [-1, 1], ``(B, C, H, W)``; the pose condition is the skeleton drawn
as an RGB image at the frame's resolution. Instance norm throughout, so any batch size works.
"""

import torch
from torch import nn


def _conv_norm_relu(in_channels, out_channels, kernel_size, stride=1):
    """Conv, instance norm, ReLU: pix2pixHD's ``c7s1-k`` (stride 1, reflection padding) and
    ``dk`` (stride 2, zero padding) units."""
    padding = kernel_size // 2
    layers = []
    if stride == 1:
        layers.append(nn.ReflectionPad2d(padding))
        padding = 0
    layers += [nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding),
               nn.InstanceNorm2d(out_channels), nn.ReLU(inplace=True)]
    return layers


class ResidualBlock(nn.Module):
    """Two reflection-padded 3x3 convs with instance norm, added to the input (pix2pixHD's
    ``Rk``).

    Shape: ``(B, C, H, W)`` -> ``(B, C, H, W)``.
    """

    def __init__(self, channels):
        super().__init__()
        self.body = nn.Sequential(
            *_conv_norm_relu(channels, channels, 3),
            nn.ReflectionPad2d(1), nn.Conv2d(channels, channels, 3), nn.InstanceNorm2d(channels))

    def forward(self, x):
        return x + self.body(x)


class FrameGenerator(nn.Module):
    """Pose map of frame t and the previous generated frame -> frame t.

    pix2pixHD's global generator sized by its arguments: ``c7s1-width``, ``downsamples``
    stride-2 3x3 convs doubling the channels, ``blocks`` residual blocks at
    ``width * 2**downsamples`` channels, as many stride-2 transposed convs halving them, and a
    ``c7s1-frame_channels`` output layer with tanh. The first frame of a video is generated
    from a zero (mid-grey) previous frame. With ``coordinates`` the input also holds two maps of
    each pixel's place, x and y from -1 to 1 (CoordConv, Liu et al. 2018): a convolution alone
    knows where it is only from the padding at the borders, so without them the static room
    (its floor line) drifts with the person.

    Shape:
        poses: ``(B, pose_channels, H, W)``; previous: ``(B, frame_channels, H, W)``, with ``H``
        and ``W`` multiples of ``2**downsamples``.
        output: ``(B, frame_channels, H, W)`` in [-1, 1].
    """

    def __init__(self, pose_channels=3, frame_channels=3, width=16, blocks=6, downsamples=3, coordinates=False):
        super().__init__()
        self.downsamples = downsamples
        self.coordinates = coordinates
        layers = _conv_norm_relu(pose_channels + frame_channels + 2 * coordinates, width, 7)
        channels = width
        for _ in range(downsamples):
            layers += _conv_norm_relu(channels, 2 * channels, 3, stride=2)
            channels *= 2
        layers += [ResidualBlock(channels) for _ in range(blocks)]
        for _ in range(downsamples):
            layers += [nn.ConvTranspose2d(channels, channels // 2, 3, stride=2, padding=1,
                                          output_padding=1),
                       nn.InstanceNorm2d(channels // 2), nn.ReLU(inplace=True)]
            channels //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(channels, frame_channels, 7), nn.Tanh()]
        self.net = nn.Sequential(*layers)

    def forward(self, poses, previous):
        step = 2 ** self.downsamples
        if poses.shape[-2] % step or poses.shape[-1] % step:
            raise ValueError(f"FrameGenerator: image size {tuple(poses.shape[-2:])} is not a "
                             f"multiple of {step} (2**downsamples)")
        if poses.shape[-2:] != previous.shape[-2:]:
            raise ValueError(f"FrameGenerator: pose map {tuple(poses.shape[-2:])} and previous "
                             f"frame {tuple(previous.shape[-2:])} differ in size")
        inputs = [poses, previous]
        if self.coordinates:
            height, width = poses.shape[-2:]
            y, x = torch.meshgrid(torch.linspace(-1, 1, height, device=poses.device, dtype=poses.dtype),
                                  torch.linspace(-1, 1, width, device=poses.device, dtype=poses.dtype),
                                  indexing="ij")
            inputs.append(torch.stack([x, y]).expand(len(poses), -1, -1, -1))
        return self.net(torch.cat(inputs, dim=1))


class PatchDiscriminator(nn.Module):
    """pix2pixHD's PatchGAN (70x70 receptive field with ``layers`` = 3): ``layers`` stride-2
    4x4 convs from ``width`` channels, doubling, then a stride-1 one, each with LeakyReLU 0.2 and
    instance norm (not the first), and a stride-1 4x4 conv to one score per patch. Zero padding
    2, as pix2pixHD.

    Returns every unit's output, for feature matching: ``layers + 1`` feature maps, then the
    patch score map last.

    Shape:
        input: ``(B, in_channels, H, W)``.
        output: list of ``layers + 2`` tensors ``(B, C_i, H_i, W_i)``; the last is
        ``(B, 1, H', W')`` raw scores (no sigmoid: least-squares GAN).
    """

    def __init__(self, in_channels, width=16, layers=3):
        super().__init__()
        units = [nn.Sequential(nn.Conv2d(in_channels, width, 4, 2, 2), nn.LeakyReLU(0.2, True))]
        channels = width
        for i in range(1, layers + 1):
            stride = 2 if i < layers else 1
            units.append(nn.Sequential(nn.Conv2d(channels, 2 * channels, 4, stride, 2),
                                       nn.InstanceNorm2d(2 * channels), nn.LeakyReLU(0.2, True)))
            channels *= 2
        units.append(nn.Conv2d(channels, 1, 4, 1, 2))
        self.units = nn.ModuleList(units)

    def forward(self, x):
        outputs = []
        for unit in self.units:
            x = unit(x)
            outputs.append(x)
        return outputs


class MultiScaleDiscriminator(nn.Module):
    """``scales`` independent :class:`PatchDiscriminator` s: the first on the input, each next
    one on a copy halved by 3x3 stride-2 average pooling (pix2pixHD's).

    Shape:
        input: ``(B, in_channels, H, W)``.
        output: list of ``scales`` lists, the :class:`PatchDiscriminator` outputs, full
        resolution first.
    """

    def __init__(self, in_channels, scales=2, width=16, layers=3):
        super().__init__()
        self.scales = nn.ModuleList(PatchDiscriminator(in_channels, width, layers)
                                    for _ in range(scales))
        self.downsample = nn.AvgPool2d(3, stride=2, padding=1, count_include_pad=False)

    def forward(self, x):
        outputs = []
        for i, discriminator in enumerate(self.scales):
            if i:
                x = self.downsample(x)
            outputs.append(discriminator(x))
        return outputs


def temporal_pair(poses_prev, poses, frames_prev, frames):
    """The temporal discriminator's input: two consecutive (pose map, frame) pairs, ordered
    pose t-1, pose t, frame t-1, frame t along channels (Everybody Dance Now's).

    Shape:
        each input: ``(B, 3, H, W)``.
        output: ``(B, 12, H, W)``, for a ``MultiScaleDiscriminator(12)``.
    """
    return torch.cat([poses_prev, poses, frames_prev, frames], dim=1)
