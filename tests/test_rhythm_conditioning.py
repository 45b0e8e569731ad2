"""--rhythm: features cached beside the dataset, heard by the generator and the sequence
discriminator, recorded in checkpoints and computed again at inference without being told;
--fill_missing and --lambda_motion; the paper's networks untouched when they are off."""

import json
import os

import numpy as np
import pytest
import torch

import evaluate
import get_demo
import train
from conftest import batch, frozen_gcn, write_gcn
from dataset import rhythm_cache
from dataset.audio import write_wav
from dataset.dance_dataset import DanceDataset, meta_path
from dataset.rhythm import FEATURES
from dataset.skeleton import fill_missing_joints
from dataset.synthetic_music import Song, first_downbeat, song_beats
from model import checkpoint, gan
from model.generator import Generator
from model.losses import (joint_move_sizes, joint_speed, move_size_loss, smooth_in_time, speed_profile_loss,
                          stage_loss)
from model.sequence_discriminator import SequenceDiscriminator

R = len(FEATURES)


def count(module):
    return sum(p.numel() for p in module.parameters())


def test_networks_are_the_papers_without_rhythm_and_grow_by_the_documented_counts():
    assert count(Generator()) == 8_982_664
    assert count(SequenceDiscriminator()) == 3_788_393
    assert count(Generator(rhythm="librosa")) == 8_982_664 + 1024 * R  # 8,990,856
    assert count(SequenceDiscriminator(rhythm_dim=R)) == 3_788_393 + 128 * R  # 3,789,417
    assert set(Generator().state_dict()) == set(Generator(rhythm="truth").state_dict())


def test_generator_hears_the_rhythm_and_refuses_to_dance_without_it():
    torch.manual_seed(0)
    generator = Generator(rhythm="librosa").eval()
    music, _ = batch(2)
    noise = generator.sample_noise(music)
    rhythm = torch.zeros(2, 50, R)
    with pytest.raises(ValueError, match="hears rhythm features"):
        generator(music, noise)
    still = generator(music, noise, rhythm)
    on_beat = generator(music, noise, rhythm + torch.linspace(-1, 1, 50)[None, :, None])
    assert still.shape == (2, 50, 36)
    assert not torch.allclose(still, on_beat)


def test_sequence_discriminator_hears_the_rhythm():
    torch.manual_seed(0)
    critic = SequenceDiscriminator(rhythm_dim=R).eval()
    music, real = batch(2)
    with pytest.raises(ValueError, match="hears rhythm features"):
        critic(real, music)
    prob, features = critic(real, music, rhythm=torch.zeros(2, 50, R))
    shifted, _ = critic(real, music, rhythm=torch.ones(2, 50, R))
    assert prob.shape == (2, 1) and len(features) == 6
    assert not torch.allclose(prob, shifted)


@pytest.mark.parametrize("to_discriminator", [False, True])
def test_one_step_with_rhythm_trains_and_is_finite(to_discriminator):
    torch.manual_seed(0)
    args = train.parse_train_args(["--lambda_motion", "50"])
    nets = gan.build_networks(torch.device("cpu"), rhythm="librosa", rhythm_discriminator=to_discriminator)
    assert nets["sequence_discriminator"].rhythm_dim == (R if to_discriminator else 0)
    optimizers = gan.build_optimizers(nets, args)
    music, real = batch(2)
    rhythm = torch.randn(2, 50, R)
    values = gan.training_step(nets, optimizers, frozen_gcn(), music, real, args, rhythm=rhythm)
    assert set(values) == set(gan.LOSS_TERMS) | {"motion"}
    assert all(np.isfinite(v) for v in values.values()), values


