"""Known-answer tests for metrics/: beats and tempo, beat alignment, FID, kinetic features, diversity."""

import numpy as np
import pytest

from dataset.format import FPS, SAMPLE_RATE
from dataset.skeleton import NUM_JOINTS, normalize
from dataset.synthetic_dance import sample_dancer, synthesize_dance
from dataset.synthetic_music import STYLES, sample_song
from metrics.beats import (
    beat_align_score_motion, beat_align_score_music, beat_coverage, beat_hit_rate, joint_speed,
    kinematic_beats, kinematic_tempo, music_beats, music_tempo, tempo_error)
from metrics.diversity import diversity, multimodality
from metrics.fid import fid, frechet_distance, gaussian_stats, kinetic_features


def beat_dance(bpm, seconds=20.0, shift_beats=0.0, seed=0):
    """Pixel poses (T, 18, 2) at 10 fps whose joints all swing as cos(pi * beats elapsed).

    Every joint turns round (speed 0) once per beat, at t = (k + shift_beats) * 60 / bpm.
    """
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * FPS)) / FPS
    base = rng.uniform(150, 350, (NUM_JOINTS, 2))
    amplitude = rng.uniform(5, 30, (NUM_JOINTS, 2))
    swing = np.cos(np.pi * (t * bpm / 60 - shift_beats))
    return base + amplitude * swing[:, None, None]


def click_track(bpm, seconds, first_beat=0.5, seed=0):
    """A kick-like click (80 Hz tone plus noise, 10 ms decay) on every beat; returns (audio, beats)."""
    rng = np.random.default_rng(seed)
    beats = np.arange(first_beat, seconds, 60.0 / bpm)
    t = np.arange(int(0.05 * SAMPLE_RATE)) / SAMPLE_RATE
    click = (np.sin(2 * np.pi * 80 * t) + 0.5 * rng.standard_normal(len(t))) * np.exp(-t / 0.01)
    audio = np.zeros(int(seconds * SAMPLE_RATE))
    for beat in beats:
        start = int(round(beat * SAMPLE_RATE))
        audio[start: start + len(click)] += click
    return 10000 * audio, beats  # int16-like scale, as in the dataset


# ---- joint speed and kinematic beats ----

def test_joint_speed_constant_velocity():
    poses = 100 + np.arange(30)[:, None, None] * np.array([3.0, 4.0])  # 5 px per frame
    poses = np.broadcast_to(poses, (30, NUM_JOINTS, 2))
    np.testing.assert_allclose(joint_speed(poses, fps=10), 50.0)


def test_joint_speed_ignores_missing_joints_and_takes_normalised_input():
    poses = beat_dance(100, seconds=5)
    poses = poses[:, :1] + (poses - poses[:, :1])[:1]  # every joint moves like the nose
    expected = joint_speed(poses)
    damaged = poses.copy()
    damaged[:, 9] = 0.0  # r-knee never tracked
    damaged[[10, 11, 30], 4] = 0.0  # r-wrist lost now and then
    damaged[20] = 0.0  # nobody tracked in one frame: its neighbours have no speed either
    np.testing.assert_allclose(np.delete(joint_speed(damaged, sigma=0), [19, 20, 21]),
                               np.delete(joint_speed(poses, sigma=0), [19, 20, 21]), atol=1e-9)
    assert np.all(np.isfinite(joint_speed(damaged)))

    flat = normalize(poses).reshape(len(poses), -1)
    np.testing.assert_allclose(joint_speed(flat, normalized=True), expected)
    np.testing.assert_allclose(joint_speed(poses.reshape(len(poses), -1)), expected)


def test_kinematic_beats_on_the_beat():
    bpm, seconds = 100, 20.0  # one beat = 6 frames, beats on frame centres
    poses = beat_dance(bpm, seconds)
    true_beats = np.arange(1, 33) * 0.6  # the interior beats
    found = kinematic_beats(poses)
    assert len(found) == len(true_beats)
    np.testing.assert_allclose(found, true_beats, atol=1.0 / FPS + 1e-9)
    assert beat_align_score_music(true_beats, found) == pytest.approx(1.0, abs=1e-6)
    assert beat_align_score_motion(true_beats, found) == pytest.approx(1.0, abs=1e-6)

    shifted = kinematic_beats(beat_dance(bpm, seconds, shift_beats=0.5))  # half a beat (0.3 s) late
    assert beat_align_score_music(true_beats, shifted) < 0.1
    assert beat_align_score_motion(true_beats, shifted) < 0.1


