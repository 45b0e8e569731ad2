"""Quiet gaps cut into the training music (``--audio_gaps``, training only).

Recorded songs break: the band stops for a beat, a track drops to a whisper before the next hit,
a song fades out. The corpus's music plays on without such breaks, so the raw-waveform encoder
never hears a near-silent tenth of a second followed by a loud one, and on songs its code there
throws the dancer's whole body to a corner of the canvas for a few frames (docs/experiments.md,
sections 36 and 37: every throw of a repertoire generator on four recorded songs comes within a
second after the level dips to 0.03-0.4 of the song's median, or in a fade-out; holding the code
at its clip mean ends them all, and also most of the arm movement).

Cutting such gaps into the training clips, with the dance to be learned left as it was, teaches
the generator that a gap in the sound is not a change in the dance: time masking, as
SpecAugment masks spectrogram frames, on the waveform.
"""

import math

import torch

GAP_FRAMES = (1, 20)  # a gap lasts 0.1 to 2 s (whole pose frames), its length drawn log-uniformly
GAP_GAIN = (0.01, 0.4)  # its samples are scaled by a factor drawn log-uniformly from this range


def cut_gaps(audio, max_gaps):
    """``audio`` with 0 to ``max_gaps`` quiet gaps cut into each clip (the count uniform).

    Each gap is 1 to 20 whole frames (log-uniformly: most are breaks of a few tenths of a second,
    some a quiet stretch of a bar) at a uniform start; its samples are multiplied by a factor
    drawn log-uniformly from ``GAP_GAIN`` (where gaps overlap, the quieter factor holds). The
    draws come from torch's CPU generator, so a seeded run cuts the same gaps on any device.

    Shape: ``(B, T, S)`` -> ``(B, T, S)``, same dtype and device; ``max_gaps`` >= 0.
    """
    if max_gaps < 0:
        raise ValueError(f"max_gaps {max_gaps!r}: expected 0 or more")
    batch, frames, _ = audio.shape
    gain = torch.ones(batch, frames)
    for clip, count in enumerate(torch.randint(0, max_gaps + 1, (batch,)).tolist()):
        for _ in range(count):
            length = min(int(_log_uniform(GAP_FRAMES[0], GAP_FRAMES[1] + 1)), GAP_FRAMES[1], frames)
            start = int(torch.randint(0, frames - length + 1, ()))
            factor = _log_uniform(*GAP_GAIN)
            gain[clip, start:start + length] = gain[clip, start:start + length].clamp(max=factor)
    return audio * gain.to(audio.device, audio.dtype)[:, :, None]


def _log_uniform(low, high):
    """A number drawn log-uniformly from ``[low, high)`` with torch's CPU generator."""
    return math.exp(math.log(low) + (math.log(high) - math.log(low)) * float(torch.rand(())))
