"""The dataset builder: OpenPose parsing, person choice, resampling, clip cutting, the output file, the CLI.

Every fixture is built in ``tmp_path``: OpenPose JSON frames of a body swaying sinusoidally at
30 fps (some frames with a less confident second person, some with nobody) and a 16-bit WAV.
"""

import json
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf

from dataset import build
from dataset.build import (
    BODY25_TO_COCO18, BuildError, build_dataset, cut_clips, list_openpose_files, merge_into_corpus,
    next_video_id, parse_openpose_frame, read_openpose_frame, resample_poses, rescale_to_canvas,
    select_person,
)
from dataset.errors import DanceSynthError
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES, SAMPLE_RATE
from dataset.skeleton import JOINT_INDEX, NUM_JOINTS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE_FPS = 30
EMPTY_PHASE = 15  # source frames n with n % 30 == 15 hold nobody (output frames k with k % 10 == 5)
LOW_JOINT = JOINT_INDEX["l_ear"]  # always detected with confidence 0.01: below the default threshold
MAIN_CONFIDENCE, DECOY_CONFIDENCE = 0.9, 0.4


def body_at(n):
    """Pixels ``(18, 2)`` of the dancer at source frame ``n``: a standing body swaying left and right."""
    base = np.stack([np.linspace(280.0, 360.0, NUM_JOINTS), np.linspace(60.0, 320.0, NUM_JOINTS)], axis=1)
    return base + np.array([40.0 * np.sin(2 * np.pi * n / SOURCE_FPS), 0.0])


def person(pixels, confidence, body25=False):
    """One OpenPose person entry from COCO-18 ``pixels`` ``(18, 2)`` and ``confidence`` ``(18,)``,
    written as COCO-18 or as BODY_25 (MidHip and feet then sit at (999, 999) with confidence 0.9)."""
    keypoints = np.concatenate([pixels, confidence[:, None]], axis=1)
    if body25:
        keypoints, coco = np.tile([999.0, 999.0, 0.9], (25, 1)), keypoints
        keypoints[list(BODY25_TO_COCO18)] = coco
    return {"person_id": [-1], "pose_keypoints_2d": keypoints.ravel().tolist()}


def write_frame(folder, n, people):
    """Write OpenPose's JSON for frame ``n`` and return its path."""
    path = folder / f"video_{n:012d}_keypoints.json"
    path.write_text(json.dumps({"version": 1.3, "people": people}))
    return path


def write_openpose(folder, seconds=25, body25=False):
    """A folder of OpenPose frames at 30 fps: the dancer (joint l_ear at confidence 0.01), a decoy
    person in every 7th frame (listed first half of the time), nobody in every frame ``n % 30 == 15``."""
    folder.mkdir()
    for n in range(seconds * SOURCE_FPS):
        if n % SOURCE_FPS == EMPTY_PHASE:
            write_frame(folder, n, [])
            continue
        pixels = body_at(n)
        confidence = np.full(NUM_JOINTS, MAIN_CONFIDENCE)
        confidence[LOW_JOINT] = 0.01
        people = [(pixels, confidence)]
        if n % 7 == 0:
            decoy = (pixels + [150.0, 10.0], np.full(NUM_JOINTS, DECOY_CONFIDENCE))
            people = [decoy] + people if n % 2 else people + [decoy]
        write_frame(folder, n, [person(xy, conf, body25) for xy, conf in people])
    return folder


def write_song(path, seconds=25.0):
    """A 16-bit 16 kHz WAV of a 440 Hz tone; returns its int16 samples."""
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    samples = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    sf.write(path, samples, SAMPLE_RATE, subtype="PCM_16")
    return samples


@pytest.fixture
def inputs(tmp_path):
    """(OpenPose folder, song path, song samples) for 25 s of dance."""
    song = tmp_path / "song.wav"
    return write_openpose(tmp_path / "openpose"), str(song), write_song(song)


def read_double(path):
    """Read a double-encoded dataset file; fails if it is not double-encoded."""
    with open(path) as handle:
        content = json.load(handle)
    assert isinstance(content, str), "expected a double-encoded file (a JSON string)"
    return json.loads(content)


# OpenPose frames

def test_most_confident_person_is_picked_by_mean_over_detected_joints():
    dancer = np.concatenate([np.full((NUM_JOINTS, 2), 100.0), np.full((NUM_JOINTS, 1), 0.6)], axis=1)
    crowd = np.concatenate([np.full((NUM_JOINTS, 2), 500.0), np.full((NUM_JOINTS, 1), 0.5)], axis=1)
    partial = dancer.copy()
    partial[:, :2] = 300.0
    partial[2:, 2] = 0.0  # two joints detected at 0.8: mean 0.8 over detected joints beats 0.6
    partial[:2, 2] = 0.8
    assert np.all(select_person(np.stack([crowd, dancer])) == 100.0)
    assert np.all(select_person(np.stack([dancer, crowd])) == 100.0)
    picked = select_person(np.stack([dancer, partial, crowd]))
    assert np.all(picked[:2] == 300.0) and np.isnan(picked[2:]).all()


