"""Held-out genre accuracy, the selection scores, select_checkpoint.py and a resumed run's best."""

import math

import pytest
import torch

import select_checkpoint
import train
from conftest import frozen_gcn, write_gcn
from dataset.synthetic import generate_corpus, write_corpus
from dataset.errors import DanceSynthError
from metrics.evaluation import (bone_error, broken_frames, dancers_stage, fid_in_sample_span, genre_accuracy,
                                off_stage_frames)
from metrics.heldout import DRAWS, HeldOutScorer, choose, goal_shortfall, selection_score
from metrics.repertoire import ANKLES, WRISTS, dancers_px, move_size, multimodality_px
from metrics.table import gcn_outputs
from model import checkpoint
from model.generator import Generator
from model.inference import generate_draws

CLASSES = ["hiphop", "house", "lofi", "techno"]
RANGE_KEYS = ("multimodality_px", "dancers_px", "multimodality_ratio", "wrist_range_px", "ankle_range_px",
              "wrist_ratio")


@pytest.fixture(scope="module")
def genre_corpus(tmp_path_factory):
    """A 4-video synthetic corpus (one video per genre, 1 clip each) with its sidecar."""
    path = tmp_path_factory.mktemp("genres") / "synthetic.json"
    write_corpus(path, *generate_corpus(videos=4, clips=1, seed=3))
    return str(path)


@pytest.fixture(scope="module")
def pairs_corpus(tmp_path_factory):
    """An 8-video synthetic corpus (1 clip each) whose training split holds two videos each of three
    genres: the repertoire recipe's mode-seeking term measures how differently two training
    dancers of a genre move."""
    path = tmp_path_factory.mktemp("pairs") / "synthetic.json"
    write_corpus(path, *generate_corpus(videos=4, clips=1, seed=3, extra_videos=4))
    return str(path)


def write_classifier(path):
    """:func:`frozen_gcn` saved with the class names pretrain_gcn.py records."""
    checkpoint.save_st_gcn(str(path), frozen_gcn().state_dict(), 4, {"classes": CLASSES})
    return str(path)


def train_run(corpus, gcn, out, *extra):
    return train.main(["--data", corpus, "--pretrain_GCN", gcn, "--out", str(out), "--batch_size", "2",
                       "--eval_every", "1", "--val_videos", "1", "--rhythm", "truth", *extra])


def test_selection_scores():
    scores = {"beat_align": 0.6, "genre_accuracy": 0.8}
    assert selection_score(scores, "beat") == 0.6
    assert selection_score(scores, "beat_genre") == pytest.approx(0.7)
    with pytest.raises(ValueError, match="genre accuracy"):
        selection_score({"beat_align": 0.6}, "beat_genre")
    assert selection_score({"beat_align": 0.6, "fid_gcn": 12.5}, "fid") == -12.5
    with pytest.raises(ValueError, match="ST-GCN FID"):
        selection_score(scores, "fid")
    with pytest.raises(ValueError, match="unknown selection"):
        selection_score(scores, "realism")


def test_goal_selection_sums_the_relative_shortfalls():
    met = {"beat_align_music": 0.85, "genre_accuracy": 0.8, "fid_gcn": 6.0, "multimodality_ratio": 0.6,
           "wrist_ratio": 1.0, "bone_error": 0.05, "off_stage": 0.0, "broken": 0.0}
    assert goal_shortfall(met) == 0 and selection_score(met, "goals") == 0
    # a dancer who leaves the stage on a tenth of the frames misses that goal wholly
    assert goal_shortfall({**met, "off_stage": 0.1}) == 1.0
    assert goal_shortfall({**met, "off_stage": 0.015}) == pytest.approx(0.5)
    # and one whose body comes apart on a tenth of them, that one
    assert goal_shortfall({**met, "broken": 0.1}) == 1.0
    short = {**met, "beat_align_music": 0.6, "fid_gcn": 15.0}  # 0.2 / 0.8 under, 5 / 10 over
    assert goal_shortfall(short) == pytest.approx(0.25 + 0.5)
    assert selection_score({**met, "multimodality_ratio": float("nan")}, "goals") == -1.0
    # a goal missed by more than its whole bound counts once: a noisy validation FID of 60
    # must not outweigh the beat
    early = {**met, "beat_align_music": 0.4, "fid_gcn": 35.0}
    late = {**met, "beat_align_music": 0.7, "fid_gcn": 60.0}
    assert goal_shortfall(early) == pytest.approx(0.5 + 1.0)
    assert goal_shortfall(late) == pytest.approx(0.125 + 1.0)
    assert choose([early, late], "goals") == (1, True)


