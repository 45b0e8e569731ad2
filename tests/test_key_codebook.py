"""--key_codebook: the choices of a choice on every beat fixed before training, the dancers' key
poses clustered per genre (model/key_codebook.py)."""

import numpy as np
import pytest
import torch

import train
from conftest import batch, frozen_gcn, write_gcn
from dataset.skeleton import normalize
from model import checkpoint
from model.gan import build_networks, build_optimizers, training_step
from model.generator import Generator
from model.key_codebook import all_joints_seen, fit_key_poses, key_pose_errors, kmeans, on_beat_frames
from model.losses import neck_relative
from test_beat_choice import rhythm_with_beats
from test_latent import _args, train_tiny


def pose_with_wrist(neck, wrist):
    """A flat pose ``(36,)``: every joint at ``neck`` but the right wrist (joint 4) at ``wrist``."""
    joints = torch.tensor(neck, dtype=torch.float32).repeat(18, 1)
    joints[4] = torch.tensor(wrist)
    return joints.reshape(36)


def test_kmeans_finds_well_separated_clusters_and_is_seeded():
    draw = torch.Generator().manual_seed(0)
    centres = torch.tensor([[0.0, 0.0], [5.0, 5.0], [-5.0, 5.0]])
    points = torch.cat([c + 0.1 * torch.randn(40, 2, generator=draw) for c in centres])
    found = kmeans(points, 3, seed=1)
    # each true centre has a found one within the noise, and the draw is reproducible
    assert torch.cdist(centres, found).min(dim=1).values.max() < 0.1
    assert torch.equal(found, kmeans(points, 3, seed=1))
    with pytest.raises(ValueError, match="2 points cannot seed 3"):
        kmeans(points[:2], 3)


def test_on_beat_frames_are_the_frames_at_each_beat():
    # a beat every 5 frames from frame 0: frames 0, 5, 10, ... hold their key fully, frame 1
    # holds (1 - ease)^2 = 0.82 of it, frame 2 0.43
    on_beat = on_beat_frames(rhythm_with_beats(1, 20, 5.0))[0]
    assert on_beat.nonzero().flatten().tolist() == [0, 1, 4, 5, 6, 9, 10, 11, 14, 15, 16, 19]


def test_the_codebook_holds_each_genres_key_poses_relative_to_the_neck():
    # genre 0 alternates a raised and a lowered wrist on the beats, genre 1 holds one pose;
    # the dancers stand in different places, which the codebook must not see
    frames, period = 40, 5
    raised, lowered, wide = (0.0, -0.4), (0.0, 0.3), (0.5, 0.0)
    clips = []
    for neck in ((0.2, 0.1), (-0.3, 0.2)):
        beat = torch.arange(frames) // period
        wrist = [raised if b % 2 == 0 else lowered for b in beat]
        clips.append(torch.stack([pose_with_wrist(neck, (neck[0] + w[0], neck[1] + w[1])) for w in wrist]))
    clips.append(pose_with_wrist((0.1, 0.0), (0.6, 0.0)).expand(frames, -1))
    poses, groups = torch.stack(clips), torch.tensor([0, 0, 1])
    rhythm = rhythm_with_beats(3, frames, float(period))
    codebook = fit_key_poses(poses, rhythm, 2, groups, group_count=2)
    assert codebook.shape == (2, 2, 36)
    wrists = {tuple(np.round(row[8:10].tolist(), 4)) for row in codebook[0]}
    assert len(wrists) == 2
    assert min(wrists, key=lambda w: w[1])[1] == pytest.approx(raised[1], abs=0.05)
    assert max(wrists, key=lambda w: w[1])[1] == pytest.approx(lowered[1], abs=0.05)
    assert torch.allclose(codebook[1, :, 8:10], torch.tensor([wide, wide]), atol=1e-6)
    # 3 frames on a beat in every 5 (0, 1, 4): 48 for genre 0's two clips, 24 for genre 1
    with pytest.raises(ValueError, match="genre 1: 24 training frames on a beat with every joint seen, fewer than the 30"):
        fit_key_poses(poses, rhythm, 30, groups, group_count=2)


