"""One generator from a stretch of training: checkpoints averaged weight by weight, then their
BatchNorm statistics measured again (stochastic weight averaging's recipe, Izmailov et al. 2018).

A GAN generator's checkpoints swing from one to the next; in docs/experiments.md section 26
the mean of a run's last 11 danced the genre better than they did on average. Averaged
weights no longer match the averaged BatchNorm statistics, so :func:`refresh_batchnorm` runs
the averaged generator over the training clips and keeps what its BatchNorms see.
"""

import torch
from torch import nn
from torch.utils.data import DataLoader


def average_states(states):
    """The uniform mean of state dicts with the same keys and shapes: floating tensors averaged
    (in float64, returned in their own dtype), others (BatchNorm's batch counters) the last's."""
    averaged = {}
    for key, last in states[-1].items():
        if last.is_floating_point():
            total = sum(state[key].double() for state in states)
            averaged[key] = (total / len(states)).to(last.dtype)
        else:
            averaged[key] = last
    return averaged


@torch.no_grad()
def refresh_batchnorm(generator, dataset, passes=2, batch_size=16, seed=0):
    """Replace ``generator``'s BatchNorm running statistics by their plain mean over ``passes``
    shuffled passes through ``dataset`` (items with ``audio`` ``(50, 1600)`` and, for a
    generator that hears rhythm, ``rhythm`` ``(50, 8)``) in batches of ``batch_size`` (or the
    whole of a smaller dataset); returns ``generator``, in eval mode.

    Everything but the BatchNorms runs as at inference: no dropout, no code shrink, the genre
    read off the music code; the shuffle and the noise come from ``seed`` (the global random
    state is left as it was).
    """
    norms = [module for module in generator.modules()
             if isinstance(module, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return generator.eval()
    if not len(dataset):
        raise ValueError("no clips to measure BatchNorm statistics on")
    device = next(generator.parameters()).device
    momenta = [norm.momentum for norm in norms]
    generator.eval()
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative mean over every batch
        norm.train()
    loader = DataLoader(dataset, batch_size=min(batch_size, len(dataset)), shuffle=True,
                        drop_last=True, generator=torch.Generator().manual_seed(seed))
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        for _ in range(passes):
            for data in loader:
                rhythm = data["rhythm"].to(device) if generator.rhythm_dim else None
                generator(data["audio"].to(device), rhythm=rhythm)
    for norm, momentum in zip(norms, momenta):
        norm.momentum = momentum
    return generator.eval()
