"""The tempo that a window's beat-phase features imply, as one more input of the pose generator.

The pose generator decodes every frame on its own (a residual MLP per frame), so from one
frame's beat phase it can time a move but cannot tell a fast song from a slow one, and the
choice of moves that suits a tempo has to come from the music code, which learns it from a
few dozen songs. The phase advance per frame is the tempo, so this reads it off the features
the generator already hears: no new parameter of the music and no other data.
"""

import math

import torch

from dataset.format import FPS
from dataset.rhythm import FEATURES

REFERENCE_BPM = 120.0
_SIN, _COS = FEATURES.index("beat_sin"), FEATURES.index("beat_cos")


@torch.no_grad()
def phase_tempo(rhythm, fps=FPS):
    """``log2(BPM / 120)`` of each window, repeated on its every frame, clamped to [-2, 2].

    The BPM is the median advance of the beat phase from frame to frame (robust to a tracker's
    odd beat); a window whose phase does not advance (no beats: the features are 0) gets 0.

    Shape: ``(B, T, 8)`` :data:`dataset.rhythm.FEATURES` -> ``(B, T, 1)`` in their dtype.
    """
    batch, frames, _ = rhythm.shape
    if frames < 2:
        return rhythm.new_zeros(batch, frames, 1)
    angle = torch.atan2(rhythm[..., _SIN].float(), rhythm[..., _COS].float())
    advance = torch.remainder(angle[:, 1:] - angle[:, :-1], 2 * math.pi).median(dim=1).values
    bpm = advance / (2 * math.pi) * fps * 60.0
    tempo = torch.where(bpm > 0, torch.log2(bpm.clamp(min=1e-6) / REFERENCE_BPM), torch.zeros_like(bpm))
    return tempo.clamp(-2.0, 2.0)[:, None, None].expand(batch, frames, 1).to(rhythm.dtype)
