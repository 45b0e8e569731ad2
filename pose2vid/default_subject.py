"""The built-in subject: a synthetic person dancing the corpus dancers' moves.

    python -m pose2vid.default_subject --out log/subject     # ~1 minute on 2 cores

writes a subject folder (``video.mp4`` at 10 fps, 640x360, and ``poses/`` OpenPose JSON) in
which one synthetic person (:mod:`pose2vid.person`) dances the moves of the corpus's training
videos, each video moved and scaled onto that person's body and place
(:func:`pose2vid.normalize.normalize_poses`), followed by the moves of its held-out test videos:
the last ``held_out`` share of the video, which ``pose2vid.train`` leaves out by default and the
measures score. Nothing here is a real person; any pose's true frame is
:func:`pose2vid.person.render_person` of it, which the measures use.
"""

import os
import sys

import numpy as np

from config import default_subject_parser
from dataset.dance_dataset import DanceDataset
from dataset.skeleton import NUM_JOINTS
from pose2vid.normalize import body_stats, normalize_poses
from pose2vid.person import render_person
from pose2vid.subject import POSE_FOLDER, VIDEO
from render import write_mp4, write_openpose_json
from runtime import report_errors


def video_poses(dataset):
    """Each video's poses in time order. Shape: -> ``{video: (T, 18, 2)}`` canvas pixels."""
    poses = dataset.pixel_poses()
    videos = {}
    for (video, _, _), window in zip(dataset.keys, poses):
        videos.setdefault(video, []).append(window)
    return {video: np.concatenate(windows).reshape(-1, NUM_JOINTS, 2) for video, windows in videos.items()}


def subject_poses(data, frames, held_out):
    """``frames`` poses for the subject: ``held_out`` of them from the test videos at the end,
    the rest from the training videos, every video moved onto the first training video's body.

    Shape: -> ``(frames, 18, 2)`` canvas pixels.
    """
    train = video_poses(DanceDataset(data, split="train", fill_missing=True))
    test = video_poses(DanceDataset(data, split="test", fill_missing=True))
    body = body_stats(next(iter(train.values())))

    def take(videos, count):
        moved = [normalize_poses(poses, body_stats(poses), body) for poses in videos.values()]
        per_video = -(-count // len(moved))
        return np.concatenate([poses[:per_video] for poses in moved])[:count]

    tested = int(round(held_out * frames))
    return np.concatenate([take(train, frames - tested), take(test, tested)])


def write_default_subject(out, data, frames, held_out):
    """Write the subject folder ``out`` (module docstring); returns its poses ``(T, 18, 2)``."""
    poses = subject_poses(data, frames, held_out)
    os.makedirs(out, exist_ok=True)
    write_openpose_json(poses, os.path.join(out, POSE_FOLDER), "video")
    write_mp4((render_person(pose) for pose in poses), None, os.path.join(out, VIDEO))
    return poses


def main_subject(argv=None):
    args = default_subject_parser().parse_args(argv)
    poses = write_default_subject(args.out, args.data, args.frames, args.held_out)
    print(f"{args.out}: {len(poses)} frames of the synthetic person ({args.held_out:.0%} from held-out videos)")


def main(argv=None):
    return report_errors(main_subject, argv)


if __name__ == "__main__":
    sys.exit(main())