def test_frames_with_a_missing_joint_are_left_out_of_the_codebook():
    # one clip holds one pose; a tenth of its frames lose the left wrist (pixel (0, 0)), which
    # relative to the neck is far from the pose: with 2 key poses to find, k-means++ would give
    # one of them to those frames
    frames = 40
    pose = pose_with_wrist((0.2, 0.1), (0.5, 0.1))
    clip = pose.expand(frames, -1).clone().reshape(frames, 18, 2)
    clip[::10, 7] = normalize(torch.zeros(2))
    clip = clip.reshape(1, frames, 36)
    seen = all_joints_seen(clip)
    assert seen.sum() == 36 and not seen[0, ::10].any()
    codebook = fit_key_poses(clip, rhythm_with_beats(1, frames, 5.0), 2)
    assert torch.allclose(codebook[0], neck_relative(pose).expand(2, -1), atol=1e-6)


def test_key_pose_errors_measure_each_frame_against_its_genres_poses():
    codebook = torch.zeros(2, 3, 36)
    codebook[1, 2, 8:10] = torch.tensor([0.3, 0.0])
    real = pose_with_wrist((0.5, 0.5), (0.8, 0.5)).expand(2, 4, -1)  # wrist 0.3 right of the neck
    errors = key_pose_errors(codebook, real, torch.tensor([0, 1]))
    assert errors.shape == (2, 4, 3)
    assert torch.allclose(errors[0], torch.full((4, 3), 0.3 / 36))  # genre 0: every pose off by 0.3
    assert torch.allclose(errors[1, :, 2], torch.zeros(4)) and torch.allclose(errors[1, :, 0], torch.full((4,), 0.3 / 36))


def test_a_training_step_assigns_each_key_its_nearest_key_pose():
    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), rhythm="truth", latent_dim=3, latent_kind="beat", key_codebook=True)
    G = nets["generator"]
    music, real = batch(2)
    rhythm = rhythm_with_beats(2, 50, 5.0)
    # the true dance holds key pose 2 on every beat: every key of both clips must take choice 2
    G.key_poses[0] = torch.stack([neck_relative(real[0, 0]) + offset for offset in (0.5, -0.5, 0.0)])
    real = real[:1, :1].expand(2, 50, -1).contiguous()
    terms = training_step(nets, build_optimizers(nets, _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4)),
                          frozen_gcn(), music, real, _args(), rhythm=rhythm)
    assert all(np.isfinite(v) for v in terms.values())
    counts = G.choice_counts[0]
    assert counts.sum() == pytest.approx(22.0) and counts[..., 2].sum() == pytest.approx(22.0)


def test_the_codebook_needs_a_choice_on_every_beat():
    with pytest.raises(ValueError, match="key_codebook .* latent_kind 'beat'"):
        Generator(rhythm="truth", latent_dim=4, latent_kind="choice", key_codebook=True)
    G = Generator(rhythm="truth", genres=3, latent_dim=4, latent_kind="beat", key_codebook=True)
    assert G.key_poses.shape == (3, 4, 36)


def test_train_fits_the_codebook_and_records_it(tiny_corpus, tmp_path):
    model = train_tiny(tiny_corpus, tmp_path, "--latent", "4", "--latent_kind", "beat", "--rhythm", "librosa",
                       "--key_codebook")
    assert checkpoint.generator_args(model)["key_codebook"] is True
    loaded = checkpoint.load_generator(model)
    assert loaded.key_poses.shape == (1, 4, 36) and loaded.key_poses.abs().sum() > 0
    assert torch.equal(loaded.key_poses[0, :, 2:4], torch.zeros(4, 2))  # relative to the neck
    assert loaded.choice_counts.sum() > 0


def test_train_refuses_a_codebook_without_a_choice_on_every_beat(tiny_corpus, tmp_path, capsys):
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", write_gcn(tmp_path / "gcn.pth"), "--split", "all",
                       "--out", str(tmp_path / "run"), "--batch_size", "2", "--latent", "4", "--key_codebook"]) == 1
    assert "--key_codebook fixes the choices of a choice on every beat" in capsys.readouterr().err
