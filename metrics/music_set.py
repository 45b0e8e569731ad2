"""The music of an evaluation: clips, their beats, tempo and genre, and their recorded dances.

Music beats come from librosa's tracker run on each whole 10 s clip (or whole song), split into
5 s windows, or, for the synthetic corpus, from its sidecar's true beats.
"""

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dataset.audio import frame_audio, load_audio
from dataset.errors import DanceSynthError
from dataset.format import FPS, SAMPLE_FRAMES
from dataset.skeleton import NUM_JOINTS
from metrics.beats import beat_hit_rate, music_beats
from metrics.evaluation import window_beats

TRUTH_TOLERANCE_S = 0.07  # librosa beats within this of a true beat count as found

log = logging.getLogger(__name__)


@dataclass
class MusicSet:
    """The music clips of an evaluation, with what is known about them.

    Shape:
        names: N clip names ("video/clip/half" or "song@start_s").
        audio: ``(N, T, 1600)`` float32 raw int16-range audio.
        beats: N arrays, the beat times (s from the clip start) that scores use.
        truth_beats: N arrays of true beats, or None; bpm: ``(N,)`` true BPM, or None.
        genres: N genre names, or None.
        rhythm: ``(N, T, 8)`` rhythm features for a generator that hears them, or None.
    """

    names: list
    audio: np.ndarray
    beats: list
    truth_beats: list = None
    bpm: np.ndarray = None
    genres: list = None
    rhythm: np.ndarray = None


def dataset_music(dataset, beat_source="librosa"):
    """The :class:`MusicSet` of a :class:`DanceDataset` split and its ground-truth pixel dances.

    librosa beats are tracked on each whole clip (its samples joined in order), then split into
    the samples' windows; the sidecar (when present) gives true beats, BPM and genre. A dataset
    made with ``rhythm`` gives the clips' rhythm features.

    Returns ``(MusicSet, dances (N, T, 18, 2) pixels)``.
    """
    audio = dataset.as_tensors()[0].numpy()
    frames = audio.shape[1]
    window_s = frames / FPS
    halves_of = {}
    for index, (video, clip, half) in enumerate(dataset.keys):
        halves_of.setdefault((video, clip), []).append((half, index))
    tracked, truth = [None] * len(audio), [None] * len(audio)
    for (video, clip), halves in halves_of.items():
        halves.sort()
        last = halves[-1][0] + 1
        whole = np.zeros((last, frames, audio.shape[2]), dtype=np.float32)
        for half, index in halves:
            whole[half] = audio[index]
        beats = window_beats(music_beats(whole.reshape(-1)), window_s, last)
        clip_truth = dataset.clip_beats(video, clip)
        true_beats = window_beats(clip_truth, window_s, last) if clip_truth is not None else None
        for half, index in halves:
            tracked[index] = beats[half]
            truth[index] = true_beats[half] if true_beats is not None else None
    has_truth = all(t is not None for t in truth)
    if beat_source == "truth" and not has_truth:
        raise DanceSynthError(f"{dataset.path}: --music-beats truth needs per-clip 'beats' in the sidecar")
    bpm = [dataset.video_bpm(video) for video, _, _ in dataset.keys]
    genres = [dataset.video_genre(video) for video, _, _ in dataset.keys]
    known = all(b is not None for b in bpm) and all(g is not None for g in genres)
    music = MusicSet(
        names=[f"{video}/{clip}/{half}" for video, clip, half in dataset.keys],
        audio=audio,
        beats=truth if beat_source == "truth" else tracked,
        truth_beats=truth if has_truth else None,
        bpm=np.array(bpm, dtype=np.float64) if known else None,
        genres=genres if known else None,
        rhythm=None if dataset.rhythm is None else dataset.rhythm_windows().numpy(),
    )
    return music, dataset.pixel_poses()


def folder_music(directory, frames=SAMPLE_FRAMES):
    """Music windows and dances from ``directory``: ``<name>.npy`` pixel poses with ``<name>.wav``.

    Each song is cut into consecutive windows of ``frames`` frames; librosa beats are tracked on
    the whole song. A ``.npy`` without its ``.wav`` is skipped with a warning.

    Returns ``(MusicSet, dances (N, frames, 18, 2) pixels)``.
    """
    directory = Path(directory)
    names, audio, beats, dances = [], [], [], []
    for pose_file in sorted(directory.glob("*.npy")):
        wav = pose_file.with_suffix(".wav")
        if not wav.exists():
            log.warning("%s: no %s beside it; skipped", pose_file, wav.name)
            continue
        poses = np.load(pose_file).astype(np.float64)
        if poses.ndim == 2 and poses.shape[1] == 2 * NUM_JOINTS:
            poses = poses.reshape(len(poses), NUM_JOINTS, 2)
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
            raise DanceSynthError(f"{pose_file}: expected pixel poses of shape (T, {NUM_JOINTS}, 2), got {poses.shape}")
        windows = len(poses) // frames
        if windows == 0:
            raise DanceSynthError(f"{pose_file}: {len(poses)} frames; need at least {frames} (one 5 s window)")
        song = frame_audio(load_audio(wav), windows * frames)
        song_beats = window_beats(music_beats(song.reshape(-1)), frames / FPS, windows)
        for w in range(windows):
            names.append(f"{pose_file.stem}@{w * frames / FPS:g}s")
            audio.append(song[w * frames:(w + 1) * frames])
            beats.append(song_beats[w])
            dances.append(poses[w * frames:(w + 1) * frames])
    if not names:
        raise DanceSynthError(f"{directory}: no <name>.npy with a matching <name>.wav")
    return MusicSet(names=names, audio=np.stack(audio), beats=beats), np.stack(dances)


def beats_against_truth(music, tolerance_s=TRUTH_TOLERANCE_S):
    """How well the scoring beats match the true ones: mean recall and precision over clips."""
    if music.truth_beats is None:
        return None
    recall = [beat_hit_rate(found, true, tolerance_s) for found, true in zip(music.beats, music.truth_beats)]
    precision = [beat_hit_rate(true, found, tolerance_s) for found, true in zip(music.beats, music.truth_beats)]
    return {"tolerance_s": tolerance_s, "recall": float(np.nanmean(recall)), "precision": float(np.nanmean(precision))}
