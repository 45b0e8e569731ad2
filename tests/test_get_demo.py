"""get_demo.py and model/inference.py: window planning, joins, songs -> files/MP4, test clips, errors.

A tiny random-weight generator checkpoint stands in for a trained one: every check here is
about shapes, files, timing, reproducibility and continuity, which do not need a good dance.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import torch

from dataset.audio import frame_audio, load_audio
from dataset.format import NOISE_DIM, SAMPLE_FRAMES, SAMPLE_RATE
from dataset.skeleton import denormalize
from get_demo import main, unique_names
from model.checkpoint import load_generator
from model.generator import Generator
from model.inference import CROSSFADE, HOP, blend_windows, generate, plan_windows, seeded_noise
from render import probe_mp4

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def drum_track(seconds, rate=SAMPLE_RATE, seed=0):
    """A kick every 0.5 s over a quiet tone and noise: ``(round(seconds * rate),)`` float32 in [-1, 1]."""
    t = np.arange(round(seconds * rate)) / rate
    kick = np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 20)
    noise = np.random.default_rng(seed).normal(0, 1, t.size)
    return (0.6 * kick + 0.1 * np.sin(2 * np.pi * 440 * t) + 0.05 * noise).astype(np.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A random-weight checkpoint, a 23 s OGG song (44.1 kHz stereo) and a 3.05 s WAV song."""
    folder = tmp_path_factory.mktemp("inputs")
    torch.manual_seed(0)
    checkpoint = folder / "generator.pth"
    torch.save({"generator": Generator().state_dict(), "config": {}}, checkpoint)
    song = folder / "song.ogg"
    music = drum_track(23, rate=44100)
    with sf.SoundFile(song, "w", 44100, 2, format="OGG", subtype="VORBIS") as f:
        for first in range(0, music.size, 44100):  # libsndfile's Vorbis writer dislikes long writes
            f.write(np.stack([music[first:first + 44100]] * 2, axis=1))
    short = folder / "short.wav"
    sf.write(short, drum_track(3.05), SAMPLE_RATE, subtype="PCM_16")
    return {"checkpoint": str(checkpoint), "song": str(song), "short": str(short)}


@pytest.fixture(scope="module")
def song_run(files, tmp_path_factory):
    """``get_demo.py --audio song.ogg --video`` once; returns the output folder."""
    out = tmp_path_factory.mktemp("song_out")
    assert main(["--model", files["checkpoint"], "--audio", files["song"], "--output", str(out),
                 "--video", "--plot", "--seed", "0", "--device", "cpu"]) == 0
    return out


# --- window planning (pure) --------------------------------------------------------------------


@pytest.mark.parametrize("frames", [1, 31, 50, 51, 79, 80, 81, 110, 230, 231, 1800])
def test_windows_tile_the_song_with_weights_summing_to_one(frames):
    starts, weights = plan_windows(frames)
    assert starts[0] == 0 and starts[-1] + SAMPLE_FRAMES == max(frames, SAMPLE_FRAMES)
    assert np.all(np.diff(starts) <= HOP) and np.all(np.diff(starts) > 0)
    coverage = np.zeros(max(frames, SAMPLE_FRAMES))
    for start, weight in zip(starts, weights):
        coverage[start:start + SAMPLE_FRAMES] += weight
    np.testing.assert_allclose(coverage, 1)
    assert weights.min() >= 0 and weights.max() <= 1


def test_crossfade_is_a_raised_cosine_centred_in_the_overlap():
    starts, weights = plan_windows(110)  # windows at 0, 30, 60; first overlap is frames 30-49
    np.testing.assert_array_equal(starts, [0, 30, 60])
    # Middle of the overlap: frame 40; the hand-over runs over frames 35-44.
    assert np.all(weights[0, :35] == 1) and np.all(weights[0, 45:] == 0)
    u = (np.arange(35, 45) + 0.5 - 35) / CROSSFADE
    np.testing.assert_allclose(weights[0, 35:45], (1 + np.cos(np.pi * u)) / 2)
    np.testing.assert_allclose(weights[1, 5:15], 1 - weights[0, 35:45])


def test_blend_windows_hands_over_smoothly_between_constant_windows():
    starts, weights = plan_windows(80)  # two windows, at 0 and 30
    poses = np.stack([np.zeros((SAMPLE_FRAMES, 1)), np.ones((SAMPLE_FRAMES, 1))])
    blended = blend_windows(poses, starts, weights, 80)[:, 0]
    assert blended.shape == (80,)
    assert np.all(blended[:35] == 0) and np.all(blended[45:] == 1)
    assert np.all(np.diff(blended) >= 0) and np.diff(blended).max() < 0.16  # pi/2/10 at most


def test_unique_names_number_repeated_stems():
    assert unique_names(["a/x.mp3", "b/x.wav", "y.ogg", "c/x.flac"]) == ["x", "x-2", "y", "x-3"]


# --- a song of any length ------------------------------------------------------------------------


def test_song_gives_one_pose_per_tenth_of_a_second(song_run):
    poses = np.load(song_run / "song.npy")
    assert poses.shape == (230, 18, 2) and poses.dtype == np.float32
    assert np.all(np.isfinite(poses))


