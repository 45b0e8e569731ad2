"""Genre probes of the music code: offsets, their scaling, the ridge classifier, and the CLI."""

import numpy as np
import pytest
import torch

import probe_genre
from conftest import frozen_gcn
from dataset.synthetic import generate_corpus, write_corpus
from metrics.genre_probe import clip_offsets, ridge_genre_probe, scale_offsets
from model import checkpoint
from model.generator import Generator
from model.inference import generate_draws, music_code


def test_offsets_and_their_scaling_by_hand():
    codes = np.array([[[1.0, 0.0], [3.0, 2.0]], [[-1.0, 0.0], [-1.0, -2.0]]])  # (2 clips, 2 frames, 2)
    centre = np.array([0.5, 0.0])
    np.testing.assert_allclose(clip_offsets(codes, centre), [[1.5, 1.0], [-1.5, -1.0]])
    scaled = scale_offsets(codes, centre, 2.0)
    np.testing.assert_allclose(clip_offsets(scaled, centre), 3 * clip_offsets(codes, centre))
    np.testing.assert_allclose(np.diff(scaled, axis=1), np.diff(codes, axis=1))  # frame changes kept
    as_tensor = scale_offsets(torch.as_tensor(codes), torch.as_tensor(centre), 2.0)
    np.testing.assert_allclose(as_tensor.numpy(), scaled)
    np.testing.assert_allclose(scale_offsets(codes, centre, 0.0), codes)


def test_ridge_probe_separates_separable_genres_and_fails_on_swapped_labels():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 5)) * 4
    labels = np.repeat(np.arange(3), 10)
    x = means[labels] + rng.normal(size=(30, 5))
    score = ridge_genre_probe(x[::2], labels[::2], x[1::2], labels[1::2], 3)
    assert score == {"train": 1.0, "test": 1.0}
    swapped = ridge_genre_probe(x[::2], labels[::2], x[1::2], (labels[1::2] + 1) % 3, 3)
    assert swapped["test"] == 0.0


@pytest.fixture(scope="module")
def probe_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("genre_probe")
    data = folder / "synthetic.json"
    write_corpus(data, *generate_corpus(videos=4, clips=1, seed=3))
    torch.manual_seed(0)
    model = folder / "g.pth"
    checkpoint.save({"generator": Generator().state_dict()}, str(model))
    gcn = folder / "gcn.pth"
    classes = ["hiphop", "house", "lofi", "techno"]
    checkpoint.save_st_gcn(str(gcn), frozen_gcn().state_dict(), 4, {"classes": classes})
    return str(data), str(model), str(gcn)


def test_dancing_an_unscaled_code_is_the_generators_own_dance(probe_files):
    _, model, _ = probe_files
    generator = checkpoint.load_generator(model).eval()
    audio = torch.randn(3, 50, 1600) * 4000
    codes = music_code(generator, audio)
    assert codes.shape == (3, 50, 256)
    np.testing.assert_allclose(probe_genre.dance_codes(generator, codes, None, seed=5),
                               generate_draws(generator, audio.numpy(), 1, 5)[:, 0], atol=1e-4)


def test_cli_prints_the_probe_the_offsets_and_a_row_per_scale(probe_files, capsys):
    data, model, gcn = probe_files
    assert probe_genre.main(["--data", data, "--model", model, "--gcn", gcn, "--val_videos", "0",
                             "--scale", "0", "1", "--equalise", "0.5", "--device", "cpu"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith("probe: ") and lines[2].startswith("offset: ")
    assert lines[3].split()[:2] == ["scale", "w"] and lines[6].split()[:2] == ["equalise", "f"]
    rows = [line.split() for line in lines[4:6] + lines[7:]]
    assert [float(row[0]) for row in rows] == [0.0, 1.0, 0.5]
    for _, genre, fid, step, thrown in rows:
        assert 0 <= float(genre) <= 1 and float(fid) >= 0 and float(step) >= 0 and float(thrown) >= 0


def test_cli_refuses_an_st_gcn_without_class_names(probe_files, tmp_path, capsys):
    data, model, _ = probe_files
    bare = tmp_path / "bare.pth"
    checkpoint.save_st_gcn(str(bare), frozen_gcn().state_dict(), 4, {})
    assert probe_genre.main(["--data", data, "--model", model, "--gcn", str(bare), "--device", "cpu"]) == 1
    assert "does not record its class names" in capsys.readouterr().err
