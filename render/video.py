"""Writing frames to MP4 (H.264 + AAC music) or GIF with ffmpeg, and probing the result.

Frames stream as raw bytes into ffmpeg's stdin, so drawing (Python) and encoding
(x264 threads) overlap and no frame list is held in memory. Output goes to a temp file
in the destination folder (:func:`dataset.atomic.atomic_path`) and is renamed over the target
only once ffmpeg succeeded: an error, a failing ffmpeg or an interrupt never leaves a partial
file behind.

Works with the static ffmpeg bundled in imageio-ffmpeg, which has no ffprobe:
:func:`probe_mp4` uses ffprobe when present and plain ffmpeg otherwise.
"""

import contextlib
import json
import logging
import os
import re
import subprocess
import tempfile

import cv2
import numpy as np

from dataset.atomic import atomic_path
from dataset.errors import DanceSynthError
from dataset.ffmpeg import FFmpegNotFoundError, find_ffmpeg, find_ffprobe
from dataset.format import FPS

__all__ = ["FFmpegNotFoundError", "VideoError", "find_ffmpeg", "probe_mp4", "write_gif", "write_mp4"]

log = logging.getLogger(__name__)

_PROBE_RATE = 16000  # decoded-audio rate used to measure the audio stream's duration without ffprobe


class VideoError(DanceSynthError, RuntimeError):
    """ffmpeg failed, the output cannot be written, or a video cannot be read. The message names the file."""


def write_mp4(frames, wav_path, out_path, fps=FPS, crf=23, preset="veryfast"):
    """Encode frames to an H.264 (yuv420p) MP4 with the audio file muxed as AAC.

    Shape: ``frames`` iterable (or array) of ``(H, W, 3)`` uint8 BGR images, all the same
    size (e.g. ``render_frames`` output) -> ``out_path``, returned. ``wav_path`` is any
    audio ffmpeg reads (None: no audio stream). The file lasts as long as the shorter of
    video (frames / fps) and audio (``-shortest``): render ``ceil(seconds * fps)`` frames
    for a video as long as its song. Odd frame sizes are padded to even by repeating the
    last row or column (yuv420p needs even sizes).

    Raises :class:`VideoError` naming the file when the audio is missing, the output
    folder cannot be written or ffmpeg fails; ``ValueError`` for malformed frames.
    """
    audio_args = []
    if wav_path is not None:
        wav_path = os.fspath(wav_path)
        if not os.path.isfile(wav_path):
            raise VideoError(f"audio file not found: {wav_path} (needed for {os.fspath(out_path)})")
        audio_args = ["-i", wav_path, "-map", "0:v:0", "-map", "1:a:0",
                      "-c:a", "aac", "-aac_coder", "fast", "-b:a", "128k", "-shortest"]

    def command(video_input, target):
        return video_input + audio_args + ["-c:v", "libx264", "-preset", preset, "-crf", str(crf),
                                           "-pix_fmt", "yuv420p", "-movflags", "+faststart", "-f", "mp4", target]

    return _encode(frames, command, out_path, yuv420=True)


def write_gif(frames, out_path, fps=FPS, width=320):
    """Encode frames to an animated GIF, downscaled to ``width`` pixels wide (None: full size).

    Shape: ``frames`` iterable of ``(H, W, 3)`` uint8 BGR images -> ``out_path``, returned.
    Uses one palette for the whole clip (ffmpeg palettegen/paletteuse), which suits the
    few flat colours of skeleton drawings.
    """
    scale = f"scale={width}:-2:flags=area," if width else ""
    graph = f"{scale}split[a][b];[a]palettegen=max_colors=64[p];[b][p]paletteuse=dither=none"

    def command(video_input, target):
        return video_input + ["-vf", graph, "-f", "gif", target]

    return _encode(frames, command, out_path, fps=fps)


