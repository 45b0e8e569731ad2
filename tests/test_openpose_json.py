"""Tests of poses -> OpenPose JSON files (render.openpose_json)."""

import json
import os

import numpy as np

from dataset.build import parse_openpose_frame
from render import openpose_frame, write_openpose_json


def standing_pose():
    """``(18, 2)`` pixels: joint j at (100 + j, 50 + 2 j), joint 0 missing (pixel (0, 0))."""
    pose = np.stack([100.0 + np.arange(18), 50.0 + 2 * np.arange(18)], axis=1)
    pose[0] = 0
    return pose


def test_openpose_frame_known_answer():
    pose = standing_pose()
    pose[1] = (320.12345, 180.5)
    frame = openpose_frame(pose)
    assert frame["version"] == 1.3 and len(frame["people"]) == 1
    keypoints = frame["people"][0]["pose_keypoints_2d"]
    assert len(keypoints) == 54
    assert keypoints[:9] == [0.0, 0.0, 0.0, 320.123, 180.5, 1.0, 102.0, 54.0, 1.0]
    assert keypoints[-3:] == [117.0, 84.0, 1.0]
    json.dumps(frame, allow_nan=False)  # plain JSON


def test_openpose_frame_reads_back_through_the_dataset_builder():
    pose = standing_pose()
    people = parse_openpose_frame(openpose_frame(pose))
    assert people.shape == (1, 18, 3)
    np.testing.assert_array_equal(people[0, :, :2], pose)
    np.testing.assert_array_equal(people[0, :, 2], [0] + [1] * 17)


def test_write_openpose_json_one_file_per_frame(tmp_path):
    poses = np.stack([standing_pose() + t for t in range(3)])
    poses[:, 0] = 0
    folder = tmp_path / "song_json"
    assert write_openpose_json(poses, str(folder), "song") == 3
    assert sorted(os.listdir(folder)) == [f"song_{t:012d}_keypoints.json" for t in range(3)]  # no temp files
    for t in range(3):
        with open(folder / f"song_{t:012d}_keypoints.json") as f:
            frame = json.load(f)
        assert frame == openpose_frame(poses[t])
        keypoints = np.array(frame["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
        np.testing.assert_allclose(keypoints[1:, :2], poses[t, 1:], atol=1e-3)
        np.testing.assert_array_equal(keypoints[:, 2], [0] + [1] * 17)


def test_write_openpose_json_replaces_earlier_files(tmp_path):
    folder = tmp_path / "out"
    write_openpose_json(np.stack([standing_pose()]), str(folder), "a")
    write_openpose_json(np.stack([standing_pose() + 1]), str(folder), "a")
    with open(folder / "a_000000000000_keypoints.json") as f:
        assert json.load(f) == openpose_frame(standing_pose() + 1)
    assert os.listdir(folder) == ["a_000000000000_keypoints.json"]
