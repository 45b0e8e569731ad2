"""A subject's training pairs: frames of their video and the skeleton drawn on each, in one crop.

A subject folder holds

    video.mp4      the person, any size and frame rate (anything ffmpeg reads)
    poses/         OpenPose JSON, one file per video frame (the format `dataset.build` reads)
    or poses.npy   ``(T, 18, 2)`` pixels of the video, (0, 0) for a missing joint

Everything the network sees is cut from one square **crop** around every place the person's
joints reach over the video (plus a margin for the head, hands and feet), resized to ``size``
pixels: the frames through ffmpeg's crop and scale filters, the pose maps by drawing the
skeleton with the project's renderer on a canvas of the video's size and cutting the same crop.
"""

import os
import subprocess
from dataclasses import dataclass

import cv2
import numpy as np

from dataset.build import BuildError, load_openpose_folder
from dataset.errors import DanceSynthError
from dataset.ffmpeg import find_ffmpeg
from dataset.skeleton import NUM_JOINTS, missing_mask
from render.draw import draw_pose
from render.video import VideoError, probe_mp4

VIDEO, POSE_FOLDER, POSE_ARRAY = "video.mp4", "poses", "poses.npy"
MARGIN = 0.2  # of the person's tallest extent, on every side of the joints' box
MIN_FRAMES = 2


class SubjectError(DanceSynthError, ValueError):
    """Subject data that cannot be trained on; the message names the file and the problem."""


@dataclass(frozen=True)
class Crop:
    """A square ``side`` x ``side`` box at ``(x, y)`` (top left) in a ``width`` x ``height`` video."""
    x: int
    y: int
    side: int
    width: int
    height: int


def person_crop(poses, width, height, margin=MARGIN):
    """The square crop around every present joint of ``poses`` in a ``width`` x ``height`` video.

    The joints' box over all frames is grown by ``margin`` times its larger side on every side,
    made square around its centre and moved (then, if need be, shrunk) to lie inside the video.

    Shape: ``poses`` ``(T, 18, 2)`` pixels, (0, 0) or NaN missing -> :class:`Crop`.
    Raises :class:`SubjectError` when no joint is present.
    """
    poses = np.asarray(poses, dtype=np.float64)
    present = np.isfinite(poses).all(-1) & ~missing_mask(np.nan_to_num(poses))
    if not present.any():
        raise SubjectError("no joint is present in any frame: nothing to crop around")
    points = poses[present]
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float((high - low).max())
    side = min(int(round(extent * (1 + 2 * margin))), width, height)
    side = max(side, 1)
    centre = (low + high) / 2
    x = int(np.clip(round(centre[0] - side / 2), 0, width - side))
    y = int(np.clip(round(centre[1] - side / 2), 0, height - side))
    return Crop(x, y, side, width, height)


def pose_map(pose, crop, size):
    """The skeleton of one pose as the network sees it: drawn on a white canvas of the video's
    size (:func:`render.draw.draw_pose`), cut to ``crop`` and resized to ``size`` x ``size``.

    Shape: ``pose`` ``(18, 2)`` video pixels -> ``(size, size, 3)`` uint8 BGR.
    """
    canvas = np.full((crop.height, crop.width, 3), 255, dtype=np.uint8)
    draw_pose(pose, canvas)
    cut = canvas[crop.y:crop.y + crop.side, crop.x:crop.x + crop.side]
    return cv2.resize(cut, (size, size), interpolation=cv2.INTER_AREA)


def read_frames(path, crop, size):
    """Every frame of a video, cut to ``crop`` and resized to ``size`` (ffmpeg, area scaling).

    Shape: -> ``(T, size, size, 3)`` uint8 BGR. Raises :class:`SubjectError` naming the file.
    """
    command = [find_ffmpeg(), "-nostdin", "-hide_banner", "-v", "error", "-i", os.fspath(path),
               "-map", "0:v:0", "-vf", f"crop={crop.side}:{crop.side}:{crop.x}:{crop.y},"
               f"scale={size}:{size}:flags=area", "-f", "rawvideo", "-pix_fmt", "bgr24", "-"]
    result = subprocess.run(command, capture_output=True, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        raise SubjectError(f"cannot read frames of {path}: {reason[-1] if reason else 'ffmpeg failed'}")
    frame_bytes = size * size * 3
    count = len(result.stdout) // frame_bytes
    return np.frombuffer(result.stdout[:count * frame_bytes], dtype=np.uint8).reshape(count, size, size, 3)


def read_poses(folder):
    """The subject's poses: ``poses.npy``, else the OpenPose JSON in ``poses/``.

    Shape: -> ``(T, 18, 2)`` float64 video pixels, (0, 0) for a missing joint.
    Raises :class:`SubjectError` naming the file when there are none or they are malformed.
    """
    array, json_folder = os.path.join(folder, POSE_ARRAY), os.path.join(folder, POSE_FOLDER)
    if os.path.isfile(array):
        try:
            poses = np.load(array, allow_pickle=False).astype(np.float64)
        except (OSError, ValueError) as err:
            raise SubjectError(f"cannot read {array}: {err}") from None
        if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
            raise SubjectError(f"{array}: expected poses of shape (T, {NUM_JOINTS}, 2), got {poses.shape}")
    elif os.path.isdir(json_folder):
        try:
            poses, _ = load_openpose_folder(json_folder)
        except BuildError as err:
            raise SubjectError(str(err)) from None
    else:
        raise SubjectError(f"{folder}: no poses ({POSE_ARRAY} or a {POSE_FOLDER}/ folder of OpenPose JSON)")
    return np.where(np.isfinite(poses), poses, 0.0)


@dataclass
class Subject:
    """A subject's training pairs and what inference needs to draw new poses as they were drawn.

    Shapes: ``frames``, ``maps`` ``(T, size, size, 3)`` uint8 BGR; ``poses`` ``(T, 18, 2)``
    video pixels.
    """
    frames: np.ndarray
    maps: np.ndarray
    poses: np.ndarray
    crop: Crop
    fps: float


def load_subject(folder, size):
    """Read a subject folder (module docstring) into :class:`Subject` pairs at ``size`` pixels.

    Raises :class:`SubjectError` naming the file for: no video or no poses, a video that
    cannot be read, poses without a person in them, or frame counts that differ.
    """
    video = os.path.join(folder, VIDEO)
    if not os.path.isfile(video):
        raise SubjectError(f"{folder}: no {VIDEO} (the subject's video)")
    poses = read_poses(folder)
    present = ~missing_mask(poses)
    if not present.any():
        raise SubjectError(f"{folder}: the poses hold no person (every joint is missing in every frame)")
    try:
        info = probe_mp4(video)
    except VideoError as err:
        raise SubjectError(" ".join(str(err).split())) from None
    crop = person_crop(poses, info["width"], info["height"])
    frames = read_frames(video, crop, size)
    if len(frames) != len(poses):
        raise SubjectError(f"{folder}: {VIDEO} has {len(frames)} frames but there are {len(poses)} poses; "
                           f"expected one pose per frame")
    if len(frames) < MIN_FRAMES:
        raise SubjectError(f"{video}: {len(frames)} frame(s); need at least {MIN_FRAMES}")
    maps = np.stack([pose_map(pose, crop, size) for pose in poses])
    return Subject(frames, maps, poses, crop, info["fps"])
