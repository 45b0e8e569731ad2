"""pose2vid/normalize.py: body statistics and the global pose normalisation, on hand-built figures."""

import numpy as np
import pytest

from dataset.skeleton import JOINT_INDEX
from pose2vid.normalize import BodyStats, body_stats, lowest_ankle_y, normalize_poses

# A figure in units of its height, (x, y) from its mid-ankle point: the eyes are the highest head
# joint (y = -1) and both ankles stand on y = 0.
_UNIT_FIGURE = {
    "nose": (0.0, -0.96), "neck": (0.0, -0.82),
    "r_shoulder": (-0.12, -0.8), "r_elbow": (-0.2, -0.62), "r_wrist": (-0.24, -0.45),
    "l_shoulder": (0.12, -0.8), "l_elbow": (0.2, -0.62), "l_wrist": (0.24, -0.45),
    "r_hip": (-0.08, -0.5), "r_knee": (-0.08, -0.25), "r_ankle": (-0.08, 0.0),
    "l_hip": (0.08, -0.5), "l_knee": (0.08, -0.25), "l_ankle": (0.08, 0.0),
    "r_eye": (-0.03, -1.0), "l_eye": (0.03, -1.0), "r_ear": (-0.06, -0.97), "l_ear": (0.06, -0.97),
}
UNIT_FIGURE = np.array([_UNIT_FIGURE[name] for name in sorted(JOINT_INDEX, key=JOINT_INDEX.get)])


def figure(centre_x, ankle_y, height):
    """A standing figure ``height`` pixels tall, its ankles at ``ankle_y``, centred on ``centre_x``: ``(18, 2)``."""
    return np.array([centre_x, ankle_y]) + height * UNIT_FIGURE


def video(*figures):
    return np.stack([figure(*f) for f in figures])


EXACT = dict(far_percentile=0.0, near_percentile=100.0)


def test_body_stats_reads_positions_heights_and_centre():
    frames = [(300, 280, 100)] * 10 + [(300, 330, 150)] * 10 + [(300, 280, 70)]  # one crouch, far
    stats = body_stats(video(*frames))
    assert stats.far_y == pytest.approx(280) and stats.near_y == pytest.approx(330)
    assert stats.far_height == pytest.approx(100) and stats.near_height == pytest.approx(150)
    assert stats.median_ankle_y == pytest.approx(280) and stats.centre_x == pytest.approx(300)


def test_lowest_ankle_y_takes_the_lower_ankle_and_nan_without_one():
    poses = video((300, 280, 100), (300, 280, 100))
    poses[0, JOINT_INDEX["l_ankle"], 1] = 290
    poses[1, [JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"]]] = 0
    ankle_y = lowest_ankle_y(poses)
    assert ankle_y[0] == 290 and np.isnan(ankle_y[1])


def test_two_depths_map_exactly_onto_the_target():
    source = video((300, 280, 100), (300, 330, 150))
    target = video((400, 250, 60), (400, 340, 180))
    out = normalize_poses(source, body_stats(source, **EXACT), body_stats(target, **EXACT))
    np.testing.assert_allclose(out, target, atol=1e-9)


def test_a_frame_between_the_ends_is_interpolated():
    source_stats = body_stats(video((300, 280, 100), (300, 330, 150)), **EXACT)
    target_stats = body_stats(video((400, 250, 60), (400, 340, 180)), **EXACT)
    # Halfway in depth: ankle y halfway (295) and a scale halfway between 0.6 and 1.2 (0.9).
    out = normalize_poses(video((300, 305, 125)), source_stats, target_stats)
    np.testing.assert_allclose(out[0], figure(400, 295, 0.9 * 125), atol=1e-9)


def test_a_source_without_depth_range_scales_by_the_height_ratio():
    source = video((300, 300, 100), (300, 300, 100))
    target_stats = body_stats(video((400, 250, 60), (400, 340, 180)), **EXACT)
    stats = body_stats(source, **EXACT)
    assert stats.near_y == stats.far_y
    out = normalize_poses(source, stats, target_stats)
    # Scaled by 60 / 100, the feet on the target's median ankle y, (250 + 340) / 2.
    np.testing.assert_allclose(out, video((400, 295, 60), (400, 295, 60)), atol=1e-9)


def test_missing_joints_stay_missing():
    source = video((300, 280, 100), (300, 330, 150))
    stats = body_stats(source, **EXACT)
    target_stats = BodyStats(far_y=250, near_y=340, far_height=60, near_height=180, median_ankle_y=295,
                             centre_x=400)
    holed = source.copy()
    holed[0, JOINT_INDEX["l_wrist"]] = 0
    holed[1, JOINT_INDEX["r_knee"]] = np.nan
    out = normalize_poses(holed, stats, target_stats)
    assert out[0, JOINT_INDEX["l_wrist"]].tolist() == [0.0, 0.0]
    assert out[1, JOINT_INDEX["r_knee"]].tolist() == [0.0, 0.0]
    full = normalize_poses(source, stats, target_stats)
    kept = np.ones(out.shape[:2], dtype=bool)
    kept[0, JOINT_INDEX["l_wrist"]] = kept[1, JOINT_INDEX["r_knee"]] = False
    np.testing.assert_array_equal(out[kept], full[kept])


def test_a_frame_without_ankles_is_placed_at_the_source_median():
    source = video((300, 280, 100), (300, 330, 150), (300, 330, 150))
    stats = body_stats(source, **EXACT)
    footless = source[:1].copy()
    footless[0, [JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"]]] = 0
    out = normalize_poses(footless, stats, stats)
    assert np.isfinite(out).all()
    # Onto itself: u at the median (330) is 1, the scale 1, so the figure does not move.
    np.testing.assert_allclose(out, footless, atol=1e-9)


def test_body_stats_raises_without_a_usable_frame():
    poses = video((300, 280, 100), (300, 330, 150))
    poses[:, [JOINT_INDEX["r_ankle"], JOINT_INDEX["l_ankle"]]] = 0
    with pytest.raises(ValueError, match="body_stats: none of the 2 frames"):
        body_stats(poses)
    with pytest.raises(ValueError, match="body_stats"):
        body_stats(np.zeros((5, 18, 2)))


def test_shapes_are_checked():
    with pytest.raises(ValueError, match=r"normalize_poses: expected poses of shape \(T, 18, 2\)"):
        normalize_poses(np.zeros((18, 2)), None, None)