def _encode(frames, command, out_path, fps=FPS, yuv420=False):
    """Stream ``frames`` into the ffmpeg run ``command(video_input_args, temp_path)``; rename on success.

    With ``yuv420``, frames are converted to I420 here (OpenCV, BT.601 limited range like
    ffmpeg's default) rather than by ffmpeg's swscale: half the bytes through the pipe,
    the conversion runs beside x264 instead of in its process, and white stays white.
    """
    out_path = os.fspath(out_path)
    frames = iter(frames)
    first = next(frames, None)
    if first is None:
        raise VideoError(f"no frames to write to {out_path}")
    first = _checked_frame(first, 0, None, out_path)
    height, width = first.shape[:2]
    if yuv420:
        height, width = height + height % 2, width + width % 2
    video_input = [find_ffmpeg(), "-nostdin", "-hide_banner", "-v", "error", "-y",
                   "-f", "rawvideo", "-pix_fmt", "yuv420p" if yuv420 else "bgr24", "-s", f"{width}x{height}",
                   "-framerate", str(fps), "-i", "pipe:0"]
    with contextlib.ExitStack() as stack:
        try:
            tmp = stack.enter_context(atomic_path(out_path))
            open(tmp, "xb").close()  # an unwritable folder fails here, not as an ffmpeg error
        except OSError as err:
            folder = os.path.dirname(os.path.abspath(out_path))
            raise VideoError(f"cannot write {out_path}: output folder {folder} is not writable ({err})") from err
        errors = stack.enter_context(tempfile.TemporaryFile())
        proc = subprocess.Popen(command(video_input, tmp), stdin=subprocess.PIPE,
                                stdout=subprocess.DEVNULL, stderr=errors)
        try:
            count = _feed(proc.stdin, first, frames, out_path, _to_i420 if yuv420 else None)
        except BaseException:
            proc.kill()
            raise
        finally:
            with contextlib.suppress(OSError):
                proc.stdin.close()
            proc.wait()
        if proc.returncode != 0:
            raise VideoError(f"ffmpeg failed writing {out_path} (exit status {proc.returncode}): {_tail(errors)}")
    log.info("wrote %s (%d frames of %dx%d)", out_path, count, width, height)
    return out_path


def _feed(pipe, first, frames, out_path, convert):
    """Write ``first`` then every later frame (through ``convert`` when given) to ``pipe``.

    Returns how many frames went through. Stops quietly if ffmpeg closes the pipe early:
    its exit status and stderr then say why.
    """
    count = 0
    frame = first
    try:
        while frame is not None:
            pipe.write((frame if convert is None else convert(frame)).data)
            count += 1
            frame = next(frames, None)
            if frame is not None:
                frame = _checked_frame(frame, count, first.shape, out_path)
    except BrokenPipeError:
        log.debug("ffmpeg closed its input after %d frames of %s", count, out_path)
    return count


def _to_i420(frame):
    """BGR ``(H, W, 3)`` -> planar I420 ``(H' * 3 // 2, W')`` uint8, ``H'``, ``W'`` rounded up to even."""
    pad_bottom, pad_right = frame.shape[0] % 2, frame.shape[1] % 2
    if pad_bottom or pad_right:
        frame = cv2.copyMakeBorder(frame, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420)


def _checked_frame(frame, index, shape, out_path):
    """``frame`` as a C-contiguous ``(H, W, 3)`` uint8 array of the given ``shape`` (any, when None)."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"frame {index} for {out_path}: expected an (H, W, 3) uint8 BGR image, "
                         f"got {frame.shape} {frame.dtype}")
    if shape is not None and frame.shape != shape:
        raise ValueError(f"frame {index} for {out_path}: size {frame.shape} differs from the first frame's {shape}")
    return np.ascontiguousarray(frame)


def _tail(stream, lines=5):
    """The last ``lines`` lines of a binary temp file, as text."""
    stream.seek(0)
    text = stream.read().decode(errors="replace").strip().splitlines()
    return " | ".join(text[-lines:]) if text else "(no message)"


def probe_mp4(path):
    """Describe a video file's streams, with ffprobe when on PATH, else with ffmpeg alone.

    Returns a dict: ``video_frames`` (int, counted packets), ``video_codec`` (e.g. "h264"),
    ``pix_fmt``, ``width``, ``height``, ``fps`` (float), ``duration`` (container, seconds),
    ``has_audio``, ``audio_codec`` and ``audio_duration`` (seconds; None without audio).
    Raises :class:`VideoError` naming the file when it is missing or unreadable.
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise VideoError(f"video file not found: {path}")
    ffprobe = find_ffprobe()
    return _probe_with_ffprobe(ffprobe, path) if ffprobe else _probe_with_ffmpeg(find_ffmpeg(), path)


