"""Half time: a song faster than the training music is danced to every other beat."""

from types import SimpleNamespace

import numpy as np
import pytest

import model.inference as inference
from dataset.format import FPS, SAMPLE_RATE
from dataset.rhythm import (FEATURES, HOP, THREE_HALVES_SHARE, half_time_beats, rhythm_features, song_beats,
                            three_halves_share)

BEAT_SIN, BEAT_COS, BAR_COS = FEATURES.index("beat_sin"), FEATURES.index("beat_cos"), FEATURES.index("bar_cos")


def click_track(bpm, seconds=6.0, sr=SAMPLE_RATE):
    """A click on every beat from time 0, louder and lower on beats 1 and 3 of each bar.
    Returns ``(samples (N,) int16-range, beat times (B,))``."""
    beats = np.arange(0.0, seconds, 60.0 / bpm)
    t = np.arange(int(seconds * sr)) / sr
    audio = np.zeros_like(t)
    for k, beat in enumerate(beats):
        local = t[(t >= beat) & (t < beat + 0.05)] - beat
        pitch, level = (400.0, 1.0) if k % 2 == 0 else (1600.0, 0.5)
        audio[(t >= beat) & (t < beat + 0.05)] += level * np.sin(2 * np.pi * pitch * local) * np.exp(-local / 0.01)
    return audio * 20000, beats


def pulse_envelope(period, accents, seconds=30.0):
    """An onset envelope at :data:`HOP` (100 per second) of a pulse every ``period`` s whose
    strengths cycle through ``accents``, each a Gaussian of one hop. ``(H,)`` peak 1."""
    hops = np.arange(int(seconds * SAMPLE_RATE / HOP) + 1)
    times = np.arange(0.0, seconds, period)
    levels = np.resize(accents, len(times))
    envelope = (levels[:, None] * np.exp(-0.5 * (hops[None] - times[:, None] * SAMPLE_RATE / HOP) ** 2)).sum(0)
    return envelope / envelope.max()


def bpm_of(beats):
    return 60.0 / np.median(np.diff(beats))


def phase_period(features):
    """Frames per cycle of the beat phase: 2 pi over the mean frame-to-frame phase step. ``(T, 8)`` -> float."""
    angle = np.arctan2(features[:, BEAT_SIN], features[:, BEAT_COS])
    return 2 * np.pi / np.mod(np.diff(angle), 2 * np.pi).mean()


def test_a_fast_grid_keeps_every_other_beat_from_the_downbeat():
    beats = np.arange(24) * 60.0 / 180
    kept, downbeat = half_time_beats(beats, 160.0)
    np.testing.assert_array_equal(kept, beats[::2])
    assert 60.0 / np.median(np.diff(kept)) == pytest.approx(90.0) and downbeat == 0
    kept, downbeat = half_time_beats(beats, 160.0, downbeat=3)  # the bar starts on beat 3: keep 1, 3, 5, ...
    np.testing.assert_array_equal(kept, beats[1::2])
    assert kept[downbeat] == beats[3]


def test_folding_repeats_until_the_tempo_is_in_range():
    beats = np.arange(40) * 60.0 / 360
    kept, downbeat = half_time_beats(beats, 160.0, downbeat=6)
    np.testing.assert_array_equal(kept, beats[2::4])
    assert 60.0 / np.median(np.diff(kept)) == pytest.approx(90.0) and kept[downbeat] == beats[6]


def test_a_grid_within_range_or_too_short_to_fold_is_kept():
    beats = np.arange(16) * 0.5  # 120 BPM
    kept, downbeat = half_time_beats(beats, 160.0, downbeat=2)
    np.testing.assert_array_equal(kept, beats)
    assert downbeat == 2
    kept, _ = half_time_beats(np.array([0.0, 0.3]), 160.0, downbeat=1)  # one beat would be left
    np.testing.assert_array_equal(kept, [0.0, 0.3])


def test_a_grid_at_max_bpm_is_kept_despite_rounding():
    beats = np.arange(8) * 40 * HOP / SAMPLE_RATE  # 150 BPM in whole hops, as librosa gives them
    assert bpm_of(beats) > 150.0  # by a rounding error
    kept, _ = half_time_beats(beats, 150.0)
    np.testing.assert_array_equal(kept, beats)


