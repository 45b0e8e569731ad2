"""What the generator may do to its music code before decoding it: shrink it in training, cap it.

**Shrink** (``--code_shrink``, training only). The music encoder sets each song apart from the
corpus's centre by its mean code over a clip (genre, and the song itself). On songs it has not
heard that offset is smaller: for the shipped generator, its length over the held-out test
clips is 0.77 of the training clips' (1.27 against 1.66), although a linear probe still reads
the genre off it on every one of them (``probe_genre.py``). The decoder learns its moves from
the training songs' full-size offsets, so on a new song it often dances another genre.
Shrinking each training clip's offset by a random fraction shows the decoder smaller offsets
than it would otherwise see, with the same music to be danced.

**Cap** (``--code_cap``, recorded in the checkpoint). After a quiet stretch, a loud hit can set
the encoder's GRU ringing: for about 8 frames the code's norm climbs from about 2 to 30. The
decoder's residual blocks amplify such a frame further (about sixfold through the three), and
the dance slides the whole body to the edge of the frame and back. Capping each frame's code
norm keeps the decoder within the codes it mostly learned from; frames under the cap pass
unchanged.
"""

import torch


def shrink_clip_code(code, max_fraction):
    """Pull each clip's mean code towards the batch's mean by a random fraction in ``[0, max_fraction)``.

    Every frame of clip b moves by the same vector, ``-f_b * (mean_t code[b] - mean_b mean_t code)``,
    so the code's changes from frame to frame are kept. The batch's mean is a constant (no gradient).

    Shape: ``(B, T, C)`` -> ``(B, T, C)``, same dtype; ``max_fraction`` in ``[0, 1]``.
    """
    if not 0.0 <= max_fraction <= 1.0:
        raise ValueError(f"max_fraction {max_fraction!r}: expected a number from 0 to 1")
    clip_mean = code.mean(dim=1, keepdim=True)
    centre = clip_mean.mean(dim=0, keepdim=True).detach()
    fraction = torch.rand(code.shape[0], 1, 1, device=code.device, dtype=code.dtype) * max_fraction
    return code - fraction * (clip_mean - centre)


def cap_frame_norm(code, cap):
    """Scale down every frame whose code is longer than ``cap`` to length ``cap`` (same direction).

    Shape: ``(B, T, C)`` -> ``(B, T, C)``, same dtype; ``cap > 0``.
    """
    if not cap > 0:
        raise ValueError(f"cap {cap!r}: expected a positive norm")
    return code * (cap / code.norm(dim=-1, keepdim=True)).clamp(max=1.0)
