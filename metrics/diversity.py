"""Diversity and multimodality of generated dances: mean pairwise distances between features.

Diversity is measured across all generated dances (different music); multimodality across the
dances generated for one piece of music with different noise, averaged over the music. Features
are per-dance vectors, e.g. :func:`metrics.fid.kinetic_features` or ST-GCN embeddings.
"""

import numpy as np
from scipy.spatial.distance import pdist

from metrics.inputs import as_array


def diversity(features):
    """Mean Euclidean distance over all unordered pairs of samples.

    0 for identical samples; for two samples, their distance.

    Shape: ``(N, D)`` with N >= 2 -> float.
    """
    features = as_array(features)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"features: expected (N, D) with N >= 2, got shape {features.shape}")
    return float(np.mean(pdist(features)))


def multimodality(features):
    """Mean over music clips of the :func:`diversity` of the dances generated for each clip.

    Args:
        features: ``features[m, k]`` is the feature vector of the k-th dance (noise draw)
            generated for music clip m.

    Shape: ``(M, K, D)`` with M >= 1, K >= 2 -> float.
    """
    features = as_array(features)
    if features.ndim != 3 or features.shape[0] < 1 or features.shape[1] < 2:
        raise ValueError(
            f"features: expected (M, K, D) with M >= 1 and K >= 2, got shape {features.shape}")
    return float(np.mean([diversity(clip) for clip in features]))
