"""Dancing with a trained generator: seeded batches of clips, and whole songs of any length.

:func:`generate` is the one way this project runs a generator for inference (``get_demo.py``,
``evaluate.py`` and the held-out score during training all call it), with noise from
:func:`seeded_noise`, so the same seed gives the same dance everywhere.

Whole songs: overlapping 5 s windows through the generator, blended into one sequence.

The generator was trained on 5 s windows (50 frames), so a song of any length is cut into
windows of 50 frames that overlap, each window is danced, and consecutive windows are
cross-faded inside their overlap so that the motion has no jump at the joins:

* **Shared noise.** One noise sequence is drawn for the whole song, from a seeded
  ``torch.Generator``, and every window takes its own slice of it. On the frames two windows
  share, they therefore see the same music *and* the same noise, and their poses mostly agree:
  the cross-fade blends two versions of one movement, never two different movements (whose
  average would be a shrunken, ghostly pose).
* **Held latent.** A generator with a latent (``--latent``) dances each window from one;
  consecutive windows share it in groups (:func:`window_latents`), so most cross-fades blend
  one movement, and the dance changes its moves only where a group hands over.
* **Cross-fade away from the edges.** Windows overlap by ``window - hop`` frames (20 by
  default) but the cross-fade (10 frames) sits in the middle of the overlap. A frame near a
  window's edge has music context on one side only (the bidirectional GRU starts cold there),
  so each window hands over while both windows still see a few frames beyond the join.
* **Raised-cosine weights.** ``w(u) = (1 - cos(pi u)) / 2`` starts and ends with zero slope, so
  the blended motion has no kink at the start or end of the cross-fade, and the weights of
  the two windows sum to one on every frame.

Windows are spread evenly from the song's start to its end (the last one ends exactly at the
last frame, so no silence is danced); a song shorter than one window is zero-padded to 50 frames
and its poses cropped. All windows go through the generator in a few batched forward passes.
"""

import math

import numpy as np
import torch

from dataset.audio import frame_audio
from dataset.audio_level import level_gain
from dataset.errors import DanceSynthError
from dataset.format import NOISE_DIM, NOISE_STD, SAMPLE_FRAMES
from dataset.rhythm import rhythm_features
from dataset.skeleton import NUM_JOINTS, denormalize

from .generator import prior_latent

HOP = 30  # frames between window starts, at most: the overlap is SAMPLE_FRAMES - HOP = 20 or more
CROSSFADE = 10  # frames over which one window hands over to the next (1 s)
LATENT_HOLD = 3  # windows (about 9 s) that share one latent: a dancer's moves last a few bars
WINDOWS_PER_PASS = 64  # windows per forward pass: 3200 frames, about 150 MB of peak memory on CPU
OPENPOSE_VERSION = 1.3
# The fastest song a generator that records no tempo range of its own (max_bpm) dances at full
# time: the built-in corpus's fastest genre (techno) tops out at 150 BPM, and dancers take faster
# songs at half time. The margin keeps a song a little faster than the corpus at full time.
DEFAULT_MAX_BPM = 160.0


