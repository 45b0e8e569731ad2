"""Linear probes of beat phase: how much of the music's beat phase a feature sequence carries.

A probe is ridge regression from per-frame features (optionally with neighbouring frames) to
``(sin, cos)`` of the beat phase, fitted on training clips and scored on held-out ones. It tells
apart "the music code does not know where the beat is" from "it knows, but the dance does not
show it". Pure numpy.
"""

import numpy as np


def beat_phase(frame_times, beats):
    """``(sin, cos)`` of each frame's position between its surrounding beats.

    Phase 0 is on a beat, 0.5 half-way to the next. Frames before the first or from the last
    beat on have no phase (NaN).

    Shape: ``frame_times`` ``(T,)`` s, ``beats`` ``(K,)`` s increasing -> ``(T, 2)``.
    """
    frame_times, beats = np.asarray(frame_times, float), np.asarray(beats, float)
    index = np.searchsorted(beats, frame_times, side="right") - 1
    inside = (index >= 0) & (index < len(beats) - 1)
    index = np.clip(index, 0, max(len(beats) - 2, 0))
    phase = np.full(frame_times.shape, np.nan)
    if len(beats) >= 2:
        phase = (frame_times - beats[index]) / (beats[index + 1] - beats[index])
    phase[~inside] = np.nan
    return np.stack([np.sin(2 * np.pi * phase), np.cos(2 * np.pi * phase)], -1)


def with_context(features, frames):
    """Each frame's features beside those of ``frames`` neighbours on each side (edges repeated).

    Shape: ``(N, T, F)`` -> ``(N, T, (2 * frames + 1) * F)``.
    """
    features = np.asarray(features)
    padded = np.pad(features, ((0, 0), (frames, frames), (0, 0)), mode="edge")
    steps = features.shape[1]
    return np.concatenate([padded[:, i:i + steps] for i in range(2 * frames + 1)], axis=-1)


def energy_envelope(audio, parts=16):
    """A plain loudness envelope: log RMS of each frame and of ``parts`` equal slices of it.

    Shape: ``(N, T, S)`` raw samples per frame -> ``(N, T, 1 + parts)``.
    """
    audio = np.asarray(audio, np.float64)
    whole = np.log1p(np.sqrt((audio ** 2).mean(-1)))[..., None]
    sliced = audio[..., :audio.shape[-1] // parts * parts].reshape(*audio.shape[:-1], parts, -1)
    return np.concatenate([whole, np.log1p(np.sqrt((sliced ** 2).mean(-1)))], axis=-1)


def ridge_probe(train_x, train_y, test_x, test_y, ridge=1.0):
    """Fit ridge regression on standardised ``train_x`` and score it on the test frames.

    Frames whose target is NaN are left out of both. Returns ``{"r2": R^2 of the test (sin, cos)
    targets, "phase_error": median |predicted - true phase| in beats (0-0.5; 0.25 by chance),
    "frames": test frames scored}``.

    Shape: ``*_x`` ``(..., F)``, ``*_y`` ``(..., 2)`` from :func:`beat_phase`.
    """
    x, y = np.reshape(train_x, (-1, np.shape(train_x)[-1])), np.reshape(train_y, (-1, 2))
    tx, ty = np.reshape(test_x, (-1, np.shape(test_x)[-1])), np.reshape(test_y, (-1, 2))
    keep, test_keep = ~np.isnan(y).any(1), ~np.isnan(ty).any(1)
    x, y, tx, ty = x[keep], y[keep], tx[test_keep], ty[test_keep]
    mean, std = x.mean(0), x.std(0) + 1e-8
    design = np.c_[(x - mean) / std, np.ones(len(x))]
    weights = np.linalg.solve(design.T @ design + ridge * np.eye(design.shape[1]), design.T @ y)
    predicted = np.c_[(tx - mean) / std, np.ones(len(tx))] @ weights
    r2 = 1 - ((predicted - ty) ** 2).sum() / ((ty - ty.mean(0)) ** 2).sum()
    angle = np.arctan2(predicted[:, 0], predicted[:, 1]) - np.arctan2(ty[:, 0], ty[:, 1])
    error = np.abs(np.angle(np.exp(1j * angle))) / (2 * np.pi)
    return {"r2": float(r2), "phase_error": float(np.median(error)), "frames": int(len(ty))}
