"""dataset/audio.py: any format -> 16 kHz mono int16-range samples, clear errors, WAV writing, framing."""

import os
import subprocess

import numpy as np
import pytest
import soundfile as sf

import dataset.audio as audio
from dataset.audio import AudioError, frame_audio, load_audio, write_wav
from dataset.errors import DanceSynthError
from dataset.ffmpeg import FFmpegNotFoundError, find_ffmpeg
from dataset.format import INT16_MAX, SAMPLE_RATE, SAMPLES_PER_FRAME

TONE_HZ = 440.0
TONE_SECONDS = 2.0
TONE_RATE = 44100
TONE_AMPLITUDE = 0.5  # of full scale


def _tone_44k_stereo():
    """A 440 Hz tone, 2 s at 44.1 kHz, identical in both channels: ``(88200, 2)`` float in [-1, 1]."""
    t = np.arange(int(TONE_SECONDS * TONE_RATE)) / TONE_RATE
    mono = TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * t)
    return np.stack([mono, mono], axis=1)


def _ffmpeg_encoders():
    """Names of the encoders the available ffmpeg offers (empty when there is no ffmpeg)."""
    try:
        ffmpeg = find_ffmpeg()
    except FFmpegNotFoundError:
        return None, ""
    listing = subprocess.run([ffmpeg, "-hide_banner", "-encoders"], capture_output=True, text=True, check=False)
    return ffmpeg, listing.stdout


def _encode_with_ffmpeg(source, target, encoder):
    ffmpeg, encoders = _ffmpeg_encoders()
    if f" {encoder} " not in encoders:
        pytest.skip(f"no ffmpeg with the {encoder} encoder to make a {os.path.splitext(target)[1]} file")
    subprocess.run([ffmpeg, "-nostdin", "-v", "error", "-y", "-i", source, "-c:a", encoder, "-b:a", "128k", target],
                   check=True)


@pytest.fixture
def tone_file(tmp_path):
    """Make the 44.1 kHz stereo tone in a given format: ``make(ext) -> path``."""
    def make(ext):
        tone = _tone_44k_stereo()
        wav = tmp_path / "tone.wav"
        sf.write(wav, tone, TONE_RATE, subtype="PCM_16")
        if ext == "wav":
            return wav
        path = tmp_path / f"tone.{ext}"
        if ext in ("flac", "ogg"):
            sf.write(path, tone, TONE_RATE)
        elif ext == "mp3":
            _encode_with_ffmpeg(wav, path, "libmp3lame")
        elif ext == "m4a":
            _encode_with_ffmpeg(wav, path, "aac")
        return path
    return make


def _dominant_hz(samples):
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(samples.size)))
    return np.argmax(spectrum) * SAMPLE_RATE / samples.size


@pytest.mark.parametrize("ext", ["wav", "flac", "ogg", "mp3", "m4a"])
def test_formats_decode_to_16k_mono_int16_range(tone_file, ext):
    samples = load_audio(tone_file(ext))

    assert samples.dtype == np.float32 and samples.ndim == 1
    expected_length = int(TONE_SECONDS * SAMPLE_RATE)
    slack = 0 if ext in ("wav", "flac", "ogg") else int(0.06 * SAMPLE_RATE)  # mp3/aac encoder delay and padding
    assert abs(samples.size - expected_length) <= slack
    middle = samples[SAMPLE_RATE // 4: -SAMPLE_RATE // 4]
    assert np.max(np.abs(middle)) == pytest.approx(TONE_AMPLITUDE * INT16_MAX, rel=0.1)
    assert _dominant_hz(middle) == pytest.approx(TONE_HZ, abs=2.0)


def test_int16_file_keeps_its_values(tmp_path):
    rng = np.random.default_rng(0)
    pcm = rng.integers(-20000, 20000, size=SAMPLE_RATE, dtype=np.int16)
    path = tmp_path / "song.wav"
    sf.write(path, pcm, SAMPLE_RATE, subtype="PCM_16")

    np.testing.assert_array_equal(load_audio(path), pcm.astype(np.float32))


def test_float_file_is_scaled_to_int16_range(tmp_path):
    values = np.array([0.0, 0.5, -1.0, 1.0] * 1000, dtype=np.float32)
    path = tmp_path / "float.wav"
    sf.write(path, values, SAMPLE_RATE, subtype="FLOAT")

    np.testing.assert_allclose(load_audio(path), values * INT16_MAX, atol=1e-2)


def test_any_length_is_accepted(tmp_path):
    path = tmp_path / "odd.wav"
    sf.write(path, np.full(SAMPLES_PER_FRAME + 7, 1000, dtype=np.int16), SAMPLE_RATE)
    assert load_audio(path).shape == (SAMPLES_PER_FRAME + 7,)


def _assert_error(path, *words):
    with pytest.raises(AudioError) as caught:
        load_audio(path)
    message = str(caught.value)
    assert str(path) in message
    for word in words:
        assert word in message


def test_missing_file(tmp_path):
    _assert_error(tmp_path / "nope.wav", "not found")


def test_folder_is_not_a_file(tmp_path):
    _assert_error(tmp_path, "not a file")


@pytest.mark.parametrize("name", ["broken.wav", "broken.m4a", "notes.txt"])
def test_corrupt_or_unsupported_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"RIFF\x00\x00garbage that is no audio at all" * 10)
    _assert_error(path, "cannot decode")


