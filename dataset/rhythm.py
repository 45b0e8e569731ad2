"""Rhythm features of a piece of music, one row per pose frame (10 fps), from the waveform.

What the field's strong models give their networks explicitly (FACT/AIST++, Bailando and EDGE's
baseline feed librosa's onset envelope and beats): where the beat is, and where in the bar.

Per frame ``t`` (starting at ``t / 10`` s), :data:`FEATURES`:

    onset                 onset strength (spectral flux), the frame's peak, scaled to the song's max
    beat_sin, beat_cos    phase within the beat: 0 on a beat, 1/2 half-way to the next
    pair_sin, pair_cos    position in a 2-beat cycle: 0 on beats 1 and 3 of the bar
    bar_sin, bar_cos      position in a 4-beat bar: 0 on its downbeat
    beat_pulse            exp(-d^2 / 2 sigma^2), d the distance (s) to the nearest beat

Beats are librosa's tracker on the whole signal (or given, e.g. the corpus's true ones); before
the first and after the last beat the grid continues at the median beat period. The bar is
estimated from the music: in pop, dance and hip-hop the snare or clap falls on beats 2 and 4
(more high-band than low-band onset there than on 1 and 3), and chords change on the
downbeat (beat-synchronous chroma moves most there). Compute the features on a whole song,
then cut windows, so that every window shares one beat grid.

A song faster than a generator's training music can be danced at half time (``max_bpm``,
:func:`half_time_beats`): the beat features then describe the grid of every other beat, as
human dancers take a fast song. librosa's tracker, whose tempo prior is centred at 120 BPM,
often hears a fast song (170-190 BPM) at 2/3 of its tempo, a beat every three eighth notes;
with ``max_bpm`` such a song is tracked again at its own tempo (:func:`song_beats`) before the fold.
"""

import librosa
import numpy as np

from dataset.format import FPS, SAMPLE_RATE, SAMPLES_PER_FRAME
from dataset.librosa_warm_up import warm_up

FEATURES = ("onset", "beat_sin", "beat_cos", "pair_sin", "pair_cos", "bar_sin", "bar_cos", "beat_pulse")
HOP = 160  # 10 ms at 16 kHz: ten onset values per pose frame
BEATS_PER_BAR = 4
PULSE_SIGMA_S = 0.05
_LOW_HZ, _HIGH_HZ = 200.0, 2000.0
PULSE_WINDOW = 384  # envelope hops (3.84 s, librosa's tempogram window) per vote of three_halves_share
PULSE_HOP = 96
# Songs heard at 2/3 of their tempo gave 0.89-0.99 of the votes, songs heard at their tempo 0.55 at
# most (43 songs from Debian packages, 8 of them with charted tempos).
THREE_HALVES_SHARE = 0.7