def test_choose_keeps_the_best_above_the_genre_floor():
    candidates = [{"beat_align": 0.9, "genre_accuracy": 0.5, "fid_gcn": 10.0},
                  {"beat_align": 0.8, "genre_accuracy": 0.8, "fid_gcn": 20.0},
                  {"beat_align": 0.7, "genre_accuracy": 0.9, "fid_gcn": 15.0},
                  {"beat_align": 0.7, "genre_accuracy": 0.9, "fid_gcn": 15.0}]
    assert choose(candidates, "fid") == (0, True)
    assert choose(candidates, "fid", min_genre=0.75) == (2, True)  # a tie keeps the first
    assert choose(candidates, "beat", min_genre=0.75) == (1, True)
    assert choose(candidates, "fid", min_genre=0.95) == (0, False)  # none reaches it: all eligible
    with pytest.raises(ValueError, match="no candidates"):
        choose([], "beat")


def test_scorer_adds_the_st_gcn_genre_accuracy_and_fid_of_the_dances_it_scores(genre_corpus):
    torch.manual_seed(0)
    generator = Generator(rhythm="truth").eval()
    gcn = frozen_gcn()
    scorer = HeldOutScorer(genre_corpus, "auto", seed=0, val_videos=1, rhythm="truth",
                           st_gcn=gcn, classes=CLASSES)
    scores = scorer(generator)
    dances = generate_draws(generator, scorer.music.audio, 1, 0, scorer.music.rhythm)[:, 0]
    features, logits = gcn_outputs(gcn, dances, "cpu")
    assert scores["fid_gcn"] == fid_in_sample_span(features, gcn_outputs(gcn, scorer.reference, "cpu")[0]) > 0
    labels = [CLASSES.index(genre) for genre in scorer.music.genres]
    assert scores["genre_accuracy"] == genre_accuracy(logits, labels)
    assert len(scorer.music.names) * scores["genre_accuracy"] == pytest.approx(
        round(len(scorer.music.names) * scores["genre_accuracy"]))
    # where the dancer stands and whether the body holds together, against the training dancers
    assert scores["off_stage"] == off_stage_frames(dances, dancers_stage(scorer.training_poses))
    assert scores["broken"] == broken_frames(dances, scorer.training_poses)
    assert 0.0 <= scores["broken"] <= 1.0 and 0.0 <= scores["off_stage"] <= 1.0
    plain = HeldOutScorer(genre_corpus, "auto", seed=0, val_videos=1, rhythm="truth")(generator)
    assert "genre_accuracy" not in plain and "fid_gcn" not in plain
    assert plain["beat_align"] == scores["beat_align"]
    with pytest.raises(DanceSynthError, match="selection by fid needs the ST-GCN"):
        HeldOutScorer(genre_corpus, "auto", val_videos=1, rhythm="truth").check_selection(
            "fid", genre_corpus, "GCN.pth")
    assert scores["bone_error"] == bone_error(dances, scorer.reference, skip_missing=False) > 0
    draws = generate_draws(generator, scorer.music.audio, DRAWS, 0, scorer.music.rhythm)
    assert scores["multimodality_px"] == multimodality_px(draws) > 0
    assert scores["wrist_range_px"] == move_size(dances, WRISTS) > 0
    assert scores["ankle_range_px"] == move_size(dances, ANKLES) > 0
    dancers_wrist = move_size(scorer.reference, WRISTS)
    assert scores["wrist_ratio"] == pytest.approx(scores["wrist_range_px"] / dancers_wrist)
    assert math.isnan(scores["dancers_px"]) and math.isnan(scores["multimodality_ratio"])  # one video
    assert {key: plain[key] for key in RANGE_KEYS} == pytest.approx(
        {key: scores[key] for key in RANGE_KEYS}, nan_ok=True)


