"""--rhythm_tempo: the tempo read off the beat phase, heard by the generator, and recorded."""

import math

import numpy as np
import pytest
import torch

import train
from conftest import batch, write_gcn
from dataset.format import FPS, SAMPLE_RATE
from dataset.rhythm import FEATURES, rhythm_features
from model import checkpoint
from model.checkpoint import CheckpointError
from model.generator import Generator
from model.tempo import phase_tempo

R = len(FEATURES)


def phase_features(bpm, frames=50, start=0.3):
    """Rhythm features whose beat phase turns at ``bpm`` (the other columns 0): ``(1, T, 8)``."""
    angle = 2 * np.pi * (start + np.arange(frames) / FPS * bpm / 60.0)
    rows = np.zeros((1, frames, R), dtype=np.float32)
    rows[0, :, FEATURES.index("beat_sin")] = np.sin(angle)
    rows[0, :, FEATURES.index("beat_cos")] = np.cos(angle)
    return torch.from_numpy(rows)


@pytest.mark.parametrize("bpm", [72.0, 96.0, 120.0, 128.0, 145.0])
def test_phase_tempo_reads_the_bpm_of_a_steady_phase(bpm):
    tempo = phase_tempo(phase_features(bpm))
    assert tempo.shape == (1, 50, 1)
    assert torch.allclose(tempo, torch.full_like(tempo, math.log2(bpm / 120.0)), atol=1e-4)


def test_phase_tempo_of_features_computed_from_known_beats():
    beats = np.arange(0.2, 10.0, 60.0 / 90.0)  # 90 BPM
    t = np.arange(SAMPLE_RATE * 10) / SAMPLE_RATE
    audio = 8000 * np.sin(2 * np.pi * 220 * t)
    features = torch.from_numpy(rhythm_features(audio, 100, beats=beats, downbeat=0))[None]
    for window in (features[:, :50], features[:, 50:]):
        assert phase_tempo(window)[0, 0, 0].item() == pytest.approx(math.log2(90 / 120), abs=1e-3)


def test_phase_tempo_is_robust_to_one_odd_beat_and_zero_without_beats():
    steady = phase_features(100.0)
    odd = steady.clone()
    odd[0, 20:23] = phase_features(100.0, start=0.55)[0, 20:23]  # a jump of a quarter beat
    assert torch.allclose(phase_tempo(odd), phase_tempo(steady), atol=1e-4)
    assert torch.equal(phase_tempo(torch.zeros(2, 50, R)), torch.zeros(2, 50, 1))
    assert phase_tempo(torch.zeros(3, 1, R)).shape == (3, 1, 1)
    assert phase_tempo(phase_features(900.0)).abs().max() <= 2.0  # clamped


def test_generator_hears_the_tempo_with_one_more_input():
    plain, heard = Generator(rhythm="librosa"), Generator(rhythm="librosa", rhythm_tempo=True)
    assert sum(p.numel() for p in heard.parameters()) == sum(p.numel() for p in plain.parameters()) + 1024
    assert heard.rhythm_dim == R  # what it is given; the tempo is read off it
    with pytest.raises(ValueError, match="give rhythm too"):
        Generator(rhythm_tempo=True)
    torch.manual_seed(0)
    generator = Generator(rhythm="truth", rhythm_tempo=True).eval()
    music, _ = batch(1)
    noise = generator.sample_noise(music)
    rhythm = phase_features(80.0)
    code = generator.audio_encoder(music)
    heard = torch.cat([rhythm, phase_tempo(rhythm)], dim=-1)  # the tempo is its ninth input
    assert torch.equal(generator(music, noise, rhythm), generator.pose_generator(code, noise, heard))
    faster = heard.clone()
    faster[..., R] = 1.0
    assert not torch.allclose(generator.pose_generator(code, noise, faster), generator(music, noise, rhythm))


def test_checkpoints_record_the_tempo_input(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
                       "--batch_size", "2", "--split", "videos:002", "--rhythm", "librosa",
                       "--rhythm_tempo", "--save_every_steps", "0"]) == 0
    model = str(out / "generator_last.pth")
    assert checkpoint.generator_args(model)["rhythm_tempo"] is True
    assert checkpoint.load_generator(model).rhythm_tempo
    bad = str(tmp_path / "bad.pth")
    checkpoint.save_generator(bad, Generator().state_dict(), {"generator_args": {"rhythm_tempo": True}})
    with pytest.raises(CheckpointError, match="unknown generator_args"):
        checkpoint.load_generator(bad)


def test_rhythm_tempo_without_rhythm_is_refused(tiny_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "gcn.pth")
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(tmp_path / "run"),
                       "--max_steps", "1", "--batch_size", "2", "--rhythm_tempo"]) == 1
    assert "--rhythm_tempo reads the tempo" in capsys.readouterr().err