def plan_windows(num_frames, window=SAMPLE_FRAMES, hop=HOP, crossfade=CROSSFADE):
    """Where the windows of a ``num_frames`` song start, and each window's blending weights.

    Windows are spaced evenly, at most ``hop`` frames apart, the first starting at frame 0 and
    the last ending at ``max(num_frames, window)``. Between consecutive windows the hand-over
    is a raised-cosine cross-fade of ``crossfade`` frames centred in their overlap; elsewhere
    a frame belongs to one window with weight 1.

    Shape: -> ``starts`` ``(n,)`` int64 and ``weights`` ``(n, window)`` float64; for every frame
    ``t < num_frames`` the weights of the windows covering it sum to 1.
    """
    if not 0 < crossfade <= window - hop or hop <= 0:
        raise ValueError(f"plan_windows: need 0 < crossfade ({crossfade}) <= window ({window}) - "
                         f"hop ({hop}) and hop > 0")
    span = max(num_frames, window) - window
    count = 1 + math.ceil(span / hop)
    starts = np.rint(np.linspace(0, span, count)).astype(np.int64)
    # Hand-over midpoints: the middle of each overlap, frame (start of next + end of this) / 2.
    middles = (starts[1:] + starts[:-1] + window) / 2
    ramp_up = np.ones((count, window))
    ramp_down = np.ones((count, window))
    frames = np.arange(window) + 0.5  # frame centres within a window
    for k, middle in enumerate(middles):
        ramp_up[k + 1] = _raised_cosine((frames + starts[k + 1] - middle) / crossfade + 0.5)
        ramp_down[k] = 1 - _raised_cosine((frames + starts[k] - middle) / crossfade + 0.5)
    weights = ramp_up * ramp_down
    coverage = np.zeros(span + window)
    for start, weight in zip(starts, weights):
        coverage[start:start + window] += weight
    if not np.allclose(coverage, 1):  # cross-fades that collide: hop too small for the cross-fade
        raise ValueError(f"plan_windows: hop {hop} and crossfade {crossfade} do not tile "
                         f"{num_frames} frames with windows of {window}")
    return starts, weights


def _raised_cosine(u):
    """0 for ``u <= 0``, 1 for ``u >= 1``, ``(1 - cos(pi u)) / 2`` between. Any shape."""
    return (1 - np.cos(np.pi * np.clip(u, 0, 1))) / 2


def blend_windows(window_poses, starts, weights, num_frames):
    """Overlap-add windows of poses with their weights into one sequence.

    Shape: ``window_poses`` ``(n, W, D)``, ``starts`` ``(n,)``, ``weights`` ``(n, W)`` ->
    ``(num_frames, D)`` float32 (frames past ``num_frames`` are dropped).
    """
    _, window, dim = window_poses.shape
    total = np.zeros((max(num_frames, starts[-1] + window), dim))
    for start, poses, weight in zip(starts, window_poses, weights):
        total[start:start + window] += weight[:, None] * poses
    return total[:num_frames].astype(np.float32)


def seeded_noise(shape, seed):
    """The generator's N(0, 0.33) noise of ``shape`` (last dimension 10), reproducible from ``seed``.

    Drawn on the CPU from its own ``torch.Generator``, so it is the same on every device and
    untouched by the global RNG; the values fill ``shape`` in order, so ``(N, T, 10)`` equals
    ``(N * T, 10)`` reshaped. Returns float32.
    """
    rng = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, generator=rng) * NOISE_STD


def generate(generator, audio, noise, rhythm=None, windows_per_pass=WINDOWS_PER_PASS, genre=None,
             latent=None):
    """Run the generator without gradients, in its current mode, a few clips per forward pass.

    Shape: ``audio`` ``(N, T, 1600)`` raw int16-range, ``noise`` ``(N, T, 10)``, ``rhythm``
    ``(N, T, 8)`` rhythm features (for a generator that hears them, else None; tensors or arrays,
    any device), ``genre`` ``(N,)`` genre indices for a generator with a genre input (None: it
    predicts each clip's own), ``latent`` ``(N, L)`` for a generator with a latent (None: each
    clip's prior latent, read off its noise) -> ``(N, T, 36)`` float32 numpy, normalised poses.
    The inputs go to the generator's device one pass at a time.
    """
    device = next(generator.parameters()).device
    inputs = [torch.as_tensor(audio), torch.as_tensor(noise)]
    if generator.rhythm_dim:
        if rhythm is None:
            raise ValueError("this generator hears rhythm features: pass rhythm")
        inputs.append(torch.as_tensor(rhythm))
    given = {name: torch.as_tensor(value) for name, value in (("genre", genre), ("latent", latent))
             if value is not None}
    out = []
    with torch.no_grad():
        for first in range(0, len(inputs[0]), windows_per_pass):
            chunk = [x[first:first + windows_per_pass].to(device, torch.float32) for x in inputs]
            heard = {name: value[first:first + windows_per_pass].to(device) for name, value in given.items()}
            if "latent" in heard:
                heard["latent"] = heard["latent"].float()
            out.append(generator(*chunk, **heard).cpu().numpy())
    return np.concatenate(out)


