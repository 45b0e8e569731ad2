"""Music half of the synthetic corpus: genre styles, instruments and a song renderer.

A :class:`Song` is a handful of numbers (genre, tempo, key, beat phase, seed). Every sound is a
pure function of those numbers and of absolute song time, so any window of a song can be
rendered on its own, and the windows of one song share one continuous beat grid.

Time grid: beat ``k >= 0`` sits at ``song.first_beat + k * song.beat_period`` seconds, with
``first_beat <= 0`` so that song time 0 falls somewhere inside bar 0. Four beats to the bar,
sixteen steps (sixteenth notes) to the bar. The ground-truth beats are all quarter notes; every
one of them carries an accent (kick, snare or clap), so the beat is unambiguous by ear.
"""

import functools
from dataclasses import dataclass

import numpy as np

from dataset.format import INT16_MAX, SAMPLE_RATE

BEATS_PER_BAR = 4
STEPS_PER_BAR = 16
STEPS_PER_BEAT = STEPS_PER_BAR // BEATS_PER_BAR
BARS_PER_SECTION = 8  # loudness changes from section to section
_MAX_TAIL_SECONDS = 2.5  # longest sound: a note started this long before a window can still ring
_NYQUIST_GUARD_HZ = 7500.0

# Step patterns: one character per sixteenth note. Ghost notes ('o') are played 3 times in 4.
_VELOCITY = {".": 0.0, "o": 0.35, "x": 0.65, "X": 1.0}
_GHOST_PROBABILITY = 0.75


@dataclass(frozen=True)
class MusicStyle:
    """How one genre sounds.

    Patterns are 16-character strings (see ``_VELOCITY``); scales are semitone offsets of a
    7-note mode; ``progressions`` are per-bar chord roots as scale degrees (one is picked per song).
    """

    name: str
    bpm_range: tuple
    kick: str
    kick_decay: float  # seconds; long for an 808-style kick
    snare: str
    snare_kind: str  # "snare" or "clap"
    hat: str
    hat_decay: float  # seconds; longer means an open hat
    swing: float  # off-beat eighths are delayed by this fraction of a step
    bass: str
    bass_kind: str  # "sine", "808" or "saw"
    chords: str
    chord_notes: int
    lead: str
    lead_degrees: tuple  # scale degrees the lead melody draws from
    instrument: str  # timbre of chords and lead: "epiano", "piano", "saw" or "fm"
    scale: tuple
    progressions: tuple
    hiss: float  # level of the broadband noise floor
    crackle: bool  # vinyl crackle


STYLES = (
    MusicStyle(
        name="lofi", bpm_range=(70.0, 84.0),
        kick="X.......X.o.....", kick_decay=0.22,
        snare="....X.......X...", snare_kind="snare",
        hat="x.o.x.o.x.o.x.o.", hat_decay=0.03, swing=0.35,
        bass="X.......x.......", bass_kind="sine",
        chords="X.......o.......", chord_notes=4,
        lead="..........o...o.", lead_degrees=(0, 2, 4, 5),
        instrument="epiano",
        scale=(0, 2, 4, 5, 7, 9, 11),  # major: maj7 / min7 chords
        progressions=((1, 4, 0, 5), (0, 5, 3, 4), (3, 2, 1, 0)),
        hiss=0.012, crackle=True,
    ),
    MusicStyle(
        name="hiphop", bpm_range=(86.0, 102.0),
        kick="X.....o.X.....o.", kick_decay=0.45,
        snare="....X.......X...", snare_kind="snare",
        hat="x.o.x.o.x.o.x.oo", hat_decay=0.025, swing=0.15,
        bass="X.......X.......", bass_kind="808",
        chords="X.....o.........", chord_notes=3,
        lead="....x.......x..o", lead_degrees=(0, 2, 3, 4, 6),  # minor pentatonic
        instrument="piano",
        scale=(0, 2, 3, 5, 7, 8, 10),  # natural minor
        progressions=((0, 0, 5, 4), (0, 3, 5, 6), (0, 5, 2, 6)),
        hiss=0.006, crackle=False,
    ),
    MusicStyle(
        name="house", bpm_range=(116.0, 130.0),
        kick="X...X...X...X...", kick_decay=0.16,
        snare="....x.......x...", snare_kind="clap",
        hat="..o...o...o...o.", hat_decay=0.12, swing=0.0,
        bass="X.....x.X.....x.", bass_kind="saw",
        chords="X.......x.......", chord_notes=4,
        lead="", lead_degrees=(0,),
        instrument="saw",
        scale=(0, 2, 3, 5, 7, 9, 10),  # dorian
        progressions=((0, 3, 0, 3), (0, 6, 5, 3), (0, 4, 3, 4)),
        hiss=0.004, crackle=False,
    ),
    MusicStyle(
        name="techno", bpm_range=(134.0, 150.0),
        kick="X...X...X...X...", kick_decay=0.14,
        snare="....o.......o...", snare_kind="clap",
        hat="o.o.o.o.o.o.o.o.", hat_decay=0.02, swing=0.0,
        bass="X...X...X...X...", bass_kind="sine",
        chords="", chord_notes=3,
        lead="x.o.x.o.x.o.x.o.", lead_degrees=(0, 1, 2, 4),
        instrument="fm",
        scale=(0, 1, 3, 5, 7, 8, 10),  # phrygian
        progressions=((0, 0, 0, 1), (0, 0, 6, 0), (0, 1, 0, 6)),
        hiss=0.005, crackle=False,
    ),
)
STYLE_NAMES = tuple(style.name for style in STYLES)