def test_nobody_and_low_confidence_joints_are_missing():
    assert np.isnan(select_person(np.zeros((0, NUM_JOINTS, 3)))).all()
    keypoints = np.concatenate([np.full((NUM_JOINTS, 2), 50.0), np.full((NUM_JOINTS, 1), 0.9)], axis=1)
    keypoints[3, 2], keypoints[4, 2], keypoints[5, 2] = 0.29, 0.3, 0.0
    pose = select_person(keypoints[None], min_confidence=0.3)
    assert np.isnan(pose[3]).all() and np.isnan(pose[5]).all()
    assert (pose[4] == 50.0).all()
    assert np.isnan(select_person(keypoints[None], min_confidence=0.0)[5]).all()  # confidence 0: never detected


def test_body25_maps_to_the_coco18_joints():
    body25 = np.stack([np.arange(25.0), 100 + np.arange(25.0), np.full(25, 0.9)], axis=1)
    coco = parse_openpose_frame({"people": [{"pose_keypoints_2d": body25.ravel().tolist()}]})
    assert coco.shape == (1, NUM_JOINTS, 3)
    expected = {"nose": 0, "neck": 1, "r_wrist": 4, "l_wrist": 7, "r_hip": 9, "r_ankle": 11,
                "l_hip": 12, "l_ankle": 14, "r_eye": 15, "l_eye": 16, "r_ear": 17, "l_ear": 18}
    for name, body25_index in expected.items():
        assert coco[0, JOINT_INDEX[name], 0] == body25_index, name
    assert 8 not in coco[0, :, 0]  # MidHip has no COCO-18 joint


def test_coco18_is_kept_and_empty_frames_parse_to_no_people():
    coco = np.stack([np.arange(18.0), np.arange(18.0), np.full(18, 0.5)], axis=1)
    parsed = parse_openpose_frame({"people": [{"pose_keypoints_2d": coco.ravel().tolist()}] * 2})
    assert parsed.shape == (2, NUM_JOINTS, 3) and np.array_equal(parsed[1], coco)
    assert parse_openpose_frame({"people": []}).shape == (0, NUM_JOINTS, 3)


@pytest.mark.parametrize("content", [
    '{"people": [{"pose_keypoints_2d": [1, 2, 0.5]}]}',  # one joint: an unknown layout
    '{"people": [{"face_keypoints_2d": []}]}',
    '{"animals": []}',
    '{"people": [',
])
def test_bad_openpose_file_error_names_the_file(tmp_path, content):
    path = tmp_path / "clip_000000000003_keypoints.json"
    path.write_text(content)
    with pytest.raises(BuildError, match="clip_000000000003_keypoints.json"):
        read_openpose_frame(str(path))


def test_files_sorted_by_frame_number_and_duplicates_refused(tmp_path):
    for n in (10, 2, 1):
        write_frame(tmp_path, n, [])
    (tmp_path / "f_9.json").write_text('{"people": []}')
    assert [n for n, _ in list_openpose_files(str(tmp_path))] == [1, 2, 9, 10]
    (tmp_path / "g_2.json").write_text('{"people": []}')
    with pytest.raises(BuildError, match="frame number 2"):
        list_openpose_files(str(tmp_path))


# Geometry and time

def test_rescale_keeps_aspect_and_centres():
    points = np.array([[[0.0, 0.0], [1280.0, 720.0], [np.nan, np.nan]]])
    assert np.allclose(rescale_to_canvas(points, 1280, 720)[0, :2], [[0, 0], [640, 360]])
    square = rescale_to_canvas(np.array([[0.0, 0.0], [720.0, 720.0]]), 720, 720)  # scale 0.5, bars of 140 px
    assert np.allclose(square, [[140, 0], [500, 360]])
    assert np.isnan(rescale_to_canvas(points, 1280, 720)[0, 2]).all()


@pytest.mark.parametrize("fps", [30, 25, 60, 24])
def test_resampling_linear_motion_lands_on_the_right_positions(fps):
    seconds = 4
    t = np.arange(seconds * fps) / fps
    poses = np.zeros((len(t), NUM_JOINTS, 2))
    poses[..., 0] = (100 + 50 * t)[:, None]  # 50 px/s to the right
    poses[..., 1] = (300 - 20 * t)[:, None]
    out = resample_poses(poses, fps)
    assert out.shape == (seconds * 10, NUM_JOINTS, 2)
    k = np.arange(seconds * 10) / 10
    assert np.allclose(out[..., 0], (100 + 50 * k)[:, None], rtol=0, atol=1e-9)
    assert np.allclose(out[..., 1], (300 - 20 * k)[:, None], rtol=0, atol=1e-9)
    if fps == 30:
        assert np.array_equal(out, poses[::3])


