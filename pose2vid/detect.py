"""Poses straight from a subject's video, so that training a person needs only the video.

    python -m pose2vid.detect --video person.mp4 --out DIR
    python -m pose2vid.train --subject DIR --out pretrain_model/person.pth

The detector is MediaPipe Pose (BlazePose), an optional dependency: the mediapipe 0.10.14 wheel
carries its full landmark model inside it (later wheels carry none, and MediaPipe fetches the
other model sizes on first use, which this project never lets it do). ``make detector`` installs
it. The video runs through MediaPipe's tracking mode (each frame's search starts from the
previous frame's person). Each frame's 33 landmarks become the project's 18 OpenPose joints: a
joint seen with less than ``--min_visibility`` confidence, or outside the image, is missing, as
is every joint of a frame without a person (``pose2vid.train`` skips such frames). MediaPipe has
no neck; OpenPose puts it midway between the shoulders, and so does this.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
from tqdm import tqdm

from config import pose_detect_parser
from dataset.atomic import atomic_paths
from dataset.errors import DanceSynthError
from dataset.ffmpeg import find_ffmpeg
from dataset.skeleton import JOINT_INDEX, NUM_JOINTS, missing_mask
from pose2vid.subject import POSE_ARRAY, POSE_FOLDER, VIDEO, SubjectError
from render.video import VideoError, probe_mp4
from runtime import report_errors

NUM_LANDMARKS = 33
# MediaPipe Pose's landmark index of each OpenPose joint (both name sides from the person's view)
LANDMARK_OF = {"nose": 0, "r_shoulder": 12, "r_elbow": 14, "r_wrist": 16, "l_shoulder": 11, "l_elbow": 13,
               "l_wrist": 15, "r_hip": 24, "r_knee": 26, "r_ankle": 28, "l_hip": 23, "l_knee": 25,
               "l_ankle": 27, "r_eye": 5, "l_eye": 2, "r_ear": 8, "l_ear": 7}
MEDIAPIPE_VERSION = "0.10.14"
INSTALL = (f"make detector (or: pip install --no-deps mediapipe=={MEDIAPIPE_VERSION} absl-py flatbuffers "
           f"'protobuf>=4.25.3,<5')")


class DetectorError(DanceSynthError, RuntimeError):
    """The pose detector is not installed, or not the version whose wheel holds its model."""


def openpose_joints(landmarks, width, height, min_visibility=0.5):
    """One frame's MediaPipe landmarks as the project's 18 joints, in pixels of the video.

    Shape: ``landmarks`` ``(33, 3)`` (x and y as fractions of the image's width and height,
    then visibility in [0, 1]), or None for a frame without a person -> ``(18, 2)`` float64,
    (0, 0) for a missing joint.
    """
    joints = np.zeros((NUM_JOINTS, 2))
    if landmarks is None:
        return joints
    landmarks = np.asarray(landmarks, dtype=np.float64)
    if landmarks.shape != (NUM_LANDMARKS, 3):
        raise ValueError(f"expected ({NUM_LANDMARKS}, 3) landmarks, got {landmarks.shape}")
    pixels = landmarks[:, :2] * (width, height)
    inside = (pixels >= 0).all(axis=1) & (pixels[:, 0] < width) & (pixels[:, 1] < height)
    seen = np.isfinite(landmarks).all(axis=1) & (landmarks[:, 2] >= min_visibility) & inside
    for name, index in LANDMARK_OF.items():
        if seen[index]:
            joints[JOINT_INDEX[name]] = pixels[index]
    right, left = LANDMARK_OF["r_shoulder"], LANDMARK_OF["l_shoulder"]
    if seen[right] and seen[left]:
        joints[JOINT_INDEX["neck"]] = (pixels[right] + pixels[left]) / 2
    return joints


def mediapipe_tracker():
    """MediaPipe Pose in tracking mode with its full model: a function from one frame,
    ``(H, W, 3)`` uint8 RGB, to its ``(33, 3)`` landmarks (None without a person).

    Raises :class:`DetectorError` saying how to install it when mediapipe cannot run here.
    """
    try:
        import mediapipe
        from mediapipe.python.solutions import pose
    except ImportError as err:
        raise DetectorError(f"taking poses from a video needs mediapipe ({err}): {INSTALL}") from None
    model = os.path.join(os.path.dirname(mediapipe.__file__), "modules", "pose_landmark", "pose_landmark_full.tflite")
    if not os.path.isfile(model):
        raise DetectorError(f"mediapipe {mediapipe.__version__} holds no pose model ({model}); "
                            f"version {MEDIAPIPE_VERSION} does: {INSTALL}")
    try:
        tracker = pose.Pose(static_image_mode=False, model_complexity=1)
    except (AttributeError, TypeError) as err:  # its generated protobuf code against protobuf >= 5
        raise DetectorError(f"mediapipe {mediapipe.__version__} cannot start ({err}): {INSTALL}") from None

    def landmarks(frame):
        found = tracker.process(frame).pose_landmarks
        if found is None:
            return None
        return np.array([[point.x, point.y, point.visibility] for point in found.landmark])

    return landmarks


def video_frames(path, width, height):
    """Each frame of a video, decoded by ffmpeg one at a time.

    Shape: yields ``(height, width, 3)`` uint8 RGB. Raises :class:`SubjectError` naming the
    file when ffmpeg fails.
    """
    command = [find_ffmpeg(), "-nostdin", "-hide_banner", "-v", "error", "-i", os.fspath(path),
               "-map", "0:v:0", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
    frame_bytes = width * height * 3
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    finished = False
    try:
        while len(data := process.stdout.read(frame_bytes)) == frame_bytes:
            yield np.frombuffer(data, dtype=np.uint8).reshape(height, width, 3)
        finished = True
    finally:
        if not finished:  # the caller stopped early
            process.kill()
        errors = process.stderr.read().decode(errors="replace").strip().splitlines()
        process.stdout.close()
        process.stderr.close()
        process.wait()
    if process.returncode != 0:
        raise SubjectError(f"cannot read frames of {path}: {errors[-1] if errors else 'ffmpeg failed'}")


def detect_poses(video, landmarks_of, min_visibility=0.5):
    """Every frame's pose in a video, found by ``landmarks_of`` (e.g. :func:`mediapipe_tracker`).

    Shape: -> ``(T, 18, 2)`` float64 pixels of the video, (0, 0) for a missing joint.
    Raises :class:`SubjectError` naming the file when it is unreadable, has no frame, or no
    person is found in any frame.
    """
    try:
        info = probe_mp4(video)
    except VideoError as err:
        raise SubjectError(" ".join(str(err).split())) from None
    width, height = info["width"], info["height"]
    frames = tqdm(video_frames(video, width, height), total=info["video_frames"] or None,
                  desc="detecting poses", unit="frame", dynamic_ncols=True)
    poses = [openpose_joints(landmarks_of(frame), width, height, min_visibility) for frame in frames]
    if not poses:
        raise SubjectError(f"{video}: no frames")
    poses = np.stack(poses)
    if missing_mask(poses).all():
        raise SubjectError(f"{video}: no person found in any of its {len(poses)} frames")
    return poses


def write_subject_folder(video, poses, out, overwrite=False):
    """Write subject folder ``out``: ``poses.npy`` and a copy of ``video`` as ``video.mp4``
    (kept as it is when ``video`` already is that file), both at once and atomically.

    Raises :class:`SubjectError`, before anything is written, when ``out`` already holds poses
    or another video and ``overwrite`` is not set.
    """
    target_video, target_poses = os.path.join(out, VIDEO), os.path.join(out, POSE_ARRAY)
    same_video = os.path.exists(target_video) and os.path.samefile(video, target_video)
    held = [path for path in (target_poses, os.path.join(out, POSE_FOLDER)) if os.path.exists(path)]
    held += [target_video] if os.path.exists(target_video) and not same_video else []
    if held and not overwrite:
        raise SubjectError(f"{out} already holds a subject ({', '.join(held)}); --overwrite replaces "
                           f"its video and poses")
    targets = [target_poses] if same_video else [target_poses, target_video]
    with atomic_paths(targets) as temps:
        np.save(temps[0], poses.astype(np.float32))
        if not same_video:
            shutil.copyfile(video, temps[1])


def detect(argv=None):
    args = pose_detect_parser().parse_args(argv)
    if not os.path.isfile(args.video):
        raise SubjectError(f"{args.video}: no such video")
    landmarks_of = mediapipe_tracker()
    poses = detect_poses(args.video, landmarks_of, args.min_visibility)
    write_subject_folder(args.video, poses, args.out, args.overwrite)
    shown = (~missing_mask(poses)).sum(axis=1)
    print(f"{len(poses)} frames, a person in {int((shown > 0).sum())}, a median of {int(np.median(shown))} "
          f"of {NUM_JOINTS} joints per frame; wrote {os.path.join(args.out, POSE_ARRAY)} and "
          f"{os.path.join(args.out, VIDEO)}\nnext: python -m pose2vid.train --subject {args.out}")


def main(argv=None):
    return report_errors(detect, argv)


if __name__ == "__main__":
    sys.exit(main())
