"""The level of music as the raw-waveform encoder hears it, and matching a song to it.

The paper's music encoder reads raw int16-range samples, so it hears level as well as sound: a
song mastered louder than the music it was trained on drives it outside what it learned.
Measured with the shipped generator (docs/experiments.md section 16): recorded songs peak near
full scale, twice the embedded corpus's typical peak, and their loudest hits threw the dancer's
whole skeleton to the canvas edge for a frame (3 to 18 times a song); the same songs played
at 0.7 times their level threw it never, and moved as much.

The level is the median, over 5 s windows (the generator's window), of each window's peak
absolute sample: a loud transient moves it little, a loud song a lot.
"""

import numpy as np

from dataset.format import SAMPLE_FRAMES, SAMPLES_PER_FRAME

LEVEL_WINDOW = SAMPLE_FRAMES * SAMPLES_PER_FRAME  # 5 s of 16 kHz samples
MAX_GAIN = 8.0  # never scale a song by more than this, either way (near-silence stays quiet)


def peak_level(windows):
    """Median over windows of each window's peak absolute sample.

    Shape: ``(N, S)`` samples, one window per row -> float (0.0 for silence or no windows).
    """
    windows = np.asarray(windows)
    if windows.size == 0:
        return 0.0
    windows = windows.reshape(len(windows), -1)  # any dtype: int16 is not widened as a whole
    peaks = np.maximum(windows.max(axis=1).astype(np.float64), -windows.min(axis=1).astype(np.float64))
    return float(np.median(peaks))


def song_level(samples):
    """:func:`peak_level` of a song cut into consecutive 5 s windows (a shorter tail is one more).

    Shape: ``(N,)`` samples -> float.
    """
    samples = np.asarray(samples).reshape(-1)
    return peak_level(np.pad(samples, (0, -len(samples) % LEVEL_WINDOW)).reshape(-1, LEVEL_WINDOW))


def level_gain(samples, level):
    """The gain that brings ``samples`` to ``level`` (:func:`song_level`), within
    ``[1 / MAX_GAIN, MAX_GAIN]``; 1.0 for silence.

    Shape: ``(N,)`` -> float.
    """
    current = song_level(samples)
    if current <= 0 or level <= 0:
        return 1.0
    return float(np.clip(level / current, 1.0 / MAX_GAIN, MAX_GAIN))
