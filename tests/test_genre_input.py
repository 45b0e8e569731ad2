"""--genre_input: the pose generator hears a one-hot genre, the sidecar's in training and the
nearest centroid's at inference (model/genre_centroids.py)."""

import json

import numpy as np
import pytest
import torch

import train
from conftest import write_gcn
from model import checkpoint, inference
from model.generator import Generator
from model.genre_centroids import GenreCentroids


def test_centroids_are_plain_means_at_first_then_moving_means():
    centroids = GenreCentroids(2, 3, momentum=0.25)
    first = torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [0, 2.0, 0]])
    centroids.update(first, torch.tensor([0, 0, 1]))
    assert torch.allclose(centroids.centroids, torch.tensor([[2.0, 0, 0], [0, 2.0, 0]]))
    centroids.update(torch.tensor([[4.0, 0, 0]]), torch.tensor([0]))  # rate max(1/2, 0.25)
    assert torch.allclose(centroids.centroids[0], torch.tensor([3.0, 0, 0]))
    for _ in range(3):  # counts 3, 4, 5: rates 1/3, 1/4, then the momentum 0.25
        centroids.update(torch.tensor([[0.0, 0, 0]]), torch.tensor([0]))
    assert torch.allclose(centroids.centroids[0, 0], torch.tensor(3.0 * (2 / 3) * (3 / 4) * (3 / 4)))
    assert centroids.counts.tolist() == [5, 1]


def test_prediction_goes_by_the_direction_from_the_centre_not_the_distance():
    centroids = GenreCentroids(3, 2)
    with pytest.raises(RuntimeError, match="never trained"):
        centroids.predict(torch.zeros(1, 2))
    centroids.update(torch.tensor([[4.0, 0], [0, 4.0], [-4.0, -4.0]]), torch.tensor([0, 1, 2]))
    # centre (0, 0): a short offset towards genre 1 is nearer genre 0's centroid in distance,
    # but points at genre 1
    clips = torch.tensor([[1.0, 1.5], [3.0, -0.5], [-0.2, -0.3]])
    assert centroids.predict(clips).tolist() == [1, 0, 2]


def test_forward_uses_labels_in_training_and_predicts_without():
    centroids = GenreCentroids(2, 2)
    music = torch.tensor([[[2.0, 0]] * 4, [[0, 2.0]] * 4])  # (2 clips, 4 frames, 2)
    onehot = centroids(music, torch.tensor([0, 1]))
    assert onehot.shape == (2, 4, 2) and onehot[:, :, 0].tolist() == [[1.0] * 4, [0.0] * 4]
    assert centroids.counts.tolist() == [1, 1]
    centroids.eval()
    assert centroids(music.flip(0))[:, 0].argmax(-1).tolist() == [1, 0]
    centroids(music, torch.tensor([1, 0]))  # labels in eval mode: used, centroids left alone
    assert centroids.counts.tolist() == [1, 1]


def test_generator_grows_by_the_documented_counts_and_zero_columns_leave_its_dance():
    torch.manual_seed(0)
    plain, heard = Generator(rhythm="librosa"), Generator(rhythm="librosa", genres=4)
    count = lambda g: sum(p.numel() for p in g.parameters())
    assert count(heard) - count(plain) == 1024 * 4
    assert set(heard.state_dict()) - set(plain.state_dict()) == {"genre.centroids", "genre.counts"}
    # the genre columns sit after the music code and the 8 rhythm features: zeroed, the
    # generator dances as the one without them
    state = heard.state_dict()
    for key, value in plain.state_dict().items():
        if key == "pose_generator.layer0.weight":
            value = torch.cat([value[:, :264], torch.zeros(1024, 4), value[:, 264:]], dim=1)
        state[key] = value
    heard.load_state_dict(state)
    heard.genre.update(torch.randn(4, 256), torch.arange(4))
    plain.eval(), heard.eval()
    audio, noise = torch.randn(2, 20, 1600) * 3000, torch.randn(2, 20, 10) * 0.33
    rhythm = torch.rand(2, 20, 8)
    with torch.no_grad():
        expected = plain(audio, noise, rhythm)
        assert torch.allclose(heard(audio, noise, rhythm), expected, atol=1e-6)
        assert torch.allclose(heard(audio, noise, rhythm, genre=torch.tensor([3, 1])), expected, atol=1e-6)
        with pytest.raises(ValueError, match="without genres"):
            plain(audio, noise, rhythm, genre=torch.tensor([0, 1]))


def write_sidecar(corpus, genres):
    """A sidecar for ``conftest.write_corpus_file``'s corpus: video ``i`` has genre ``genres[i]``."""
    names = sorted(set(genres))
    meta = {"genres": names, "test_videos": [],
            "videos": {"%03d" % v: {"genre": g, "genre_index": names.index(g), "bpm": 120.0, "clips": {}}
                       for v, g in enumerate(genres)}}
    path = corpus.replace(".json", "_meta.json")
    with open(path, "w") as f:
        json.dump(meta, f)


def test_train_records_the_genres_and_loading_restores_the_centroids(tiny_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    common = ["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "2",
              "--batch_size", "2", "--split", "all", "--save_every_steps", "0", "--genre_input"]
    assert train.main(common) == 1  # no sidecar, no genres
    assert "genre labels need it" in capsys.readouterr().err
    write_sidecar(tiny_corpus, ["house", "techno", "house"])
    assert train.main(common) == 0
    model = str(out / "generator_last.pth")
    assert checkpoint.generator_args(model)["genres"] == 2
    loaded = checkpoint.load_generator(model)
    assert loaded.genre.counts.sum() >= 2 and loaded.genre.centroids.abs().sum() > 0
    with torch.no_grad():
        poses = loaded(torch.randn(1, 50, 1600) * 3000)
    assert poses.shape == (1, 50, 36) and torch.isfinite(poses).all()


def test_a_song_is_danced_in_one_genre_chosen_from_its_whole_music_code():
    torch.manual_seed(0)
    generator = Generator(genres=2).eval()
    song = torch.randn(260, 1600) * 3000  # 26 s: several windows
    windows = song[torch.arange(0, 210, 30)[:, None] + torch.arange(50)]
    codes = inference.music_code(generator, windows).mean(dim=1)
    # centroids on either side of the song's mean code, nearer in angle to genre 1
    generator.genre.centroids.copy_(torch.stack([-codes.mean(0), codes.mean(0)]) + codes.mean(0) * 0.1)
    generator.genre.counts.fill_(1)
    assert inference.song_genre(generator, windows).tolist() == [1] * len(windows)
    assert inference.song_genre(Generator(), windows) is None
    poses = inference.dance(generator, song.numpy())
    assert poses.shape == (260, 36) and np.isfinite(poses).all()
