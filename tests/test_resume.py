"""Resuming a run exactly, atomic checkpoints under SIGKILL, and clear errors for bad files."""

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

import train
from conftest import write_corpus_file, write_gcn
from model import checkpoint
from model.local_discriminator import LocalDiscriminator

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(corpus, gcn, out, *extra, status=0):
    assert train.main(["--data", corpus, "--split", "all", "--pretrain_GCN", gcn, "--out", str(out),
                       "--batch_size", "2", "--seed", "3", "--device", "cpu", *extra]) == status


def checkpoint_tensors(path):
    """Every tensor of a checkpoint file (states of networks and optimisers, RNG), by key path."""
    found = {}

    def walk(value, key):
        if torch.is_tensor(value):
            found[key] = value
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, "%s/%s" % (key, k))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                walk(v, "%s/%d" % (key, i))

    walk(torch.load(path, weights_only=True), "")
    return found


def test_stopped_and_resumed_run_equals_an_uninterrupted_one(tiny_corpus, tmp_path):
    """Bit-exact on CPU: weights, optimiser states and random states all ``torch.equal``.

    6 samples at batch 2 are 3 iterations per epoch; the interrupted run stops inside epoch 1
    (step 2), resumes with ``--resume auto`` and crosses into epoch 2, and ``--gap 2`` makes the
    generator's steps depend on the restored step count.
    """
    gcn = write_gcn(tmp_path / "GCN.pth")
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    run(tiny_corpus, gcn, whole, "--max_steps", "5", "--gap", "2")
    run(tiny_corpus, gcn, parts, "--max_steps", "2", "--gap", "2")
    assert torch.load(parts / "generator_last.pth", weights_only=True)["batch"] == 2
    run(tiny_corpus, gcn, parts, "--max_steps", "5", "--gap", "2", "--resume", "auto")

    for name in ("generator_last.pth", "discriminator_last.pth"):
        expected, resumed = checkpoint_tensors(whole / name), checkpoint_tensors(parts / name)
        assert expected.keys() == resumed.keys()
        for key, value in expected.items():
            assert torch.equal(value, resumed[key]), (name, key)
    ckpt = torch.load(parts / "generator_last.pth", weights_only=True)
    assert (ckpt["step"], ckpt["epoch"], ckpt["batch"]) == (5, 2, 2)


def test_resume_from_an_epoch_checkpoint_and_periodic_last(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "GCN.pth")
    out = tmp_path / "run"
    run(tiny_corpus, gcn, out, "--niter", "1", "--gap_save", "1", "--save_every_steps", "2")
    saved = torch.load(out / "generator_0001.pth", weights_only=True)
    assert (saved["step"], saved["epoch"], saved["batch"]) == (3, 1, None)
    run(tiny_corpus, gcn, out, "--niter", "2", "--resume", str(out / "discriminator_0001.pth"),
        "--max_steps", "4")
    resumed = torch.load(out / "generator_last.pth", weights_only=True)
    assert (resumed["step"], resumed["epoch"], resumed["batch"]) == (4, 2, 1)


def test_auto_resume_without_checkpoints_starts_afresh(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "GCN.pth")
    run(tiny_corpus, gcn, tmp_path / "run", "--resume", "auto", "--max_steps", "1")
    assert torch.load(tmp_path / "run" / "generator_last.pth", weights_only=True)["step"] == 1


def test_auto_resume_skips_a_pair_whose_twins_disagree(tmp_path):
    for tag, steps in (("0001", (3, 3)), ("last", (5, 4))):
        for prefix, step in zip(("generator_", "discriminator_"), steps):
            torch.save({"step": step}, tmp_path / (prefix + tag + ".pth"))
    assert checkpoint.latest_checkpoint(str(tmp_path)) == str(tmp_path / "generator_0001.pth")


@pytest.fixture(scope="module")
def one_step_run(tmp_path_factory):
    """``(corpus, ST-GCN file, run folder)`` after one training step (shared: copy before use)."""
    folder = tmp_path_factory.mktemp("one_step")
    corpus = write_corpus_file(folder / "tiny.json")
    gcn = write_gcn(folder / "GCN.pth")
    torch.set_num_threads(1)
    run(corpus, gcn, folder / "run", "--max_steps", "1")
    return corpus, gcn, folder / "run"


@pytest.mark.parametrize("damage", ["truncated", "release_state_dict", "wrong_network",
                                    "missing_twin", "other_file", "nan_weight"])
def test_resume_from_a_bad_checkpoint_names_the_file(one_step_run, tmp_path, damage, capsys):
    corpus, gcn, trained = one_step_run
    out = tmp_path / "run"
    shutil.copytree(trained, out)
    target = out / "generator_last.pth"
    if damage == "truncated":
        target.write_bytes(target.read_bytes()[:1000])
    elif damage == "release_state_dict":
        torch.save(torch.load(target, weights_only=True)["generator"], target)
    elif damage == "wrong_network":
        ckpt = torch.load(target, weights_only=True)
        ckpt["generator"] = LocalDiscriminator().state_dict()
        torch.save(ckpt, target)
    elif damage == "nan_weight":
        ckpt = torch.load(target, weights_only=True)
        ckpt["generator"]["pose_generator.final_linear.weight"][3, 5] = float("nan")
        torch.save(ckpt, target)
    named = target.name
    if damage == "missing_twin":
        os.remove(out / "discriminator_last.pth")
        named = "discriminator_last.pth"
    elif damage == "other_file":
        target = Path(gcn)
        named = target.name
    capsys.readouterr()
    run(corpus, gcn, out, "--resume", str(target), "--max_steps", "2", status=1)
    message = capsys.readouterr().err
    assert message.startswith("error: cannot resume: ") and named in message, message
    assert message.count("\n") == 1, message
    if damage == "nan_weight":
        assert "final_linear.weight" in message and "non-finite" in message


SAVER = r"""
import sys, torch
sys.path.insert(0, sys.argv[1])
from model.checkpoint import save_all
out, i = sys.argv[2], 0
while True:
    i += 1
    block = torch.full((4_000_000,), float(i))  # 16 MB per file: saving takes a while
    save_all([({"step": i, "data": block}, out + "/generator_last.pth"),
                           ({"step": i, "data": block}, out + "/discriminator_last.pth")])
    print(i, flush=True)
"""


def test_sigkill_while_saving_never_leaves_a_corrupt_checkpoint(tmp_path):
    """A saver killed at random moments: the files always load and are whole.

    Each file always holds one complete save (its tensor filled with its own step), and the two
    twins hold the same step, or the generator (renamed first) one step more (only the moment
    between their renames mixes them).
    """
    script = tmp_path / "saver.py"
    script.write_text(SAVER)
    rng = random.Random(0)
    for _ in range(5):
        saver = subprocess.Popen([sys.executable, str(script), ROOT, str(tmp_path)],
                                 stdout=subprocess.PIPE, text=True)
        assert saver.stdout.readline()  # at least one complete save
        time.sleep(rng.uniform(0.0, 0.5))
        saver.send_signal(signal.SIGKILL)
        saver.wait()
        steps = []
        for name in ("generator_last.pth", "discriminator_last.pth"):
            ckpt = torch.load(tmp_path / name, weights_only=True)
            assert torch.equal(ckpt["data"], torch.full((4_000_000,), float(ckpt["step"])))
            steps.append(ckpt["step"])
        assert steps[0] - steps[1] in (0, 1)
