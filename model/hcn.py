"""The two-stream HCN trunk (Li et al. 2018) shared by both discriminators.

One stream sees joint positions, the other frame-to-frame motion (differences of consecutive
frames, bilinearly upsampled back to ``T`` frames). Each stream::

    conv1  Conv2d(C -> 64, 1x1)                      (N, 64, T, V)
    conv2  Conv2d(64 -> 32, (3, 1), no padding)      (N, 32, T-2, V)
           joints to channels                        (N, V, T-2, 32)
    conv3  Conv2d(V -> 32, 3x3, pad 1)   [+ MaxPool 2]
    conv4  Conv2d(32 -> 64, 3x3, pad 1) + Dropout2d(0.5)   [+ MaxPool 2]

then on the concatenated streams (128 channels)::

    conv5  Conv2d(128 -> 128, 3x3, pad 1) + ReLU + Dropout2d(0.5)   [+ MaxPool 2]
    conv6  Conv2d(128 -> 256, 3x3, pad 1) + ReLU + Dropout2d(0.5) + MaxPool 2

The bracketed pools are on in the sequence discriminator (``pool_every_block=True``) and off in
the local one. In the local one conv6 sees 3 frames and its pool keeps the first 2: with
``skip_pooled_out_rows`` (the speed-up of that name) conv6 computes only the rows the pool
reads, the same values for a third less arithmetic. Per-layer parameter counts fix the kernel
sizes; two details were inferred from the original's totals and its FC widths:

* ``conv2`` has no temporal padding. The local discriminator's windows are 5 frames; only
  5 -> 3 frames (then MaxPool -> 1) gives its ``256 * 1 * 16 = 4096`` FC input. In the sequence
  discriminator 50 -> 48 -> 24 -> 12 -> 6 -> 3 frames and 32 -> 2 gives its ``256 * 3 * 2 = 1536``.
* No activation sits after ``conv1``: HCN's PReLU would add one parameter per stream, and the
  totals (1,552,001 and 3,788,393) leave none for it.

The SPEC says only that the sequence discriminator exposes six feature maps for feature
matching; we take one per conv depth (both streams' conv1..conv4, concatenated, then conv5 and
conv6), each after its dropout/pool.
"""

import torch
import torch.nn.functional as F
from torch import nn

from dataset.skeleton import NUM_JOINTS

COORDS = 2  # (x, y) per joint


def flat_to_nctv(pose):
    """Flat poses to conv layout: ``(B, T, V*2)`` joint-major (x, y) -> ``(B, 2, T, V)``."""
    batch, frames, dim = pose.shape
    return pose.reshape(batch, frames, dim // COORDS, COORDS).permute(0, 3, 1, 2)


def motion(x):
    """Frame-to-frame motion upsampled back to ``T`` frames: ``(N, C, T, V)`` -> same shape."""
    diff = x[:, :, 1:] - x[:, :, :-1]
    return F.interpolate(diff, size=x.shape[2:], mode="bilinear", align_corners=False)


class HCNStream(nn.Module):
    """conv1..conv4 of one stream (positions or motion).

    Shape:
        input: ``(N, C, T, V)``.
        output: list of the 4 conv outputs; the last is ``(N, 64, T', 32)``.
    """

    def __init__(self, in_channels=COORDS, num_joints=NUM_JOINTS, pool=False, dropout=0.5):
        super().__init__()
        maybe_pool = [nn.MaxPool2d(2)] if pool else []
        self.conv1 = nn.Conv2d(in_channels, 64, kernel_size=1)
        self.conv2 = nn.Conv2d(64, 32, kernel_size=(3, 1))
        self.conv3 = nn.Sequential(nn.Conv2d(num_joints, 32, kernel_size=3, padding=1), *maybe_pool)
        self.conv4 = nn.Sequential(nn.Conv2d(32, 64, kernel_size=3, padding=1),
                                   nn.Dropout2d(dropout), *maybe_pool)

    def forward(self, x):
        out1 = self.conv1(x)
        out2 = self.conv2(out1)
        out3 = self.conv3(out2.permute(0, 3, 2, 1))  # joints become channels
        out4 = self.conv4(out3)
        return [out1, out2, out3, out4]


class HCN(nn.Module):
    """Two-stream HCN conv trunk (no FC head).

    ``forward`` returns six feature maps, one per conv depth: the two streams' conv1..conv4
    outputs concatenated along channels, then conv5 and conv6. The last is the trunk's output.

    Shape:
        input: ``(N, C, T, V)`` poses (C = 2 coordinates, V joints).
        output: list of 6 tensors ``(N, C_i, H_i, W_i)``; the last is
        ``(N, 256, T_out, W_out)`` (see :meth:`output_size`).
    """

    def __init__(self, in_channels=COORDS, num_joints=NUM_JOINTS, pool_every_block=False,
                 dropout=0.5):
        super().__init__()
        maybe_pool = [nn.MaxPool2d(2)] if pool_every_block else []
        self.position = HCNStream(in_channels, num_joints, pool_every_block, dropout)
        self.motion = HCNStream(in_channels, num_joints, pool_every_block, dropout)
        self.conv5 = nn.Sequential(nn.Conv2d(128, 128, kernel_size=3, padding=1), nn.ReLU(),
                                   nn.Dropout2d(dropout), *maybe_pool)
        self.conv6 = nn.Sequential(nn.Conv2d(128, 256, kernel_size=3, padding=1), nn.ReLU(),
                                   nn.Dropout2d(dropout), nn.MaxPool2d(2))
        self.pool_every_block = pool_every_block
        self.skip_pooled_out_rows = False

    def _conv6(self, x):
        """conv6 + ReLU + Dropout2d + MaxPool 2 on ``(N, 128, H, W)``; with
        ``skip_pooled_out_rows`` and odd ``H`` the last output row, which the pool drops, is not
        computed (no bottom padding)."""
        conv, *rest = self.conv6
        if self.skip_pooled_out_rows and x.shape[2] % 2:
            x = F.conv2d(F.pad(x, (1, 1, 1, 0)), conv.weight, conv.bias)
        else:
            x = conv(x)
        for layer in rest:
            x = layer(x)
        return x

    def output_size(self, frames):
        """Flattened size of the last feature map for ``frames`` input frames (conv2 width 32)."""
        pools = 4 if self.pool_every_block else 1
        height, width = frames - 2, 32
        for _ in range(pools):
            height, width = height // 2, width // 2
        return 256 * height * width

    def forward(self, x):
        position = self.position(x)
        moving = self.motion(motion(x))
        features = [torch.cat(pair, dim=1) for pair in zip(position, moving)]
        out5 = self.conv5(features[-1])
        features += [out5, self._conv6(out5)]
        return features
