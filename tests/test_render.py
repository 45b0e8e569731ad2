"""render/draw.py: the original's look (white canvas, blended limb ellipses, black joints), missing joints."""

import numpy as np
import pytest

from conftest import STANDING
from dataset.skeleton import BONES, CANVAS_HEIGHT, CANVAS_WIDTH, JOINT_INDEX, LIMB_COLORS, NUM_JOINTS
from render import draw_pose, draw_side_by_side, render_frames
from render.draw import LIMB_OPACITY



def _blended(color):
    """A limb colour blended over white at the drawing's opacity."""
    return np.rint((1 - LIMB_OPACITY) * 255 + LIMB_OPACITY * np.asarray(color)).astype(np.uint8)


def _midpoint(bone):
    a, b = bone
    x, y = np.rint((STANDING[a] + STANDING[b]) / 2).astype(int)
    return y, x


def _has_color(image, color, tol=2):
    return bool(np.any(np.all(np.abs(image.astype(int) - color.astype(int)) <= tol, axis=-1)))


def test_image_shape_dtype_and_white_background():
    image = draw_pose(STANDING)
    assert image.shape == (CANVAS_HEIGHT, CANVAS_WIDTH, 3) and image.dtype == np.uint8
    for y, x in [(0, 0), (0, CANVAS_WIDTH - 1), (CANVAS_HEIGHT - 1, 0), (CANVAS_HEIGHT - 1, CANVAS_WIDTH - 1)]:
        assert image[y, x].tolist() == [255, 255, 255]
    assert (image == 255).all(axis=-1).mean() > 0.9


@pytest.mark.parametrize("index", range(len(BONES)))
def test_each_limb_has_its_colour_where_the_bone_is(index):
    image = draw_pose(STANDING)
    assert image[_midpoint(BONES[index])].tolist() == _blended(LIMB_COLORS[index]).tolist()


def test_joints_are_black_dots():
    image = draw_pose(STANDING)
    for x, y in STANDING.astype(int):
        assert image[y, x].tolist() == [0, 0, 0]


def test_missing_joint_and_its_bones_are_not_drawn():
    pose = STANDING.copy()
    elbow = JOINT_INDEX["r_elbow"]
    pose[elbow] = 0.0
    image = draw_pose(pose)

    assert (image[:10, :10] == 255).all()
    assert image[int(STANDING[elbow, 1]), int(STANDING[elbow, 0])].tolist() == [255, 255, 255]
    for index, bone in enumerate(BONES):
        if elbow in bone:
            assert not _has_color(image, _blended(LIMB_COLORS[index]))
            assert image[_midpoint(bone)].tolist() == [255, 255, 255]
        else:
            assert _has_color(image, _blended(LIMB_COLORS[index]))


def test_non_finite_joint_counts_as_missing():
    pose = STANDING.copy()
    pose[JOINT_INDEX["l_wrist"]] = np.nan
    image = draw_pose(pose)
    forearm = BONES.index((JOINT_INDEX["l_elbow"], JOINT_INDEX["l_wrist"]))
    assert not _has_color(image, _blended(LIMB_COLORS[forearm]))


def test_all_missing_is_a_blank_canvas():
    assert (draw_pose(np.zeros((NUM_JOINTS, 2))) == 255).all()


def test_draws_in_place_on_a_given_canvas():
    canvas = np.full((CANVAS_HEIGHT, CANVAS_WIDTH, 3), 200, dtype=np.uint8)
    assert draw_pose(STANDING, canvas) is canvas
    assert canvas[0, 0].tolist() == [200, 200, 200] and canvas[int(STANDING[1, 1]), 320].tolist() == [0, 0, 0]


def test_rejects_wrong_shape():
    with pytest.raises(ValueError, match=r"\(18, 2\)"):
        draw_pose(np.zeros((17, 2)))


def test_side_by_side():
    moved = STANDING + [0, 20]
    plain = draw_side_by_side(STANDING, moved, labels=None)
    assert plain.shape == (CANVAS_HEIGHT, 2 * CANVAS_WIDTH, 3)
    np.testing.assert_array_equal(plain[:, :CANVAS_WIDTH], draw_pose(STANDING))
    np.testing.assert_array_equal(plain[:, CANVAS_WIDTH:], draw_pose(moved))

    labelled = draw_side_by_side(STANDING, moved)
    assert (labelled[:25, :120] < 200).any() and (labelled[:25, CANVAS_WIDTH:CANVAS_WIDTH + 120] < 200).any()
    np.testing.assert_array_equal(labelled[30:], plain[30:])

    no_truth = draw_side_by_side(None, moved, labels=None)
    assert (no_truth[:, :CANVAS_WIDTH] == 255).all()


def test_render_frames():
    poses = STANDING + np.arange(3)[:, None, None] * [5, 0]
    frames = list(render_frames(poses))
    assert len(frames) == 3
    np.testing.assert_array_equal(frames[2], draw_pose(poses[2]))

    pairs = list(render_frames(poses, ground_truth=poses[::-1], labels=None))
    np.testing.assert_array_equal(pairs[0], draw_side_by_side(poses[2], poses[0], labels=None))


def test_render_frames_checks_shapes_up_front():
    with pytest.raises(ValueError, match="T, 18, 2"):
        render_frames(np.zeros((4, 36)))
    with pytest.raises(ValueError, match="ground truth"):
        render_frames(np.zeros((4, 18, 2)), ground_truth=np.zeros((3, 18, 2)))
