"""Pose generator: music code + noise -> pose sequence.

The noise ``(B, T, 10)`` runs through a GRU(10 -> 10) and tanh, is appended to the 256-d music
code (music first: 266 features per frame) and decoded frame by frame::

    layer0       Linear 266 -> 1024
    layer1..3    x + [Linear-BN-ReLU-Linear-BN-ReLU](x), 1024 wide
    dropout      Dropout(0.5)
    final_linear Linear 1024 -> 36, tanh

BatchNorm runs over the flattened ``B*T`` rows, so a batch of one is fine in train mode.
Submodule names equal the release's state-dict keys. 6,620,856 parameters.

With ``rhythm_dim`` R > 0 (``--rhythm``, not the paper's) each frame's R rhythm features sit
between the music code and the noise code, and ``layer0`` takes 266 + R inputs (1024 * R more
parameters: 6,629,048 with the 8 features of :mod:`dataset.rhythm`).

With ``output="bones"`` (``--pose_output bones``, not the paper's) ``final_linear`` is a
:class:`model.bone_output.BoneOutput`: the neck's position and each bone's direction and
length, laid out into joints (17,425 more parameters, 17 buffer values), instead of 36 joint
coordinates through tanh.

Inferred from the release fixtures (io.pt): the music code comes before the noise in the
concatenation, and ``layer0`` has no activation after it.
"""

import torch
from torch import nn

from dataset.format import NOISE_DIM
from dataset.skeleton import POSE_DIM

from .bone_output import BoneOutput
from .music_encoder import CODE_DIM

HIDDEN = 1024


OUTPUTS = ("joints", "bones")


class ResidualBlock(nn.Module):
    """``x + [Linear-BN-ReLU-Linear-BN-ReLU](x)``.

    Shape:
        input/output: ``(N, width)`` (rows are frames).
    """

    def __init__(self, width=HIDDEN):
        super().__init__()
        self.layer = nn.Sequential(
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU(),
            nn.Linear(width, width), nn.BatchNorm1d(width), nn.ReLU())

    def forward(self, x):
        return x + self.layer(x)


class PoseGenerator(nn.Module):
    """Noise GRU + residual MLP decoding each frame's music code and noise into a pose.

    Shape:
        music: ``(B, T, 256)`` music code.
        noise: ``(B, T, 10)``.
        rhythm: ``(B, T, rhythm_dim)`` rhythm features (only when ``rhythm_dim > 0``).
        output: ``(B, T, 36)`` flat poses (x, y per joint, joint-major), normalised; in (-1, 1)
        with ``output="joints"``.
    """

    def __init__(self, noise_dim=NOISE_DIM, pose_dim=POSE_DIM, dropout=0.5, rhythm_dim=0, output="joints"):
        super().__init__()
        if output not in OUTPUTS:
            raise ValueError(f"output {output!r}: expected one of {OUTPUTS}")
        if output == "bones" and pose_dim != POSE_DIM:
            raise ValueError(f"output 'bones' lays out the {POSE_DIM // 2} OpenPose joints: pose_dim "
                             f"must be {POSE_DIM}")
        self.output = output
        self.rhythm_dim = rhythm_dim
        self.rnn_noise = nn.GRU(noise_dim, noise_dim, batch_first=True)
        self.layer0 = nn.Linear(CODE_DIM + rhythm_dim + noise_dim, HIDDEN)
        self.layer1 = ResidualBlock()
        self.layer2 = ResidualBlock()
        self.layer3 = ResidualBlock()
        self.dropout = nn.Dropout(dropout)
        self.final_linear = nn.Linear(HIDDEN, pose_dim) if output == "joints" else BoneOutput(HIDDEN)

    def forward(self, music, noise, rhythm=None):
        batch, frames, _ = music.shape
        noise_code, _ = self.rnn_noise(noise)
        heard = [music] if not self.rhythm_dim else [music, rhythm.to(music.dtype)]
        x = torch.cat([*heard, noise_code.tanh()], dim=-1).reshape(batch * frames, -1)
        x = self.layer3(self.layer2(self.layer1(self.layer0(x))))
        poses = self.final_linear(self.dropout(x)).view(batch, frames, -1)
        return poses.tanh() if self.output == "joints" else poses
