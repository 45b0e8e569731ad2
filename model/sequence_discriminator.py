"""Sequence (global, music-conditioned) discriminator.

Pose path: the HCN trunk over the whole sequence with a MaxPool after conv3..conv6, flattened,
``Linear 1536 -> 512 + ReLU + Dropout(0.5)``, ``Linear 512 -> 256`` -> pose code ``(B, 1, 256)``.
Music path: its own :class:`MusicEncoder` -> ``(B, T, 256)``, self-attentive pooling over time
(``Linear 256 -> 20`` tanh ``Linear 20 -> 1``, both without bias, softmax over frames)
-> music code ``(B, 1, 256)``. Head: stack ``(B, 2, 256)`` -> ``Conv1d(2 -> 1, k=2)``
-> ``(B, 1, 255)`` -> ``Linear 255 -> 1`` -> sigmoid. 3,788,393 parameters.

The FC 1536 (= 256 x 3 x 2 after four pools) fixes the sequence length at ``frames`` (50 by
default, the paper's design); the music path and the head take any length.
With ``rhythm_dim`` R > 0 (``--rhythm``, not the paper's) the pose path hears the rhythm: the
R per-frame features are appended to each joint's (x, y) as R more input channels of the HCN,
so its convolutions see the motion and the beat side by side (R * 128 more parameters).
Inferred (not in the SPEC): ReLU + Dropout after the first pose FC, as in HCN's fc7; no
activation between the head's conv and its linear.
"""

import torch
from torch import nn

from dataset.format import SAMPLE_FRAMES
from dataset.skeleton import NUM_JOINTS

from .hcn import COORDS, HCN, flat_to_nctv
from .music_encoder import CODE_DIM, MusicEncoder


class SelfAttentivePooling(nn.Module):
    """Weighted mean over time with learned weights ``softmax_t(w2 . tanh(W1 x_t))``.

    Shape:
        input: ``(B, T, D)``.
        output: ``(B, 1, D)``.
    """

    def __init__(self, dim=CODE_DIM, hidden=20):
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, hidden, bias=False), nn.Tanh(),
                                   nn.Linear(hidden, 1, bias=False))

    def forward(self, x):
        weights = self.score(x).softmax(dim=1)  # (B, T, 1)
        return weights.transpose(1, 2) @ x


class SequenceDiscriminator(nn.Module):
    """Is this whole pose sequence a real dance to this music?

    ``forward(pose, audio) -> (prob, features)``; ``features`` are the pose HCN's six feature
    maps (see :class:`model.hcn.HCN`), used for the generator's feature-matching loss.
    ``forward(pose, music_code=encode_music(audio))`` gives the same result from a music code
    computed beforehand (the training loop shares one between passes over the same batch).

    Shape:
        pose: ``(B, T, 36)`` flat poses, ``T == frames`` (50).
        audio: ``(B, T, 1600)`` raw int16-range audio.
        music_code: ``(B, 1, 256)`` from :meth:`encode_music`, instead of ``audio``.
        rhythm: ``(B, T, rhythm_dim)`` rhythm features (only when ``rhythm_dim > 0``).
        prob: ``(B, 1)`` (the score before the sigmoid with ``logits=True``; float32);
        features: list of 6 tensors ``(B, C_i, H_i, W_i)``.
    """

    def __init__(self, frames=SAMPLE_FRAMES, num_joints=NUM_JOINTS, dropout=0.5, rhythm_dim=0):
        super().__init__()
        self.frames = frames
        self.rhythm_dim = rhythm_dim
        self.hcn = HCN(COORDS + rhythm_dim, num_joints, pool_every_block=True, dropout=dropout)
        self.pose_fc = nn.Sequential(
            nn.Linear(self.hcn.output_size(frames), 512), nn.ReLU(), nn.Dropout(dropout),
            nn.Linear(512, CODE_DIM))
        self.music_encoder = MusicEncoder()
        self.attention = SelfAttentivePooling(CODE_DIM)
        self.fuse = nn.Conv1d(2, 1, kernel_size=2)
        self.fc = nn.Linear(CODE_DIM - 1, 1)

    def encode_music(self, audio):
        """The music path: ``(B, T, 1600)`` audio -> ``(B, 1, 256)`` attention-pooled code."""
        return self.attention(self.music_encoder(audio))

    def forward(self, pose, audio=None, music_code=None, rhythm=None, logits=False):
        if (audio is None) == (music_code is None):
            raise ValueError("give the sequence discriminator either audio or a music code")
        if pose.shape[1] != self.frames:
            raise ValueError(f"the sequence discriminator takes {self.frames}-frame poses, got "
                             f"shape {tuple(pose.shape)}")
        x = flat_to_nctv(pose)
        if self.rhythm_dim:
            if rhythm is None or rhythm.shape != (*pose.shape[:2], self.rhythm_dim):
                raise ValueError(f"this sequence discriminator hears rhythm features: rhythm must "
                                 f"have shape {(*pose.shape[:2], self.rhythm_dim)}")
            beat = rhythm.to(x.dtype).transpose(1, 2).unsqueeze(-1)  # (B, R, T, 1)
            x = torch.cat([x, beat.expand(-1, -1, -1, x.shape[-1])], dim=1)
        features = self.hcn(x)
        pose_code = self.pose_fc(features[-1].flatten(1)).unsqueeze(1)
        if music_code is None:
            music_code = self.encode_music(audio)
        fused = self.fuse(torch.cat([pose_code, music_code], dim=1))  # (B, 1, 255)
        # sigmoid in float32 (see LocalDiscriminator.forward): a bf16 probability of exactly 1
        # left this discriminator without gradient for good in bf16 runs
        score = self.fc(fused.squeeze(1)).float()
        return (score if logits else score.sigmoid()), features