def test_song_openpose_json_per_frame(song_run):
    folder = song_run / "song_json"
    assert len(os.listdir(folder)) == 230
    poses = np.load(song_run / "song.npy")
    with open(folder / "song_000000000229_keypoints.json") as f:
        frame = json.load(f)
    assert frame["version"] == 1.3
    keypoints = np.array(frame["people"][0]["pose_keypoints_2d"]).reshape(18, 3)
    np.testing.assert_allclose(keypoints[:, :2], poses[229], atol=1e-3)
    np.testing.assert_array_equal(keypoints[:, 2], 1)


def test_song_beat_plot_is_a_png_beside_the_mp4(song_run):
    import cv2

    image = cv2.imread(str(song_run / "song_beats.png"))
    assert image is not None and image.shape[0] >= 300 and image.shape[1] >= 700


def test_song_wav_is_the_decoded_music_as_danced(song_run, files):
    written, rate = sf.read(song_run / "song.wav", dtype="int16")
    assert rate == SAMPLE_RATE
    danced = frame_audio(load_audio(files["song"])).ravel()  # 23 s: nothing to pad
    np.testing.assert_array_equal(written, np.rint(danced).astype(np.int16))


def test_song_mp4_has_a_frame_per_pose_and_the_music(song_run):
    info = probe_mp4(song_run / "song.mp4")
    assert info["video_frames"] == 230 and info["fps"] == 10
    assert (info["video_codec"], info["pix_fmt"], info["width"], info["height"]) == ("h264", "yuv420p", 640, 360)
    assert info["has_audio"] and info["audio_codec"] == "aac"
    assert abs(info["duration"] - 23.0) <= 0.2 and abs(info["audio_duration"] - 23.0) <= 0.2


def test_no_jump_at_the_window_joins(files, song_run):
    """Motion across the cross-fades is no larger than the motion inside the windows.

    Displacement = the largest joint displacement (normalised units) between consecutive
    frames. With random weights the generator jitters from frame to frame, so "a jump" is a
    displacement beyond what the model does inside a 5 s window: the largest displacement over
    the join transitions (those touching a cross-fade frame) must not exceed the largest over
    all within-window transitions of the raw windows, and each join transition must stay
    within a tenth of the median motion of what the two blended windows do there. The first
    check on plain back-to-back 5 s windows (no overlap) fails, so it tells a jump from a join.
    """
    generator = load_generator(files["checkpoint"])
    frames = frame_audio(load_audio(files["song"]))
    count = len(frames)
    starts, weights = plan_windows(count)
    index = starts[:, None] + np.arange(SAMPLE_FRAMES)
    noise = seeded_noise((count, NOISE_DIM), 0)
    windows = generate(generator, frames[index], noise[index])
    within = np.abs(np.diff(windows, axis=1)).max(axis=2)  # (n, 49) largest joint displacement
    poses = blend_windows(windows, starts, weights, count)  # what get_demo.py danced:
    np.testing.assert_allclose(denormalize(poses.reshape(count, 18, 2)), np.load(song_run / "song.npy"), atol=1e-3)

    coverage = np.zeros((len(starts), count))
    for k, start in enumerate(starts):
        coverage[k, start:start + SAMPLE_FRAMES] = weights[k]
    blended = coverage.max(axis=0) < 1
    motion = np.abs(np.diff(poses, axis=0)).max(axis=1)
    joins = np.flatnonzero(blended[:-1] | blended[1:])  # transitions t -> t+1 touching a cross-fade
    assert joins.size >= 10 * (len(starts) - 1)
    assert motion[joins].max() <= within.max()
    # Finer: at each join the blend moves no more than the two windows it blends move themselves,
    # give or take a tenth of the typical motion (both windows cover every join transition).
    for t in joins:
        k = np.searchsorted(starts, t, side="right") - 1  # the later window starting at or before t
        own = max(within[k, t - starts[k]], within[k - 1, t - starts[k - 1]])
        assert motion[t] <= own + 0.1 * np.median(within)

    cut_starts = np.arange(0, count, SAMPLE_FRAMES)
    padded = np.concatenate([frames, np.zeros((cut_starts[-1] + SAMPLE_FRAMES - count, frames.shape[1]))])
    cut_index = cut_starts[:, None] + np.arange(SAMPLE_FRAMES)
    cut_noise = seeded_noise((len(padded), NOISE_DIM), 0)
    back_to_back = generate(generator, padded[cut_index], cut_noise[cut_index]).reshape(-1, 36)[:count]
    cut_motion = np.abs(np.diff(back_to_back, axis=0)).max(axis=1)
    assert cut_motion[cut_starts[1:] - 1].max() > within.max()


