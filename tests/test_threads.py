"""The automatic thread count: the cores other processes leave free, followed as they change."""

import torch

import runtime


def test_free_threads_leaves_other_processes_their_cores():
    assert runtime.free_threads(2, 0.0) == 2
    assert runtime.free_threads(2, 0.9) == 1   # another run on one core
    assert runtime.free_threads(2, 2.0) == 1   # a busy machine still gets one thread
    assert runtime.free_threads(16, 5.4) == 11
    assert runtime.free_threads(4, -1.0) == 4


def test_machine_busy_seconds_grows_with_work():
    before = runtime.machine_busy_seconds()
    if before is None:  # not Linux
        return
    sum(i * i for i in range(2_000_000))
    assert runtime.machine_busy_seconds() > before


def test_auto_threads_follow_the_other_processes(monkeypatch):
    """A fake clock and machine: another process takes one core, then leaves."""
    clock = {"wall": 100.0, "busy": 0.0, "own": 0.0}
    monkeypatch.setattr(runtime, "usable_cores", lambda: 2)
    monkeypatch.setattr(runtime, "machine_busy_seconds", lambda: clock["busy"])
    monkeypatch.setattr(runtime.time, "monotonic", lambda: clock["wall"])
    monkeypatch.setattr(runtime.time, "process_time", lambda: clock["own"])
    monkeypatch.setattr(runtime.time, "sleep", lambda s: clock.update(wall=clock["wall"] + s))
    threads = torch.get_num_threads()
    try:
        auto = runtime.AutoThreads(every_s=30.0, sample_s=0.5)
        assert auto.threads == 2 and torch.get_num_threads() == 2  # the machine was idle

        def run(seconds, own_cores, other_cores):
            clock["wall"] += seconds
            clock["own"] += seconds * own_cores
            clock["busy"] += seconds * (own_cores + other_cores)
            return auto.tick()

        assert run(10, 2, 0) is None                                    # not yet time to look
        assert run(25, 1.2, 0.9) == 1 and torch.get_num_threads() == 1  # a second run came
        assert run(40, 1, 1) is None                                    # it is still there
        assert run(40, 1, 0) == 2 and torch.get_num_threads() == 2      # it ended
    finally:
        torch.set_num_threads(threads)


def test_omp_num_threads_wins_over_automatic(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    threads = torch.get_num_threads()
    assert runtime.set_threads(0) is None and torch.get_num_threads() == threads
    runtime.set_threads(1)
    assert torch.get_num_threads() == 1
    torch.set_num_threads(threads)
