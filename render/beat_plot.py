"""The beat plot: does the dance land on the music's beat? One time axis, two panels.

Top: the music's onset strength (librosa, 100 per second, peak 1) with its beats as lines.
Bottom: the dance's mean joint speed (px/s, smoothed over one frame) with its kinematic beats
(the moments a movement stops or turns, :func:`metrics.beats.kinematic_beats`) as dots, and the
music's beats repeated as faint lines, so that a dance on the beat shows its dots on the lines.

Drawn with matplotlib's object API on an Agg canvas (no pyplot state: safe in a server's worker
thread) and written atomically as PNG.
"""

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from dataset.atomic import atomic_path
from dataset.format import FPS, SAMPLE_RATE
from dataset.rhythm import HOP, onset_envelope, track_beats
from metrics.beats import joint_speed, kinematic_beats

SECONDS_PER_INCH = 4.0  # a 30 s song is 8 inches wide, a 3-minute one 45
MIN_WIDTH_IN, MAX_WIDTH_IN = 8.0, 60.0
DPI = 100
MUSIC_COLOUR, DANCE_COLOUR = "#1f77b4", "#d62728"


def beat_plot_series(samples, poses, beats=None, sr=SAMPLE_RATE, fps=FPS):
    """What the plot draws, as arrays (a pure function; the tests read it).

    ``beats``: the music's beat times to draw (seconds); None tracks them with librosa
    (:func:`dataset.rhythm.track_beats`).

    Shape: ``samples`` ``(N,)`` any scale, ``poses`` ``(T, 18, 2)`` pixels ->
    dict of ``onset_time``, ``onset`` ``(H,)``; ``music_beats`` ``(B,)``; ``speed_time``,
    ``speed`` ``(T,)`` px/s; ``kinematic_beats`` ``(K,)`` seconds.
    """
    samples = np.asarray(samples, dtype=np.float64).reshape(-1)
    poses = np.asarray(poses, dtype=np.float64)
    envelope = onset_envelope(samples, sr)
    music = track_beats(samples, sr) if beats is None else np.asarray(beats, dtype=np.float64)
    return {
        "onset_time": np.arange(len(envelope)) * HOP / sr,
        "onset": envelope,
        "music_beats": music,
        "speed_time": np.arange(len(poses)) / fps,
        "speed": joint_speed(poses, fps),
        "kinematic_beats": kinematic_beats(poses, fps),
    }


def write_beat_plot(path, samples, poses, beats=None, title="", sr=SAMPLE_RATE, fps=FPS):
    """Draw :func:`beat_plot_series` to a PNG at ``path`` (atomically); returns ``path``.

    Shape: as :func:`beat_plot_series`.
    """
    series = beat_plot_series(samples, poses, beats, sr, fps)
    seconds = max(series["onset_time"][-1], series["speed_time"][-1], 1.0 / fps)
    width = float(np.clip(seconds / SECONDS_PER_INCH, MIN_WIDTH_IN, MAX_WIDTH_IN))
    figure = Figure(figsize=(width, 4.2), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    music_axes, dance_axes = figure.subplots(2, 1, sharex=True)

    music_axes.plot(series["onset_time"], series["onset"], color=MUSIC_COLOUR, linewidth=0.8)
    for axes, alpha in ((music_axes, 0.8), (dance_axes, 0.35)):
        for beat in series["music_beats"]:
            axes.axvline(beat, color=MUSIC_COLOUR, alpha=alpha, linewidth=0.8)
    music_axes.set_ylabel("onset strength")
    music_axes.set_title(title or "music beats (lines) and the dance's kinematic beats (dots)", loc="left",
                         fontsize=10)

    speed = series["speed"]
    dance_axes.plot(series["speed_time"], speed, color=DANCE_COLOUR, linewidth=1.0)
    kinematic = series["kinematic_beats"]
    if len(kinematic) and np.isfinite(speed).all():
        at = np.interp(kinematic, series["speed_time"], speed)
        dance_axes.plot(kinematic, at, "o", color=DANCE_COLOUR, markersize=4)
    dance_axes.set_ylabel("joint speed (px/s)")
    dance_axes.set_xlabel("time (s)")
    dance_axes.set_xlim(0.0, seconds)

    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path
