"""A choice of key pose on every beat, and the sequence model that strings choices into a dance.

``--latent_kind beat`` (not the paper's). A dancer of the corpus hits one key pose per beat and
eases from each to the next (:mod:`dataset.synthetic_dance`); which key comes next is the
dancer's, not the music's. A per-clip choice (``--latent_kind choice``) cannot say when the
dancer switches moves inside a clip, so the reconstruction term pulls those clips towards an
average. Here the latent is one of ``L`` choices *per beat*, as Bailando's dance tokens are
chosen one after another by a sequence model:

* **Frames and beats.** The rhythm features' beat phase numbers the beat intervals of a clip:
  interval 0 holds frame 0, and a new one starts where the phase wraps. Interval ``k`` runs from
  key ``k`` to key ``k + 1``, so a frame hears the one-hots of its interval's two choices
  (:func:`frame_latent`, ``2 L`` numbers) beside the beat phase, which says how far it is
  between them.
* **Training** (multiple-choice learning per beat, :func:`assign_choices`): every choice is
  danced on every beat without gradients; each key takes the choice whose dance is nearest to
  the true one at the frames around that key's beat (weighted by how much of the key the eased
  pose holds there, :func:`key_weights`), and a choice no key took gets the worst-fitted one.
  The dance of the assigned choices is the one that L1 and the perceptual term judge.
* **The prior** (:func:`sample_choices`): a trigram of choices per genre,
  ``P(c_k | genre, c_{k-2}, c_{k-1})``, counted from the assigned choices as training goes
  (:func:`count_choices`, a moving count) and smoothed by backing off to the bigram and the
  choice frequencies. The dance the discriminators judge, and every dance at inference, is
  drawn from it; the draw of key ``k`` is read off the noise at the first frame of its
  interval, so a seed still fixes the dance.
"""

import math

import torch
import torch.nn.functional as F

from dataset.format import NOISE_STD
from dataset.rhythm import FEATURES

_BEAT_SIN, _BEAT_COS = FEATURES.index("beat_sin"), FEATURES.index("beat_cos")
SMOOTHING = 1.0  # pseudo-counts of each back-off level
COUNT_DECAY = 0.99  # per training step: the counts remember about the last 100 batches


def beat_intervals(rhythm):
    """Which beat interval each frame lies in, and how far through it.

    A new interval starts where the beat phase falls by more than half a beat from one frame to
    the next (a frame is at least 0.1 s, a beat at most 0.375 s at the corpus's 160 BPM, so the
    phase never wraps unseen). Without beats (phase 0 everywhere) the clip is one interval.

    Shape: ``rhythm`` ``(B, T, 8)`` -> ``intervals`` ``(B, T)`` int64 from 0, ``phase``
    ``(B, T)`` float32 in [0, 1).
    """
    phase = torch.atan2(rhythm[..., _BEAT_SIN].float(), rhythm[..., _BEAT_COS].float())
    phase = torch.remainder(phase / (2 * math.pi), 1.0)
    wraps = F.pad((phase[:, 1:] < phase[:, :-1] - 0.5).long(), (1, 0))
    return wraps.cumsum(dim=1), phase


def key_count(intervals):
    """The number of keys a batch's choices need: every clip's last interval ends on a key.
    ``(B, T)`` -> int."""
    return int(intervals[:, -1].max()) + 2


def frame_latent(choices, intervals, choices_count):
    """Per frame, the one-hots of its interval's first and last key's choices.

    Shape: ``choices`` ``(B, J)`` int64 in [0, L), ``intervals`` ``(B, T)`` -> ``(B, T, 2 L)``
    float32.
    """
    first = torch.gather(choices, 1, intervals)
    last = torch.gather(choices, 1, intervals + 1)
    return torch.cat([F.one_hot(first, choices_count), F.one_hot(last, choices_count)], dim=-1).float()


def held_latent(choice, shape, choices_count, device=None):
    """The per-frame latent that holds one ``choice`` on every key: ``(B, T, 2 L)`` for
    ``shape`` ``(B, T)``."""
    one = F.one_hot(torch.tensor(choice, device=device), choices_count).float()
    return one.repeat(2).expand(*shape, -1)


def key_weights(intervals, phase, keys):
    """How much of each key the eased pose of each frame holds, squared.

    A frame ``e = (1 - cos(pi phase)) / 2`` of the way from its interval's first key to its last
    (the corpus's ease) gives weight ``(1 - e)^2`` to the first and ``e^2`` to the last: frames
    on or near a beat decide its key.

    Shape: ``intervals``, ``phase`` ``(B, T)`` -> ``(B, T, keys)`` float32.
    """
    ease = (1 - torch.cos(math.pi * phase)) / 2
    weights = ((1 - ease) ** 2)[..., None] * F.one_hot(intervals, keys)
    return weights + (ease ** 2)[..., None] * F.one_hot(intervals + 1, keys)


def nearest_choices(errors, weights):
    """Each key's choice: the one whose held dance is nearest the true dance around the key.

    Shape: ``errors`` ``(B, T, L)`` per-frame distance of each choice's dance to the true one,
    ``weights`` ``(B, T, J)`` (:func:`key_weights`) -> ``(B, J)`` int64. A key no frame weighs
    (none in this batch's clips) takes choice 0; no frame hears it.
    """
    return key_scores(errors, weights).argmin(dim=-1)


def key_scores(errors, weights):
    """How far each choice's held dance is from the true dance around each key: the frames'
    distances weighted by :func:`key_weights`. ``(B, T, L)``, ``(B, T, J)`` -> ``(B, J, L)``."""
    return torch.einsum("btj,btl->bjl", weights, errors.float())


