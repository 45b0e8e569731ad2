"""evaluate.py and metrics.evaluation: every row and metric, controls behave, JSON and CLI."""

import json
import math
import os

import numpy as np
import pytest
import torch

import evaluate
from conftest import write_corpus_file
from dataset.audio import write_wav
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.synthetic import generate_corpus, write_corpus
from metrics.evaluation import (beat_scores, derangement, fid_in_sample_span, genre_accuracy, genre_labels,
                                retrieval_accuracy, standardize, tempo_scores, window_beats)
from metrics.fid import fid
from metrics.music_set import MusicSet, dataset_music
from metrics.repertoire import ANKLES, WRISTS, dancers_px, move_size
from metrics.table import METRICS, Row, control_rows, format_table, mean_pose, score_rows
from model.generator import Generator
from model.inference import generate_draws
from model.music_dance_embedding import load_or_train, train_and_save
from model.st_gcn import STGCN

ALIGNMENT = ("beat_align_music", "beat_align_motion", "beat_hit_rate")


@pytest.fixture(scope="module")
def beat_locked_corpus(tmp_path_factory):
    """A 4-video, 1-clip synthetic corpus whose dancers move on the music's beat (8 samples)."""
    path = tmp_path_factory.mktemp("synthetic") / "synthetic.json"
    write_corpus(path, *generate_corpus(videos=4, clips=1, seed=3))
    return str(path)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A 3-video random corpus shared by this module's tests (1 held-out video, 2 samples)."""
    return write_corpus_file(tmp_path_factory.mktemp("tiny") / "tiny.json")


@pytest.fixture(scope="module")
def embedding_file(corpus):
    """A briefly trained embedding for ``corpus``, reused by ``load_or_train`` (same data, split, seed)."""
    path = os.path.join(os.path.dirname(corpus), "embedding.pth")
    train_and_save(corpus, path, epochs=2)
    return path


@pytest.fixture
def checkpoints(tmp_path):
    """A tiny random generator checkpoint and a tiny random 4-class ST-GCN."""
    torch.manual_seed(0)
    generator, gcn = tmp_path / "generator_0001.pth", tmp_path / "GCN.pth"
    torch.save({"generator": Generator().state_dict(), "config": {}}, generator)
    torch.save({"st_gcn": STGCN(num_class=4).state_dict(), "num_class": 4,
                "trained_on": {"classes": ["hiphop", "house", "lofi", "techno"]}}, gcn)
    return str(generator), str(gcn)


# ---------------------------------------------------------------------------------------------
# metrics.evaluation


def test_derangement_moves_every_index():
    rng = np.random.default_rng(0)
    for n in (2, 3, 10):
        perm = derangement(n, rng)
        assert sorted(perm) == list(range(n)) and np.all(perm != np.arange(n))
    with pytest.raises(ValueError):
        derangement(1, rng)


def test_window_beats_splits_and_rebases():
    windows = window_beats([0.5, 4.99, 5.0, 7.5, 10.2], 5.0, 2)
    assert np.allclose(windows[0], [0.5, 4.99]) and np.allclose(windows[1], [0.0, 2.5])


def test_retrieval_accuracy_known_cases():
    rng = np.random.default_rng(0)
    assert retrieval_accuracy(np.eye(5), 2, rng) == 1.0
    assert retrieval_accuracy(-np.eye(5), 2, rng) == 0.0
    assert retrieval_accuracy(np.ones((4, 4)), 3, rng) == pytest.approx(0.25)  # all tied: chance


def test_fid_in_sample_span_equals_fid():
    rng = np.random.default_rng(0)
    for n_a, n_b, dim in ((3, 4, 40), (10, 12, 40), (30, 50, 8)):
        a, b = rng.normal(0, 2, (n_a, dim)), rng.normal(0.5, 1, (n_b, dim))
        assert fid_in_sample_span(a, b) == pytest.approx(fid(a, b), rel=1e-6, abs=1e-4)
    assert fid_in_sample_span(np.ones((3, 5)), np.ones((4, 5))) == 0.0