def music_code(generator, audio, windows_per_pass=WINDOWS_PER_PASS):
    """The generator's music code of every clip, without gradients, a few clips per pass (on
    the generator's device).

    Shape: ``audio`` ``(N, T, 1600)`` raw int16-range (tensor or array) -> ``(N, T, 256)``
    float32 tensor on the generator's device.
    """
    device = next(generator.parameters()).device
    audio = torch.as_tensor(audio)
    with torch.no_grad():
        return torch.cat([generator.audio_encoder(audio[i:i + windows_per_pass].to(device, torch.float32))
                          .float() for i in range(0, len(audio), windows_per_pass)])


def song_genre(generator, windows, windows_per_pass=WINDOWS_PER_PASS):
    """The one genre a generator with a genre input dances a whole song in (None for others):
    the one its genre head reads off the mean music code over all of the song's windows.

    Shape: ``windows`` ``(n, T, 1600)`` -> ``(n,)`` int64, one index repeated, or None.
    """
    if not getattr(generator, "genres", 0):
        return None
    song_code = music_code(generator, windows, windows_per_pass).mean(dim=(0, 1))
    return generator.genre.predict(song_code[None]).cpu().expand(len(windows))


def song_rhythm(generator, samples, num_frames):
    """The rhythm features a generator hears for a whole song (None if it hears none): tracked by
    librosa over the whole song, so every window shares one beat grid. A generator trained on
    true beats gets librosa's too (a song has no true beats). A song faster than the generator's
    ``max_bpm`` (else :data:`DEFAULT_MAX_BPM`) is danced at half time
    (:func:`dataset.rhythm.half_time_beats`).

    Shape: ``samples`` ``(N,)`` -> ``(num_frames, 8)`` float32 or None.
    """
    if not generator.rhythm_dim:
        return None
    max_bpm = getattr(generator, "max_bpm", None)
    max_bpm = DEFAULT_MAX_BPM if max_bpm is None else float(max_bpm)
    return rhythm_features(np.asarray(samples, dtype=np.float64), num_frames, max_bpm=max_bpm)


def chosen_genre(generator, genre, count):
    """A genre index given for a whole song, checked against the generator: ``(count,)`` int64.

    Raises :class:`DanceSynthError` for a generator without a genre input, or an index out of
    its range.
    """
    genres = getattr(generator, "genres", 0)
    if not genres:
        raise DanceSynthError("this generator has no genre input: it cannot be given a genre")
    if not 0 <= int(genre) < genres:
        raise DanceSynthError(f"genre {genre}: this generator knows genres 0 to {genres - 1}")
    return torch.full((count,), int(genre), dtype=torch.int64)


