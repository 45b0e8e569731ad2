"""--genre_input: the pose generator hears a one-hot genre, the sidecar's in training and the
one a ridge classifier reads off the music code at inference (model/genre_head.py)."""

import json

import numpy as np
import pytest
import torch

import train
from conftest import write_gcn
from model import checkpoint, inference
from model.generator import Generator
from model.genre_head import GenreHead


def test_moments_are_plain_means_at_first_then_moving_means():
    head = GenreHead(2, 3, momentum=0.25)
    first = torch.tensor([[1.0, 0, 0], [3.0, 0, 0], [0, 2.0, 0]])
    head.update(first, torch.tensor([0, 0, 1]))
    assert torch.allclose(head.mean, torch.tensor([4 / 3, 2 / 3, 0]))
    assert torch.allclose(head.second, first.T @ first / 3)
    assert torch.allclose(head.cross, torch.tensor([[4 / 3, 0], [0, 2 / 3], [0, 0]]))
    assert torch.allclose(head.prior, torch.tensor([2 / 3, 1 / 3]))
    head.update(torch.tensor([[0.0, 0, 3.0]]), torch.tensor([1]))  # rate max(1/2, 0.25)
    assert torch.allclose(head.mean, torch.tensor([2 / 3, 1 / 3, 1.5]))
    for _ in range(3):  # updates 3, 4, 5: rates 1/3, 1/4, then the momentum 0.25
        head.update(torch.zeros(1, 3), torch.tensor([0]))
    assert torch.allclose(head.mean[2], torch.tensor(1.5 * (2 / 3) * (3 / 4) * (3 / 4)))
    assert int(head.updates) == 5


def test_prediction_is_the_ridge_regression_of_the_probe_on_standardised_codes():
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(60) % 3
    codes = torch.randn(60, 5, generator=gen) * torch.tensor([1.0, 5, 0.2, 1, 2])
    codes[:, :3] += 3 * torch.nn.functional.one_hot(labels, 3) * torch.tensor([1.0, 5, 0.2])
    head = GenreHead(3, 5, ridge=0.1)
    with pytest.raises(RuntimeError, match="never trained"):
        head.predict(codes)
    head.update(codes, labels)
    # the same fit written out: [standardised codes, 1] onto one-hot genres, penalty 0.1 x 60
    x = codes.double()
    design = torch.cat([(x - x.mean(0)) / x.std(0, unbiased=False), torch.ones(60, 1, dtype=x.dtype)], 1)
    targets = torch.nn.functional.one_hot(labels, 3).double()
    weights = torch.linalg.solve(design.T @ design + 6.0 * torch.eye(6, dtype=x.dtype), design.T @ targets)
    assert torch.equal(head.predict(codes), (design @ weights).argmax(1))
    assert (head.predict(codes) == labels).float().mean() > 0.9


def test_a_shorter_offset_from_the_centre_keeps_its_genre():
    gen = torch.Generator().manual_seed(1)
    labels = torch.arange(40) % 4
    centres = torch.randn(4, 8, generator=gen) * 3
    codes = centres[labels] + torch.randn(40, 8, generator=gen)
    head = GenreHead(4, 8)
    head.update(codes, labels)
    known = head.predict(codes)
    assert torch.equal(known, labels)
    nearer = head.mean + 0.5 * (codes - head.mean)  # an unheard song's shorter offset
    assert torch.equal(head.predict(nearer), known)


def test_forward_uses_labels_in_training_and_predicts_without():
    head = GenreHead(2, 2)
    music = torch.tensor([[[2.0, 0]] * 4, [[0, 2.0]] * 4, [[2.2, 0.1]] * 4, [[0.1, 1.8]] * 4])
    onehot = head(music, torch.tensor([0, 1, 0, 1]))
    assert onehot.shape == (4, 4, 2) and onehot[:, :, 0].tolist() == [[1.0] * 4, [0.0] * 4] * 2
    assert int(head.updates) == 1
    head.eval()
    assert head(music.flip(0))[:, 0].argmax(-1).tolist() == [1, 0, 1, 0]
    head(music, torch.tensor([1, 0, 1, 0]))  # labels in eval mode: used, the moments left alone
    assert int(head.updates) == 1


def test_generator_grows_by_the_documented_counts_and_zero_columns_leave_its_dance():
    torch.manual_seed(0)
    plain, heard = Generator(rhythm="librosa"), Generator(rhythm="librosa", genres=4)
    count = lambda g: sum(p.numel() for p in g.parameters())
    assert count(heard) - count(plain) == 1024 * 4
    extra = {key: value.numel() for key, value in heard.state_dict().items()
             if key not in plain.state_dict()}
    assert extra == {"genre.mean": 256, "genre.second": 256 * 256, "genre.cross": 256 * 4,
                     "genre.prior": 4, "genre.updates": 1}
    # the genre columns sit after the music code and the 8 rhythm features: zeroed, the
    # generator dances as the one without them
    state = heard.state_dict()
    for key, value in plain.state_dict().items():
        if key == "pose_generator.layer0.weight":
            value = torch.cat([value[:, :264], torch.zeros(1024, 4), value[:, 264:]], dim=1)
        state[key] = value
    heard.load_state_dict(state)
    heard.genre.update(torch.randn(8, 256), torch.arange(8) % 4)
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
    assert int(loaded.genre.updates) == 2 and loaded.genre.second.abs().sum() > 0
    with torch.no_grad():
        poses = loaded(torch.randn(1, 50, 1600) * 3000)
    assert poses.shape == (1, 50, 36) and torch.isfinite(poses).all()