@dataclass(frozen=True)
class Song:
    """One synthetic song: everything needed to render any window of it.

    ``first_beat`` (s, <= 0) is the time of beat 0 (the downbeat of bar 0); ``key`` is the MIDI
    note of the tonic in the bass octave; ``gain`` scales the whole song (loudness varies
    between songs); ``seed`` drives every per-bar random choice.
    """

    genre_index: int
    bpm: float
    first_beat: float
    key: int
    progression: int
    gain: float
    seed: int

    @property
    def style(self):
        return STYLES[self.genre_index]

    @property
    def beat_period(self):
        return 60.0 / self.bpm


def sample_song(genre_index, rng):
    """Draw a song of genre ``STYLES[genre_index]``: tempo in the genre's range, random key/phase."""
    style = STYLES[genre_index]
    bpm = round(float(rng.uniform(*style.bpm_range)), 1)
    beat_period = 60.0 / bpm
    return Song(
        genre_index=genre_index,
        bpm=bpm,
        first_beat=-round(float(rng.uniform(0.0, BEATS_PER_BAR * beat_period)), 4),
        key=int(rng.integers(38, 46)),
        progression=int(rng.integers(len(style.progressions))),
        gain=round(float(rng.uniform(0.45, 0.8)), 3),
        seed=int(rng.integers(2**31)),
    )


def song_beats(song, start_second, duration):
    """Times (s, relative to ``start_second``) of all beats in ``[start_second, start_second + duration)``.

    Shape: ``(num_beats,)`` float64, increasing.
    """
    period = song.beat_period
    first = int(np.ceil((start_second - song.first_beat) / period - 1e-9))
    last = int(np.ceil((start_second + duration - song.first_beat) / period - 1e-9))
    beats = song.first_beat + np.arange(max(first, 0), last) * period - start_second
    return beats[(beats >= 0) & (beats < duration)]


def first_downbeat(song, start_second):
    """Index, among :func:`song_beats` of a window starting at ``start_second``, of its first
    downbeat (beat 1 of a bar): 0..3."""
    first = max(int(np.ceil((start_second - song.first_beat) / song.beat_period - 1e-9)), 0)
    return (-first) % BEATS_PER_BAR


def synthesize_song(song, start_second, num_samples):
    """Render ``num_samples`` samples of ``song`` from ``start_second`` on.

    Returns int16 samples, shape ``(num_samples,)``, 16 kHz mono. Bars are rendered from
    per-bar seeds, so overlapping or adjacent windows agree wherever they overlap (apart from
    the noise floor, which is drawn per window).
    """
    start = int(round(start_second * SAMPLE_RATE))
    mix = np.zeros(num_samples)
    bar_seconds = BEATS_PER_BAR * song.beat_period
    first_bar = max(0, int(np.floor((start_second - _MAX_TAIL_SECONDS - song.first_beat) / bar_seconds)))
    last_bar = int(np.floor((start_second + num_samples / SAMPLE_RATE - song.first_beat) / bar_seconds))
    for bar in range(first_bar, last_bar + 1):
        for onset_second, samples in _render_bar(song, bar):
            _add_at(mix, samples, int(round(onset_second * SAMPLE_RATE)) - start)
    mix += _noise_floor(song, start, num_samples)
    audio = np.tanh(mix) * (0.9 * INT16_MAX * song.gain)
    return np.round(audio).astype(np.int16)


def _add_at(mix, samples, offset):
    """Add ``samples`` into ``mix`` starting at sample ``offset`` (may be negative or past the end)."""
    lo, hi = max(offset, 0), min(offset + len(samples), len(mix))
    if lo < hi:
        mix[lo:hi] += samples[lo - offset:hi - offset]