def test_unsupported_without_ffmpeg(tmp_path, monkeypatch):
    def no_ffmpeg():
        raise FFmpegNotFoundError("ffmpeg not found")
    monkeypatch.setattr(audio, "find_ffmpeg", no_ffmpeg)
    path = tmp_path / "song.m4a"
    path.write_bytes(b"\x00\x00\x00\x20ftypM4A " + bytes(200))
    _assert_error(path, "unsupported", "ffmpeg not found")


def test_silent_audio(tmp_path):
    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(SAMPLE_RATE, dtype=np.int16), SAMPLE_RATE)
    _assert_error(path, "silent")


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_samples_are_refused_in_one_line(tmp_path, bad):
    path = tmp_path / "broken.wav"
    samples = np.full(SAMPLE_RATE, 0.25, dtype=np.float32)
    samples[100:200] = bad
    sf.write(path, samples, SAMPLE_RATE, subtype="FLOAT")
    _assert_error(path, "non-finite")


def test_too_short(tmp_path):
    path = tmp_path / "blip.wav"
    sf.write(path, np.full(SAMPLES_PER_FRAME - 1, 5000, dtype=np.int16), SAMPLE_RATE)
    _assert_error(path, "too short")


def test_write_wav_round_trip_and_no_temp_left(tmp_path):
    samples = np.array([0.4, -0.6, 32767.0, -40000.0, 40000.0, 12.5] * 400)
    path = tmp_path / "new" / "out.wav"

    assert write_wav(path, samples) == str(path)

    data, rate = sf.read(path, dtype="int16")
    info = sf.info(path)
    assert rate == SAMPLE_RATE and info.channels == 1 and info.subtype == "PCM_16"
    np.testing.assert_array_equal(data[:6], [0, -1, 32767, -32768, 32767, 12])
    assert os.listdir(path.parent) == ["out.wav"]


def test_write_wav_unwritable_folder(tmp_path):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    path = blocker / "out.wav"
    with pytest.raises(OSError, match="cannot write WAV") as caught:
        write_wav(path, np.zeros(100))
    assert str(path) in str(caught.value)
    assert os.listdir(tmp_path) == ["a_file"]


def test_write_wav_keeps_the_previous_file_on_error(tmp_path):
    path = tmp_path / "out.wav"
    write_wav(path, np.full(100, 7))
    before = path.read_bytes()
    with pytest.raises(ValueError, match=r"\(N,\)"):
        write_wav(path, np.zeros((100, 2)))
    assert path.read_bytes() == before and os.listdir(tmp_path) == ["out.wav"]


def test_audio_errors_are_user_errors():
    assert issubclass(AudioError, DanceSynthError) and issubclass(AudioError, ValueError)
    assert issubclass(FFmpegNotFoundError, DanceSynthError) and issubclass(FFmpegNotFoundError, RuntimeError)


def test_write_wav_rejects_multichannel(tmp_path):
    with pytest.raises(ValueError, match=r"\(N,\)"):
        write_wav(tmp_path / "x.wav", np.zeros((100, 2)))


def test_frame_audio_pads_and_crops():
    samples = np.arange(2 * SAMPLES_PER_FRAME + 10, dtype=np.float32)

    framed = frame_audio(samples)
    assert framed.shape == (3, SAMPLES_PER_FRAME) and framed.dtype == np.float32
    np.testing.assert_array_equal(framed.reshape(-1)[: samples.size], samples)
    assert not framed[2, 10:].any()

    assert frame_audio(samples, num_frames=1).tolist() == [samples[:SAMPLES_PER_FRAME].tolist()]
    padded = frame_audio(samples, num_frames=5)
    assert padded.shape == (5, SAMPLES_PER_FRAME) and not padded[3:].any()
