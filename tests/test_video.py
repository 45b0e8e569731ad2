"""render/video.py and Demo/frame2vid.sh: real MP4/GIF files checked with probe_mp4; no partial output on errors."""

import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

import dataset.ffmpeg
import render.video as video
from conftest import STANDING
from dataset.audio import write_wav
from dataset.errors import DanceSynthError
from dataset.format import FPS, SAMPLE_RATE
from render import FFmpegNotFoundError, VideoError, find_ffmpeg, probe_mp4, render_frames, write_gif, write_mp4

FRAME2VID = Path(__file__).resolve().parent.parent / "Demo" / "frame2vid.sh"



def _dance(num_frames):
    """A swaying skeleton: ``(T, 18, 2)`` pixels."""
    sway = 30 * np.sin(np.arange(num_frames) / 4)
    return STANDING + np.stack([sway, np.zeros(num_frames)], axis=1)[:, None, :]


def _song(path, seconds):
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return write_wav(path, 12000 * np.sin(2 * np.pi * 330 * t))


@pytest.fixture
def frames():
    return list(render_frames(_dance(12)))


def test_mp4_of_23_seconds(tmp_path):
    wav = _song(tmp_path / "song.wav", 23.0)
    out = tmp_path / "dance.mp4"

    assert write_mp4(render_frames(_dance(230)), wav, out) == str(out)

    info = probe_mp4(out)
    assert info["video_frames"] == 230
    assert info["video_codec"] == "h264" and info["pix_fmt"] == "yuv420p"
    assert (info["width"], info["height"]) == (640, 360) and info["fps"] == FPS
    assert info["has_audio"] and info["audio_codec"] == "aac"
    assert info["audio_duration"] == pytest.approx(23.0, abs=0.2)
    assert info["duration"] == pytest.approx(23.0, abs=0.2)
    assert sorted(os.listdir(tmp_path)) == ["dance.mp4", "song.wav"]


def test_colours_survive_encoding(tmp_path, frames):
    out = write_mp4(frames, None, tmp_path / "silent.mp4")
    capture = cv2.VideoCapture(out)
    ok, decoded = capture.read()
    capture.release()
    if not ok:
        pytest.skip("OpenCV cannot decode H.264 here")
    assert np.abs(decoded.astype(int) - frames[0]).mean() < 3
    assert not probe_mp4(out)["has_audio"]


def test_odd_frame_size_is_padded(tmp_path):
    odd = [np.full((75, 101, 3), 255, np.uint8)] * 3
    info = probe_mp4(write_mp4(odd, None, tmp_path / "odd.mp4"))
    assert (info["width"], info["height"], info["video_frames"]) == (102, 76, 3)


def test_gif(tmp_path, frames):
    out = write_gif(frames, tmp_path / "dance.gif", width=320)
    assert Path(out).read_bytes()[:6] == b"GIF89a"
    info = probe_mp4(out)
    assert (info["video_codec"], info["width"], info["height"], info["video_frames"]) == ("gif", 320, 180, 12)


def test_unwritable_output_folder(tmp_path, frames):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    out = blocker / "sub" / "dance.mp4"
    with pytest.raises(VideoError, match="not writable") as caught:
        write_mp4(frames, None, out)
    assert str(out) in str(caught.value)
    assert os.listdir(tmp_path) == ["a_file"]


def test_video_errors_are_user_errors():
    assert issubclass(VideoError, DanceSynthError) and issubclass(VideoError, RuntimeError)
    assert issubclass(FFmpegNotFoundError, DanceSynthError)


def test_corrupt_audio_makes_ffmpeg_fail_without_leftovers(tmp_path, frames):
    wav = tmp_path / "song.wav"
    wav.write_bytes(b"this is not a wav file" * 50)
    with pytest.raises(VideoError, match="ffmpeg failed") as caught:
        write_mp4(frames, wav, tmp_path / "dance.mp4")
    assert "dance.mp4" in str(caught.value)
    assert os.listdir(tmp_path) == ["song.wav"]


@pytest.mark.parametrize("reads_input", [True, False], ids=["after-reading", "immediately"])
def test_failing_ffmpeg_leaves_no_file(tmp_path, monkeypatch, frames, reads_input):
    fake = tmp_path / "fake_ffmpeg"
    fake.write_text("#!/bin/sh\n" + ("cat > /dev/null\n" if reads_input else "")
                    + 'for last; do :; done\necho partial > "$last"\necho "boom: disk full" >&2\nexit 1\n')
    fake.chmod(0o755)
    monkeypatch.setattr(video, "find_ffmpeg", lambda: str(fake))
    out_dir = tmp_path / "out"
    with pytest.raises(VideoError, match="boom: disk full"):
        write_mp4(frames * 50, None, out_dir / "dance.mp4")
    assert os.listdir(out_dir) == []


def test_failing_frame_source_leaves_no_file(tmp_path, frames):
    def broken():
        yield from frames[:5]
        raise RuntimeError("generator crashed")
    with pytest.raises(RuntimeError, match="generator crashed"):
        write_mp4(broken(), None, tmp_path / "dance.mp4")
    assert os.listdir(tmp_path) == []


