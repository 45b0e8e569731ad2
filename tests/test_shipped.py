"""The checkpoints shipped in pretrain_model/: they load, carry their record, and dance."""

import os

import numpy as np
import pytest
import torch

from config import DEFAULT_GCN, SHIPPED_GENERATOR
from dataset.format import CLIP_SAMPLES, SAMPLE_FRAMES, SAMPLES_PER_FRAME
from dataset.synthetic_music import STYLE_NAMES, sample_song, synthesize_song
from model.checkpoint import load_generator, load_st_gcn
from model.inference import generate_draws, song_rhythm

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def shipped(path):
    return os.path.join(ROOT, path)


def test_shipped_files_fit_the_size_budget():
    sizes = [os.path.getsize(shipped(p)) for p in (SHIPPED_GENERATOR, DEFAULT_GCN)]
    assert sum(sizes) <= 25 * 10 ** 6


def test_shipped_generator_records_how_it_was_trained():
    record = torch.load(shipped(SHIPPED_GENERATOR), map_location="cpu", weights_only=True)
    assert record["generator_args"] == {"edge_pad": 6, "rhythm": "librosa", "audio_level": 15544.5, "code_cap": 6.0,
                                        "code_hold": True, "genres": 4, "pose_output": "bones", "genre_gain": 1.5}
    assert record["config"]["recipe"] == "beat" and record["config"]["val_videos"] == 8
    assert record["config"]["alpha"] == 50.0 and record["config"]["ema"] == 0.999
    assert record["config"]["fill_missing"] and record["config"]["rhythm_discriminator"]
    assert record["config"]["decoder_dropout"] == 0.0 and record["config"]["lambda_motion"] == 100.0
    assert record["config"]["motion_smooth"] == 1.0 and record["config"]["seed"] == 1
    assert record["config"]["genre_input"] and record["config"]["code_shrink"] == 0.5
    assert record["note"] and record["step"] == 2496 and record["heldout"]["beat_align"] > 0.85
    assert all(v.dtype in (torch.float16, torch.float32, torch.int64) for v in record["generator"].values())


def test_shipped_generator_dances_differently_to_different_music():
    generator = load_generator(shipped(SHIPPED_GENERATOR))
    assert generator.edge_pad == 6 and generator.rhythm == "librosa" and not generator.training
    assert generator.code_cap == 6.0 and generator.code_hold and generator.genres == 4
    assert generator.genre_gain == 1.5
    rng = np.random.default_rng(0)
    clips = []
    for genre in ("lofi", "techno"):
        song = sample_song(STYLE_NAMES.index(genre), rng)
        audio = synthesize_song(song, 0.0, CLIP_SAMPLES // 2)
        clips.append(audio.reshape(SAMPLE_FRAMES, SAMPLES_PER_FRAME))
    rhythm = np.stack([song_rhythm(generator, clip.reshape(-1), SAMPLE_FRAMES) for clip in clips])
    dances = generate_draws(generator, np.stack(clips).astype(np.float32), 1, 0, rhythm)[:, 0]
    assert dances.shape == (2, SAMPLE_FRAMES, 18, 2) and np.isfinite(dances).all()
    assert dances[..., 0].min() >= 0 and dances[..., 0].max() <= 640
    moving = np.abs(np.diff(dances, axis=1)).mean()
    assert np.median(np.linalg.norm(np.diff(dances, axis=1), axis=-1)) > 2.0  # the dancers: 2.9 px
    assert moving > 0.1  # not a frozen pose
    assert np.abs(dances[0] - dances[1]).mean() > moving  # the music changes the dance


def test_shipped_st_gcn_classifies_the_four_genres():
    st_gcn = load_st_gcn(shipped(DEFAULT_GCN))
    logits = st_gcn(torch.zeros(1, SAMPLE_FRAMES, 36))
    assert logits.shape == (1, 4) and torch.isfinite(logits).all()


def test_shipped_person_is_float16_under_20_mb_and_dances_a_pose():
    from pose2vid.person_model import Person

    path = shipped("pretrain_model/person.pth")
    assert os.path.getsize(path) <= 20 * 10 ** 6
    record = torch.load(path, map_location="cpu", weights_only=True)
    assert record["format"] == "dance-synth person" and record["size"] == 128
    assert all(v.dtype == torch.float16 for v in record["generator"].values() if v.is_floating_point())
    person = Person(path)
    from conftest import swaying

    frames = list(person.frames(person.on_subject(swaying(3))))
    assert len(frames) == 3 and frames[0].shape == (128, 128, 3)
    assert frames[0].std() > 10  # a picture, not a flat field