def test_kinematic_beats_of_a_still_pose_are_empty():
    poses = np.full((50, NUM_JOINTS, 2), 200.0)
    assert kinematic_beats(poses).size == 0
    assert np.isnan(kinematic_tempo(poses))


@pytest.mark.parametrize("bpm", [75.0, 100.0, 112.0, 140.0])
def test_kinematic_tempo(bpm):
    assert kinematic_tempo(beat_dance(bpm)) == pytest.approx(bpm, rel=0.05)


def test_kinematic_tempo_of_the_corpus_dancers():
    """5 s clips of the synthetic dancers, 8 per genre: their moves change every 2 or 4 beats, and
    the speed curve's autocorrelation (the earlier estimator) read 8 of these 32 off the beat."""
    rng = np.random.default_rng(0)
    right = 0
    for genre in range(len(STYLES)):
        for _ in range(8):
            song, dancer = sample_song(genre, rng), sample_dancer(STYLES[genre].name, rng)
            dance = synthesize_dance(song, dancer, float(rng.uniform(0, 20)), 5 * FPS)
            right += tempo_error(kinematic_tempo(dance), song.bpm) <= 0.05
    assert right >= 31


def test_kinematic_tempo_prefers_the_slowest_grid_that_fits_and_needs_three_beats():
    poses = beat_dance(60.0, seconds=10.0)  # also on every line of 120 and 180 BPM
    assert kinematic_tempo(poses) == pytest.approx(60.0, abs=0.5)
    assert np.isnan(kinematic_tempo(beat_dance(60.0, seconds=2.5)))  # two interior beats only


# ---- beat alignment, coverage, hit rate, tempo error ----

def test_beat_align_scores_by_hand():
    music = np.array([1.0, 2.0, 3.0])
    motion = np.array([1.0, 2.1])
    sigma = 0.1
    # music beats are 0, 0.1 and 0.9 s from the nearest motion beat
    expected_music = np.mean(np.exp(-np.array([0.0, 0.1, 0.9]) ** 2 / (2 * sigma ** 2)))
    # motion beats are 0 and 0.1 s from the nearest music beat
    expected_motion = np.mean(np.exp(-np.array([0.0, 0.1]) ** 2 / (2 * sigma ** 2)))
    assert beat_align_score_music(music, motion, sigma) == pytest.approx(expected_music)
    assert beat_align_score_motion(music, motion, sigma) == pytest.approx(expected_motion)


def test_beat_align_scores_with_no_beats():
    beats = np.array([1.0, 2.0])
    assert np.isnan(beat_align_score_music([], beats))
    assert beat_align_score_music(beats, []) == 0.0
    assert np.isnan(beat_align_score_motion(beats, []))
    assert beat_align_score_motion([], beats) == 0.0


def test_beat_coverage_and_hit_rate_by_hand():
    music = [0.5, 1.0, 1.5, 2.0]
    motion = [0.5, 1.05, 1.7]  # hits, within 0.05 s, 0.2 s off
    assert beat_coverage(music, motion) == pytest.approx(0.75)
    assert beat_hit_rate(music, motion, tolerance_s=0.1) == pytest.approx(2 / 3)
    assert beat_hit_rate(music, [0.6, 1.1], tolerance_s=0.1) == pytest.approx(1.0)  # boundary counts
    assert beat_hit_rate(music, motion, tolerance_s=0.2) == pytest.approx(1.0)
    assert np.isnan(beat_coverage([], motion))
    assert np.isnan(beat_hit_rate(music, []))


