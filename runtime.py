"""Small runtime helpers shared by the entry points: device, seeding, threads, random states,
distributed setup, and the one way every entry point reports a user's error."""

import ctypes
import ctypes.util
import logging
import os
import random
import sys
import time

import numpy as np
import torch

from dataset.errors import DanceSynthError


def resolve_device(name):
    """``"auto" | "cpu" | "cuda"`` -> ``torch.device``; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise DanceSynthError("--device cuda was asked for, but torch sees no CUDA device "
                           "(this torch build: %s); use --device cpu or auto" % torch.__version__)
    return torch.device(name)


def native_bf16(device):
    """Whether ``device`` computes bfloat16 in hardware. On CPU that needs AVX-512 BF16 or AMX
    (oneDNN's check); elsewhere bf16 is emulated, and a training step runs about 20 times
    slower than in float32 (measured on a 2-core AVX2 EPYC: 73 s against 3.1 s)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    check = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return bool(check()) if check is not None else False


def resolve_amp(amp, device):
    """``--amp`` -> the precision to run: ``"auto"`` is bf16 where ``device`` has it in hardware
    (:func:`native_bf16`), else fp32; an explicit ``"bf16"`` stands, with a warning where it is
    emulated."""
    if amp == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if amp == "bf16" and not native_bf16(device):
        logging.getLogger(__name__).warning(
            "--amp bf16: this %s has no bfloat16 hardware, so bf16 is emulated and runs many times "
            "slower than fp32 (--amp auto picks fp32 here)", device.type)
    return amp


def seed_everything(seed):
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads):
    """Use ``threads`` CPU threads for torch when positive. 0 means automatic: torch's own
    default when ``OMP_NUM_THREADS`` is set (the user's choice stands), else an
    :class:`AutoThreads` (the cores other processes leave free), returned for its
    :meth:`~AutoThreads.tick`; otherwise returns None."""
    if threads > 0:
        torch.set_num_threads(threads)
        return None
    if os.environ.get("OMP_NUM_THREADS"):
        return None
    return AutoThreads()


def usable_cores():
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def machine_busy_seconds():
    """CPU seconds the whole machine has spent busy since boot (Linux ``/proc/stat``), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")  # user .. steal


def free_threads(cores, others_busy):
    """Threads for this process: the ``cores`` other processes (busy ``others_busy`` cores on
    average) leave free, at least 1."""
    return max(1, min(cores, cores - round(others_busy)))


class AutoThreads:
    """torch's CPU threads kept to the cores that other processes leave free.

    More torch threads than free cores make every process on the machine stall (two training
    runs on 2 cores, one with 2 threads: each iteration 3-4x slower than alone). At start the
    load of other processes is sampled for ``sample_s``; afterwards :meth:`tick` (call it once
    per iteration) re-measures it every ``every_s`` seconds from the machine's busy time minus
    this process's own, and changes the thread count when the free cores change. Two runs started
    together settle on sharing the cores; when one ends the other takes them back.
    """

    def __init__(self, every_s=10.0, sample_s=0.5):
        self.cores, self.every_s = usable_cores(), every_s
        self.threads = self.cores
        self._last = self._sample()
        self.enabled = self.cores > 1 and self._last[1] is not None  # else nothing to measure
        if self.enabled:
            time.sleep(sample_s)
            self._update()
        torch.set_num_threads(self.threads)

    @staticmethod
    def _sample():
        """``(wall clock, machine busy seconds, this process's CPU seconds)``."""
        return time.monotonic(), machine_busy_seconds(), time.process_time()

    def _update(self):
        now = self._sample()
        (wall, busy, own), (last_wall, last_busy, last_own) = now, self._last
        if busy is None or wall <= last_wall:
            return
        others = max(0.0, (busy - last_busy) - (own - last_own)) / (wall - last_wall)
        self.threads = free_threads(self.cores, others)
        self._last = now

    def tick(self):
        """Re-measure when ``every_s`` has passed; returns the new thread count when it changed,
        else None."""
        if not self.enabled or time.monotonic() - self._last[0] < self.every_s:
            return None
        before = self.threads
        self._update()
        if self.threads == before:
            return None
        torch.set_num_threads(self.threads)
        return self.threads


def rng_state():
    """This process's random states (torch CPU and CUDA, numpy, Python) as tensors and plain types.

    Plain, so that a checkpoint holding it loads with ``torch.load(weights_only=True)``.
    """
    np_state = np.random.get_state(legacy=False)
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"key": torch.from_numpy(np_state["state"]["key"].astype(np.int64)),
                  "pos": np_state["state"]["pos"], "has_gauss": np_state["has_gauss"],
                  "gauss": np_state["gauss"]},
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }


def set_rng_state(state):
    """Restore the states saved by :func:`rng_state` (CUDA's only when the device count matches)."""
    torch.set_rng_state(state["torch"])
    if torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])
    saved = state["numpy"]
    np.random.set_state({"bit_generator": "MT19937",
                         "state": {"key": saved["key"].numpy().astype(np.uint32), "pos": saved["pos"]},
                         "has_gauss": saved["has_gauss"], "gauss": saved["gauss"]})
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))


def init_distributed(device_name):
    """``(rank, world_size, device)``, joining the process group when launched by ``torchrun``.

    ``torchrun`` sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; without them (or with a world
    of one) this is a single process on ``resolve_device(device_name)``. Processes use NCCL on
    CUDA (one GPU each, by local rank) and gloo on CPU.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    device = resolve_device(device_name)
    if world_size == 1:
        return 0, 1, device
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return rank, world_size, device


def configure_process(device, speedups, release_memory=False):
    """Process-wide settings of a training run: cuDNN autotuning (the ``cudnn_benchmark``
    speed-up, CUDA only) and glibc memory release (``--release_memory``)."""
    torch.backends.cudnn.benchmark = "cudnn_benchmark" in speedups and device.type == "cuda"
    if release_memory and not release_freed_memory():
        logging.getLogger(__name__).warning("--release_memory: this C library has no mallopt; ignored")


def release_freed_memory(threshold=1 << 20):
    """Have glibc's malloc map blocks of ``threshold`` bytes or more on their own and unmap them
    when freed; returns whether it could (False off glibc).

    By default glibc raises its mapping threshold as large blocks are freed and then keeps freed
    activations in its heap, so a process's resident memory stays near the sum of every phase's
    peak; with a fixed threshold it follows the memory actually in use (for a few page faults).
    """
    libc_name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(libc_name) if libc_name else None
    if libc is None or not hasattr(libc, "mallopt"):
        return False
    m_mmap_threshold = -3  # <malloc.h>
    return bool(libc.mallopt(m_mmap_threshold, threshold))


def error_line(err):
    """The one line that reports ``err``: ``<file>: <what>`` for an ``OSError`` with a file name,
    else the first line of its message."""
    if isinstance(err, OSError) and err.filename is not None and not isinstance(err, DanceSynthError):
        return f"{err.filename}: {err.strerror or err}"
    lines = str(err).strip().splitlines()
    return lines[0] if lines else type(err).__name__


def report_errors(main, argv=None):
    """Run ``main(argv)``; a :class:`DanceSynthError` or ``OSError`` it raises is printed as one
    ``error: <file>: <what>`` line on stderr and gives exit status 1 (no traceback).

    Returns ``main``'s exit status (``None`` counts as 0).
    """
    try:
        return main(argv) or 0
    except (DanceSynthError, OSError) as err:
        print(f"error: {error_line(err)}", file=sys.stderr)
        return 1
