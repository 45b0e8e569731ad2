"""pose2vid/person.py: the synthetic subject covers its body, leaves the room alone, follows the pose."""

import numpy as np
import pytest

from conftest import STANDING
from dataset.skeleton import JOINT_INDEX, NUM_JOINTS
from pose2vid.person import DEFAULT_APPEARANCE, Appearance, body_height, render_background, render_person

J = JOINT_INDEX
SIZE = (360, 640)


def _pixel(image, point):
    x, y = np.rint(point).astype(int)
    return image[y, x].astype(float)


def _midpoint(pose, a, b):
    return (pose[J[a]] + pose[J[b]]) / 2


def _closest_colour(pixel, names=("skin", "hair", "shirt", "trousers")):
    """The appearance colour whose direction in BGR space (brightness aside) is nearest the pixel's."""
    def cosine(colour):
        colour = np.asarray(colour, dtype=float)
        return pixel @ colour / (np.linalg.norm(pixel) * np.linalg.norm(colour))
    return max(names, key=lambda name: cosine(getattr(DEFAULT_APPEARANCE, name)))


def _proportioned(height, centre_x=320.0, ankle_y=320.0):
    """A pose whose trunk and legs are 0.306 and 0.552 of ``height``, the renderer's proportions."""
    pose = np.zeros((NUM_JOINTS, 2))
    trunk, thigh = 0.306 * height, 0.276 * height
    pose[J["r_ankle"]], pose[J["l_ankle"]] = (centre_x - 10, ankle_y), (centre_x + 10, ankle_y)
    pose[J["r_knee"]], pose[J["l_knee"]] = (centre_x - 10, ankle_y - thigh), (centre_x + 10, ankle_y - thigh)
    pose[J["r_hip"]], pose[J["l_hip"]] = (centre_x - 10, ankle_y - 2 * thigh), (centre_x + 10, ankle_y - 2 * thigh)
    pose[J["neck"]] = (centre_x, ankle_y - 2 * thigh - trunk)
    return pose


def test_image_shape_dtype_and_determinism():
    image = render_person(STANDING)
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8
    assert np.array_equal(image, render_person(STANDING.copy()))
    assert render_person(STANDING / 2, size=(180, 320)).shape == (180, 320, 3)
    with pytest.raises(ValueError, match=r"render_person: expected a pose of shape \(18, 2\)"):
        render_person(np.zeros(36))


def test_the_body_is_clothed_where_the_skeleton_is():
    image = render_person(STANDING)
    background = render_background()
    torso = _midpoint(STANDING, "neck", "r_hip") / 2 + _midpoint(STANDING, "neck", "l_hip") / 2
    parts = {
        "shirt": [torso, _midpoint(STANDING, "r_shoulder", "r_elbow")],
        "skin": [_midpoint(STANDING, "l_elbow", "l_wrist"), (STANDING[J["r_eye"]] + STANDING[J["nose"]]) / 2],
        "trousers": [_midpoint(STANDING, "r_knee", "r_ankle"), _midpoint(STANDING, "l_hip", "l_knee")],
    }
    for colour, points in parts.items():
        for point in points:
            assert not np.array_equal(_pixel(image, point), _pixel(background, point))
            assert _closest_colour(_pixel(image, point)) == colour, (colour, point)


def test_far_from_the_person_the_room_is_untouched():
    image, background = render_person(STANDING), render_background()
    assert np.array_equal(image[:, :130], background[:, :130])
    assert np.array_equal(image[:, 520:], background[:, 520:])
    wall, floor = background[0, 10].astype(float), background[359, 10].astype(float)
    assert np.abs(wall - DEFAULT_APPEARANCE.wall_top).max() <= 1
    assert np.abs(floor - DEFAULT_APPEARANCE.floor_near).max() <= 1
    horizon = round(DEFAULT_APPEARANCE.horizon * 360)
    assert np.array_equal(background[:, 0], background[:, 639])  # the same on every column
    assert np.abs(background[horizon + 2, 0].astype(float) - DEFAULT_APPEARANCE.floor_far).max() <= 6


def test_the_shadow_darkens_the_floor_between_the_feet():
    image, background = render_person(STANDING), render_background()
    height = body_height(STANDING)
    under = (320, STANDING[[J["r_ankle"], J["l_ankle"]], 1].max() + 0.05 * height)
    assert (_pixel(image, under) < 0.8 * _pixel(background, under)).all()


def test_moving_the_pose_moves_the_person_and_keeps_the_room():
    image = render_person(STANDING)
    moved = render_person(STANDING + (150, 0))
    np.testing.assert_allclose(moved[:, 150 + 100:], image[:, 100:-150], atol=2)
    torso = _midpoint(STANDING, "neck", "r_hip") / 2 + _midpoint(STANDING, "neck", "l_hip") / 2
    assert np.array_equal(_pixel(moved, torso), _pixel(render_background(), torso))


def test_a_missing_wrist_removes_that_forearm_only():
    image = render_person(STANDING)
    holed = STANDING.copy()
    holed[J["r_wrist"]] = 0
    without = render_person(holed)
    forearm = _midpoint(STANDING, "r_elbow", "r_wrist")
    assert not np.array_equal(_pixel(image, forearm), _pixel(render_background(), forearm))
    assert np.array_equal(_pixel(without, forearm), _pixel(render_background(), forearm))
    assert np.array_equal(without[:, 260:], image[:, 260:])


def test_missing_and_wild_poses_do_not_break_it():
    assert np.array_equal(render_person(np.zeros((NUM_JOINTS, 2))), render_background())
    assert np.array_equal(render_person(np.full((NUM_JOINTS, 2), np.nan)), render_background())
    wild = STANDING.copy()
    wild[J["r_wrist"]] = (1e12, -1e12)
    wild[J["l_wrist"]] = (np.inf, 5)
    assert render_person(wild).shape == (360, 640, 3)
    assert render_person(STANDING + 1e6).shape == (360, 640, 3)


def test_a_smaller_person_has_thinner_limbs():
    def shin_width(pose):
        image, background = render_person(pose), render_background()
        knee, ankle = pose[J["r_knee"]], pose[J["r_ankle"]]
        y, x = int(round((knee[1] + ankle[1]) / 2)), int(round((knee[0] + ankle[0]) / 2))
        difference = np.abs(image[y, x - 25:x + 25].astype(int) - background[y, x - 25:x + 25]).max(axis=-1)
        return (difference > 20).sum()

    small = (STANDING - (320, 320)) * 0.5 + (320, 320)
    assert 0.35 < shin_width(small) / shin_width(STANDING) < 0.65


def test_body_height_from_trunk_and_legs():
    pose = _proportioned(200.0)
    assert body_height(pose) == pytest.approx(200.0)
    bent = pose.copy()
    bent[J["r_knee"]] += (0.276 * 200 * np.sin(0.5), 0)  # a bent knee: one leg longer in 2-D
    assert body_height(bent) == pytest.approx(200.0)  # the median ignores it
    trunk_only = pose.copy()
    trunk_only[[J["r_knee"], J["l_knee"]]] = 0
    assert body_height(trunk_only) == pytest.approx(200.0)
    assert body_height(np.zeros((NUM_JOINTS, 2))) is None


def test_appearance_changes_the_colours():
    green = Appearance(shirt=(40, 200, 40))
    torso = _midpoint(STANDING, "neck", "r_hip") / 2 + _midpoint(STANDING, "neck", "l_hip") / 2
    b, g, r = _pixel(render_person(STANDING, appearance=green), torso)
    assert g > 2 * max(b, r)