def test_tempo_error_with_and_without_octaves():
    assert tempo_error(126.0, 120.0) == pytest.approx(0.05)
    assert tempo_error(60.0, 120.0) == pytest.approx(0.0)
    assert tempo_error(240.0, 120.0) == pytest.approx(0.0)
    assert tempo_error(60.0, 120.0, allow_octave=False) == pytest.approx(0.5)
    assert tempo_error(250.0, 120.0) == pytest.approx(10.0 / 240.0)
    with pytest.raises(ValueError):
        tempo_error(120.0, 0.0)


# ---- music beats (librosa: one signal, analysed once) ----

@pytest.fixture(scope="module")
def click_track_analysis():
    audio, beats = click_track(bpm=120.0, seconds=8.0)
    return beats, music_beats(audio), music_tempo(audio)


def test_music_beats_on_a_click_track(click_track_analysis):
    true_beats, found, _ = click_track_analysis
    distances = np.min(np.abs(true_beats[:, None] - found[None, :]), axis=1)
    assert np.mean(distances <= 0.05) >= 0.8


def test_music_tempo_on_a_click_track(click_track_analysis):
    *_, bpm = click_track_analysis
    assert bpm == pytest.approx(120.0, rel=0.05)


# ---- FID and kinetic features ----

def test_fid_of_a_set_with_itself_is_zero():
    features = np.random.default_rng(0).normal(size=(200, 6))
    assert fid(features, features) == pytest.approx(0.0, abs=1e-8)


def test_fid_of_a_shifted_copy_is_the_squared_shift():
    features = np.random.default_rng(1).normal(size=(200, 4))
    shift = np.array([1.0, -2.0, 0.5, 0.0])
    assert fid(features, features + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_frechet_distance_closed_form_for_diagonal_covariances():
    mu1, mu2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 1.0])
    expected = np.sum((mu1 - mu2) ** 2) + np.sum(var1 + var2 - 2 * np.sqrt(var1 * var2))
    # = 5 + (1 + 4 - 4) + (4 + 1 - 4) + (0.25 + 1 - 1) = 7.25
    assert expected == pytest.approx(7.25)
    assert frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2)) == pytest.approx(expected)
    # the distance does not depend on the basis: rotate both Gaussians
    rotation, _ = np.linalg.qr(np.random.default_rng(2).normal(size=(3, 3)))
    rotated = frechet_distance(rotation @ mu1, rotation @ np.diag(var1) @ rotation.T,
                               rotation @ mu2, rotation @ np.diag(var2) @ rotation.T)
    assert rotated == pytest.approx(expected)


def test_frechet_distance_of_singular_covariances_is_finite():
    sigma = np.zeros((3, 3))
    assert frechet_distance(np.zeros(3), sigma, np.ones(3), sigma) == pytest.approx(3.0, abs=1e-4)


def test_gaussian_stats():
    features = np.array([[0.0, 0.0], [2.0, 2.0]])
    mu, sigma = gaussian_stats(features)
    np.testing.assert_allclose(mu, [1.0, 1.0])
    np.testing.assert_allclose(sigma, [[2.0, 2.0], [2.0, 2.0]])


def test_kinetic_features_of_constant_velocity_and_missing_joints():
    frames = 20
    poses = np.full((frames, NUM_JOINTS, 2), 200.0)
    poses[:, 4] = [100.0, 300.0] + np.arange(frames)[:, None] * np.array([2.0, -3.0])  # r-wrist
    poses[[5, 6, 12], 4] = 0.0  # tracking lost: the steps touching these frames are skipped
    poses[:, 9] = 0.0  # r-knee never tracked
    features = kinetic_features(poses, fps=10).reshape(NUM_JOINTS, 2)
    # velocity (20, -30) px/s -> 0.5 v^2 = (200, 450) px^2/s^2
    np.testing.assert_allclose(features[4], [200.0, 450.0])
    np.testing.assert_allclose(np.delete(features, 4, axis=0), 0.0)
    flat = normalize(poses).reshape(frames, -1)
    np.testing.assert_allclose(kinetic_features(flat, normalized=True), features.reshape(-1))