def test_speed_profile_loss_is_zero_for_the_same_motion_and_grows_with_stillness():
    _, real = batch(2)
    still = real[:, :1].expand_as(real)
    assert joint_speed(real).shape == (2, 49)
    assert speed_profile_loss(real, real).item() == pytest.approx(0.0, abs=1e-6)
    assert speed_profile_loss(still, real).item() == pytest.approx(joint_speed(real).mean().item(), rel=1e-3)
    # two dances of each clip (as with --motion_prior): each judged against its own clip
    both = torch.cat([real, still])
    assert speed_profile_loss(both, real).item() == pytest.approx(joint_speed(real).mean().item() / 2, rel=1e-3)


def test_smoothing_keeps_steady_motion_and_removes_frame_to_frame_jitter():
    t = torch.arange(50, dtype=torch.float32)
    glide = (t[None, :, None] * 0.01).expand(2, 50, 36)  # constant velocity
    jitter = 0.02 * (-1.0) ** t[None, :, None] * torch.ones(2, 50, 36)  # alternating, no movement
    assert torch.equal(smooth_in_time(glide, 0.0), glide)
    torch.testing.assert_close(smooth_in_time(glide, 1.0)[:, 5:-5], glide[:, 5:-5], atol=1e-6, rtol=0)
    assert smooth_in_time(jitter, 1.0)[:, 5:-5].abs().max() < 0.02 * 0.02
    assert speed_profile_loss(glide + jitter, glide, sigma=1.0).item() < 0.05 * speed_profile_loss(
        glide + jitter, glide).item()  # what is left comes from the clip's ends


def test_move_size_loss_counts_how_far_and_how_fast_the_limbs_swing_not_where_the_dancer_walks():
    t = torch.arange(50, dtype=torch.float32)

    def swinging(amplitude, rate):  # the right wrist swings up and down, nothing else moves
        poses = torch.zeros(2, 50, 18, 2)
        poses[:, :, 4, 1] = amplitude * torch.sin(t * rate)
        return poses.reshape(2, 50, 36)

    swing = swinging(0.1, 0.6)
    walk = (0.02 * t)[None, :, None].expand(2, 50, 36)  # the whole body walks, every joint alike
    sizes = joint_move_sizes(swing)
    assert sizes.shape == (2, 72) and sizes[:, 9].min() > 0.05 and sizes[:, 36 + 9].min() > 0.03
    assert sizes[:, [j for j in range(72) if j not in (9, 45)]].abs().max() < 1e-6
    assert move_size_loss(swing + walk, swing).item() == pytest.approx(0.0, abs=1e-6)
    # to and fro twice as often over half the distance: half the spread, about as fast (the
    # frame steps of a sine sampled twice as coarsely are 4 % smaller)
    assert move_size_loss(swinging(0.05, 1.2), swing).item() == pytest.approx(
        sizes[:, 9].mean().item() / 2 / 72, rel=0.12)
    # as far, twice as often: the same spread, steps about twice as large
    quick = joint_move_sizes(swinging(0.1, 1.2))
    assert quick[:, 9] == pytest.approx(sizes[:, 9], rel=0.05)
    assert quick[:, 45] == pytest.approx(2 * sizes[:, 45], rel=0.1)
    assert move_size_loss(swinging(0.1, 1.2), swing) > 0.8 * sizes[:, 45].mean() / 72
    # two dances of each clip: the still one costs the whole size, the swinging one nothing
    still = torch.zeros_like(swing)
    assert move_size_loss(torch.cat([swing, still]), swing).item() == pytest.approx(
        sizes[:, [9, 45]].sum(1).mean().item() / 2 / 72, rel=1e-4)
    # blurred first, the tracker's frame-to-frame jitter does not count as swinging fast
    jitter = swing + 0.01 * torch.randn(swing.shape, generator=torch.Generator().manual_seed(0))
    assert move_size_loss(jitter, swing, sigma=2.0) < move_size_loss(jitter, swing) / 2


