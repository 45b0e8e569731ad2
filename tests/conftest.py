"""Shared fixtures: tiny corpora in the original release's format, built on the fly."""

import json
import os
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


# A standing dancer, arms out, in pixels ``(18, 2)``: joints spread so every bone's midpoint is
# covered by that bone only.
STANDING = np.array([
    [320, 60], [320, 110], [270, 110], [220, 110], [170, 110], [370, 110], [420, 110], [470, 110],
    [295, 200], [285, 260], [280, 320], [345, 200], [355, 260], [360, 320],
    [305, 50], [335, 50], [290, 30], [350, 30],
], dtype=float)


def swaying(frames=12):
    """STANDING, its wrists swinging up and down: ``(frames, 18, 2)`` pixels."""
    from dataset.skeleton import JOINT_INDEX

    poses = np.repeat(STANDING[None], frames, axis=0).copy()
    for wrist in ("r_wrist", "l_wrist"):
        poses[:, JOINT_INDEX[wrist], 1] += 20 * np.sin(np.arange(frames))
    return poses


def write_subject(folder, poses, as_json=False):
    """A Pose2Vid subject folder: the synthetic person's video of ``poses``, and the poses
    (``poses.npy``, or OpenPose JSON in ``poses/`` when ``as_json``)."""
    from pose2vid.person import render_person
    from render import write_mp4, write_openpose_json

    folder.mkdir(parents=True, exist_ok=True)
    write_mp4((render_person(p) for p in poses), None, folder / "video.mp4")
    if as_json:
        write_openpose_json(poses, folder / "poses", "video")
    else:
        np.save(folder / "poses.npy", poses)
    return folder


def write_corpus_file(path, videos=3, clips=1, seed=0):
    """Write a small random corpus, double-encoded like the release. Returns the path.

    Audio is a noisy tone in the int16 range; poses wander around a standing body.
    """
    rng = np.random.default_rng(seed)
    base = np.stack([np.linspace(280, 360, 18), np.linspace(80, 300, 18)], axis=1)
    data = {}
    for v in range(videos):
        clips_of = {}
        for c in range(clips):
            t = np.arange(160000) / 16000.0
            audio = 8000 * np.sin(2 * np.pi * (220 + 40 * v) * t) + rng.normal(0, 500, t.shape)
            pose = base + rng.normal(0, 5, (100, 18, 2))
            clips_of["%03d" % (25 + 10 * c)] = {
                "audio_sequence": np.clip(audio, -32768, 32767).astype(int).tolist(),
                "joint_coors": np.round(pose, 2).tolist(),
            }
        data["%03d" % v] = clips_of
    with open(path, "w") as f:
        json.dump(json.dumps(data), f)
    return str(path)


def frozen_gcn(seed=0, num_class=4):
    """A randomly initialised ST-GCN (seeded), frozen in eval mode."""
    import torch

    from model.st_gcn import STGCN

    torch.manual_seed(seed)
    return STGCN(num_class=num_class).eval().requires_grad_(False)


def write_gcn(path):
    """Write :func:`frozen_gcn` as pretrain_gcn.py's checkpoint at ``path``. Returns the path."""
    from model import checkpoint

    checkpoint.save_st_gcn(str(path), frozen_gcn().state_dict(), 4, {})
    return str(path)


def assert_training_only(**option):
    """A Generator built with ``option`` dances as the plain one in eval mode, differently in
    training, and the plain one draws no random numbers for it."""
    import torch

    from model.generator import Generator

    torch.manual_seed(1)
    plain = Generator(decoder_dropout=0.0)
    changed = Generator(decoder_dropout=0.0, **option)
    changed.load_state_dict(plain.state_dict())
    audio, noise = torch.randn(16, 20, 1600) * 3000, torch.randn(16, 20, 10) * 0.33
    plain.eval(), changed.eval()
    with torch.no_grad():
        assert torch.equal(plain(audio, noise), changed(audio, noise))  # inference: unchanged
    plain.train(), changed.train()
    with torch.no_grad():
        torch.manual_seed(2)
        trained_plain = plain(audio, noise)
        state = torch.get_rng_state()
        assert not torch.allclose(changed(audio, noise), trained_plain, atol=1e-4)
        torch.manual_seed(2)
        assert torch.equal(plain(audio, noise), trained_plain)
        assert torch.equal(torch.get_rng_state(), state)  # off: no random numbers drawn


def batch(size=2, seed=0):
    """A seeded random batch: music ``(size, 50, 1600)`` int16-range, poses ``(size, 50, 36)``."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    music = torch.randn(size, 50, 1600, generator=gen) * 5000
    real = torch.rand(size, 50, 36, generator=gen) * 1.6 - 0.8
    return music, real


@pytest.fixture
def tiny_corpus(tmp_path):
    """Path of a 3-video, 1-clip-per-video corpus (6 samples of 5 s)."""
    return write_corpus_file(tmp_path / "tiny.json")


# The entry points' automatic thread count (--threads 0) defers to OMP_NUM_THREADS: the suite,
# and the command-line runs it starts, use one thread.
os.environ.setdefault("OMP_NUM_THREADS", "1")


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread: the suite's tensors are small, and on a small shared machine more
    threads than free cores make OpenMP spin and stall."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
