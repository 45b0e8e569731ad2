"""render/beat_plot.py: the music's beats and the dance's kinematic beats on one time axis."""

import numpy as np
import pytest

from dataset.format import FPS, SAMPLE_RATE
from render.beat_plot import beat_plot_series, write_beat_plot

BEAT_S = 0.5  # 120 BPM


def clicks(seconds=10.0):
    """A decaying 80 Hz kick on every beat: ``(seconds * 16000,)`` float32."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (np.sin(2 * np.pi * 80 * t) * np.exp(-(t % BEAT_S) * 30)).astype(np.float32)


def swaying(seconds=10.0, stop_every_s=BEAT_S):
    """Every joint swings sideways and stops (speed 0) every ``stop_every_s``: ``(T, 18, 2)`` px."""
    t = np.arange(int(seconds * FPS)) / FPS
    x = 300 + 40 * np.cos(np.pi * t / stop_every_s)
    return np.stack([np.repeat(x[:, None], 18, 1), np.full((len(t), 18), 180.0)], axis=-1)


def test_the_series_put_the_music_and_the_dance_on_one_clock():
    series = beat_plot_series(clicks(), swaying(), beats=np.arange(0.0, 10.0, BEAT_S))
    assert series["onset"].max() == pytest.approx(1.0)
    assert series["onset_time"][100] == pytest.approx(1.0)  # 100 onset values per second
    assert series["speed_time"][10] == pytest.approx(1.0) and series["speed"].shape == (100,)
    kinematic = series["kinematic_beats"]
    assert len(kinematic) >= 15
    nearest = np.min(np.abs(kinematic[:, None] - series["music_beats"][None]), axis=1)
    assert nearest.max() <= 0.05 + 1e-9  # the sway stops on the beats, to within a frame


def test_tracked_beats_are_librosas_when_none_are_given():
    series = beat_plot_series(clicks(), swaying())
    gaps = np.diff(series["music_beats"])
    assert len(gaps) >= 10 and np.median(gaps) == pytest.approx(BEAT_S, abs=0.03)


def test_the_plot_is_a_png_as_wide_as_the_song_is_long(tmp_path):
    import cv2

    short, long = tmp_path / "short.png", tmp_path / "long.png"
    write_beat_plot(short, clicks(10.0), swaying(10.0), title="ten seconds")
    write_beat_plot(long, clicks(60.0), swaying(60.0), title="a minute")
    short_image, long_image = cv2.imread(str(short)), cv2.imread(str(long))
    assert short_image.shape[0] == long_image.shape[0] == 420
    assert short_image.shape[1] == 800 and long_image.shape[1] == 1500
    assert not list(tmp_path.glob(".*"))  # written atomically: no temporary file left