def test_pose_shape_is_checked():
    with pytest.raises(ValueError):
        joint_speed(np.zeros((10, 17, 2)))
    with pytest.raises(ValueError):
        kinetic_features(np.zeros((1, NUM_JOINTS, 2)))


# ---- diversity ----

def test_diversity_by_hand():
    assert diversity(np.ones((5, 3))) == 0.0
    assert diversity([[0.0, 0.0], [3.0, 4.0]]) == pytest.approx(5.0)
    assert diversity([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]]) == pytest.approx((5 + 10 + 5) / 3)
    with pytest.raises(ValueError):
        diversity(np.ones((1, 3)))


def test_torch_tensors_are_accepted():
    torch = pytest.importorskip("torch")
    assert diversity(torch.tensor([[0.0, 0.0], [3.0, 4.0]])) == pytest.approx(5.0)


def test_multimodality_by_hand():
    features = np.array([
        [[0.0, 0.0], [3.0, 4.0]],  # clip 0: two dances 5 apart
        [[1.0, 1.0], [1.0, 1.0]],  # clip 1: the same dance twice
    ])
    assert multimodality(features) == pytest.approx(2.5)
    assert multimodality(np.ones((3, 4, 2))) == 0.0


def test_kinematic_beats_survive_one_glitched_frame():
    fps, bpm = 10, 100
    t = np.arange(100) / fps
    phase = 2 * np.pi * t * bpm / 60
    poses = np.zeros((100, 18, 2)) + 300.0
    poses[:, :, 0] += 40 * np.cos(phase)[:, None]
    clean = kinematic_beats(poses, fps)
    glitched = poses.copy()
    glitched[0] += 600.0  # one boundary frame thrown across the canvas
    found = kinematic_beats(glitched, fps)
    assert len(clean) >= 12
    assert len(found) >= len(clean) - 1
    assert np.all(np.min(np.abs(found[:, None] - clean[None, :]), axis=1) <= 0.1)


def test_edge_jump_is_about_one_for_smooth_motion_and_large_for_a_thrown_first_frame():
    from metrics.evaluation import edge_jump

    dance = np.zeros((2, 50, 18, 2)) + 300.0
    dance[..., 1] += np.linspace(0, 49, 50)[None, :, None]  # constant drift: equal steps
    assert edge_jump(dance) == pytest.approx(1.0)
    thrown = dance.copy()
    thrown[:, 0] += 300.0
    assert edge_jump(thrown) > 10 * edge_jump(dance)
    assert np.isnan(edge_jump(np.full((1, 50, 18, 2), 300.0)))


def test_corner_frames_counts_frames_thrown_to_the_canvas_corners():
    from metrics.evaluation import corner_frames

    dance = np.zeros((2, 10, 18, 2)) + 300.0
    dance[0, 0, :3] = 0.0  # three missing joints: an ordinary frame
    assert corner_frames(dance) == 0.0
    dance[0, 1, :12] = 0.0004  # a saturated frame: 12 joints at (0, 0), 5 at (640, 360)
    dance[0, 1, 12:17] = [640.0, 360.0]
    dance[1, 5, :4] = [639.0, 1.0]  # four joints on the top-right corner
    assert corner_frames(dance) == pytest.approx(2 / 20)
    assert corner_frames(dance, min_joints=5) == pytest.approx(1 / 20)


def test_median_step_and_thrown_steps_tell_recorded_misses_from_thrown_joints():
    from metrics.evaluation import median_step, thrown_steps

    dance = np.full((1, 6, NUM_JOINTS, 2), 200.0)
    dance[0, :, :, 0] += 3.0 * np.arange(6)[:, None]  # every joint steps 3 px per frame
    assert median_step(dance) == pytest.approx(3.0)
    assert thrown_steps(dance) == 0.0
    dance[0, 3, 5] = 0.0  # joint 5 at (0, 0) in frame 3: missing if recorded, thrown if generated
    assert thrown_steps(dance) == 0.0 and median_step(dance) == pytest.approx(3.0)
    assert thrown_steps(dance, skip_missing=False) == 2.0  # into the corner and back
    dance[0, 4, 7, 1] += 130.0  # a visible joint jumps 130 px and back
    assert thrown_steps(dance) == 2.0 and thrown_steps(dance, skip_missing=False) == 3.0