def test_scorer_compares_its_noise_draws_with_two_dancers_of_one_genre(tmp_path):
    data, meta = generate_corpus(videos=5, clips=1, seed=3)  # one genre has two videos
    genres = [video["genre"] for video in meta["videos"].values()]
    pair = [video for video, entry in meta["videos"].items() if genres.count(entry["genre"]) == 2]
    path = tmp_path / "five.json"
    write_corpus(path, data, meta)
    torch.manual_seed(0)
    scorer = HeldOutScorer(str(path), "videos:" + ",".join(pair))
    scores = scorer(Generator().eval())
    assert set(scores) >= set(RANGE_KEYS)
    videos = [name.split("/")[0] for name in scorer.music.names]
    assert scores["dancers_px"] == dancers_px(scorer.reference, videos, scorer.music.genres) > 0
    assert scores["multimodality_ratio"] == pytest.approx(scores["multimodality_px"] / scores["dancers_px"])


def test_genre_selections_need_genres_and_class_names(genre_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "GCN.pth")  # records no class names
    assert train_run(genre_corpus, gcn, tmp_path / "run", "--max_steps", "1",
                     "--select", "beat_genre") == 1
    assert "selection by beat_genre needs the genre" in capsys.readouterr().err
    assert train_run(genre_corpus, gcn, tmp_path / "run", "--max_steps", "1", "--select", "goals") == 1
    assert "selection by goals needs the genre" in capsys.readouterr().err
    assert train_run(genre_corpus, gcn, tmp_path / "run", "--max_steps", "1") == 0
    assert select_checkpoint.main([str(tmp_path / "run"), "--by", "fid", "--min_genre", "0.5"]) == 1
    assert "a genre floor (min_genre) needs the genre" in capsys.readouterr().err