def test_three_halves_share_hears_a_fast_song_at_two_thirds_of_its_tempo():
    fast = pulse_envelope(60 / 180 / 2, [1.0, 0.7])  # eighth notes at 180 BPM, the off-beats a little softer
    assert three_halves_share(fast, 120.0) == 1.0  # beat lag 0.5 s is 3 eighths; 2/3 of it, 0.33 s, a beat
    assert three_halves_share(fast, 180.0) == 0.0  # 2/3 of a beat is 1.33 eighths: nothing there
    shuffle = pulse_envelope(60 / 120 / 3, [1.0, 0.5, 0.5])  # triplet eighths at 120 BPM
    assert three_halves_share(shuffle, 120.0) < THREE_HALVES_SHARE
    assert three_halves_share(np.zeros(1000), 120.0) == 0.0


def test_a_fast_song_tracked_at_two_thirds_is_tracked_again_at_its_tempo():
    """Through librosa's tracker, on an envelope: its tempo prior at 120 BPM takes 180 BPM eighth
    notes at 120; with max_bpm 150 the beats are at 180, and fold to 90."""
    envelope = pulse_envelope(60 / 180 / 2, [1.0, 0.7])
    plain = song_beats(envelope)
    assert bpm_of(plain) == pytest.approx(120.0, rel=0.03)
    fast = song_beats(envelope, max_bpm=150.0)
    assert bpm_of(fast) == pytest.approx(180.0, rel=0.03)
    assert bpm_of(half_time_beats(fast, 150.0)[0]) == pytest.approx(90.0, rel=0.03)
    # 3/2 of 120 within max_bpm, or 120 itself above it (the plain fold's case): the tracker's beats
    for max_bpm in (200.0, 110.0):
        np.testing.assert_array_equal(song_beats(envelope, max_bpm=max_bpm), plain)


def test_half_time_features_double_the_beat_phase_period():
    samples, beats = click_track(180)
    full = rhythm_features(samples, beats=beats, downbeat=0)
    half = rhythm_features(samples, beats=beats, downbeat=0, max_bpm=160.0)
    assert phase_period(full) == pytest.approx(FPS * 60 / 180, rel=1e-3)
    assert phase_period(half) == pytest.approx(FPS * 60 / 90, rel=1e-3)
    np.testing.assert_array_equal(half[:, 0], full[:, 0])  # onset is the music's own
    # frame 20 (2 s) is beat 6 (kept); frame 10 (1 s) is beat 3 (a backbeat, dropped); frame 40 (4 s),
    # beat 12, is half-time beat 6: half-way through a half-time bar of eight beats
    assert half[20, BEAT_COS] == pytest.approx(1, abs=1e-5) and half[40, BAR_COS] == pytest.approx(-1, abs=1e-5)
    assert half[10, BEAT_COS] == pytest.approx(-1, abs=1e-5) and half[10, -1] < 0.01
    shifted = rhythm_features(samples, beats=beats, downbeat=1, max_bpm=160.0)  # now beat 3 is kept
    assert shifted[10, BEAT_COS] == pytest.approx(1, abs=1e-5) and shifted[10, -1] == pytest.approx(1)


def test_max_bpm_changes_nothing_within_range_and_none_folds_nothing():
    samples, beats = click_track(120)
    plain = rhythm_features(samples, beats=beats, downbeat=0)
    np.testing.assert_array_equal(rhythm_features(samples, beats=beats, downbeat=0, max_bpm=160.0), plain)
    samples, beats = click_track(180)
    np.testing.assert_array_equal(rhythm_features(samples, beats=beats, downbeat=0, max_bpm=None),
                                  rhythm_features(samples, beats=beats, downbeat=0, max_bpm=1000.0))


def test_song_rhythm_falls_back_to_the_default_maximum(monkeypatch):
    heard = []
    monkeypatch.setattr(inference, "rhythm_features", lambda *args, **kwargs: heard.append(kwargs["max_bpm"]))
    inference.song_rhythm(SimpleNamespace(rhythm_dim=8), np.zeros(SAMPLE_RATE), 10)
    inference.song_rhythm(SimpleNamespace(rhythm_dim=8, max_bpm=150.0), np.zeros(SAMPLE_RATE), 10)
    assert heard == [inference.DEFAULT_MAX_BPM, 150.0]


def test_a_tracked_fast_song_is_danced_at_half_time():
    """Through librosa's tracker: at 180 BPM, or its octave below, the dance's beat is 90 BPM."""
    samples, _ = click_track(180, seconds=8.0)
    features = inference.song_rhythm(SimpleNamespace(rhythm_dim=8), samples, 80)
    assert features.shape == (80, len(FEATURES))
    assert phase_period(features) == pytest.approx(FPS * 60 / 90, rel=0.03)
