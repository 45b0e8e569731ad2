"""Poses as OpenPose JSON: one ``<name>_<frame:012d>_keypoints.json`` per frame, COCO-18, one person.

The layout is OpenPose 1.3's, so tools that read OpenPose output (and ``dataset.build``) read
these files too. A joint stored as missing (pixel (0, 0)) is written with confidence 0.
"""

import json
import os

import numpy as np

from dataset.atomic import atomic_open
from dataset.skeleton import missing_mask

OPENPOSE_VERSION = 1.3


def openpose_frame(pose_pixels):
    """One frame in OpenPose's JSON layout (COCO-18, one person).

    Shape: ``(18, 2)`` pixels -> ``{"version": 1.3, "people": [{"pose_keypoints_2d":
    [x0, y0, c0, ..., x17, y17, c17]}]}`` with confidence 1 for drawn joints and 0 (with
    x = y = 0) for joints at pixel (0, 0), which the renderer and dataset treat as missing.
    Coordinates are rounded to 0.001 px.
    """
    pose = np.asarray(pose_pixels, dtype=np.float64)
    drawn = ~missing_mask(pose)
    keypoints = np.concatenate([pose * drawn[:, None], drawn[:, None].astype(np.float64)], axis=1)
    return {"version": OPENPOSE_VERSION,
            "people": [{"pose_keypoints_2d": [round(float(v), 3) for v in keypoints.ravel()]}]}


def write_openpose_json(poses_pixels, folder, name):
    """Write one OpenPose ``<name>_<frame:012d>_keypoints.json`` per frame into ``folder``.

    Shape: ``poses_pixels`` ``(T, 18, 2)``. Creates ``folder``; each file is written atomically
    (:func:`dataset.atomic.atomic_open`). Returns the number of files.
    """
    os.makedirs(folder, exist_ok=True)
    for t, pose in enumerate(poses_pixels):
        with atomic_open(os.path.join(folder, f"{name}_{t:012d}_keypoints.json")) as f:
            json.dump(openpose_frame(pose), f)
    return len(poses_pixels)
