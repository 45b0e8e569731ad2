"""ST-GCN pre-training: labels, held-out accuracy, the saved record."""

import json

import pytest
import torch

import pretrain_gcn
from dataset.synthetic import generate_corpus, write_corpus
from model.checkpoint import load_st_gcn


@pytest.fixture(scope="module")
def genre_corpus(tmp_path_factory):
    """8 videos (2 per genre) of 1 clip, with the ground-truth sidecar."""
    path = tmp_path_factory.mktemp("corpus") / "corpus.json"
    data, meta = generate_corpus(videos=8, clips=1, seed=3)
    write_corpus(path, data, meta)
    return str(path)


def run(capsys, *argv):
    pretrain_gcn.main([*argv, "--epochs", "1", "--batch_size", "4", "--threads", "1"])
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_genre_labels_from_the_sidecar_and_held_out_videos(genre_corpus, tmp_path, capsys):
    out = tmp_path / "GCN.pth"
    summary = run(capsys, "--data", genre_corpus, "--out", str(out))
    assert summary["label_source"] == "genre" and summary["classes"] == 4
    assert 0.0 <= summary["held_out_accuracy"] <= 1.0
    saved = torch.load(out, weights_only=True)
    record = saved["trained_on"]
    assert saved["num_class"] == 4 and record["classes"] == ["hiphop", "house", "lofi", "techno"]
    assert record["held_out_clips"] > 0 and record["label_source"] == "genre"
    net = load_st_gcn(out)
    assert net(torch.zeros(2, 50, 36)).shape == (2, 4)
    assert not any(p.requires_grad for p in net.parameters())


def test_video_id_labels_hold_out_clips_of_training_videos(tiny_corpus, tmp_path, capsys):
    summary = run(capsys, "--data", tiny_corpus, "--split", "all", "--out", str(tmp_path / "G.pth"))
    assert summary["label_source"] == "video_id" and summary["classes"] == 3


def test_label_file_must_cover_every_training_video(tiny_corpus, tmp_path, capsys):
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"000": "a", "001": "b"}))
    assert pretrain_gcn.main(["--data", tiny_corpus, "--split", "all", "--labels", str(labels),
                              "--out", str(tmp_path / "G.pth"), "--epochs", "1"]) == 1
    assert "002" in capsys.readouterr().err
    labels.write_text(json.dumps({"000": "a", "001": "b", "002": "a"}))
    summary = run(capsys, "--data", tiny_corpus, "--split", "fraction:0.34", "--labels",
                  str(labels), "--out", str(tmp_path / "G.pth"))
    assert summary["classes"] == 2 and summary["label_source"].startswith("file:")


def test_augmentation_moves_bodies_but_keeps_missing_joints():
    poses = torch.rand(4, 50, 36) * 1.6 - 0.8
    poses[:, :, 0:2] = -1  # the nose is missing everywhere
    moved = pretrain_gcn.augment(poses, torch.Generator().manual_seed(0))
    assert moved.shape == poses.shape
    assert torch.equal(moved[:, :, 0:2], poses[:, :, 0:2])
    assert not torch.allclose(moved[:, :, 2:], poses[:, :, 2:])
