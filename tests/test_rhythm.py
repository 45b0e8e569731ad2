"""dataset/rhythm.py: beat grid, phase and bar features on signals whose answers are known."""

import numpy as np
import pytest

from dataset.format import SAMPLE_RATE
from dataset.rhythm import FEATURES, bar_offset, beat_count, rhythm_features, track_beats

PERIOD = 0.5  # 120 BPM


def drum_bars(bars=5, period=PERIOD, sr=SAMPLE_RATE):
    """Kick on beats 1 and 3, a noise clap on 2 and 4, and a chord tone that changes on every
    downbeat (beat 0 is a downbeat). Returns ``(samples, beat times)``."""
    rng = np.random.default_rng(0)
    beats = np.arange(4 * bars) * period
    t = np.arange(int((beats[-1] + period) * sr)) / sr
    audio = np.zeros_like(t)
    for k, beat in enumerate(beats):
        local = t - beat
        live = (local >= 0) & (local < period)
        if k % 2 == 0:
            audio[live] += np.sin(2 * np.pi * 55 * local[live]) * np.exp(-local[live] / 0.08)
        else:
            audio[live] += 0.6 * rng.standard_normal(live.sum()) * np.exp(-local[live] / 0.03)
    bar_pitch = 220 * 2 ** (np.array([0, 5, 3, 7, 2]) / 12)
    for bar, pitch in enumerate(bar_pitch[:bars]):
        live = (t >= 4 * bar * period) & (t < 4 * (bar + 1) * period)
        audio[live] += 0.3 * np.sin(2 * np.pi * pitch * t[live])
    return (audio * 12000).astype(np.float64), beats


def test_beat_count_interpolates_and_continues_the_grid():
    beats = np.array([1.0, 1.5, 2.0, 2.5])
    count = beat_count(np.array([0.5, 1.0, 1.25, 2.5, 3.25]), beats)
    assert count == pytest.approx([-1.0, 0.0, 0.5, 3.0, 4.5])
    assert np.isnan(beat_count(np.array([0.0, 1.0]), np.array([1.0]))).all()


def test_features_on_a_known_beat_grid():
    samples, beats = drum_bars()
    features = rhythm_features(samples, beats=beats, downbeat=0)
    assert features.shape == (100, len(FEATURES)) and features.dtype == np.float32
    column = {name: features[:, i] for i, name in enumerate(FEATURES)}
    # frame t is at t / 10 s: on a beat every 5 frames, half-way between at 2.5
    on_beats, between = np.arange(0, 100, 5), np.arange(0, 100, 10) + 2  # 0.2 s: 0.4 of a beat
    assert column["beat_sin"][on_beats] == pytest.approx(0, abs=1e-5)
    assert column["beat_cos"][on_beats] == pytest.approx(1, abs=1e-5)
    assert column["beat_cos"][between] == pytest.approx(np.cos(2 * np.pi * 0.4), abs=1e-5)
    downbeats, third_beats = np.arange(0, 100, 20), np.arange(10, 100, 20)
    assert column["bar_cos"][downbeats] == pytest.approx(1, abs=1e-5)
    assert column["bar_cos"][third_beats] == pytest.approx(-1, abs=1e-5)
    assert column["pair_cos"][third_beats] == pytest.approx(1, abs=1e-5)  # 2-beat cycle restarts
    assert column["beat_pulse"][on_beats] == pytest.approx(1, abs=1e-6)
    assert column["beat_pulse"][between].max() < 0.01
    assert 0 <= column["onset"].min() and column["onset"].max() == pytest.approx(1)
    assert column["onset"][on_beats].mean() > 3 * column["onset"][between].mean()


def test_no_beats_leaves_the_beat_features_at_zero():
    features = rhythm_features(np.zeros(SAMPLE_RATE * 2), beats=np.array([0.5]))
    assert features.shape == (20, len(FEATURES)) and not features[:, 1:].any()


def test_bar_offset_hears_the_backbeat_and_the_chord_changes():
    samples, beats = drum_bars()
    assert bar_offset(samples, beats) == 0
    assert bar_offset(samples, beats[1:]) == 3  # the tracked grid starts on beat 2
    assert bar_offset(samples, beats[2:]) == 2


def test_tracked_beats_land_on_the_grid():
    """Every tracked beat is on a true beat; the tempo is the true one or half of it (a beat
    tracker's octave ambiguity: librosa picks 60 BPM on this sparse 120 BPM pattern)."""
    samples, beats = drum_bars(bars=6)
    found = track_beats(samples)
    assert len(found) >= 8
    assert np.abs(found[:, None] - beats[None, :]).min(axis=1).max() < 0.03
    assert np.median(np.diff(found)) == pytest.approx(PERIOD, rel=0.02) or \
        np.median(np.diff(found)) == pytest.approx(2 * PERIOD, rel=0.02)
