"""Multi-process training through torchrun (2 CPU processes, gloo)."""

import os
import subprocess
import sys

import torch

from conftest import write_gcn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_torchrun_two_processes_train_in_step(tiny_corpus, tmp_path):
    """Two gloo processes, batch 2 each: rank 0 alone writes the checkpoints (in the usual
    format), and at the end train.py checks that both processes hold bit-identical weights."""
    gcn = write_gcn(tmp_path / "GCN.pth")
    out = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
         os.path.join(ROOT, "train.py"), "--data", tiny_corpus, "--split", "all",
         "--pretrain_GCN", gcn, "--out", str(out), "--batch_size", "2", "--max_steps", "2",
         "--device", "cpu", "--seed", "1"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "parameters identical on all 2 processes" in result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "discriminator_last.pth", "generator_last.pth", "tensorboard"]
    ckpt = torch.load(out / "generator_last.pth", weights_only=True)
    assert ckpt["step"] == 2 and len(ckpt["rng"]) == 2
    assert not any(k.startswith("module.") for k in ckpt["generator"])
