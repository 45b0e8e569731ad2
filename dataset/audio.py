"""Audio I/O: any music file -> 16 kHz mono samples in the int16 range the model was trained on.

The original dataset stores audio as raw int16 integers (not normalised), so every
song fed to the generator must arrive at that scale: float samples in [-1, 1] are
multiplied by 32767, and 16-bit PCM files keep their integer values exactly.

Decoding goes through libsndfile (``soundfile``: WAV, FLAC, OGG/Vorbis, MP3 with
libsndfile >= 1.1) and falls back to ffmpeg (m4a/AAC, opus, anything else it reads),
which decodes straight to 16 kHz mono s16le through a pipe.
"""

import contextlib
import logging
import os
import subprocess
from math import gcd

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from dataset.atomic import atomic_open
from dataset.errors import DanceSynthError
from dataset.ffmpeg import FFmpegNotFoundError, find_ffmpeg
from dataset.format import INT16_MAX, SAMPLE_RATE, SAMPLES_PER_FRAME

log = logging.getLogger(__name__)

MIN_SECONDS = SAMPLES_PER_FRAME / SAMPLE_RATE  # 0.1 s: one pose frame
SILENCE_PEAK = 4.0  # int16 units (about -78 dBFS): a peak below this is silence, not music
_INT16_MIN = -INT16_MAX - 1


class AudioError(DanceSynthError, ValueError):
    """An audio file is missing, undecodable, unsupported, non-finite, silent or too short. The message
    names the file."""


def load_audio(path):
    """Decode any audio file to 16 kHz mono float32 samples in the int16 range.

    Shape: file -> ``(N,)`` float32, ``N = round(duration * 16000)``, values in [-32768, 32767].
    Channels are averaged; other sample rates are resampled (polyphase, scipy). Any length
    of at least 0.1 s (one pose frame) is accepted.

    Raises :class:`AudioError` naming the file when it is missing, corrupt or in a format
    neither libsndfile nor ffmpeg can decode, holds NaN or infinite samples (a float file),
    silent (peak below ``SILENCE_PEAK``), or shorter than 0.1 s.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise AudioError(f"audio file not found: {path}")
    if not os.path.isfile(path):
        raise AudioError(f"audio path is not a file: {path}")

    try:
        samples, rate = _read_soundfile(path)
    except RuntimeError as err:  # soundfile.LibsndfileError is a RuntimeError
        log.debug("libsndfile cannot read %s (%s); decoding with ffmpeg", path, err)
        samples, rate = _read_ffmpeg(path, libsndfile_error=err), SAMPLE_RATE

    if not np.isfinite(samples).all():
        raise AudioError(f"audio has non-finite samples (NaN or infinity): {path}")
    if rate != SAMPLE_RATE:
        step = gcd(rate, SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // step, rate // step)
    samples = np.clip(samples, _INT16_MIN, INT16_MAX).astype(np.float32)

    if samples.size < SAMPLES_PER_FRAME:
        raise AudioError(
            f"audio too short: {path} lasts {samples.size / SAMPLE_RATE:.3f} s, need at least {MIN_SECONDS} s"
        )
    peak = float(np.max(np.abs(samples)))
    if peak < SILENCE_PEAK:
        raise AudioError(f"audio is silent: {path} (peak {peak:.2f} of {INT16_MAX})")
    return samples


def _read_soundfile(path):
    """libsndfile decode: ``(N,)`` float64 mono in the int16 range, and the file's sample rate."""
    info = sf.info(path)
    if info.subtype == "PCM_16":
        data, rate = sf.read(path, dtype="int16", always_2d=True)
        data = data.astype(np.float64)
    else:
        data, rate = sf.read(path, dtype="float64", always_2d=True)
        data *= INT16_MAX
    return data.mean(axis=1), rate


def _read_ffmpeg(path, libsndfile_error):
    """ffmpeg decode to 16 kHz mono s16le through a pipe: ``(N,)`` float64 in the int16 range."""
    try:
        ffmpeg = find_ffmpeg()
    except FFmpegNotFoundError as err:
        raise AudioError(f"unsupported audio format: {path} (libsndfile: {libsndfile_error}; {err})") from err
    cmd = [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", path,
           "-map", "0:a:0", "-vn", "-ac", "1", "-ar", str(SAMPLE_RATE), "-f", "s16le", "-"]
    result = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip().splitlines()
        reason = reason[-1] if reason else f"ffmpeg exit status {result.returncode}"
        raise AudioError(f"cannot decode audio file {path}: corrupt or unsupported ({reason})")
    usable = len(result.stdout) - len(result.stdout) % 2
    return np.frombuffer(result.stdout[:usable], dtype="<i2").astype(np.float64)


def write_wav(path, samples, sr=SAMPLE_RATE):
    """Write int16-range samples as a 16-bit PCM mono WAV, atomically (:mod:`dataset.atomic`).

    Shape: ``samples`` ``(N,)`` int or float in the int16 range (floats are rounded, values
    outside [-32768, 32767] clipped). Creates the parent folder. Returns ``path``.
    Raises ``OSError`` naming the file when it cannot be written.
    """
    path = os.fspath(path)
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"write_wav({path}): samples must have shape (N,), got {samples.shape}")
    pcm = np.clip(np.rint(samples), _INT16_MIN, INT16_MAX).astype(np.int16)
    folder = os.path.dirname(os.path.abspath(path))
    with contextlib.ExitStack() as stack:
        try:
            handle = stack.enter_context(atomic_open(path, "wb"))
        except OSError as err:
            message = f"cannot write WAV {path}: folder {folder} is not writable ({err.strerror})"
            raise OSError(err.errno, message) from err
        sf.write(handle, pcm, sr, format="WAV", subtype="PCM_16")
    return path


def frame_audio(samples, num_frames=None):
    """Cut samples into pose-aligned frames of 1600 samples (0.1 s, one pose frame each).

    Shape: ``(N,)`` -> ``(T, 1600)`` float32. With ``num_frames=None``, ``T = ceil(N / 1600)``
    and the last partial frame is zero-padded; with ``num_frames`` given, the audio is
    cropped or zero-padded to exactly that many frames (e.g. a multiple of 50 for the
    generator's 5 s windows).
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"frame_audio: samples must have shape (N,), got {samples.shape}")
    if num_frames is None:
        num_frames = -(-samples.size // SAMPLES_PER_FRAME)
    total = num_frames * SAMPLES_PER_FRAME
    framed = np.zeros(total, dtype=np.float32)
    kept = min(total, samples.size)
    framed[:kept] = samples[:kept]
    return framed.reshape(num_frames, SAMPLES_PER_FRAME)
