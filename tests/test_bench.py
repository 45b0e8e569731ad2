"""bench.py's parts, on a tiny batch (the figures themselves come from running bench.py)."""

import pytest
import torch

import bench
from config import SPEEDUPS, bench_parser, enabled_speedups
from model.gan import PHASES


@pytest.mark.parametrize("optimize, amp", [(False, "fp32"), (True, "bf16")])
def test_variant_runner_times_every_phase(optimize, amp):
    runner = bench.VariantRunner(optimize=optimize, amp=amp, batch_size=2, device="cpu")
    assert enabled_speedups(runner.args) == (set(SPEEDUPS) if optimize else set())
    times = runner.step()
    assert set(times) == {*PHASES, "total"}
    assert all(t > 0 for t in times.values())
    assert sum(times[p] for p in PHASES) <= times["total"]
    assert runner.infer(1) > 0
    rss, cuda = runner.peak_memory_mb()
    assert rss > 100 and cuda is None
    assert runner.music.shape == (2, 50, 1600) and runner.music.abs().max() > 1000
    assert runner.real.shape == (2, 50, 36) and runner.real.abs().max() <= 1
    torch.set_num_threads(1)  # the runner set torch's default


def test_bench_options():
    args = bench_parser("").parse_args(["--amp", "fp32", "bf16", "--iters", "3"])
    assert (args.amp, args.iters, args.batch_size, args.warmup) == (["fp32", "bf16"], 3, 16, 1)


def test_goal_lines_say_met_or_not():
    results = {"paper loop, fp32": (1.0, 1600.0), "optimised, fp32": (1.6, 1500.0),
               "optimised, bf16": (2.9, 1100.0), "optimised, bf16, GP/4": (3.2, 1300.0)}
    lines = bench.goal_lines(results, "cpu")
    assert lines == [
        "goal: optimised, fp32 >= 1.5x the paper loop: 1.60x, met",
        "goal: optimised, bf16 >= 3.0x the paper loop: 2.90x, not met",
        "goal: optimised, bf16, GP/4 >= 3.0x the paper loop: 3.20x, met",
        "goal: optimised, bf16 peak RSS <= 1229 MiB: 1100 MiB, met",
        "goal: optimised, bf16, GP/4 peak RSS <= 1229 MiB: 1300 MiB, not met"]


def test_lazy_gp_variant_averages_its_iterations():
    runner = bench.VariantRunner(optimize=True, amp="fp32", batch_size=2, device="cpu", gp_every=2)
    times = runner.step()
    assert runner.args.gp_every == 2 and set(times) == {*PHASES, "total"}
    assert sum(times[p] for p in PHASES) <= times["total"]
    torch.set_num_threads(1)