def _log_mel(samples, sr):
    """Log-mel power spectrogram of ``samples`` scaled to peak 1: ``(64, H)``, one column per hop."""
    warm_up()
    audio = np.asarray(samples, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    audio = audio / peak if peak > 0 else audio
    mel = librosa.feature.melspectrogram(y=audio, sr=sr, n_fft=1024, hop_length=HOP, n_mels=64,
                                         fmax=sr / 2)
    return librosa.power_to_db(mel, ref=np.max), librosa.mel_frequencies(n_mels=64, fmax=sr / 2)


def _flux(log_mel):
    """Positive spectral change per hop, averaged over the bands given: ``(B, H)`` -> ``(H,)``."""
    change = np.maximum(0.0, np.diff(log_mel, axis=1, prepend=log_mel[:, :1]))
    return change.mean(axis=0)


def onset_envelope(samples, sr=SAMPLE_RATE):
    """librosa's onset strength of ``samples`` at :data:`HOP` (100 per second), scaled to peak 1.

    Shape: ``(N,)`` any scale -> ``(ceil(N / HOP) + 1,)`` float64 in [0, 1] (zeros for silence).
    """
    warm_up()
    audio = np.asarray(samples, dtype=np.float32)
    peak = float(np.max(np.abs(audio))) if audio.size else 0.0
    envelope = librosa.onset.onset_strength(y=audio / peak if peak > 0 else audio, sr=sr, hop_length=HOP)
    top = envelope.max() if envelope.size else 0.0
    return (envelope / top if top > 0 else envelope).astype(np.float64)


def track_beats(samples, sr=SAMPLE_RATE):
    """Beat times (s) of ``samples`` from librosa's tracker on :func:`onset_envelope`. ``(B,)``."""
    return song_beats(onset_envelope(samples, sr), sr)


def three_halves_share(envelope, bpm, sr=SAMPLE_RATE):
    """How much of a song pulses at 3/2 ``bpm`` rather than at ``bpm``: the share of its 3.84 s
    windows (Hann-weighted, as librosa's tempogram) whose onset autocorrelation is stronger at
    a lag of 2/3 of a beat than at one beat. Near 1 when ``bpm`` is 2/3 of the song's tempo (the
    beat falls on every third eighth note, half of them off-beats); low when ``bpm`` is the tempo,
    triplet feels included. Silent windows do not vote; 0 when none is heard.

    Shape: ``envelope`` ``(H,)`` at :data:`HOP` -> float in [0, 1].
    """
    envelope = np.asarray(envelope, dtype=np.float64)
    envelope = np.pad(envelope, (0, max(0, PULSE_WINDOW - len(envelope))))
    windows = librosa.util.frame(envelope, frame_length=PULSE_WINDOW, hop_length=PULSE_HOP)
    windows = windows * np.hanning(PULSE_WINDOW)[:, None]

    def strength(lag):
        whole = min(int(lag), PULSE_WINDOW - 2)
        products = [np.einsum("ij,ij->j", windows[:-k], windows[k:]) for k in (whole, whole + 1)]
        return products[0] + (lag - whole) * (products[1] - products[0])

    beat = 60.0 * sr / HOP / bpm
    fast, slow = strength(beat * 2 / 3), strength(beat)
    heard = (fast > 0) | (slow > 0)
    return float(np.mean(fast[heard] > slow[heard])) if heard.any() else 0.0


def song_beats(envelope, sr=SAMPLE_RATE, max_bpm=None):
    """Beat times (s) from librosa's tracker on an onset ``envelope`` (:func:`onset_envelope`).

    With ``max_bpm``: a song tracked at a tempo ``T`` within ``max_bpm`` whose pulse is at
    ``3 T / 2`` (:func:`three_halves_share` above :data:`THREE_HALVES_SHARE`), and that is
    faster than ``max_bpm``, is tracked again at ``3 T / 2``: the tracker's prior at 120 BPM
    takes a 180 BPM song at 120, which would be neither the song's tempo nor half of it.
    :func:`half_time_beats` then folds those beats. None: librosa's beats as they are.

    Shape: ``envelope`` ``(H,)`` at :data:`HOP` -> ``(B,)`` ascending.
    """
    warm_up()
    _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=HOP, units="time")
    beats = np.asarray(beats, dtype=np.float64)
    if max_bpm is None or len(beats) < 2:
        return beats
    bpm = 60.0 / float(np.median(np.diff(beats)))
    if bpm <= max_bpm < 1.5 * bpm and three_halves_share(envelope, bpm, sr) > THREE_HALVES_SHARE:
        _, beats = librosa.beat.beat_track(onset_envelope=envelope, sr=sr, hop_length=HOP, units="time",
                                           bpm=1.5 * bpm)
        beats = np.asarray(beats, dtype=np.float64)
    return beats


def beat_count(times, beats):
    """Continuous beat count at ``times``: ``k + u`` between beat ``k`` and ``k + 1`` (``u`` the
    fraction of the way), beat 0 being ``beats[0]``; outside the beats the grid continues at the
    median beat period. NaN everywhere when there are fewer than two beats.

    Shape: ``times`` ``(T,)``, ``beats`` ``(B,)`` ascending -> ``(T,)`` float64.
    """
    times, beats = np.asarray(times, dtype=np.float64), np.asarray(beats, dtype=np.float64)
    if len(beats) < 2:
        return np.full(times.shape, np.nan)
    period = float(np.median(np.diff(beats)))
    index = np.arange(len(beats), dtype=np.float64)
    count = np.interp(times, beats, index)
    count = np.where(times < beats[0], (times - beats[0]) / period, count)
    return np.where(times > beats[-1], index[-1] + (times - beats[-1]) / period, count)


def bar_offset(samples, beats, sr=SAMPLE_RATE):
    """Which tracked beat starts a bar: ``o`` in 0..3 such that beats ``o, o + 4, ...`` are downbeats.

    First the parity (beats 1 and 3 against 2 and 4): the backbeats carry the snare or clap, so
    their high-band onset strength exceeds their low-band one more than on the other beats.
    Then, of the two beats of that parity in each bar, the one where the beat-synchronous chroma
    changes most (chords change on the downbeat). Returns 0 with fewer than four beats.
    """
    beats = np.asarray(beats, dtype=np.float64)
    if len(beats) < BEATS_PER_BAR:
        return 0
    log_mel, freqs = _log_mel(samples, sr)
    low, high = _flux(log_mel[freqs < _LOW_HZ]), _flux(log_mel[freqs > _HIGH_HZ])
    hops = np.clip(np.rint(beats * sr / HOP).astype(int), 0, len(low) - 1)
    around = [slice(max(h - 3, 0), h + 4) for h in hops]  # +-30 ms: the tracker's own jitter
    backbeat = np.array([high[s].max() / (high.mean() + 1e-9) - low[s].max() / (low.mean() + 1e-9)
                         for s in around])
    index = np.arange(len(beats))
    parity = int(np.argmax([backbeat[index % 2 == (p + 1) % 2].mean() - backbeat[index % 2 == p].mean()
                            for p in (0, 1)]))
    chroma = librosa.feature.chroma_stft(y=np.asarray(samples, dtype=np.float32), sr=sr, hop_length=HOP,
                                         tuning=0.0)
    ends = np.r_[hops[1:], chroma.shape[1]]
    synced = np.stack([chroma[:, h:max(e, h + 1)].mean(axis=1) for h, e in zip(hops, ends)], axis=1)
    change = np.r_[0.0, np.linalg.norm(np.diff(synced, axis=1), axis=0)]  # from beat i - 1 to i
    candidates = (parity, parity + 2)
    scores = [change[(index % BEATS_PER_BAR == o) & (index > 0)].mean() for o in candidates]
    return int(candidates[int(np.argmax(scores))])