def test_select_checkpoint_rescores_the_runs_generators_and_writes_the_best(genre_corpus, tmp_path, caplog):
    gcn = write_classifier(tmp_path / "GCN.pth")
    run = tmp_path / "run"
    assert train_run(genre_corpus, gcn, run, "--max_steps", "2", "--gap_save", "1",
                     "--select", "beat_genre") == 0
    lines = [line for line in (run / "heldout.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all('"genre_accuracy"' in line for line in lines)

    assert select_checkpoint.main([str(run), "--by", "beat_genre"]) == 0
    chosen = torch.load(run / "generator_selected.pth", weights_only=True)
    assert chosen["selected_by"] == "beat_genre" and chosen["heldout_split"] == "val"
    source = run / chosen["selected_from"]
    assert chosen["step"] == torch.load(source, weights_only=True)["step"]
    expected = checkpoint.load_generator_state(str(source))
    for key, value in chosen["generator"].items():
        assert torch.equal(value, expected[key]), key
    # the training loop's own score of that step is the one select_checkpoint.py recomputed
    best = torch.load(run / "generator_best.pth", weights_only=True)
    assert best["heldout"]["beat_align"] >= 0 and 0 <= chosen["heldout"]["genre_accuracy"] <= 1
    score = selection_score(chosen["heldout"], "beat_genre")
    assert score == pytest.approx(selection_score(best["heldout"], "beat_genre"))
    dancer = checkpoint.load_generator(str(run / "generator_selected.pth"))
    assert dancer.rhythm == "truth"

    # a folder pooling runs: the chosen generator keeps its own run's config, not the latest's
    stored = torch.load(source, weights_only=True)
    other = dict(stored, step=stored["step"] + 100, config=dict(stored["config"], seed=99))
    torch.save(other, run / "generator_other_seed.pth")  # the same weights: a tie keeps the first
    assert select_checkpoint.main([str(run), "--by", "beat_genre"]) == 0
    again = torch.load(run / "generator_selected.pth", weights_only=True)
    assert again["selected_from"] == chosen["selected_from"]
    assert again["config"] == stored["config"] and again["config"]["seed"] != 99

    torch.manual_seed(0)  # a third generator that dances differently, so the FIDs differ
    noisy = {key: value + 0.5 * torch.randn_like(value) if value.is_floating_point() and "running" not in key
             else value for key, value in stored["generator"].items()}
    torch.save(dict(stored, step=stored["step"] + 200, generator=noisy), run / "generator_noisy.pth")
    assert select_checkpoint.main([str(run), "--by", "fid"]) == 0
    by_fid = torch.load(run / "generator_selected.pth", weights_only=True)
    scorer = HeldOutScorer(genre_corpus, "auto", 0, 1, "truth", checkpoint.load_st_gcn(gcn), CLASSES)
    fids = [scorer(checkpoint.load_generator(str(path)))["fid_gcn"] for path in run.glob("generator_*.pth")
            if path.name != "generator_selected.pth"]
    assert by_fid["selected_by"] == "fid" and len(fids) == 5 and len(set(fids)) > 1
    assert by_fid["heldout"]["fid_gcn"] == pytest.approx(min(fids))

    # a genre floor no generator reaches: a warning, and the choice among all of them
    assert select_checkpoint.main([str(run), "--by", "fid", "--min_genre", "1.5"]) == 0
    floored = torch.load(run / "generator_selected.pth", weights_only=True)
    assert floored["min_genre"] == 1.5 and floored["selected_from"] == by_fid["selected_from"]
    assert "no generator reaches genre 1.500" in caplog.text


def test_a_resumed_run_keeps_the_best_it_had(genre_corpus, tmp_path):
    gcn = write_classifier(tmp_path / "GCN.pth")
    run = tmp_path / "run"
    assert train_run(genre_corpus, gcn, run, "--max_steps", "1") == 0
    kept = torch.load(run / "generator_best.pth", weights_only=True)
    kept["heldout"]["beat_align"] = 2.0  # better than any real score
    torch.save(kept, run / "generator_best.pth")
    assert train.kept_score(str(run), "beat") == 2.0
    assert train_run(genre_corpus, gcn, run, "--max_steps", "2", "--resume", "auto") == 0
    after = torch.load(run / "generator_best.pth", weights_only=True)
    assert after["step"] == kept["step"] and after["heldout"]["beat_align"] == 2.0
    assert math.isinf(train.kept_score(str(tmp_path / "none"), "beat"))
    assert train.kept_score(str(run), "beat_genre") == pytest.approx(
        0.5 * (2.0 + kept["heldout"]["genre_accuracy"]))


def test_select_checkpoint_skips_a_generator_whose_genre_head_has_heard_nothing(genre_corpus, tmp_path):
    gcn = write_classifier(tmp_path / "GCN.pth")
    run = tmp_path / "run"
    assert train_run(genre_corpus, gcn, run, "--max_steps", "1", "--genre_input", "--ema", "0.9") == 0
    start = torch.load(run / "generator_last.pth", weights_only=True)
    for entry in ("generator", "generator_ema"):  # a fork's start: the head not filled yet
        start[entry]["genre.updates"].zero_()
    start["step"] = 0
    torch.save(start, run / "generator_fork.pth")

    assert select_checkpoint.main([str(run), "--by", "beat_genre"]) == 0
    chosen = torch.load(run / "generator_selected.pth", weights_only=True)
    assert chosen["selected_from"] != "generator_fork.pth" and chosen["step"] == 1


def test_the_repertoire_recipe_trains_a_latent_generator_and_keeps_it_by_the_goals(pairs_corpus, tmp_path):
    gcn = write_classifier(tmp_path / "GCN.pth")
    run = tmp_path / "run"
    assert train.main(["--data", pairs_corpus, "--pretrain_GCN", gcn, "--out", str(run), "--batch_size", "2",
                       "--recipe", "repertoire", "--eval_every", "1", "--val_videos", "1",
                       "--max_steps", "2", "--amp", "fp32"]) == 0
    best = torch.load(run / "generator_best.pth", weights_only=True)
    args = best["generator_args"]
    assert args["latent_dim"] == 8 and "latent_kind" not in args
    assert args["max_bpm"] > 0  # the fastest training song, from the sidecar
    assert best["config"]["select"] == "goals" and "wrist_ratio" in best["heldout"]
