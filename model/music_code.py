"""What the generator may do to its music code before decoding it: cap it, hold it; and, for
probes, set each clip's offset to one length.

**Cap** (``--code_cap``, recorded in the checkpoint). After a quiet stretch, a loud hit can set
the encoder's GRU ringing: for about 8 frames the code's norm climbs from about 2 to 30. The
decoder's residual blocks amplify such a frame further (about sixfold through the three), and
the dance slides the whole body to the edge of the frame and back. Capping each frame's code
norm keeps the decoder within the codes it mostly learned from; frames under the cap pass
unchanged.

**Equal offsets** (:func:`equalise_offsets`, ``probe_genre.py --equalise``). The music encoder
sets each song apart from the corpus's centre by its mean code over a clip (genre, and the song
itself). On songs it has not heard that offset is smaller: for the shipped generator, its length
over the held-out test clips is 0.77 of the training clips' (1.27 against 1.66), although a
linear probe still reads the genre off it on every one of them (``probe_genre.py``). The decoder
learns its moves from the training songs' full-size offsets, so on a new song it often dances
another genre. Make every clip's offset the same length: the direction names the genre, the
length mostly says how familiar the song is. Measured on the shipped generator without
retraining, lengthening each held-out clip's offset to 0.8 of the training clips' mean length
raised genre accuracy from 0.66 to 0.75 (FID 8.6 -> 11.0). A decoder trained on such codes (``--code_offset_norm``,
retired in issue 36) did not find the beat (docs/experiments.md, section 19). Training the
decoder on offsets shrunk by a random fraction instead (``--code_shrink``, removed after commit
1fc2e5f) is measured in section 18.

**Hold** (``--code_hold``, recorded in the checkpoint). Every frame hears its clip's mean code,
so the code says what the song is and the rhythm features alone say when to move. On slow,
quiet songs the code's changes from frame to frame can still throw the body across the frame
after capping and smoothing; held at its mean, no test clip throws a joint. But a decoder
trained on held codes cannot tell the dances of one genre and beat phase apart, and the L1 and
perceptual terms pull each joint to its own average: the skeletons came apart (bone error 0.2-0.5
against 0.09), which FID did not show. With ``--pose_output bones`` they stay whole
(docs/experiments.md, sections 22 and 23).
"""


def hold_clip_mean(code):
    """Every frame's code replaced by its clip's mean code over the frames.

    Shape: ``(B, T, C)`` -> ``(B, T, C)``, same dtype.
    """
    return code.mean(dim=1, keepdim=True).expand_as(code)


def cap_frame_norm(code, cap):
    """Scale down every frame whose code is longer than ``cap`` to length ``cap`` (same direction).

    Shape: ``(B, T, C)`` -> ``(B, T, C)``, same dtype; ``cap > 0``.
    """
    if not cap > 0:
        raise ValueError(f"cap {cap!r}: expected a positive norm")
    return code * (cap / code.norm(dim=-1, keepdim=True)).clamp(max=1.0)


def equalise_offsets(code, centre, length, eps=1e-3):
    """Set each clip's song-level offset (its mean code minus ``centre``) to ``length``:
    ``code + (length / |offset| - 1) * offset`` on every frame, so the offset keeps its direction
    and the code its changes from frame to frame. An offset shorter than ``eps`` is taken as
    ``eps`` long.

    Shape: ``code`` ``(B, T, C)``, ``centre`` ``(C,)``, ``length`` a number or 0-d tensor ->
    ``(B, T, C)``.
    """
    offset = code.mean(dim=1, keepdim=True) - centre
    return code + (length / offset.norm(dim=-1, keepdim=True).clamp(min=eps) - 1) * offset