def test_song_scores_know_a_dance_on_its_songs_beat_from_one_on_another():
    from metrics.song_check import song_scores

    def dance_on(period_s, seconds=20.0):
        t = np.arange(int(seconds * FPS)) / FPS
        dance = np.full((len(t), NUM_JOINTS, 2), 200.0)
        dance[:, :, 0] += 20.0 * np.cos(np.pi * t / period_s)[:, None]  # swaying, at rest on each beat
        return dance

    beats = [np.arange(0.0, 20.0, 0.5), np.arange(0.25, 20.0, 0.6)]
    rows = song_scores([dance_on(0.5), dance_on(0.6)], beats)
    assert rows[0]["song_bpm"] == pytest.approx(120.0) and rows[0]["tempo_ok"]
    assert rows[0]["thrown"] == 0 and rows[0]["max_step"] < 120
    assert rows[0]["median_step"] > 1.0
    assert rows[0]["bas"] > 0.9 and rows[0]["bas"] > 1.3 * rows[0]["bas_other"]
    assert np.isnan(rows[0]["bone_error"])  # no reference dancers given
    dancer = dance_on(0.5)
    dancer[:, 4] += 10.0  # a forearm that is not a point
    scored = song_scores([dancer, dancer * 2.0], beats, reference=dancer[None])
    assert scored[0]["bone_error"] == pytest.approx(0.0, abs=1e-12)
    assert scored[1]["bone_error"] == pytest.approx(np.log(2.0))  # every bone twice as long


def test_bone_error_is_zero_for_the_same_build_and_ln2_for_doubled_bones():
    from metrics.evaluation import bone_error, bone_lengths

    rng = np.random.default_rng(0)
    reference = 300.0 + rng.normal(0.0, 20.0, (4, 10, NUM_JOINTS, 2))
    centre = reference[:, :, 1:2]
    assert bone_error(reference, reference) == 0.0
    moved = reference + np.array([15.0, -7.0])  # the same build elsewhere in the frame
    assert bone_error(moved, reference) == pytest.approx(0.0, abs=1e-12)
    doubled = centre + 2.0 * (reference - centre)  # every bone twice as long
    assert bone_error(doubled, reference) == pytest.approx(np.log(2.0))
    assert bone_error(centre + 0.5 * (reference - centre), reference) == pytest.approx(np.log(2.0))
    recorded = reference.copy()
    recorded[0, :, 4] = 0.0  # a wrist never tracked in clip 0: skipped when recorded, a long bone if generated
    assert bone_lengths(recorded)[3] == pytest.approx(bone_lengths(reference[1:])[3])
    assert bone_error(recorded, reference, skip_missing=False) > bone_error(recorded, reference)


# ---- neck-relative distance and move size ----

def posed_dance(frames=10, seed=0):
    """A random dance ``(frames, 18, 2)`` pixels, every joint well inside the canvas."""
    return np.random.default_rng(seed).uniform(150, 450, (frames, NUM_JOINTS, 2))


def test_neck_relative_distance_is_zero_for_the_same_dance_wherever_the_body_stands():
    from metrics.repertoire import neck_relative_distance

    dance = posed_dance()
    assert neck_relative_distance(dance, dance) == 0.0
    walked = dance + np.random.default_rng(1).uniform(-100, 100, (10, 1, 2))  # a new place every frame
    assert neck_relative_distance(dance, walked) == pytest.approx(0.0, abs=1e-9)
    wrist = dance.copy()
    wrist[:, 4] += [3.0, 4.0]  # the right wrist 5 px off in every frame: 5 px on 1 of 17 joints
    assert neck_relative_distance(dance, wrist) == pytest.approx(5.0 / 17)
    neck = dance.copy()
    neck[:, 1] += [3.0, 4.0]  # the neck 5 px off: every other joint 5 px off relative to it
    assert neck_relative_distance(dance, neck) == pytest.approx(5.0)
    assert neck_relative_distance(np.stack([dance, wrist]), wrist).shape == (2,)
    with pytest.raises(ValueError, match="same length"):
        neck_relative_distance(dance, dance[:5])