def test_a_song_is_danced_in_one_genre_chosen_from_its_whole_music_code():
    torch.manual_seed(0)
    generator = Generator(genres=2).eval()
    song = torch.randn(260, 1600) * 3000  # 26 s: several windows
    windows = song[torch.arange(0, 210, 30)[:, None] + torch.arange(50)]
    codes = inference.music_code(generator, windows).mean(dim=1)
    # a head that knows the song's windows as genre 1 and their mirror images as genre 0
    generator.genre.update(torch.cat([codes, -codes]), torch.tensor([1] * 7 + [0] * 7))
    assert inference.song_genre(generator, windows).tolist() == [1] * len(windows)
    assert inference.song_genre(Generator(), windows) is None
    poses = inference.dance(generator, song.numpy())
    assert poses.shape == (260, 36) and np.isfinite(poses).all()


def test_export_keeps_the_head_in_float32(tmp_path):
    from model import export

    generator = Generator(genres=2)
    generator.genre.update(torch.randn(6, 256), torch.tensor([0, 1] * 3))
    source, out = str(tmp_path / "g.pth"), str(tmp_path / "half.pth")
    checkpoint.save_inference_generator(source, generator.state_dict(), {"genres": 2}, {})
    export.export_generator(source, out)
    stored = torch.load(out, weights_only=True)["generator"]
    assert stored["genre.second"].dtype == torch.float32
    assert stored["pose_generator.layer0.weight"].dtype == torch.float16
    assert torch.equal(checkpoint.load_generator(out).genre.second, generator.genre.second)


def test_a_genre_gain_scales_the_one_hot_the_decoder_hears():
    torch.manual_seed(0)
    plain = Generator(rhythm="librosa", genres=4)
    gained = Generator(rhythm="librosa", genres=4, genre_gain=1.5)
    plain.genre.update(torch.randn(8, 256), torch.arange(8) % 4)
    state = dict(plain.state_dict())
    # the first layer's 4 genre columns (after the 256 code and 8 rhythm ones), random so that
    # the one-hot reaches the dance; a gain on the one-hot is the same gain on these columns
    weight = state["pose_generator.layer0.weight"].clone()
    weight[:, 264:268].normal_()
    state["pose_generator.layer0.weight"] = weight
    gained.load_state_dict(state)
    weight = weight.clone()
    weight[:, 264:268] *= 1.5
    plain.load_state_dict({**state, "pose_generator.layer0.weight": weight})
    plain.eval(), gained.eval()
    audio, noise, rhythm = torch.randn(2, 20, 1600) * 3000, torch.randn(2, 20, 10) * 0.33, torch.rand(2, 20, 8)
    with torch.no_grad():
        for genre in (None, torch.tensor([2, 0])):
            expected = plain(audio, noise, rhythm, genre)
            assert torch.allclose(gained(audio, noise, rhythm, genre), expected, atol=1e-5)
        ungained = Generator(rhythm="librosa", genres=4).eval()
        ungained.load_state_dict(state)
        assert (ungained(audio, noise, rhythm) - gained(audio, noise, rhythm)).abs().max() > 1e-3
    for bad in ({"genre_gain": 1.5}, {"genres": 4, "genre_gain": 0.0}):
        with pytest.raises(ValueError, match="genre_gain"):
            Generator(**bad)


def test_export_records_a_genre_gain_only_for_a_generator_with_genres(tmp_path, capsys):
    from model import export

    generator = Generator(genres=2)
    generator.genre.update(torch.randn(6, 256), torch.tensor([0, 1] * 3))
    source, out = str(tmp_path / "g.pth"), str(tmp_path / "gained.pth")
    checkpoint.save_inference_generator(source, generator.state_dict(), {"genres": 2}, {})
    assert export.main(["generator", source, out, "--genre_gain", "1.5"]) == 0
    assert checkpoint.generator_args(out) == {"genres": 2, "genre_gain": 1.5}
    assert checkpoint.load_generator(out).genre_gain == 1.5
    plain = str(tmp_path / "plain.pth")
    checkpoint.save_inference_generator(plain, Generator().state_dict(), {}, {})
    assert export.main(["generator", plain, out, "--genre_gain", "1.5"]) == 1
    assert "hears no genre" in capsys.readouterr().err
    checkpoint.save_inference_generator(plain, Generator().state_dict(), {"genre_gain": 1.5}, {})
    with pytest.raises(checkpoint.CheckpointError, match="unknown generator_args"):
        checkpoint.generator_args(plain)
