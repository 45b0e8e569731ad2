"""Every entry point fails the same way: one ``error: <file>: <what>`` line, exit status 1, no
traceback, and nothing written from a damaged checkpoint."""

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

import evaluate
import get_demo
import pretrain_gcn
import train
from conftest import write_gcn
from dataset.format import SAMPLE_RATE
from model.generator import Generator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
ENTRY_POINTS = {"train": train.main, "pretrain_gcn": pretrain_gcn.main, "evaluate": evaluate.main,
                "get_demo": get_demo.main}


def one_error_line(capsys, *names):
    """The captured stderr, checked to be one ``error:`` line naming each of ``names``."""
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_a_file_that_is_not_a_dataset(entry, tmp_path, capsys):
    argv = ["--data", README, "--device", "cpu"]
    if entry == "train":
        argv += ["--pretrain_GCN", write_gcn(tmp_path / "GCN.pth"), "--out", str(tmp_path / "run")]
    elif entry == "pretrain_gcn":
        argv += ["--out", str(tmp_path / "GCN.pth")]
    elif entry == "get_demo":
        torch.save({"generator": Generator().state_dict()}, tmp_path / "g.pth")
        argv += ["--model", str(tmp_path / "g.pth"), "--output", str(tmp_path / "out")]
    assert ENTRY_POINTS[entry](argv) == 1
    one_error_line(capsys, "README.md")


@pytest.mark.parametrize("entry", ["evaluate", "get_demo", "train"])
def test_a_file_that_is_not_a_checkpoint(entry, tiny_corpus, tmp_path, capsys):
    argv = ["--data", tiny_corpus, "--split", "fraction:0.34", "--device", "cpu"]
    if entry == "train":
        argv += ["--pretrain_GCN", README, "--out", str(tmp_path / "run"), "--batch_size", "2"]
    elif entry == "evaluate":
        argv += ["--model", README, "--gcn", str(tmp_path / "absent.pth")]
    else:
        argv += ["--model", README, "--output", str(tmp_path / "out")]
    assert ENTRY_POINTS[entry](argv) == 1
    one_error_line(capsys, "README.md", "not a readable torch checkpoint")


@pytest.fixture
def nan_generator(tmp_path):
    """A generator checkpoint with one weight set to NaN, as a flipped bit can leave it."""
    torch.manual_seed(0)
    state = Generator().state_dict()
    state["pose_generator.layer1.layer.0.weight"][7, 3] = float("nan")
    path = tmp_path / "damaged.pth"
    torch.save({"generator": state, "config": {}}, path)
    return str(path)


def test_get_demo_refuses_non_finite_weights_and_writes_nothing(nan_generator, tmp_path, capsys):
    song = tmp_path / "song.wav"
    sf.write(song, np.random.default_rng(0).normal(0, 0.2, 3 * SAMPLE_RATE), SAMPLE_RATE)
    out = tmp_path / "out"
    assert get_demo.main(["--model", nan_generator, "--audio", str(song), "--output", str(out),
                          "--video", "--device", "cpu"]) == 1
    one_error_line(capsys, "damaged.pth", "pose_generator.layer1.layer.0.weight", "non-finite")
    assert not out.exists() or os.listdir(out) == []


def test_evaluate_refuses_non_finite_weights_and_writes_nothing(nan_generator, tiny_corpus, tmp_path, capsys):
    report = tmp_path / "eval.json"
    assert evaluate.main(["--model", nan_generator, "--data", tiny_corpus, "--split", "fraction:0.34",
                          "--gcn", str(tmp_path / "absent.pth"), "--json", str(report),
                          "--device", "cpu"]) == 1
    one_error_line(capsys, "damaged.pth", "non-finite")
    assert not report.exists()


def test_the_command_line_prints_no_traceback(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "pretrain_gcn.py"), "--data", README,
                             "--out", str(tmp_path / "GCN.pth")],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
