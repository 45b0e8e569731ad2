"""librosa's compiled functions, made by one process at a time.

librosa's numba functions (the beat tracker, local maxima, the STFT's magnitude) are compiled
when the submodule that holds them is imported, which librosa's lazy loader puts off until
the first use of ``librosa.util``, ``librosa.beat`` and the like; the machine code is cached
beside librosa's sources. Two processes that compile them at the same moment, as two
trainings started together do, can leave a cache whose parts disagree (numba issue #10128):
every later start then dies with a segmentation fault inside ``librosa.beat.beat_track``,
until the cache files (``*.nbi``, ``*.nbc`` under librosa's folder) are deleted.

:func:`warm_up` runs once per process, before its first use of librosa (every function of the
project that calls librosa calls it first): it holds an exclusive lock on a file in the
temporary folder while it tracks the beats of a short click track, so that the first process
compiles and writes the cache while the others wait, and then read it. Without ``fcntl``
(Windows), or where that file cannot be written, it runs without the lock.
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
    """Import librosa's compiled submodules and run their code once (compiling it, or loading it
    from librosa's cache) under the lock of :data:`LOCK_PATH`; later calls in the same process
    return at once."""
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
