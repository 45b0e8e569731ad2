"""librosa's numba code is compiled by one process at a time (dataset/librosa_warm_up.py)."""

import fcntl
import os
import subprocess
import sys
import time

import librosa

from dataset import librosa_warm_up

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_warm_up_tracks_beats_once_per_process_and_releases_the_lock(monkeypatch):
    calls = []
    track = librosa.beat.beat_track
    monkeypatch.setattr(librosa.beat, "beat_track", lambda **kw: calls.append(kw) or track(**kw))
    monkeypatch.setattr(librosa_warm_up, "_done", False)
    librosa_warm_up.warm_up()
    librosa_warm_up.warm_up()
    assert len(calls) == 1
    with open(librosa_warm_up.LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free again: raises if still held
        fcntl.flock(lock, fcntl.LOCK_UN)


def test_a_second_process_waits_while_another_holds_the_lock():
    librosa_warm_up.warm_up()  # compiled and cached: unlocked, the child's warm-up takes well under 1 s
    # the imports first (numba's take seconds; they only load the cache written above), then the warm-up alone
    script = ("import librosa.beat, librosa.feature, librosa.onset; from dataset.librosa_warm_up import warm_up; "
              "print('ready', flush=True); warm_up(); print('warm', flush=True)")
    with open(librosa_warm_up.LOCK_PATH, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        child = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
        try:
            assert child.stdout.readline().strip() == "ready"
            time.sleep(1.0)
            assert child.poll() is None  # still waiting for the lock
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
        out, _ = child.communicate(timeout=120)
    assert child.returncode == 0 and out.strip() == "warm"


def test_warm_up_runs_without_the_lock_where_the_lock_file_cannot_be_written(monkeypatch, tmp_path):
    monkeypatch.setattr(librosa_warm_up, "LOCK_PATH", str(tmp_path / "no such folder" / "x.lock"))
    monkeypatch.setattr(librosa_warm_up, "_done", False)
    calls = []
    monkeypatch.setattr(librosa_warm_up, "_call_compiled_code", lambda: calls.append(1))
    librosa_warm_up.warm_up()
    assert calls == [1]


def test_every_project_function_that_calls_librosa_warms_it_up_first(monkeypatch):
    from dataset import rhythm
    from metrics import beats
    from model import music_dance_embedding

    calls = []
    for module in (rhythm, beats, music_dance_embedding):
        monkeypatch.setattr(module, "warm_up", lambda: calls.append(1))
    music_dance_embedding._mel_basis.cache_clear()
    clicks = librosa.clicks(times=[0.5, 1.0, 1.5], sr=16000, length=32000)
    music_dance_embedding._mel_basis()
    rhythm.song_beats(rhythm.onset_envelope(clicks))
    rhythm.bar_offset(clicks, [0.5, 1.0, 1.5, 1.9])
    beats.music_beats(clicks)
    assert len(calls) == 5  # the filterbank, the envelope, the beats, the log-mel, the metrics' envelope
    music_dance_embedding._mel_basis.cache_clear()
