"""Rhythm features of every clip of a dataset file, computed once and kept beside it.

``<file>.rhythm-<source>.npz`` holds :func:`dataset.rhythm.rhythm_features` of each 10 s clip
(computed on the whole clip, so both of its 5 s samples share one beat grid). Sources:

    librosa   beats tracked from the clip's audio, bar estimated from it (what a song gets)
    truth     the sidecar's true beats and downbeat: the oracle, for the synthetic corpus

Like the dataset cache it records the size and ``mtime_ns`` of the files it came from (the
dataset file, and for ``truth`` its sidecar) and is rebuilt when they change; a cache that
cannot be read is rebuilt, never fatal. It is written atomically.
"""

import logging
from pathlib import Path

import numpy as np
from tqdm import tqdm

from dataset.atomic import atomic_open
from dataset.format import CLIP_FRAMES
from dataset.rhythm import FEATURES, rhythm_features

logger = logging.getLogger(__name__)

SOURCES = ("librosa", "truth")
CACHE_VERSION = 1


def rhythm_cache_path(path, source):
    """Where the ``source`` rhythm features of dataset file ``path`` live."""
    path = Path(path)
    return path.with_name(f"{path.name}.rhythm-{source}.npz")


def _stamp(paths):
    """``(size, mtime_ns)`` of every file in ``paths``, flattened: int64 ``(2 * len(paths),)``."""
    return np.array([v for p in paths for v in (p.stat().st_size, p.stat().st_mtime_ns)], dtype=np.int64)


def _read(cache, stamp, keys):
    if not cache.exists():
        return None
    try:
        with np.load(cache, allow_pickle=False) as stored:
            fresh = (int(stored["version"]) == CACHE_VERSION and np.array_equal(stored["stamp"], stamp)
                     and stored["features"].shape == (len(keys), CLIP_FRAMES, len(FEATURES))
                     and stored["keys"].tolist() == keys
                     and stored["names"].tolist() == list(FEATURES))
            if fresh:
                return stored["features"]
    except Exception as err:  # noqa: BLE001 - the cache is disposable: anything wrong means rebuild
        logger.warning("%s: rhythm cache unreadable (%s), rebuilding", cache, err)
        return None
    logger.info("%s: rhythm cache is stale, rebuilding", cache)
    return None


def clip_rhythm(path, corpus, source, truth=None, sources=()):
    """The ``source`` rhythm features of every clip of ``corpus`` (loaded from ``path``).

    Args:
        path: the dataset file (the cache goes beside it).
        corpus: its :class:`dataset.dance_dataset.Corpus`.
        source: ``"librosa"`` or ``"truth"``.
        truth: for ``"truth"``, ``truth(video, clip) -> (beats in s, downbeat index or None)``.
        sources: further files the features depend on (the sidecar, for ``"truth"``).

    Returns:
        ``(N, 100, 8)`` float32, row ``i`` for clip ``i`` of ``corpus``.
    """
    if source not in SOURCES:
        raise ValueError(f"rhythm source {source!r}: expected one of {SOURCES}")
    path = Path(path)
    keys = [f"{video}/{clip}" for video, clip in zip(corpus.videos, corpus.clips)]
    stamp = _stamp([path, *map(Path, sources)])
    cache = rhythm_cache_path(path, source)
    features = _read(cache, stamp, keys)
    if features is not None:
        return features
    rows = []
    for video, clip, audio in tqdm(zip(corpus.videos, corpus.clips, corpus.audio), total=len(keys),
                                   desc=f"rhythm features ({source}) of {path.name}", leave=False):
        beats, downbeat = truth(video, clip) if source == "truth" else (None, None)
        rows.append(rhythm_features(audio, CLIP_FRAMES, beats=beats, downbeat=downbeat))
    features = np.stack(rows).astype(np.float32)
    try:
        with atomic_open(cache, "wb") as f:
            np.savez(f, version=np.int64(CACHE_VERSION), stamp=stamp, keys=np.array(keys),
                     names=np.array(FEATURES), features=features)
        logger.info("%s: wrote rhythm cache %s (%d clips)", path, cache, len(keys))
    except OSError as err:
        logger.warning("%s: cannot write rhythm cache %s (%s); using it uncached", path, cache, err)
    return features