def assign_choices(errors, weights, groups=None):
    """:func:`nearest_choices` for training.

    Multiple-choice learning lets one choice win everywhere at first (the others start no nearer
    and, never assigned, never learn). So a choice that no key of a group (a genre; ``groups``
    ``(B,)``, or None for one group) takes in this batch is given the group's worst-fitted key
    instead, as k-means re-seeds an empty cluster: every choice learns every step, and the keys
    the others fit worst, the extreme poses, are the ones it learns. Keys no frame weighs are
    never re-seeded.

    Shape: as :func:`nearest_choices`.
    """
    best, choices = key_scores(errors, weights).min(dim=-1)
    heard = weights.sum(dim=1) > 0
    groups = torch.zeros(len(choices), dtype=torch.long, device=choices.device) if groups is None else groups
    misfit = torch.where(heard, best, torch.full_like(best, -1.0))
    for group in groups.unique():
        member = (groups == group)[:, None] & heard
        unused = [c for c in range(errors.shape[-1]) if not (choices[member] == c).any()]
        for choice in unused:
            candidates = torch.where(member, misfit, torch.full_like(misfit, -1.0))
            worst = int(candidates.argmax())
            if candidates.flatten()[worst] < 0:
                break
            row, key = divmod(worst, choices.shape[1])
            choices[row, key] = choice
            misfit[row, key] = -1.0
    return choices


def empty_counts(genres, choices_count):
    """Trigram counts before training: ``(G, L + 1, L + 1, L)`` zeros; index ``L`` of the two
    context axes stands for "before the clip's first key"."""
    return torch.zeros(max(genres, 1), choices_count + 1, choices_count + 1, choices_count)


def _contexts(choices, start):
    """The two choices before each key (``start`` before the first): ``(B, J)`` -> two ``(B, J)``."""
    before = F.pad(choices, (1, 0), value=start)[:, :-1]
    return F.pad(before, (1, 0), value=start)[:, :-1], before


@torch.no_grad()
def count_choices(counts, choices, intervals, genre, decay=COUNT_DECAY):
    """Decay ``counts`` (in place) and add the batch's trigrams of assigned choices: every key up
    to the one that ends each clip's last interval.

    Shape: ``counts`` ``(G, L + 1, L + 1, L)``, ``choices`` ``(B, J)``, ``intervals`` ``(B, T)``,
    ``genre`` ``(B,)`` int64 or None (one genre) -> ``counts``.
    """
    start = counts.shape[-1]
    first, second = _contexts(choices, start)
    used = torch.arange(choices.shape[1], device=choices.device) <= intervals[:, -1:] + 1
    genre = torch.zeros(len(choices), dtype=torch.long, device=choices.device) if genre is None else genre
    index = (genre[:, None].expand_as(choices)[used], first[used], second[used], choices[used])
    counts.mul_(decay).index_put_(index, torch.ones(len(index[0]), device=counts.device,
                                                    dtype=counts.dtype), accumulate=True)
    return counts


def trigram(counts, smoothing=SMOOTHING):
    """``P(c | genre, c_{-2}, c_{-1})`` from counts, each level backed off to the one below it
    (trigram -> bigram -> choice frequency -> uniform) with ``smoothing`` pseudo-counts.

    Shape: ``(G, L + 1, L + 1, L)`` -> the same, rows summing to 1.
    """
    counts = counts.float().clamp_min(0)
    unigram = counts.sum(dim=(1, 2))
    unigram = (unigram + smoothing / counts.shape[-1]) / (unigram.sum(-1, keepdim=True) + smoothing)
    bigram = counts.sum(dim=1)
    bigram = (bigram + smoothing * unigram[:, None]) / (bigram.sum(-1, keepdim=True) + smoothing)
    return (counts + smoothing * bigram[:, None]) / (counts.sum(-1, keepdim=True) + smoothing)


def choice_uniforms(noise, intervals, keys):
    """One uniform number per key, read off the noise: key ``k`` takes the first noise value of
    the first frame of its interval; the key after the last interval takes the second value of
    the last frame. Shape: ``noise`` ``(B, T, 10)``, ``intervals`` ``(B, T)`` -> ``(B, keys)``
    in (0, 1).
    """
    frames = intervals.shape[1]
    position = torch.arange(frames, device=intervals.device).expand_as(intervals)
    first_frame = torch.full((len(intervals), keys), frames, device=intervals.device)
    first_frame = first_frame.scatter_reduce(1, intervals, position, reduce="amin")
    values = torch.gather(noise[..., 0].float(), 1, first_frame.clamp_max(frames - 1))
    values = torch.where(first_frame < frames, values, noise[:, -1:, 1].float())
    uniforms = 0.5 * (1 + torch.erf(values / (NOISE_STD * math.sqrt(2))))
    return uniforms.clamp(1e-6, 1 - 1e-6)


def sample_choices(counts, genre, uniforms):
    """Draw every key's choice in turn from the trigram of ``counts`` (inverse CDF of each
    key's uniform). Shape: ``counts`` ``(G, L + 1, L + 1, L)``, ``genre`` ``(B,)`` or None,
    ``uniforms`` ``(B, J)`` -> ``(B, J)`` int64.
    """
    table = trigram(counts)
    batch, keys = uniforms.shape
    start = table.shape[-1]
    genre = torch.zeros(batch, dtype=torch.long, device=uniforms.device) if genre is None else genre
    before = [torch.full((batch,), start, dtype=torch.long, device=uniforms.device)] * 2
    chosen = []
    for k in range(keys):
        cdf = table[genre, before[0], before[1]].cumsum(dim=-1)
        drawn = uniforms[:, k:k + 1].to(cdf.dtype).contiguous()
        pick = torch.searchsorted(cdf, drawn).clamp_max(start - 1)[:, 0]
        chosen.append(pick)
        before = [before[1], pick]
    return torch.stack(chosen, dim=1)
