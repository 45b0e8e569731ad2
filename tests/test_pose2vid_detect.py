"""pose2vid/detect.py: a video alone becomes a subject folder, MediaPipe's landmarks mapped to
the project's 18 joints; with mediapipe installed (make detector), it finds the synthetic person."""

import os

import numpy as np
import pytest

from conftest import STANDING, swaying, write_subject
from dataset.skeleton import JOINT_INDEX, missing_mask
from dataset.synthetic import GENRES, sample_dancer, sample_song, synthesize_dance
from pose2vid.detect import (LANDMARK_OF, DetectorError, detect_poses, main, mediapipe_tracker, openpose_joints,
                             video_frames, write_subject_folder)
from pose2vid.subject import SubjectError, load_subject

WIDTH, HEIGHT = 640, 360  # the synthetic person's canvas


def landmarks_of_pose(pose, visibility=0.9):
    """MediaPipe-style landmarks ``(33, 3)`` placing each mapped landmark on ``pose``'s joint."""
    landmarks = np.zeros((33, 3))
    for name, index in LANDMARK_OF.items():
        landmarks[index] = [pose[JOINT_INDEX[name], 0] / WIDTH, pose[JOINT_INDEX[name], 1] / HEIGHT, visibility]
    return landmarks


def test_landmarks_become_openpose_joints_with_the_neck_between_the_shoulders():
    joints = openpose_joints(landmarks_of_pose(STANDING), WIDTH, HEIGHT)
    shoulders = STANDING[[JOINT_INDEX["r_shoulder"], JOINT_INDEX["l_shoulder"]]].mean(axis=0)
    for name in LANDMARK_OF:
        np.testing.assert_allclose(joints[JOINT_INDEX[name]], STANDING[JOINT_INDEX[name]], atol=1e-9)
    np.testing.assert_allclose(joints[JOINT_INDEX["neck"]], shoulders, atol=1e-9)


def test_unseen_or_outside_landmarks_are_missing_joints():
    landmarks = landmarks_of_pose(STANDING)
    landmarks[LANDMARK_OF["l_wrist"], 2] = 0.3  # below the visibility threshold
    landmarks[LANDMARK_OF["r_ankle"], 1] = 1.2  # below the image
    landmarks[LANDMARK_OF["l_shoulder"], 0] = np.nan
    missing = missing_mask(openpose_joints(landmarks, WIDTH, HEIGHT, min_visibility=0.5))
    assert set(np.flatnonzero(missing)) == {JOINT_INDEX[name] for name in ("l_wrist", "r_ankle", "l_shoulder", "neck")}
    assert missing_mask(openpose_joints(None, WIDTH, HEIGHT)).all()
    with pytest.raises(ValueError, match="33, 3"):
        openpose_joints(np.zeros((17, 3)), WIDTH, HEIGHT)


def test_video_frames_streams_every_frame_and_stops_early_cleanly(tmp_path):
    poses = swaying(5)
    write_subject(tmp_path / "s", poses)
    frames = list(video_frames(tmp_path / "s" / "video.mp4", WIDTH, HEIGHT))
    assert len(frames) == 5 and frames[0].shape == (HEIGHT, WIDTH, 3) and frames[0].dtype == np.uint8
    stream = video_frames(tmp_path / "s" / "video.mp4", WIDTH, HEIGHT)
    next(stream)
    stream.close()  # kills ffmpeg without an error


def test_a_detected_video_becomes_a_subject_folder_that_trains(tmp_path):
    poses = swaying(6)
    source = write_subject(tmp_path / "source", poses) / "video.mp4"
    answers = iter([None] + [landmarks_of_pose(pose) for pose in poses[1:]])  # no person in frame 0
    found = detect_poses(source, lambda frame: next(answers))
    assert found.shape == (6, 18, 2) and missing_mask(found[0]).all()
    np.testing.assert_allclose(found[1:, JOINT_INDEX["r_wrist"]], poses[1:, JOINT_INDEX["r_wrist"]], atol=1e-6)
    write_subject_folder(source, found, tmp_path / "subject")
    subject = load_subject(tmp_path / "subject", 32)
    assert len(subject.frames) == 6 and np.allclose(subject.poses, found.astype(np.float32))
    assert os.path.getsize(tmp_path / "subject" / "video.mp4") == os.path.getsize(source)


def test_a_video_without_a_person_or_unreadable_stops_in_one_line(tmp_path):
    source = write_subject(tmp_path / "source", swaying(3)) / "video.mp4"
    with pytest.raises(SubjectError, match="no person found in any of its 3 frames"):
        detect_poses(source, lambda frame: None)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(SubjectError, match="bad.mp4"):
        detect_poses(bad, lambda frame: None)


def test_a_folder_with_a_subject_is_kept_unless_overwrite(tmp_path):
    source = write_subject(tmp_path / "source", swaying(3)) / "video.mp4"
    held = write_subject(tmp_path / "held", STANDING[None].repeat(3, axis=0))
    before = (held / "poses.npy").read_bytes()
    with pytest.raises(SubjectError, match="already holds a subject.*--overwrite"):
        write_subject_folder(source, swaying(3), held)
    assert (held / "poses.npy").read_bytes() == before
    write_subject_folder(source, swaying(3), held, overwrite=True)
    np.testing.assert_allclose(np.load(held / "poses.npy"), swaying(3), atol=1e-4)
    # a video already in place is the subject's own: only the poses are written beside it
    write_subject_folder(source, swaying(3), source.parent, overwrite=True)
    assert sorted(os.listdir(source.parent)) == ["poses.npy", "video.mp4"]


def test_the_command_names_a_missing_video(tmp_path, capsys):
    assert main(["--video", str(tmp_path / "none.mp4"), "--out", str(tmp_path / "s")]) == 1
    assert "none.mp4: no such video" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


def _mediapipe_or_skip():
    try:
        return mediapipe_tracker()
    except DetectorError as err:
        if os.environ.get("DANCE_SYNTH_REQUIRE_DETECTOR"):
            raise
        pytest.skip(str(err))


def test_mediapipe_finds_the_synthetic_person(tmp_path):
    """The real detector on the default subject's person dancing a corpus dancer's moves: its
    joints within a few pixels of the poses it was drawn from (the person is about 260 px tall)."""
    tracker = _mediapipe_or_skip()
    rng = np.random.default_rng(3)
    song, dancer = sample_song(0, rng), sample_dancer(GENRES[0], rng)
    poses = synthesize_dance(song, dancer, 10.0, 12, missing_fraction=0.0)
    source = write_subject(tmp_path / "source", poses) / "video.mp4"
    found = detect_poses(source, tracker)
    seen = ~missing_mask(found)
    assert seen.sum(axis=1).min() >= 16
    error = np.linalg.norm(found - poses, axis=-1)[seen]
    assert np.median(error) < 6.0, np.median(error)  # 3.6 px when written
    assert np.percentile(error, 95) < 12.0