def test_neck_relative_distance_skips_missing_joints_and_frames_without_a_neck():
    from metrics.repertoire import neck_relative_distance

    dance = posed_dance()
    other = dance.copy()
    other[:, 4] += [3.0, 4.0]
    other[:, 7] = 0.0  # left wrist never tracked in one dance: 16 joints compared
    assert neck_relative_distance(dance, other) == pytest.approx(5.0 / 16)
    other[:5, 1] = 0.0  # no neck in half the frames: those frames are skipped
    other[:5, 4] += 100.0
    assert neck_relative_distance(dance, other) == pytest.approx(5.0 / 16)
    assert np.isnan(neck_relative_distance(dance, np.zeros_like(dance)))


def test_multimodality_px_and_dancers_px_by_hand():
    from metrics.repertoire import dancers_px, multimodality_px

    dance = posed_dance()
    moved = dance.copy()
    moved[:, 4] += [3.0, 4.0]  # 5/17 px from dance
    draws = np.stack([[dance, dance, moved], [moved, moved, moved]])  # (2 clips, 3 draws, T, 18, 2)
    assert multimodality_px(draws) == pytest.approx((0 + 2 * 5 / 17) / 3 / 2)
    assert multimodality_px(np.repeat(dance[None, None], 2, axis=1)) == 0.0
    with pytest.raises(ValueError, match="K >= 2"):
        multimodality_px(draws[:, :1])
    dances = np.stack([dance, dance, moved, posed_dance(seed=5)])
    # clips 0 and 1 (video a) meet clip 2 (video b) of their genre; clip 3's genre has no other video
    assert dancers_px(dances, ["a", "a", "b", "c"], ["x", "x", "x", "y"]) == pytest.approx(5 / 17)
    assert np.isnan(dancers_px(dances, ["a", "a", "b", "c"], ["x", "x", "y", "z"]))
    with pytest.raises(ValueError, match="one of each per clip"):
        dancers_px(dances, ["a"], ["x"])


def test_move_size_of_a_wrist_on_a_known_path():
    from metrics.repertoire import ANKLES, WRISTS, move_size

    frames = 101
    dance = np.broadcast_to(posed_dance(1), (frames, NUM_JOINTS, 2)).copy()
    dance[:, 4] = dance[:, 1] + np.stack([np.arange(frames), 0.75 * np.arange(frames)], axis=1)
    dance += np.random.default_rng(2).uniform(-50, 50, (frames, 1, 2))  # walking does not count
    # right wrist: 5th to 95th percentile 5..95 px in x, 3.75..71.25 in y: a 90 x 67.5 box, 112.5 across
    assert move_size(dance[None], WRISTS) == pytest.approx(112.5 / 2)  # the left wrist stays still
    assert move_size(dance[None], ANKLES) == pytest.approx(0.0, abs=1e-9)
    jittered = dance.copy()
    jittered[50, 4] += 400.0  # one frame thrown far: the percentiles barely move
    assert move_size(jittered[None], WRISTS) == pytest.approx(112.5 / 2, rel=0.02)
    lost = dance.copy()
    lost[:, 7] = 0.0  # left wrist never seen: the right one alone
    assert move_size(lost[None], WRISTS) == pytest.approx(112.5)
    nobody = np.zeros_like(dance)  # a clip with no wrist at all leaves the mean over clips
    assert move_size(np.stack([lost, nobody]), WRISTS) == pytest.approx(112.5)
    assert np.isnan(move_size(nobody[None], WRISTS))