def test_genre_accuracy_skips_unknown_labels():
    logits = np.array([[2.0, 0.0], [0.0, 1.0], [5.0, 0.0]])
    assert genre_accuracy(logits, [0, 0, -1]) == 0.5
    assert math.isnan(genre_accuracy(logits, [-1, -1, -1]))


def test_standardize_by_reference():
    reference = np.array([[0.0, 1.0], [2.0, 1.0]])
    assert np.allclose(standardize(np.array([[1.0, 3.0]]), reference), [[0.0, 2.0]])


def test_static_dance_scores_zero_or_undefined():
    still = np.tile(np.linspace(50, 300, 36).reshape(1, 1, 18, 2), (2, 50, 1, 1))
    scores = beat_scores(still, [np.array([0.5, 1.0]), np.array([2.0])])
    assert scores["beat_align_music"] == 0.0 and scores["beat_coverage"] == 0.0
    assert math.isnan(scores["beat_align_motion"]) and math.isnan(scores["beat_hit_rate"])
    tempo = tempo_scores(still, [120.0, 90.0])
    assert tempo["tempo_within_5pct"] == 0.0 and math.isnan(tempo["tempo_median_error"])


# ---------------------------------------------------------------------------------------------
# Rows


def test_every_row_has_every_metric(corpus, embedding_file):
    dataset = DanceDataset(corpus, split="all")
    music, dances = dataset_music(dataset)
    torch.manual_seed(0)
    draws = generate_draws(Generator().eval(), music.audio, 2, 0)
    assert draws.shape == (len(dances), 2, 50, 18, 2)
    rows = {"model": Row(draws[:, 0], np.arange(len(dances)), draws)}
    rows.update(control_rows(dances, mean_pose(dances), draws, np.random.default_rng(0)))
    assert list(rows) == ["model", "ground_truth", "shuffled_music", "mean_pose", "untrained"]
    st_gcn = STGCN(num_class=3).eval()
    embedding = load_or_train(embedding_file, corpus)
    results = score_rows(rows, music, dances, st_gcn, ["a", "b", "c"], embedding)
    for name, scores in results.items():
        assert set(scores) == set(METRICS), name
    for metric in ("fid_gcn", "fid_kinetic", "diversity_gcn", "retrieval_top1", "beat_align_music"):
        assert all(np.isfinite(scores[metric]) for scores in results.values()), metric
    assert results["ground_truth"]["fid_gcn"] == pytest.approx(0.0, abs=1e-3)
    assert results["mean_pose"]["diversity_gcn"] == pytest.approx(0.0, abs=1e-6)
    assert results["mean_pose"]["multimodality_kinetic"] == 0.0
    assert math.isnan(results["ground_truth"]["multimodality_gcn"])
    assert math.isnan(results["model"]["tempo_within_5pct"])  # the random corpus has no sidecar


def test_ground_truth_beats_shuffled_music_on_a_beat_locked_corpus(beat_locked_corpus):
    dataset = DanceDataset(beat_locked_corpus, split="all")
    music, dances = dataset_music(dataset)
    assert music.bpm is not None and music.truth_beats is not None
    rows = control_rows(dances, mean_pose(dances), None, np.random.default_rng(0))
    results = score_rows(rows, music, dances)
    truth, shuffled = results["ground_truth"], results["shuffled_music"]
    for metric in ALIGNMENT + ("tempo_within_5pct",):
        assert truth[metric] > shuffled[metric] + 0.1, metric
    assert truth["beat_align_music"] > 0.6 and truth["tempo_within_5pct"] >= 0.75
    assert results["mean_pose"]["beat_align_music"] == 0.0