def test_stage_loss_is_zero_on_the_stage_and_grows_with_the_distance_beyond_it():
    stage = torch.tensor([[-0.4, -0.3], [0.4, 0.2]])
    poses = torch.zeros(2, 50, 18, 2)
    poses[..., 0] = 5.0  # every joint but the neck far away: only the neck counts
    poses[:, :, 1] = torch.tensor([0.3, -0.2])  # the neck inside the box
    assert stage_loss(poses.reshape(2, 50, 36), stage).item() == 0.0
    poses[0, :10, 1] = torch.tensor([0.6, 0.5])  # a tenth of the frames 0.2 right and 0.3 low
    poses[1, :, 1, 0] = -0.5  # a whole clip 0.1 left
    assert stage_loss(poses.reshape(2, 50, 36), stage).item() == pytest.approx(
        (10 * 0.5 + 50 * 0.1) / 100, rel=1e-5)
    fake = poses.reshape(2, 50, 36).clone().requires_grad_(True)
    stage_loss(fake, stage).backward()
    grad = fake.grad.reshape(2, 50, 18, 2)
    assert grad[0, 0, 1, 0] > 0 and grad[0, 0, 1, 1] > 0 and grad[1, 0, 1, 0] < 0  # back to the box
    assert grad[0, 20].abs().sum() == 0 and grad[:, :, [0, *range(2, 18)]].abs().sum() == 0


def test_fill_missing_joints_interpolates_over_time():
    pixels = np.full((1, 5, 18, 2), 100.0)
    pixels[0, :, 3] = [[10, 20], [0, 0], [0, 0], [40, 50], [0, 0]]
    pixels[0, :, 7] = 0.0  # never seen: stays missing
    filled = fill_missing_joints(pixels)
    np.testing.assert_allclose(filled[0, :, 3], [[10, 20], [20, 30], [30, 40], [40, 50], [40, 50]])
    assert (filled[0, :, 7] == 0).all() and (filled[0, :, 0] == 100).all()
    assert (pixels[0, 1, 3] == 0).all()  # the input is not modified


def test_first_downbeat_marks_beat_one_of_a_bar():
    song = Song(genre_index=0, bpm=120.0, first_beat=-0.7, key=40, progression=0, gain=0.5, seed=0)
    for start in (0.0, 3.3, 17.0):
        beats = song_beats(song, start, 10.0)
        k = first_downbeat(song, start)
        index = (beats[k] + start - song.first_beat) / song.beat_period
        assert k in range(4) and round(index) % 4 == 0 and abs(index - round(index)) < 1e-6


def add_sidecar(path, downbeat=1):
    """A sidecar with true beats (every 0.5 s from 0.1 s) and downbeats for every clip of ``path``."""
    dataset = DanceDataset(path, split="all")
    clips = {}
    for video, clip, _ in dataset.keys:
        clips.setdefault(video, {})[clip] = {"beats": list(np.arange(0.1, 10, 0.5)), "downbeat": downbeat}
    meta = {"videos": {v: {"genre": "house", "genre_index": 0, "bpm": 120.0, "clips": c}
                       for v, c in clips.items()}}
    meta_path(path).write_text(json.dumps(meta))


