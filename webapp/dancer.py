"""What the page does with a song: check it, dance it, render it, plot it, pack it.

:func:`check_song` runs in the request (so that bad input gets its 4xx at once) and writes the
song as danced, a 16 kHz WAV, into the job's folder. :class:`Dancer` is the queue's worker
function: the generator is loaded once, and each job writes into its folder

    dance.mp4    the skeleton dancing, with the song (H.264 + AAC, 10 fps); with a person
                 model, the person beside the skeleton
    beats.png    the beat plot (render/beat_plot.py)
    poses.npy    (T, 18, 2) pixel poses on the 640x360 canvas
    dance.zip    poses.npy and the OpenPose JSON, one file per frame
"""

import os
import threading
import zipfile

import numpy as np
import torch

from dataset.atomic import atomic_path
from dataset.audio import AudioError, frame_audio, load_audio, write_wav
from dataset.errors import DanceSynthError
from dataset.format import FPS, SAMPLE_RATE
from model.checkpoint import load_generator
from model.inference import dance_song, require_finite_poses
from pose2vid.person_model import Person
from render import render_frames, write_beat_plot, write_mp4, write_openpose_json

SONG = "song.wav"
OUTPUTS = {"video": "dance.mp4", "plot": "beats.png", "poses": "poses.npy", "zip": "dance.zip"}
# the share of a job's time each stage ends at (measured on a 30 s song, 2 cores)
DANCED, RENDERED, PLOTTED = 0.3, 0.85, 0.97


class SongError(DanceSynthError):
    """An upload that cannot be danced (not music, damaged, silent or too short)."""


class SongTooLongError(SongError):
    """A song longer than the server's limit."""


def check_song(upload, folder, max_seconds, shown_name="the uploaded file"):
    """Decode ``upload`` and write it as danced to ``folder/song.wav``; returns its length (s).

    Errors name ``shown_name``, never the server's path. Raises :class:`SongError` (:class:`SongTooLongError` past ``max_seconds``).
    """
    try:
        samples = load_audio(upload)
    except AudioError as err:
        raise SongError(str(err).replace(os.fspath(upload), shown_name).splitlines()[0]) from None
    seconds = samples.size / SAMPLE_RATE
    if seconds > max_seconds:
        raise SongTooLongError(f"{shown_name} lasts {seconds:.0f} s; the limit is {max_seconds:.0f} s")
    # the music as danced: the last partial 0.1 s frame padded, so the MP4 keeps every frame
    write_wav(os.path.join(folder, SONG), frame_audio(samples).ravel())
    return seconds


class Dancer:
    """The generator (and the person model, if any), loaded once, and the work of one job
    (:meth:`__call__`)."""

    def __init__(self, model, device, person=None):
        self.model = model
        self.generator = load_generator(model, device)
        self.person = Person(person, device) if person else None
        self.genres = int(getattr(self.generator, "genres", 0))
        self._lock = threading.Lock()

    def __call__(self, job, report):
        """Dance ``job.folder/song.wav`` with ``job.options`` (``seed``, ``genre``); ``report``
        takes the fraction done. Returns ``{kind: path}`` of :data:`OUTPUTS`."""
        folder = job.folder
        song = os.path.join(folder, SONG)
        samples = load_audio(song)
        with self._lock, torch.no_grad():
            poses = dance_song(self.generator, samples, seed=job.options["seed"], genre=job.options.get("genre"))
        poses = require_finite_poses(poses, self.model)
        report(DANCED)
        paths = {kind: os.path.join(folder, name) for kind, name in OUTPUTS.items()}
        with atomic_path(paths["poses"]) as tmp:
            np.save(tmp, poses)

        shown = render_frames(poses) if self.person is None else self.person.video_frames(poses, side_by_side=True)

        def frames():
            for t, frame in enumerate(shown):
                report(DANCED + (RENDERED - DANCED) * t / len(poses))
                yield frame

        write_mp4(frames(), song, paths["video"], fps=FPS)
        report(RENDERED)
        write_beat_plot(paths["plot"], samples, poses)
        report(PLOTTED)
        write_zip(paths["zip"], paths["poses"], poses, os.path.join(folder, "json"))
        return paths


def write_zip(path, poses_path, poses, json_folder):
    """``poses.npy`` and the OpenPose JSON of every frame (``json/dance_<frame>_keypoints.json``)
    in one zip at ``path``."""
    write_openpose_json(poses, json_folder, "dance")
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(poses_path, "poses.npy")
        for name in sorted(os.listdir(json_folder)):
            archive.write(os.path.join(json_folder, name), f"json/{name}")