def half_time_beats(beats, max_bpm, downbeat=0):
    """The beats a dance follows at no more than ``max_bpm``: while the median beat period
    implies a faster tempo, keep every other beat, those of the downbeat's parity (beats 1 and 3
    of each bar, so the half-time beat still lands on the bar's downbeat, which carries the kick
    and the chord change, while the backbeats 2 and 4 fall half-way between half-time beats).
    A fold that would leave fewer than two beats is not made.

    Args:
        beats: ``(B,)`` ascending beat times (s).
        max_bpm: the fastest tempo danced at full time.
        downbeat: index into ``beats`` of a downbeat (e.g. :func:`bar_offset`).

    Returns:
        ``(beats (B',), downbeat)``: the kept beats, ``B' = B`` or about ``B / 2^k``, and the index
        of a downbeat among them (the same beat as before a fold, ``downbeat // 2``).
    """
    beats = np.asarray(beats, dtype=np.float64)
    # beat times are whole hops: a 150 BPM grid's period may come out a rounding error short of 0.4 s
    while len(beats) >= 2 and 60.0 / np.median(np.diff(beats)) > max_bpm * (1 + 1e-9):
        kept = beats[downbeat % 2::2]
        if len(kept) < 2:
            break
        beats, downbeat = kept, downbeat // 2
    return beats, downbeat


def rhythm_features(samples, num_frames=None, beats=None, downbeat=None, sr=SAMPLE_RATE, fps=FPS,
                    max_bpm=None):
    """The :data:`FEATURES` of ``samples``, one row per pose frame.

    Args:
        samples: ``(N,)`` mono audio, any scale (int16-range as the dataset stores it).
        num_frames: rows to return (default ``ceil(N / (sr / fps))``).
        beats: beat times (s) to use instead of tracking them (e.g. the true beats;
            :func:`song_beats` otherwise).
        downbeat: index into ``beats`` of a downbeat (default: estimated, :func:`bar_offset`).
        max_bpm: dance a faster song at half time (:func:`half_time_beats`): every beat feature
            but onset then follows the kept beats, as if the song had that tempo (its 4-beat
            "bar" spans two of the song's bars); tracked beats are first corrected from 2/3 of a
            fast song's tempo to its tempo. None: every beat, whatever the tempo.

    Returns:
        ``(num_frames, 8)`` float32. Without two beats every beat feature is 0.
    """
    samples = np.asarray(samples, dtype=np.float64)
    hop_s = sr // fps
    num_frames = int(np.ceil(len(samples) / hop_s)) if num_frames is None else num_frames
    hops_per_frame = hop_s // HOP
    envelope = onset_envelope(samples, sr)
    padded = np.zeros(num_frames * hops_per_frame)
    padded[:min(len(envelope), len(padded))] = envelope[:len(padded)]
    onset = padded.reshape(num_frames, hops_per_frame).max(axis=1)
    beats = song_beats(envelope, sr, max_bpm) if beats is None else np.asarray(beats, dtype=np.float64)
    out = np.zeros((num_frames, len(FEATURES)))
    out[:, 0] = onset
    if len(beats) < 2:
        return out.astype(np.float32)
    downbeat = bar_offset(samples, beats, sr) if downbeat is None else downbeat
    if max_bpm is not None:
        beats, downbeat = half_time_beats(beats, max_bpm, downbeat)
    count = beat_count(np.arange(num_frames) / fps, beats)
    for column, cycle, origin in ((1, 1, 0), (3, 2, downbeat % 2), (5, BEATS_PER_BAR, downbeat)):
        angle = 2 * np.pi * np.mod(count - origin, cycle) / cycle
        out[:, column], out[:, column + 1] = np.sin(angle), np.cos(angle)
    nearest = np.abs(np.arange(num_frames)[:, None] / fps - beats[None, :]).min(axis=1)
    out[:, 7] = np.exp(-nearest ** 2 / (2 * PULSE_SIGMA_S ** 2))
    return out.astype(np.float32)