def dance(generator, frames, seed=0, hop=HOP, crossfade=CROSSFADE, windows_per_pass=WINDOWS_PER_PASS,
          genre=None):
    """Dance a framed song of any length: overlapping windows, shared noise, cross-faded joins.
    A generator that records the level of its training music (``audio_level``) gets the song
    scaled to it (:func:`dataset.audio_level.level_gain`), since its encoder hears level.
    A generator that hears rhythm features gets them computed on the whole song (:func:`song_rhythm`),
    one with a genre input dances the whole song in one genre (``genre``, an index, else the one
    :func:`song_genre` reads off the music), and one with
    a latent changes its latent, and so its moves, every :data:`LATENT_HOLD` windows
    (:func:`window_latents`).

    Shape: ``frames`` ``(T, 1600)`` raw int16-range audio, ``T >= 1`` -> ``(T, 36)`` float32,
    normalised poses (tanh range). Same ``seed``, same poses.
    """
    frames = np.asarray(frames, dtype=np.float32)
    num_frames = len(frames)
    if num_frames == 0:
        raise ValueError("dance: the song has no frames")
    if generator.audio_level:
        frames = frames * np.float32(level_gain(frames, generator.audio_level))
    frames = torch.as_tensor(frames)
    starts, weights = plan_windows(num_frames, hop=hop, crossfade=crossfade)
    padded = max(num_frames, SAMPLE_FRAMES)
    if padded > num_frames:  # shorter than one window: dance 5 s of (partly silent) music
        frames = torch.cat([frames, frames.new_zeros(padded - num_frames, frames.shape[1])])
    rhythm = song_rhythm(generator, frames.reshape(-1).numpy(), padded)
    noise = seeded_noise((padded, NOISE_DIM), seed)
    index = torch.as_tensor(starts)[:, None] + torch.arange(SAMPLE_FRAMES)  # (n, 50) frame numbers
    windows = frames[index]
    genre = (song_genre(generator, windows, windows_per_pass) if genre is None
             else chosen_genre(generator, genre, len(windows)))
    window_poses = generate(generator, windows, noise[index],
                            None if rhythm is None else rhythm[index.numpy()], windows_per_pass,
                            genre=genre, latent=window_latents(generator, noise, starts))
    return blend_windows(window_poses, starts, weights, num_frames)


def window_latents(generator, noise, starts, hold=LATENT_HOLD):
    """Each window's latent for a generator with one (None for others): the prior latent read off
    the song's noise at the first frame of its group of ``hold`` consecutive windows. Windows of
    a group dance the same choice of moves, so their cross-fades blend two versions of one
    movement; between groups the dance changes its moves, as a dancer does every few bars, and
    only those hand-overs blend two different ones.

    Shape: ``noise`` ``(T, 10)``, ``starts`` ``(n,)`` -> ``(n, L)`` or None.
    """
    if not getattr(generator, "latent_dim", 0):
        return None
    first = np.asarray(starts)[(np.arange(len(starts)) // hold) * hold]
    return prior_latent(noise[torch.as_tensor(first)][:, None], generator.latent_dim)


def generate_draws(generator, audio, draws, seed, rhythm=None, latent=None):
    """``draws`` noise draws of the generator's dance for every clip of ``audio``, as pixels.

    Draw k of every clip comes from one seeded stream (:func:`seeded_noise` of shape
    ``(draws, N, T, 10)``), so two generators scored with one seed see the same noise.

    Shape: ``audio`` ``(N, T, 1600)``, ``rhythm`` ``(N, T, 8)`` or None, ``latent`` ``(N, L)``
    for every draw or None (see :func:`generate`) -> ``(N, K, T, 18, 2)`` float64 pixel poses.
    """
    n, frames, _ = audio.shape
    noise = seeded_noise((draws, n, frames, NOISE_DIM), seed)
    poses = np.stack([generate(generator, audio, noise[k], rhythm, latent=latent) for k in range(draws)],
                     axis=1)
    return denormalize(poses.astype(np.float64).reshape(n, draws, frames, NUM_JOINTS, 2))


def require_finite_poses(poses, source):
    """Raise :class:`DanceSynthError` when ``poses`` hold NaN or Inf, naming ``source`` (the
    generator file), so that nothing is written from them."""
    if not np.isfinite(poses).all():
        raise DanceSynthError(f"{source}: the generator produced non-finite poses (NaN or Inf); "
                              f"nothing was written")
    return poses


def dance_song(generator, samples, seed=0, genre=None):
    """Dance decoded music: 16 kHz samples -> pixel poses, one per 0.1 s (last frame zero-padded).

    Shape: ``samples`` ``(N,)`` raw int16-range (``dataset.audio.load_audio``) ->
    ``(ceil(N / 1600), 18, 2)`` float32 pixel coordinates on the 640x360 canvas.
    """
    poses = dance(generator, frame_audio(samples), seed=seed, genre=genre)
    return denormalize(poses.reshape(len(poses), NUM_JOINTS, 2))
