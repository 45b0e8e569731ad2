"""The level of music as the encoder hears it, and songs brought to a generator's training level."""

import numpy as np
import pytest
import torch

from dataset.audio_level import LEVEL_WINDOW, MAX_GAIN, level_gain, peak_level, song_level
from dataset.format import SAMPLES_PER_FRAME
from model.generator import Generator
from model.inference import dance


def test_peak_level_is_the_median_window_peak_and_reads_int16_without_overflow():
    windows = np.zeros((3, 100), dtype=np.int16)
    windows[0, 5], windows[1, 7], windows[2, 9] = -32768, 1000, -3000
    assert peak_level(windows) == 3000.0
    windows[1, 8] = 32767
    assert peak_level(windows) == 32767.0
    assert peak_level(np.zeros((0, 100))) == 0.0


def test_song_level_cuts_five_second_windows_and_counts_the_tail():
    song = np.zeros(2 * LEVEL_WINDOW + 10)
    song[[3, LEVEL_WINDOW + 3, 2 * LEVEL_WINDOW + 3]] = [100.0, -400.0, 9000.0]
    assert song_level(song) == 400.0  # median of 100, 400 and the tail's 9000


def test_level_gain_matches_the_level_within_bounds_and_leaves_silence_alone():
    song = np.sin(np.linspace(0, 300, 3 * LEVEL_WINDOW)) * 20000.0
    assert level_gain(song, 10000.0) == pytest.approx(0.5, rel=1e-6)
    assert level_gain(song * 1e-3, 10000.0) == MAX_GAIN
    assert level_gain(np.zeros(LEVEL_WINDOW), 10000.0) == 1.0


def test_refuses_a_level_that_is_not_positive():
    with pytest.raises(ValueError, match="audio_level"):
        Generator(audio_level=0.0)


@pytest.mark.parametrize("level", [None, 5000.0])
def test_a_song_is_danced_at_the_generators_level(level):
    torch.manual_seed(0)
    generator = Generator(audio_level=level).eval()
    rng = np.random.default_rng(0)
    frames = (rng.standard_normal((60, SAMPLES_PER_FRAME)) * 3000.0).astype(np.float32)
    quiet, loud = dance(generator, frames), dance(generator, 3 * frames)
    if level is None:  # a release checkpoint hears the song as it is: level changes the dance
        assert np.abs(quiet - loud).max() > 1e-3
    else:
        np.testing.assert_allclose(quiet, loud, atol=1e-5)


@pytest.mark.parametrize("level", [-1.0, "loud", None])
def test_a_checkpoint_with_a_bad_level_is_refused_naming_the_file(level, tmp_path):
    from model import checkpoint
    path = tmp_path / "g.pth"
    torch.save({"generator": {}, "generator_args": {"audio_level": level}}, path)
    with pytest.raises(checkpoint.CheckpointError, match="g.pth: unknown generator_args"):
        checkpoint.generator_args(path)