def test_song_scores_report_move_size_and_the_distance_between_seeds():
    from metrics.repertoire import WRISTS, move_size
    from metrics.song_check import COLUMNS, song_scores

    dance = posed_dance(50)
    moved = dance.copy()
    moved[:, 4] += [3.0, 4.0]
    beats = [np.arange(0.0, 5.0, 0.5)] * 2
    rows = song_scores([dance, moved], beats, seed_pairs=[(dance, dance), (dance, moved)])
    assert all(set(row) == set(COLUMNS) for row in rows)
    assert rows[0]["seeds_px"] == 0.0 and rows[1]["seeds_px"] == pytest.approx(5 / 17)
    assert rows[0]["wrist_range_px"] == move_size(dance[None], WRISTS) > 0
    assert np.isnan(song_scores([dance], beats[:1])[0]["seeds_px"])  # no seed pairs given


def test_a_dance_that_slides_to_a_corner_is_off_stage_however_smoothly():
    from metrics.evaluation import THROWN_PX, dancers_stage, joint_steps, off_stage_frames
    from metrics.song_check import song_scores

    body = posed_dance(1, seed=3) * 0.3 + 200  # one skeleton, joints 245-335 px
    sway = 10 * np.sin(np.arange(50) / 3.0)[:, None, None]
    dancers = np.stack([body + sway + shift for shift in (-30.0, 0.0, 30.0)])  # three dancers
    necks = dancers[:, :, 1]
    x0, y0, x1, y1 = dancers_stage(dancers)
    assert x0 == pytest.approx(necks[..., 0].min() - 40, abs=0.5)
    assert y1 == pytest.approx(necks[..., 1].max() + 40, abs=0.5)
    missed = dancers.copy()
    missed[0, :5, 1] = 0.0  # a neck the tracker missed does not widen the stage
    assert dancers_stage(missed)[0] == pytest.approx(x0, abs=0.5)
    dance = body + sway
    sliding = dance.copy()
    sliding[25:] += np.linspace(0, 300, 25)[:, None, None]  # drifts right and down, 12.5 px a frame
    assert joint_steps(sliding[None], skip_missing=False).max() < THROWN_PX
    outside = int(((sliding[:, 1, 0] > x1) | (sliding[:, 1, 1] > y1)).sum())
    assert 0 < outside < 25
    assert off_stage_frames(sliding[None], (x0, y0, x1, y1)) == pytest.approx(outside / 50)
    assert off_stage_frames(dancers, (x0, y0, x1, y1)) == 0.0
    beats = [np.arange(0.0, 5.0, 0.5)] * 2
    rows = song_scores([dance, sliding], beats, reference=dancers)
    assert (rows[0]["off_stage"], rows[1]["off_stage"]) == (0, outside)
    assert np.isnan(song_scores([sliding], beats[:1])[0]["off_stage"])  # no dancers to know the stage by


def test_a_body_stretched_apart_with_its_neck_on_the_stage_is_broken():
    from metrics.evaluation import THROWN_PX, broken_frames, dancers_stage, joint_steps, off_stage_frames
    from metrics.song_check import song_scores

    body = posed_dance(1, seed=3) * 0.3 + 200
    sway = 10 * np.sin(np.arange(50) / 3.0)[:, None, None]
    dancers = np.stack([body + sway + shift for shift in (-30.0, 0.0, 30.0)])
    dance = body + sway
    assert broken_frames(dancers, dancers) == 0.0 and broken_frames(dance[None], dancers) == 0.0
    stretched = dance.copy()
    legs = [8, 9, 10, 11, 12, 13]  # hips, knees, ankles: pulled down 12 px a frame, neck in place
    stretched[20:, legs] += np.minimum(np.arange(30), 25)[:, None, None] * np.array([0.0, 12.0])
    assert joint_steps(stretched[None], skip_missing=False).max() < THROWN_PX
    assert off_stage_frames(stretched[None], dancers_stage(dancers)) == 0.0
    share = broken_frames(stretched[None], dancers)
    assert 0.2 < share < 0.6  # the frames where the torso (neck to hips) is over 3 times as long
    rows = song_scores([dance, stretched], [np.arange(0.0, 5.0, 0.5)] * 2, reference=dancers)
    assert (rows[0]["broken"], rows[1]["broken"]) == (0, round(share * 50))
    assert np.isnan(song_scores([stretched], [np.arange(0.0, 5.0, 0.5)])[0]["broken"])