def test_resampling_missing_joints_use_the_present_neighbour():
    poses = np.zeros((10, 1, 2))
    poses[:, 0, 0] = np.arange(10.0)
    poses[2] = np.nan  # at 25 fps, outputs 0-3 sit at source positions 0, 2.5, 5 and 7.5
    out = resample_poses(poses, 25)[:, 0, 0]
    assert out.shape == (4,)
    assert out[0] == 0.0
    assert out[1] == 3.0  # between 2 (missing) and 3: the present one
    assert out[2] == 5.0
    assert out[3] == 7.5  # both present: interpolated
    poses[7:9] = np.nan
    assert np.isnan(resample_poses(poses, 25)[3]).all()  # neither neighbour present
    poses[5] = np.nan
    assert np.isnan(resample_poses(poses, 25)[2]).all()  # exactly on a missing frame


# Clips and the corpus

def test_cut_clips_keys_sizes_and_partial_clip_dropped(caplog):
    poses = np.random.default_rng(0).uniform(0, 300, (250, NUM_JOINTS, 2))
    poses[7, 3] = np.nan
    audio = np.arange(25 * SAMPLE_RATE, dtype=np.float32) % 30000
    with caplog.at_level(logging.INFO, logger="dataset.build"):
        clips = cut_clips(poses, audio)
    assert list(clips) == ["000", "010"]
    assert "partial clip" in caplog.text
    second = clips["010"]
    assert len(second["audio_sequence"]) == CLIP_SAMPLES and second["audio_sequence"][0] == CLIP_SAMPLES % 30000
    assert np.array(second["joint_coors"]).shape == (CLIP_FRAMES, NUM_JOINTS, 2)
    assert np.allclose(second["joint_coors"], poses[100:200], atol=5e-4)
    assert clips["000"]["joint_coors"][7][3] == [0.0, 0.0]
    assert all(type(v) is int for v in clips["000"]["audio_sequence"][:10])


def test_cut_clips_refuses_audio_shorter_than_a_clip():
    with pytest.raises(BuildError, match="at least one 10 s clip"):
        cut_clips(np.zeros((300, NUM_JOINTS, 2)), np.ones(CLIP_SAMPLES - 1))


def test_merge_and_next_video_id():
    corpus = {"000": {"000": {}}, "007": {}, "extra": {}}
    assert next_video_id(corpus) == "008" and next_video_id({}) == "000"
    merged = merge_into_corpus(corpus, "008", {"000": {}})
    assert list(merged) == ["000", "007", "extra", "008"] and "008" not in corpus
    with pytest.raises(BuildError, match="'007' already exists"):
        merge_into_corpus(corpus, "007", {})
    assert merge_into_corpus(corpus, "007", {"x": 1}, overwrite=True)["007"] == {"x": 1}


# The whole build

def test_build_writes_double_encoded_clips_in_the_release_layout(inputs, tmp_path):
    folder, song, samples = inputs
    out = tmp_path / "data" / "dance.json"  # the folder is created
    summary = build_dataset(str(folder), song, str(out))
    data = read_double(out)
    assert list(data) == ["000"] and list(data["000"]) == ["000", "010"]
    assert summary.video_id == "000" and summary.clip_keys == ("000", "010") and summary.frames == 200
    assert summary.source_frames == 750 and summary.empty_frames == 25

    for i, key in enumerate(["000", "010"]):
        clip = data["000"][key]
        assert set(clip) == {"audio_sequence", "joint_coors"}
        assert clip["audio_sequence"] == samples[i * CLIP_SAMPLES:(i + 1) * CLIP_SAMPLES].tolist()
        pose = np.array(clip["joint_coors"])
        assert pose.shape == (CLIP_FRAMES, NUM_JOINTS, 2)
        for k in range(CLIP_FRAMES):
            n = 3 * (k + CLIP_FRAMES * i)  # 30 fps -> 10 fps: every third source frame
            if n % SOURCE_FPS == EMPTY_PHASE:
                assert np.all(pose[k] == 0.0)
                continue
            expected = body_at(n)
            expected[LOW_JOINT] = 0.0
            assert np.allclose(pose[k], expected, rtol=0, atol=5e-4), (key, k)
    assert summary.missing_fraction == pytest.approx(0.1 + 0.9 / NUM_JOINTS)