def _probe_with_ffprobe(ffprobe, path):
    """:func:`probe_mp4` through ``ffprobe -count_packets``."""
    result = subprocess.run(
        [ffprobe, "-v", "error", "-count_packets", "-of", "json", "-show_entries",
         "stream=codec_type,codec_name,pix_fmt,width,height,avg_frame_rate,nb_read_packets,duration:"
         "format=duration", path],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise VideoError(f"cannot read video {path}: {result.stderr.strip() or 'ffprobe failed'}")
    info = json.loads(result.stdout)
    video = next((s for s in info.get("streams", []) if s.get("codec_type") == "video"), None)
    audio = next((s for s in info.get("streams", []) if s.get("codec_type") == "audio"), None)
    if video is None:
        raise VideoError(f"no video stream in {path}")
    return {
        "video_frames": int(video.get("nb_read_packets", 0)),
        "video_codec": video.get("codec_name"),
        "pix_fmt": video.get("pix_fmt"),
        "width": int(video.get("width", 0)),
        "height": int(video.get("height", 0)),
        "fps": _rate(video.get("avg_frame_rate", "0/0")),
        "duration": float(info.get("format", {}).get("duration", "nan")),
        "has_audio": audio is not None,
        "audio_codec": audio.get("codec_name") if audio else None,
        "audio_duration": float(audio.get("duration", "nan")) if audio else None,
    }


def _probe_with_ffmpeg(ffmpeg, path):
    """:func:`probe_mp4` from ``ffmpeg -i``'s stream listing, a stream copy counting video
    packets, and the audio decoded to 16 kHz mono whose samples give its duration."""
    header = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-i", path],
                            capture_output=True, text=True, errors="replace", check=False).stderr
    video_line = re.search(r"Stream #\S+.*?: Video: (.*)", header)
    if video_line is None:
        reason = header.strip().splitlines()[-1] if header.strip() else "no output from ffmpeg"
        raise VideoError(f"cannot read video {path}: no video stream ({reason})")
    fields = _split_top_level(video_line.group(1))
    size = next((re.match(r"(\d+)x(\d+)", f) for f in fields if re.match(r"\d+x\d+", f)), None)
    fps = re.search(r"(\d+(?:\.\d+)?) fps", video_line.group(1))
    duration = re.search(r"Duration: (\d+):(\d+):(\d+(?:\.\d+)?)", header)
    hours, minutes, seconds = duration.groups() if duration else ("0", "0", "nan")
    audio_line = re.search(r"Stream #\S+.*?: Audio: (\w+)", header)

    counted = _run_ffmpeg(ffmpeg, path, ["-progress", "pipe:1", "-nostats", "-i", path,
                                         "-map", "0:v:0", "-c", "copy", "-f", "null", "-"], text=True)
    frames = re.findall(r"^frame=(\d+)", counted, flags=re.MULTILINE)

    audio_duration = None
    if audio_line is not None:
        pcm = _run_ffmpeg(ffmpeg, path, ["-i", path, "-map", "0:a:0", "-ac", "1", "-ar", str(_PROBE_RATE),
                                         "-f", "s16le", "-"], text=False)
        audio_duration = len(pcm) / 2 / _PROBE_RATE
    return {
        "video_frames": int(frames[-1]) if frames else 0,
        "video_codec": re.match(r"\w+", fields[0]).group(0),
        "pix_fmt": re.match(r"\w+", fields[1]).group(0) if len(fields) > 1 else None,
        "width": int(size.group(1)) if size else 0,
        "height": int(size.group(2)) if size else 0,
        "fps": float(fps.group(1)) if fps else 0.0,
        "duration": int(hours) * 3600 + int(minutes) * 60 + float(seconds),
        "has_audio": audio_line is not None,
        "audio_codec": audio_line.group(1) if audio_line else None,
        "audio_duration": audio_duration,
    }


def _rate(fraction):
    """ffprobe's frame rate text ("10/1"; "0/0" when unknown) as a float, 0.0 when unknown."""
    numerator, _, denominator = fraction.partition("/")
    denominator = int(denominator or 1)
    return int(numerator) / denominator if denominator else 0.0


def _run_ffmpeg(ffmpeg, path, args, text):
    """Run ``ffmpeg args`` quietly and return its stdout; :class:`VideoError` naming ``path`` on failure."""
    result = subprocess.run([ffmpeg, "-nostdin", "-hide_banner", "-v", "error"] + args,
                            capture_output=True, text=text, check=False)
    if result.returncode != 0:
        stderr = result.stderr if text else result.stderr.decode(errors="replace")
        raise VideoError(f"cannot read video {path}: {stderr.strip() or 'ffmpeg failed'}")
    return result.stdout


def _split_top_level(text):
    """Split ffmpeg's stream description on commas outside parentheses and brackets."""
    fields, depth, start = [], 0, 0
    for i, char in enumerate(text):
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        elif char == "," and depth == 0:
            fields.append(text[start:i].strip())
            start = i + 1
    fields.append(text[start:].strip())
    return fields