def test_seed_reproduces_the_dance_and_short_songs_keep_every_frame(files, tmp_path):
    runs = {}
    for name, seed, extra in (("a", 0, ["--video"]), ("b", 0, []), ("c", 1, [])):
        out = tmp_path / name
        assert main(["--model", files["checkpoint"], "--audio", files["short"], "--output", str(out),
                     "--seed", str(seed), "--device", "cpu"] + extra) == 0
        runs[name] = np.load(out / "short.npy")
    assert runs["a"].shape == (31, 18, 2)  # 3.05 s: 30 whole frames and a padded partial one
    np.testing.assert_array_equal(runs["a"], runs["b"])
    assert np.abs(runs["a"] - runs["c"]).max() > 1.0  # pixels
    assert len(os.listdir(tmp_path / "a" / "short_json")) == 31
    assert sf.info(tmp_path / "a" / "short.wav").frames == 31 * 1600  # the partial frame padded
    info = probe_mp4(tmp_path / "a" / "short.mp4")
    assert info["video_frames"] == 31 and abs(info["duration"] - 3.05) <= 0.2
    assert sorted(os.listdir(tmp_path / "b")) == ["short.npy", "short.wav", "short_json"]


# --- test clips, as the original -----------------------------------------------------------------


def test_test_clips_in_frame2vid_layout(files, tiny_corpus, tmp_path):
    out = tmp_path / "clips"
    assert main(["--model", files["checkpoint"], "--data", tiny_corpus, "--split", "videos:002",
                 "--count", "1", "--output", str(out), "--video", "--gif", "--device", "cpu"]) == 0
    sample = out / "002_025_0"
    frames = sorted(os.listdir(sample / "frames"))
    assert frames == [f"{t:04d}.png" for t in range(SAMPLE_FRAMES)]
    assert np.load(sample / "002_025_0.npy").shape == (SAMPLE_FRAMES, 18, 2)
    audio, rate = sf.read(sample / "002_025_0.wav", dtype="int16")
    assert rate == SAMPLE_RATE and audio.shape == (80000,)
    assert (out / "002_025_0.gif").stat().st_size > 0
    info = probe_mp4(out / "002_025_0.mp4")
    assert (info["video_frames"], info["width"], info["height"]) == (SAMPLE_FRAMES, 1280, 360)
    assert info["has_audio"]
    assert sorted(os.listdir(out)) == ["002_025_0", "002_025_0.gif", "002_025_0.mp4"]

    os.remove(out / "002_025_0.mp4")
    result = subprocess.run(["bash", os.path.join(ROOT, "Demo", "frame2vid.sh"), str(out)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    info = probe_mp4(out / "002_025_0.mp4")
    assert (info["video_frames"], info["width"], info["has_audio"]) == (SAMPLE_FRAMES, 1280, True)


# --- errors: one line, exit status 1, no partial MP4 -----------------------------------------------


def _bad_inputs(tmp_path, case):
    """(extra argv, expected words in the message) for one error case, files made in ``tmp_path``."""
    if case == "missing audio":
        return ["--audio", str(tmp_path / "nothere.mp3")], "not found"
    if case == "corrupt audio":
        (tmp_path / "corrupt.mp3").write_bytes(b"ID3 this is not an mp3 " * 100)
        return ["--audio", str(tmp_path / "corrupt.mp3")], "cannot decode"
    if case == "silent audio":
        sf.write(tmp_path / "silent.wav", np.zeros(SAMPLE_RATE * 2), SAMPLE_RATE, subtype="PCM_16")
        return ["--audio", str(tmp_path / "silent.wav")], "silent"
    if case == "too short audio":
        sf.write(tmp_path / "blip.wav", drum_track(0.05), SAMPLE_RATE, subtype="PCM_16")
        return ["--audio", str(tmp_path / "blip.wav")], "too short"
    if case == "bad checkpoint":
        (tmp_path / "bad.pth").write_bytes(os.urandom(2000))
        return ["--model", str(tmp_path / "bad.pth")], "bad.pth"
    if case == "wrong network":
        torch.save({"generator": {"weight": torch.zeros(3)}}, tmp_path / "other.pth")
        return ["--model", str(tmp_path / "other.pth")], "not a generator state dict"
    raise AssertionError(case)


@pytest.mark.parametrize("case", ["missing audio", "corrupt audio", "silent audio", "too short audio",
                                  "bad checkpoint", "wrong network"])
def test_errors_end_with_one_clear_line(case, files, tmp_path, capsys):
    extra, expected = _bad_inputs(tmp_path, case)
    argv = ["--model", files["checkpoint"], "--audio", files["short"], "--output", str(tmp_path / "out"),
            "--video", "--device", "cpu"] + extra
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and err.count("\n") == 1, err
    assert "Traceback" not in err
    leftovers = [name for _, _, names in os.walk(tmp_path) for name in names if ".mp4" in name]
    assert leftovers == []


def test_unwritable_output_folder_fails_before_any_work(files, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "out"
    assert main(["--model", str(tmp_path / "no_checkpoint_needed.pth"), "--audio", files["short"],
                 "--output", str(out), "--video"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot write to output folder {out}") and err.count("\n") == 1


def test_command_line_exit_status_and_message(tmp_path):
    result = subprocess.run([sys.executable, os.path.join(ROOT, "get_demo.py"), "--audio",
                             str(tmp_path / "missing.ogg"), "--output", str(tmp_path / "out"),
                             "--model", str(tmp_path / "missing.pth")],
                            capture_output=True, text=True, check=False, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