def test_ground_truth_row_holds_the_distance_between_dancers_of_one_genre():
    rng = np.random.default_rng(0)
    dances = rng.uniform(150, 450, (4, 50, 18, 2))
    videos, genres = ["000", "000", "001", "002"], ["house", "house", "house", "lofi"]
    music = MusicSet(names=["a", "b", "c", "d"], audio=np.zeros((4, 50, 1600), np.float32),
                     beats=[np.array([1.0, 2.0])] * 4, genres=genres)
    draws = np.stack([dances, dances + 10.0], axis=1)  # two draws, one shifted whole: 0 px apart
    rows = {"model": Row(dances, np.arange(4), draws)}
    rows.update(control_rows(dances, mean_pose(dances), None, rng, videos=videos))
    results = score_rows(rows, music)
    assert results["ground_truth"]["multimodality_px"] == pytest.approx(dancers_px(dances, videos, genres))
    assert results["ground_truth"]["multimodality_px"] > 0
    assert results["model"]["multimodality_px"] == pytest.approx(0.0, abs=1e-9)
    assert math.isnan(results["shuffled_music"]["multimodality_px"])
    assert results["mean_pose"]["multimodality_px"] == 0.0 and results["mean_pose"]["wrist_range_px"] == 0.0
    for name in ("model", "ground_truth", "shuffled_music"):
        assert results[name]["wrist_range_px"] == pytest.approx(move_size(dances, WRISTS)), name
        assert results[name]["ankle_range_px"] == pytest.approx(move_size(dances, ANKLES)), name


# ---------------------------------------------------------------------------------------------
# Output and command line


def test_report_is_written_atomically_with_nan_as_null(tmp_path):
    path = tmp_path / "out" / "report.json"
    evaluate.write_report(path, {"rows": {"a": {"x": float("nan"), "y": np.float64(1.5), "n": np.int64(2)}}})
    assert json.loads(path.read_text()) == {"rows": {"a": {"x": None, "y": 1.5, "n": 2}}}
    with pytest.raises(TypeError):
        evaluate.write_report(path, {"rows": object()})
    assert json.loads(path.read_text())["rows"]["a"]["y"] == 1.5  # the old report survives
    assert os.listdir(path.parent) == ["report.json"]  # no temporary file left


def test_table_lists_every_metric_and_row():
    results = {"ground_truth": dict.fromkeys(METRICS, 0.5), "mean_pose": dict.fromkeys(METRICS, math.nan)}
    lines = format_table(results).splitlines()
    assert "ground_truth" in lines[0] and "mean_pose" in lines[0]
    assert len(lines) == 1 + len(METRICS) and "n/a" in lines[1]


def test_cli_with_tiny_checkpoints(corpus, embedding_file, checkpoints, tmp_path, capsys):
    generator, gcn = checkpoints
    out = tmp_path / "eval.json"
    evaluate.main(["--model", generator, "--data", corpus, "--gcn", gcn, "--samples", "2",
                   "--embedding", embedding_file, "--json", str(out), "--device", "cpu"])
    printed = capsys.readouterr().out
    assert "HELD-OUT" in printed
    report = json.loads(out.read_text())
    assert report["held_out"] is True and report["gcn_classes"] == ["hiphop", "house", "lofi", "techno"]
    assert list(report["results"]) == ["model", "ground_truth", "shuffled_music", "mean_pose", "untrained"]
    assert all(set(row) == set(METRICS) for row in report["results"].values())
    assert report["results"]["model"]["fid_gcn"] is not None
    assert report["embedding"] == embedding_file
    model, truth = report["results"]["model"], report["results"]["ground_truth"]
    assert model["multimodality_px"] > 0 and model["wrist_range_px"] > 0 and model["ankle_range_px"] > 0
    assert truth["wrist_range_px"] > 0 and truth["ankle_range_px"] > 0
    assert truth["multimodality_px"] is None  # dancers_px: one held-out video, no sidecar genres


def test_cli_rhythm_override_needs_a_generator_that_hears_rhythm(corpus, checkpoints):
    generator, gcn = checkpoints
    with pytest.raises(DanceSynthError, match="generator_0001.pth hears no rhythm features"):
        evaluate.evaluate(["--model", generator, "--data", corpus, "--gcn", gcn, "--rhythm", "librosa"])


