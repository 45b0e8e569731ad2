"""Small runtime helpers shared by the scripts: device choice, seeding, atomic file writes."""

import contextlib
import os
import random
import tempfile

import numpy as np
import torch


def resolve_device(name):
    """``"auto" | "cpu" | "cuda"`` -> ``torch.device``; asking for CUDA without one is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device "
                           "(this torch build: %s); use --device cpu or auto" % torch.__version__)
    return torch.device(name)


def seed_everything(seed):
    """Seed Python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def set_threads(threads):
    """Use ``threads`` CPU threads for torch when positive."""
    if threads > 0:
        torch.set_num_threads(threads)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only if the block succeeds.

    A crash or kill while writing leaves the previous file (if any) untouched.
    """
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def atomic_torch_save(obj, path):
    """``torch.save`` through a temporary file and a rename."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