def test_appending_keeps_the_first_video_and_its_encoding(inputs, tmp_path):
    folder, song, _ = inputs
    out = str(tmp_path / "dance.json")
    build_dataset(str(folder), song, out)
    first = json.dumps(read_double(out)["000"])
    body25 = write_openpose(tmp_path / "body25", seconds=12, body25=True)
    summary = build_dataset(str(body25), song, out, plain_json=True)
    data = read_double(out)
    assert summary.video_id == "001" and list(data) == ["000", "001"]
    assert json.dumps(data["000"]) == first
    assert list(data["001"]) == ["000"]  # 12 s of poses: one clip
    assert np.allclose(data["001"]["000"]["joint_coors"], data["000"]["000"]["joint_coors"], atol=1e-9)


def test_plain_json_file_stays_plain(inputs, tmp_path):
    folder, song, _ = inputs
    out = str(tmp_path / "plain.json")
    build_dataset(str(folder), song, out, plain_json=True)
    build_dataset(str(folder), song, out, video_id="12")
    with open(out) as handle:
        data = json.load(handle)
    assert isinstance(data, dict) and list(data) == ["000", "012"]


def test_existing_video_id_is_refused_and_the_file_unchanged(inputs, tmp_path):
    folder, song, _ = inputs
    out = tmp_path / "dance.json"
    build_dataset(str(folder), song, str(out), video_id="003")
    before = out.read_bytes()
    with pytest.raises(BuildError, match="'003' already exists"):
        build_dataset(str(folder), song, str(out), video_id="003")
    assert out.read_bytes() == before
    build_dataset(str(folder), song, str(out), video_id="3", overwrite_video=True)
    assert list(read_double(out)) == ["003"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp files left


@pytest.mark.parametrize("content", [
    b"", b"not json", b'"[1, 2]"', b'{"000": [1, 2]}', b'"{\\"000\\": {\\"000\\": {\\"audio_sequence\\": []}}}"',
])
def test_invalid_existing_file_is_refused_and_left_untouched(inputs, tmp_path, content):
    folder, song, _ = inputs
    out = tmp_path / "dance.json"
    out.write_bytes(content)
    with pytest.raises(BuildError, match="left it untouched"):
        build_dataset(str(folder), song, str(out))
    assert out.read_bytes() == content


def test_input_errors_name_what_is_wrong(inputs, tmp_path):
    folder, song, _ = inputs
    bad = write_frame(folder, 300, [{"pose_keypoints_2d": [1.0] * 60}])
    with pytest.raises(BuildError, match=str(bad.name)):
        build_dataset(str(folder), song, str(tmp_path / "a.json"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BuildError, match="no OpenPose JSON files"):
        build_dataset(str(tmp_path / "empty"), song, str(tmp_path / "a.json"))
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(BuildError, match="output folder"):
        build_dataset(str(folder), song, str(blocker / "out.json"))
    short = tmp_path / "short.wav"
    write_song(short, seconds=9.5)
    os.unlink(bad)
    with pytest.raises(BuildError, match="9.5 s of audio"):
        build_dataset(str(folder), str(short), str(tmp_path / "a.json"))
    assert not (tmp_path / "a.json").exists()


def test_write_corpus_keeps_permissions_and_names_an_unwritable_file(tmp_path):
    out = tmp_path / "dance.json"
    build.write_corpus(str(out), {"000": {}})
    out.chmod(0o640)
    build.write_corpus(str(out), {"001": {}}, double_encoded=False)
    assert json.loads(out.read_text()) == {"001": {}} and (out.stat().st_mode & 0o777) == 0o640
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    with pytest.raises(BuildError, match="not writable") as caught:
        build.write_corpus(str(blocker / "out.json"), {})
    assert str(blocker / "out.json") in str(caught.value)
    assert issubclass(BuildError, DanceSynthError) and issubclass(BuildError, ValueError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "dance.json"]


# The command line

def test_main_prints_a_summary(inputs, tmp_path, capsys):
    folder, song, _ = inputs
    out = tmp_path / "dance.json"
    argv = ["--openpose", str(folder), "--audio", song, "--out", str(out), "--video-id", "042",
            "--fps", "30", "--min-confidence", "0.005", "--width", "640", "--height", "360"]
    assert build.main(argv) == 0
    printed = capsys.readouterr().out
    assert "video 042: 2 clips" in printed and "200 written at 10 fps" in printed
    pose = np.array(read_double(out)["042"]["000"]["joint_coors"])
    assert np.allclose(pose[0, LOW_JOINT], body_at(0)[LOW_JOINT], atol=5e-4)  # 0.01 >= 0.005: kept
    assert build.main(argv) == 1
    assert "already exists" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build.main(argv[:-2])  # --width without --height


def test_module_runs_as_a_script_and_fails_cleanly(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "dataset.build", "--openpose", str(tmp_path / "none"),
         "--audio", "song.wav", "--out", str(tmp_path / "out.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 1
    assert "OpenPose folder not found" in result.stderr and "Traceback" not in result.stderr
