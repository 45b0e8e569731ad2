"""The music-dance embedding: features, shapes, training on a toy beat-locked set, caching."""

import os

import numpy as np
import torch

from dataset.skeleton import NUM_JOINTS
from metrics.evaluation import retrieval_accuracy
from model.music_dance_embedding import (DANCE_FEATURES, MUSIC_FEATURES, MusicDanceEmbedding, dance_features,
                                         info_nce, music_features)
from model.music_dance_embedding import fit_embedding, load_embedding, load_or_train, train_and_save


def toy_pairs(n, frames=30, seed=0):
    """Music = noise clicks on a random beat grid; dance = a body that stops on every beat.

    Shape: ``(n, frames, 1600)`` raw audio, ``(n, frames, 36)`` normalised poses.
    """
    rng = np.random.default_rng(seed)
    audio = rng.normal(0, 50, (n, frames, 1600))
    pose = np.zeros((n, frames, NUM_JOINTS, 2))
    base = np.stack([np.linspace(-0.2, 0.2, NUM_JOINTS), np.linspace(-0.5, 0.5, NUM_JOINTS)], axis=1)
    t = np.arange(frames)
    for i in range(n):
        period = rng.uniform(3.0, 8.0)
        phase = rng.uniform(0, period)
        for beat in np.arange(phase, frames, period):
            audio[i, int(beat), :400] += rng.normal(0, 8000, 400)
        # cos of half the beat rate: the speed is 0 at every beat
        swing = 0.1 * np.cos(np.pi * (t - phase) / period)
        pose[i] = base[None] + swing[:, None, None] * np.array([1.0, 0.3])
    return torch.tensor(audio, dtype=torch.float32), torch.tensor(pose.reshape(n, frames, -1), dtype=torch.float32)


def test_music_features_shape_and_scale_invariance():
    audio = torch.randn(2, 5, 1600) * 3000
    features = music_features(audio)
    assert features.shape == (2, 5, MUSIC_FEATURES)
    assert torch.allclose(music_features(audio * 4), features, atol=1e-4)


def test_dance_features_translation_invariant_and_missing_joints_zero():
    pose = torch.rand(2, 6, 2 * NUM_JOINTS) * 0.5 - 0.25
    features = dance_features(pose)
    assert features.shape == (2, 6, DANCE_FEATURES)
    assert torch.allclose(dance_features(pose + 0.1), features, atol=1e-6)
    missing = pose.clone().reshape(2, 6, NUM_JOINTS, 2)
    missing[0, 3, 4] = -1.0  # joint 4 lost in frame 3
    out = dance_features(missing.reshape(2, 6, -1))[0]
    position, velocity, speed = out[:, :36].reshape(6, NUM_JOINTS, 2), out[:, 36:72].reshape(6, NUM_JOINTS, 2), out[:, 72:]
    assert torch.all(position[3, 4] == 0) and torch.all(velocity[2:5, 4] == 0) and torch.all(speed[2:5, 4] == 0)


def test_embeddings_are_unit_vectors_of_the_sequence():
    model = MusicDanceEmbedding(hidden=8, dim=4).eval()
    audio, pose = toy_pairs(3, frames=12)
    music, dance = model.embed_music(audio), model.embed_dance(pose)
    assert music.shape == dance.shape == (3, 12 * 4)
    assert torch.allclose(music.norm(dim=1), torch.ones(3)) and torch.allclose(dance.norm(dim=1), torch.ones(3))


def test_info_nce_prefers_matching_pairs():
    eye = torch.eye(4)
    assert info_nce(eye, eye) < info_nce(eye, eye.roll(1, dims=0))


def test_training_finds_held_out_music_of_beat_locked_toy_dances():
    audio, pose = toy_pairs(72, seed=1)
    torch.set_num_threads(1)
    model, _ = fit_embedding(audio[:56], pose[:56], epochs=40, batch_size=28, crop=24, seed=0, hidden=32, dim=16)
    with torch.no_grad():
        similarity = model.embed_dance(pose[56:]) @ model.embed_music(audio[56:]).T
    accuracy = retrieval_accuracy(similarity.numpy(), 4, np.random.default_rng(0))
    assert accuracy > 0.5  # chance is 0.2


def test_cache_is_reused_for_the_same_data_and_retrained_when_it_changes(tiny_corpus, tmp_path):
    path = str(tmp_path / "embedding.pth")
    train_and_save(tiny_corpus, path, epochs=2)
    _, trained_on = load_embedding(path)
    assert trained_on["data"] == os.path.abspath(tiny_corpus) and trained_on["epochs"] == 2
    stamp = os.stat(path).st_mtime_ns
    load_or_train(path, tiny_corpus)
    assert os.stat(path).st_mtime_ns == stamp  # reused
    os.utime(tiny_corpus, ns=(stamp, stamp + 10**9))
    load_or_train(path, tiny_corpus)
    assert load_embedding(path)[1]["epochs"] == 80  # retrained with the default recipe
