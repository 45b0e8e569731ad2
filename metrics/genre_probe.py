"""Pure functions for probing the genre in a generator's music code (``probe_genre.py``)."""

import numpy as np


def clip_offsets(codes, centre):
    """Each clip's mean code minus ``centre``: ``(N, T, C), (C,)`` -> ``(N, C)``."""
    return np.asarray(codes).mean(axis=1) - np.asarray(centre)


def scale_offsets(codes, centre, scale):
    """Lengthen each clip's song-level offset by ``scale`` (``code + scale * offset`` on every
    frame), keeping the code's changes from frame to frame: ``(N, T, C)`` -> ``(N, T, C)``.
    Works on numpy arrays and torch tensors alike."""
    return codes + scale * (codes.mean(1, keepdims=True) - centre)


def ridge_genre_probe(train_x, train_labels, test_x, test_labels, num_classes, ridge=1.0):
    """Accuracy of a linear classifier (ridge regression onto one-hot labels, then argmax) fitted
    on standardised ``train_x`` and scored on ``test_x``.

    Shape: ``*_x`` ``(N, F)``, ``*_labels`` ``(N,)`` ints in ``[0, num_classes)``.
    Returns ``{"train": accuracy, "test": accuracy}``.
    """
    train_x, test_x = np.asarray(train_x, np.float64), np.asarray(test_x, np.float64)
    mean, std = train_x.mean(0), train_x.std(0) + 1e-8

    def design(x):
        return np.c_[(x - mean) / std, np.ones(len(x))]

    targets = np.eye(num_classes)[np.asarray(train_labels)]
    train_design = design(train_x)
    weights = np.linalg.solve(train_design.T @ train_design + ridge * np.eye(train_design.shape[1]),
                              train_design.T @ targets)
    return {split: float(((design(x) @ weights).argmax(1) == np.asarray(labels)).mean())
            for split, x, labels in (("train", train_x, train_labels), ("test", test_x, test_labels))}
