"""pose2vid/subject.py and default_subject.py: a subject folder becomes cropped training pairs;
bad subject data stops with a one-line error naming the file."""

import numpy as np
import pytest

from conftest import STANDING, swaying, write_subject
from dataset.skeleton import JOINT_INDEX
from pose2vid.default_subject import subject_poses
from pose2vid.person import render_person
from pose2vid.subject import Crop, SubjectError, load_subject, person_crop, pose_map, read_poses
from render import write_openpose_json

FRAMES = 12  # conftest.swaying's default
SIZE = 32


def test_the_crop_is_a_square_around_every_joint_with_a_margin_inside_the_video():
    poses = np.zeros((2, 18, 2))
    poses[0, :2] = [[100, 50], [200, 250]]
    poses[1, 2] = [150, 150]
    assert person_crop(poses, 640, 360, margin=0.2) == Crop(x=10, y=10, side=280, width=640, height=360)
    moved = np.where(poses.any(axis=-1, keepdims=True), poses + [400, 0], 0.0)
    assert person_crop(moved, 640, 360).x == 640 - 280  # moved back inside
    assert person_crop(poses * [1, 2], 640, 360).side == 360  # shrunk to the frame
    with pytest.raises(SubjectError, match="no joint"):
        person_crop(np.zeros((3, 18, 2)), 640, 360)


def test_a_pose_map_is_the_skeleton_cut_to_the_crop():
    crop = person_crop(STANDING[None], 640, 360)
    image = pose_map(STANDING, crop, SIZE)
    assert image.shape == (SIZE, SIZE, 3) and image.dtype == np.uint8
    assert (image < 200).any() and image[0, 0].tolist() == [255, 255, 255]


@pytest.mark.parametrize("as_json", [False, True])
def test_a_subject_folder_becomes_cropped_pairs(tmp_path, as_json):
    poses = swaying()
    subject = load_subject(write_subject(tmp_path / "subject", poses, as_json), SIZE)
    assert subject.frames.shape == subject.maps.shape == (FRAMES, SIZE, SIZE, 3)
    assert np.allclose(subject.poses, poses, atol=0.01) and subject.fps == pytest.approx(10.0)
    crop = subject.crop
    centre = ((STANDING[JOINT_INDEX["neck"]] + STANDING[JOINT_INDEX["r_hip"]]) / 2 - [crop.x, crop.y]) * SIZE / crop.side
    x, y = np.rint(centre).astype(int)
    background = render_person(np.zeros((18, 2)))[crop.y, crop.x].astype(int)
    assert np.abs(subject.frames[0, y, x].astype(int) - background).sum() > 60  # the shirt, not the wall
    assert not np.array_equal(subject.maps[0], subject.maps[1])  # the wrists moved


def test_json_and_array_poses_read_alike(tmp_path):
    poses = swaying()
    write_openpose_json(poses, tmp_path / "poses", "video")
    assert np.allclose(read_poses(tmp_path), poses, atol=0.01)


@pytest.mark.parametrize("problem, words", [
    ("no video", "no video.mp4"),
    ("no poses", "no poses"),
    ("nobody", "hold no person"),
    ("counts", "has 12 frames but there are 10 poses"),
    ("corrupt video", "cannot read video"),
    ("bad array", "expected poses of shape"),
])
def test_bad_subject_data_is_refused_naming_the_file(tmp_path, problem, words):
    folder = write_subject(tmp_path / "subject", swaying())
    if problem == "no video":
        (folder / "video.mp4").unlink()
    elif problem == "no poses":
        (folder / "poses.npy").unlink()
    elif problem == "nobody":
        np.save(folder / "poses.npy", np.zeros((FRAMES, 18, 2)))
    elif problem == "counts":
        np.save(folder / "poses.npy", swaying(10))
    elif problem == "corrupt video":
        (folder / "video.mp4").write_bytes(b"not a video at all" * 10)
    elif problem == "bad array":
        np.save(folder / "poses.npy", np.zeros((FRAMES, 17, 2)))
    with pytest.raises(SubjectError, match=words) as caught:
        load_subject(folder, SIZE)
    assert str(folder) in str(caught.value) and "\n" not in str(caught.value)


def test_the_default_subject_dances_training_moves_then_held_out_ones_on_one_body(tiny_corpus):
    poses = subject_poses(tiny_corpus, frames=40, held_out=0.25)
    assert poses.shape == (40, 18, 2) and np.isfinite(poses).all()
    ankles = poses[:, [JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"]], 1].max(axis=1)
    assert np.ptp(ankles[:30]) < 30 and abs(np.median(ankles[30:]) - np.median(ankles[:30])) < 15  # one floor
