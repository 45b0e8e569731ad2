"""librosa's compiled functions, made by one process at a time.

librosa compiles its numba functions (the beat tracker, the STFT's magnitude) on their first
call and caches the machine code beside its sources. Two processes that compile them at the
same moment, as two trainings started together do, can leave a cache whose parts disagree
(numba issue #10128): every later start then dies with a segmentation fault inside
``librosa.beat.beat_track``, until the cache files (``*.nbi``, ``*.nbc`` under librosa's
folder) are deleted.

:func:`warm_up` runs once per process, before its first call into librosa's compiled code: it
holds an exclusive lock on a file in the temporary folder while it tracks the beats of a short
click track, so that the first process compiles and writes the cache while the others wait,
and then read it. Without ``fcntl`` (Windows), or where that file cannot be written, it runs
without the lock.
"""

import os
import tempfile

import librosa
import numpy as np

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None

LOCK_PATH = os.path.join(tempfile.gettempdir(), "dance-synth-librosa-compile.lock")
_SR = 16000
_done = False


def warm_up():
    """Compile (or load from librosa's cache) the numba code that the project calls, under the
    lock of :data:`LOCK_PATH`; later calls in the same process return at once."""
    global _done
    if _done:
        return
    _done = True
    try:
        lock = open(LOCK_PATH, "a")
    except OSError:  # a temporary folder that cannot be written: compile without the lock
        lock = None
    try:
        if lock is not None and fcntl is not None:
            fcntl.flock(lock, fcntl.LOCK_EX)
        _call_compiled_code()
    finally:
        if lock is not None:
            lock.close()  # closing the file releases the lock


def _call_compiled_code():
    """Track the beats, tempo and chroma of a 4 s click track: every compiled librosa function
    that dataset/rhythm.py and metrics/beats.py reach."""
    clicks = librosa.clicks(times=np.arange(0.25, 4.0, 0.5), sr=_SR, length=4 * _SR)
    envelope = librosa.onset.onset_strength(y=clicks, sr=_SR, hop_length=160)
    librosa.beat.beat_track(onset_envelope=envelope, sr=_SR, hop_length=160)
    librosa.feature.tempo(onset_envelope=envelope, sr=_SR, hop_length=160)
    librosa.feature.chroma_stft(y=clicks, sr=_SR, hop_length=160, tuning=0.0)
