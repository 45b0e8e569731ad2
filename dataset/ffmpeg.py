"""Locating the ffmpeg binary, shared by audio decoding and the video writer.

System ffmpeg on ``PATH`` wins; otherwise the static binary bundled with the
``imageio-ffmpeg`` package (a requirement of this project) is used. The bundled
build has no ffprobe, so nothing here may depend on one.
"""

import logging
import shutil

from dataset.errors import DanceSynthError

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install ffmpeg (e.g. `apt-get install ffmpeg`, `brew install ffmpeg`, or `conda install ffmpeg`) "
    "or the Python package imageio-ffmpeg (`pip install imageio-ffmpeg`), which bundles a static binary"
)


class FFmpegNotFoundError(DanceSynthError, RuntimeError):
    """Neither ffmpeg on PATH nor imageio-ffmpeg's bundled binary is available."""


def find_ffmpeg():
    """Path of an ffmpeg executable: ``ffmpeg`` on PATH first, else imageio-ffmpeg's binary.

    Raises :class:`FFmpegNotFoundError` saying how to install either when neither exists.
    """
    on_path = shutil.which("ffmpeg")
    if on_path:
        return on_path
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        log.debug("imageio-ffmpeg unavailable: %s", err)
    raise FFmpegNotFoundError(f"ffmpeg not found: no `ffmpeg` on PATH and no imageio-ffmpeg binary; {INSTALL_HINT}")


def find_ffprobe():
    """Path of ``ffprobe`` on PATH, or None (imageio-ffmpeg does not ship one)."""
    return shutil.which("ffprobe")