def test_rhythm_features_are_cached_beside_the_file_and_rebuilt_when_it_changes(tiny_corpus, monkeypatch):
    add_sidecar(tiny_corpus)
    dataset = DanceDataset(tiny_corpus, split="all", rhythm="truth")
    cache = rhythm_cache.rhythm_cache_path(tiny_corpus, "truth")
    assert cache.exists()
    item = dataset[1]
    assert item["rhythm"].shape == (50, R) and dataset.rhythm_windows().shape == (len(dataset), 50, R)
    # frame 50 of the clip (item 1, frame 0) is at 5.0 s: beat 10 (5.1 s) is 0.1 s = 1/5 beat ahead,
    # so the phase there is 4/5 of a beat; the bar counts from beat 1 (the sidecar's downbeat)
    np.testing.assert_allclose(item["rhythm"][0, 1:3], [np.sin(1.6 * np.pi), np.cos(1.6 * np.pi)], atol=1e-5)
    bar = 2 * np.pi * ((10 - 0.2 - 1) % 4) / 4
    np.testing.assert_allclose(item["rhythm"][0, 5:7], [np.sin(bar), np.cos(bar)], atol=1e-5)

    monkeypatch.setattr(rhythm_cache, "rhythm_features", lambda *a, **k: pytest.fail("cache not used"))
    again = DanceDataset(tiny_corpus, split="all", rhythm="truth")
    torch.testing.assert_close(again.rhythm_windows(), dataset.rhythm_windows())

    add_sidecar(tiny_corpus, downbeat=2)  # the sidecar changed: the truth cache is stale
    os.utime(meta_path(tiny_corpus), ns=(1, 1))
    with pytest.raises(pytest.fail.Exception, match="cache not used"):
        DanceDataset(tiny_corpus, split="all", rhythm="truth")


def test_truth_rhythm_needs_the_sidecars_beats(tiny_corpus):
    with pytest.raises(ValueError, match="true beats"):
        DanceDataset(tiny_corpus, split="all", rhythm="truth")


def test_a_rhythm_run_records_its_features_and_inference_computes_them_untold(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    code = train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "2",
                       "--batch_size", "2", "--split", "videos:002", "--rhythm", "librosa",
                       "--fill_missing", "--lambda_motion", "10", "--save_every_steps", "0"])
    assert code in (None, 0)
    model = out / "generator_last.pth"
    recorded = checkpoint.generator_args(str(model))
    assert recorded.pop("audio_level") > 0 and recorded == {"edge_pad": 0, "rhythm": "librosa"}
    generator = checkpoint.load_generator(str(model))
    assert generator.rhythm == "librosa" and generator.rhythm_dim == R

    song = tmp_path / "song.wav"
    t = np.arange(16000 * 7) / 16000
    write_wav(str(song), 8000 * np.sin(2 * np.pi * 220 * t) * (np.mod(t, 0.5) < 0.05))
    assert get_demo.main(["--model", str(model), "--audio", str(song), "--output", str(tmp_path / "demo")]) in (None, 0)
    assert np.load(tmp_path / "demo" / "song.npy").shape == (70, 18, 2)
    assert get_demo.main(["--model", str(model), "--data", tiny_corpus, "--split", "videos:002", "--count", "1",
                          "--output", str(tmp_path / "clips")]) in (None, 0)
    report = tmp_path / "eval.json"
    assert evaluate.main(["--model", str(model), "--data", tiny_corpus, "--split", "videos:002",
                          "--gcn", gcn, "--embedding", str(tmp_path / "emb.pth"), "--samples", "2",
                          "--json", str(report)]) in (None, 0)
    results = json.loads(report.read_text())["results"]
    assert np.isfinite(results["model"]["median_step"]) and results["model"]["thrown_steps"] >= 0

    add_sidecar(tiny_corpus)  # --rhythm truth: the same generator hears the true beats instead
    assert evaluate.main(["--model", str(model), "--data", tiny_corpus, "--split", "videos:002",
                          "--gcn", gcn, "--embedding", str(tmp_path / "emb.pth"), "--samples", "2",
                          "--rhythm", "truth", "--json", str(report)]) in (None, 0)
    oracle = json.loads(report.read_text())["results"]
    assert oracle["ground_truth"]["median_step"] == results["ground_truth"]["median_step"]
    assert oracle["model"]["median_step"] != results["model"]["median_step"]


def test_truth_rhythm_names_a_clip_without_beats(tiny_corpus):
    add_sidecar(tiny_corpus)
    meta = json.loads(meta_path(tiny_corpus).read_text())
    del meta["videos"]["001"]["clips"]["025"]["beats"]
    meta_path(tiny_corpus).write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="video '001' clip '025' has none"):
        DanceDataset(tiny_corpus, split="all", rhythm="truth")