def test_cli_with_a_genre_input_generator_keeps_an_untrained_row(corpus, embedding_file, checkpoints,
                                                                 tmp_path):
    _, gcn = checkpoints
    generator = Generator(genres=2)
    generator.genre.update(torch.randn(4, 256), torch.tensor([0, 1, 0, 1]))
    path, out = tmp_path / "genre.pth", tmp_path / "eval.json"
    torch.save({"generator": generator.state_dict(), "generator_args": {"genres": 2, "genre_gain": 1.5},
                "config": {}}, path)
    assert evaluate.main(["--model", str(path), "--data", corpus, "--gcn", gcn, "--samples", "2",
                          "--embedding", embedding_file, "--json", str(out), "--device", "cpu"]) == 0
    assert set(json.loads(out.read_text())["results"]) >= {"model", "untrained"}


def test_cli_on_a_folder_of_poses_and_songs(corpus, embedding_file, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no pretrain_model/GCN.pth here: the ST-GCN metrics are skipped
    folder = tmp_path / "demo"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name, frames in (("song_a", 120), ("song_b", 60)):
        pose = np.stack([np.linspace(200, 400, 18), np.linspace(60, 300, 18)], axis=1)
        np.save(folder / f"{name}.npy", pose + rng.normal(0, 8, (frames, 18, 2)))
        write_wav(folder / f"{name}.wav", rng.normal(0, 3000, frames * 1600))
    np.save(folder / "orphan.npy", np.zeros((60, 18, 2)))  # no wav: skipped
    out = tmp_path / "poses.json"
    evaluate.main(["--poses", str(folder), "--data", corpus, "--samples", "2",
                   "--embedding", embedding_file, "--json", str(out), "--device", "cpu",
                   "--plots", str(tmp_path / "plots")])
    report = json.loads(out.read_text())
    assert report["clips"] == ["song_a@0s", "song_a@5s", "song_b@0s"]
    assert sorted(os.listdir(tmp_path / "plots")) == ["song_a@0s.png", "song_a@5s.png", "song_b@0s.png"]
    assert list(report["results"]) == ["poses", "shuffled_music", "mean_pose"]
    poses = report["results"]["poses"]
    assert poses["fid_kinetic"] is not None and poses["retrieval_top1"] is not None
    assert report["gcn"] is None and poses["fid_gcn"] is None


def test_genre_labels_index_the_classes_and_mark_unknown_genres():
    labels = genre_labels(["lofi", "house", "tango", "lofi"], ["hiphop", "house", "lofi", "techno"])
    assert labels.tolist() == [2, 1, -1, 2]


def test_cli_with_a_latent_generator_adds_the_true_latent_row(corpus, embedding_file, checkpoints, tmp_path):
    _, gcn = checkpoints
    torch.manual_seed(0)
    path, out = tmp_path / "latent.pth", tmp_path / "eval.json"
    torch.save({"generator": Generator(latent_dim=4).state_dict(), "generator_args": {"latent_dim": 4},
                "config": {}}, path)
    assert evaluate.main(["--model", str(path), "--data", corpus, "--gcn", gcn, "--samples", "2",
                          "--embedding", embedding_file, "--json", str(out), "--device", "cpu"]) == 0
    results = json.loads(out.read_text())["results"]
    assert set(results) >= {"model", "model_true_latent", "untrained"}
    assert results["model_true_latent"]["wrist_range_px"] != results["model"]["wrist_range_px"]


def test_true_latents_of_a_choice_generator_are_the_choices_that_danced_the_clips():
    from types import SimpleNamespace

    from model.inference import generate_draws

    torch.manual_seed(0)
    generator = Generator(latent_dim=3).eval()
    music = SimpleNamespace(audio=torch.randn(3, 50, 1600) * 3000, rhythm=None)
    chosen = torch.eye(3)[[1, 2, 0]]
    dances = generate_draws(generator, music.audio, 1, 7, None, chosen)[:, 0] + 15.0  # moved right
    assert torch.equal(evaluate.true_latents(generator, dances, music, seed=7), chosen)