def test_bad_frames_are_rejected_without_leftovers(tmp_path, frames):
    with pytest.raises(ValueError, match="frame 3"):
        write_mp4(frames[:3] + [frames[0][:100]], None, tmp_path / "dance.mp4")
    with pytest.raises(ValueError, match="uint8"):
        write_mp4([frames[0].astype(np.float32)], None, tmp_path / "dance.mp4")
    with pytest.raises(VideoError, match="no frames"):
        write_mp4([], None, tmp_path / "dance.mp4")
    with pytest.raises(VideoError, match="audio file not found"):
        write_mp4(frames, tmp_path / "missing.wav", tmp_path / "dance.mp4")
    assert os.listdir(tmp_path) == []


def test_find_ffmpeg_prefers_path_then_imageio(monkeypatch):
    monkeypatch.setattr(dataset.ffmpeg.shutil, "which", lambda name: f"/opt/bin/{name}")
    assert find_ffmpeg() == "/opt/bin/ffmpeg"

    monkeypatch.setattr(dataset.ffmpeg.shutil, "which", lambda name: None)
    monkeypatch.setitem(sys.modules, "imageio_ffmpeg", None)
    with pytest.raises(FFmpegNotFoundError, match="imageio-ffmpeg"):
        find_ffmpeg()


def test_probe_errors(tmp_path):
    with pytest.raises(VideoError, match="not found"):
        probe_mp4(tmp_path / "none.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"\x00" * 1000)
    with pytest.raises(VideoError, match="junk.mp4"):
        probe_mp4(junk)


@pytest.mark.skipif(dataset.ffmpeg.find_ffprobe() is None, reason="no ffprobe on PATH to compare with")
def test_probe_backends_agree(tmp_path, frames):
    out = write_mp4(frames, _song(tmp_path / "song.wav", 1.2), tmp_path / "dance.mp4")
    with_ffprobe = video._probe_with_ffprobe(dataset.ffmpeg.find_ffprobe(), out)
    with_ffmpeg = video._probe_with_ffmpeg(find_ffmpeg(), out)
    for key, value in with_ffmpeg.items():
        if isinstance(value, float):
            assert with_ffprobe[key] == pytest.approx(value, abs=0.1), key
        else:
            assert with_ffprobe[key] == value, key


def test_probe_reads_ffprobe_json(tmp_path, monkeypatch):
    report = ('{"streams": [{"codec_name": "h264", "codec_type": "video", "width": 640, "height": 360,'
              ' "pix_fmt": "yuv420p", "avg_frame_rate": "10/1", "duration": "23.000000", "nb_read_packets": "230"},'
              ' {"codec_name": "aac", "codec_type": "audio", "duration": "23.040000", "nb_read_packets": "360"}],'
              ' "format": {"duration": "23.040000"}}')
    fake = tmp_path / "ffprobe"
    fake.write_text(f"#!/bin/sh\ncat <<'JSON'\n{report}\nJSON\n")
    fake.chmod(0o755)
    monkeypatch.setattr(video, "find_ffprobe", lambda: str(fake))
    target = tmp_path / "dance.mp4"
    target.write_bytes(b"")

    assert probe_mp4(target) == {
        "video_frames": 230, "video_codec": "h264", "pix_fmt": "yuv420p", "width": 640, "height": 360,
        "fps": 10.0, "duration": 23.04, "has_audio": True, "audio_codec": "aac", "audio_duration": 23.04,
    }


def _frame2vid(*args):
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(["bash", str(FRAME2VID), *args], capture_output=True, text=True, env=env, timeout=120)


def _write_sample(folder, num_frames, seconds):
    (folder / "frames").mkdir(parents=True)
    for index, frame in enumerate(render_frames(_dance(num_frames), _dance(num_frames))):
        cv2.imwrite(str(folder / "frames" / f"{index:04d}.png"), frame)
    if seconds:
        _song(folder / f"{folder.name}.wav", seconds)


def test_frame2vid_makes_one_mp4_per_sample(tmp_path):
    _write_sample(tmp_path / "sample_000", 25, 2.5)
    _write_sample(tmp_path / "sample_001", 12, 0)

    result = _frame2vid(str(tmp_path))

    assert result.returncode == 0, result.stderr
    with_audio = probe_mp4(tmp_path / "sample_000.mp4")
    assert with_audio["video_frames"] == 25 and with_audio["fps"] == FPS
    assert (with_audio["video_codec"], with_audio["pix_fmt"], with_audio["width"]) == ("h264", "yuv420p", 1280)
    assert with_audio["audio_codec"] == "aac" and with_audio["duration"] == pytest.approx(2.5, abs=0.2)
    silent = probe_mp4(tmp_path / "sample_001.mp4")
    assert silent["video_frames"] == 12 and not silent["has_audio"]
    assert "silent" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["sample_000", "sample_000.mp4", "sample_001", "sample_001.mp4"]


def test_frame2vid_failure_leaves_no_mp4(tmp_path):
    _write_sample(tmp_path / "clip", 5, 0)
    (tmp_path / "clip" / "clip.wav").write_bytes(b"garbage" * 100)
    result = _frame2vid(str(tmp_path / "clip"))
    assert result.returncode != 0 and "ffmpeg failed" in result.stderr
    assert sorted(os.listdir(tmp_path)) == ["clip"]


def test_frame2vid_help_and_empty_folder(tmp_path):
    shown = _frame2vid("--help")
    assert shown.returncode == 0 and "frames/0000.png" in shown.stdout
    empty = _frame2vid(str(tmp_path))
    assert empty.returncode != 0 and "no samples" in empty.stderr