def _section_gain(song, bar):
    """Loudness of the section containing ``bar``: constant within a section, 0.55-1.0."""
    rng = np.random.default_rng([song.seed, 1, bar // BARS_PER_SECTION])
    return float(rng.uniform(0.55, 1.0))


def _lead_motif(song):
    """The song's one-bar lead motif: a scale degree for every step of the lead pattern."""
    style = song.style
    rng = np.random.default_rng([song.seed, 2])
    return rng.choice(style.lead_degrees, size=STEPS_PER_BAR)


def _pitch(song, degree, octave):
    """MIDI pitch of scale ``degree`` (any integer) of the song's key, ``octave`` octaves above the bass."""
    scale = song.style.scale
    return song.key + 12 * (octave + degree // len(scale)) + scale[degree % len(scale)]


def _hz(midi):
    return 440.0 * 2.0 ** ((midi - 69) / 12.0)


def _render_bar(song, bar):
    """All sounds that start in ``bar``: a list of (onset time in song seconds, float samples)."""
    style = song.style
    rng = np.random.default_rng([song.seed, 0, bar])
    step_seconds = song.beat_period / STEPS_PER_BEAT
    bar_start = song.first_beat + bar * BEATS_PER_BAR * song.beat_period
    gain = _section_gain(song, bar)
    progression = style.progressions[song.progression]
    root = progression[bar % len(progression)]
    motif = _lead_motif(song)
    events = []

    def hits(pattern):
        for step, char in enumerate(pattern):
            velocity = _VELOCITY[char]
            if velocity == 0.0 or (char == "o" and rng.random() > _GHOST_PROBABILITY):
                continue
            swing = style.swing * step_seconds if step % STEPS_PER_BEAT == 2 else 0.0
            # timing and velocity humanisation
            onset = bar_start + step * step_seconds + swing + rng.normal(0.0, 0.003)
            yield step, onset, gain * velocity * (1.0 + 0.08 * rng.standard_normal())

    def duration_to_next(pattern, step, longest):
        following = [s for s in range(step + 1, STEPS_PER_BAR) if pattern[s] != "."]
        steps = (following[0] if following else STEPS_PER_BAR) - step
        return min(steps * step_seconds, longest)

    for _, onset, velocity in hits(style.kick):
        events.append((onset, 0.9 * velocity * _kick(rng, style.kick_decay)))
    for _, onset, velocity in hits(style.snare):
        sound = _clap(rng) if style.snare_kind == "clap" else _snare(rng)
        events.append((onset, 0.45 * velocity * sound))
    for _, onset, velocity in hits(style.hat):
        events.append((onset, 0.12 * velocity * _hat(rng, style.hat_decay)))
    for step, onset, velocity in hits(style.bass):
        degree = root + (4 if step % 8 == 6 else 0)  # the fifth as a passing note
        duration = duration_to_next(style.bass, step, 2.0)
        events.append((onset, 0.45 * velocity * _bass(style.bass_kind, _hz(_pitch(song, degree, 0)), duration)))
    for step, onset, velocity in hits(style.chords):
        duration = duration_to_next(style.chords, step, 2.2)
        for i in range(style.chord_notes):
            freq = _hz(_pitch(song, root + 2 * i, 2))
            events.append((onset, 0.1 * velocity * _tone(style.instrument, freq, duration)))
    for step, onset, velocity in hits(style.lead):
        degree = motif[step] + (int(rng.integers(-1, 2)) if rng.random() < 0.2 else 0)
        duration = duration_to_next(style.lead, step, 0.6)
        freq = _hz(_pitch(song, degree, 3))
        events.append((onset, 0.16 * velocity * _tone(style.instrument, freq, duration)))
    return events


def _time(seconds):
    return np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE


def _fade(samples, seconds=0.01):
    """Short linear fade-out so that cut-off notes do not click."""
    n = min(len(samples), int(seconds * SAMPLE_RATE))
    samples[len(samples) - n:] *= np.linspace(1.0, 0.0, n)
    return samples


def _highpassed_noise(rng, n):
    """White noise with its low end removed (first difference), unit-ish level."""
    noise = rng.standard_normal(n + 1)
    return 0.5 * np.diff(noise)


def _kick(rng, decay):
    """Sine with a fast downward pitch sweep plus a click."""
    t = _time(max(0.3, 2.5 * decay))
    freq = 48.0 + 120.0 * np.exp(-t / 0.03)
    body = np.sin(2 * np.pi * np.cumsum(freq) / SAMPLE_RATE) * np.exp(-t / decay)
    click = 0.4 * rng.standard_normal(len(t)) * np.exp(-t / 0.004)
    return _fade(body + click)


def _snare(rng):
    """Tonal body near 190 Hz plus a bright noise burst."""
    t = _time(0.3)
    body = 0.6 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.04)
    rattle = _highpassed_noise(rng, len(t)) * np.exp(-t / 0.08)
    return _fade(body + rattle)


def _clap(rng):
    """Three quick noise bursts and a short reverb-like tail."""
    t = _time(0.35)
    envelope = np.exp(-t / 0.1)
    for burst in (0.0, 0.011, 0.022):
        envelope += np.where(t >= burst, np.exp(-(t - burst) / 0.004), 0.0)
    return _fade(_highpassed_noise(rng, len(t)) * envelope * 0.6)


def _hat(rng, decay):
    """Bright noise, very short (closed) or longer (open)."""
    t = _time(max(0.08, 4 * decay))
    noise = np.diff(_highpassed_noise(rng, len(t) + 1))
    return _fade(noise * np.exp(-t / decay))


@functools.lru_cache(maxsize=64)
def _bass(kind, freq, duration):
    """Bass note: pure sine, 808-style sine with a pitch drop, or a darkish sawtooth.

    Cached, so the returned array is read-only.
    """
    t = _time(max(duration, 0.05))
    if kind == "808":
        phase = 2 * np.pi * np.cumsum(freq * (1.0 + 0.25 * np.exp(-t / 0.05))) / SAMPLE_RATE
        samples = np.sin(phase) * np.exp(-t / 0.6)
    elif kind == "saw":
        samples = sum(np.sin(2 * np.pi * h * freq * t) * np.exp(-t * h / 0.6) / h for h in range(1, 7))
        samples *= np.exp(-t / 0.3)
    else:
        samples = np.sin(2 * np.pi * freq * t) * np.exp(-t / 0.5)
    samples *= np.minimum(1.0, t / 0.004)
    samples = _fade(samples).astype(np.float32)
    samples.flags.writeable = False
    return samples


# Harmonic recipes for the tonal instruments: (amplitude, decay in s) per harmonic 1, 2, ...
_RECIPES = {
    "epiano": ((1.0, 1.5), (0.3, 0.6), (0.08, 0.3), (0.0, 1.0), (0.0, 1.0), (0.0, 1.0), (0.12, 0.05)),
    "piano": tuple((1.0 / h**1.1, 1.0 / h**0.6) for h in range(1, 9)),
    "saw": tuple((1.0 / h, 0.35 / (1.0 + 0.15 * h)) for h in range(1, 13)),
}


@functools.lru_cache(maxsize=256)
def _tone(instrument, freq, duration):
    """One note of a tonal instrument (see ``_RECIPES``; "fm" is a two-operator FM pluck).

    Cached (songs repeat their notes), so the returned array is read-only.
    """
    t = _time(max(duration, 0.05))
    if instrument == "fm":
        index = 3.0 * np.exp(-t / 0.06)
        samples = np.sin(2 * np.pi * freq * t + index * np.sin(2 * np.pi * 2.0 * freq * t)) * np.exp(-t / 0.18)
    else:
        samples = np.zeros_like(t)
        for harmonic, (amplitude, decay) in enumerate(_RECIPES[instrument], start=1):
            if amplitude > 0.0 and harmonic * freq < _NYQUIST_GUARD_HZ:
                samples += amplitude * np.sin(2 * np.pi * harmonic * freq * t) * np.exp(-t / decay)
        if instrument == "epiano":
            samples *= 1.0 + 0.15 * np.sin(2 * np.pi * 4.5 * t)  # tremolo
    samples *= np.minimum(1.0, t / 0.003)
    samples = _fade(samples).astype(np.float32)
    samples.flags.writeable = False
    return samples


def _noise_floor(song, start, num_samples):
    """Hiss (and vinyl crackle for styles that have it) for one window; drawn per window."""
    style = song.style
    rng = np.random.default_rng([song.seed, 3, start])
    noise = style.hiss * rng.standard_normal(num_samples)
    if style.crackle:
        pops = rng.random(num_samples) < 8.0 / SAMPLE_RATE
        noise += 0.08 * pops * rng.standard_normal(num_samples)
    return noise


def main(argv=None):
    """``python -m dataset.synthetic_music --out song.wav``: one synthetic song as a WAV file."""
    from config import synthetic_song_parser
    from dataset.audio import write_wav

    args = synthetic_song_parser(STYLE_NAMES).parse_args(argv)
    song = sample_song(STYLE_NAMES.index(args.genre), np.random.default_rng(args.seed))
    write_wav(args.out, synthesize_song(song, 0.0, int(round(args.seconds * SAMPLE_RATE))))
    print("%s: %s at %.1f BPM, %.1f s" % (args.out, args.genre, song.bpm, args.seconds))


if __name__ == "__main__":
    main()
