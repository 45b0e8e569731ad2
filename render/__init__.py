"""Skeleton rendering: poses -> frames (``draw``) -> MP4 with the music, or GIF (``video``); poses ->
OpenPose JSON files (``openpose_json``); music and dance on one time axis (``beat_plot``)."""

from render.beat_plot import write_beat_plot
from render.draw import draw_pose, draw_side_by_side, render_frames
from render.openpose_json import openpose_frame, write_openpose_json
from render.video import FFmpegNotFoundError, VideoError, find_ffmpeg, probe_mp4, write_gif, write_mp4

__all__ = ["FFmpegNotFoundError", "VideoError", "draw_pose", "draw_side_by_side", "find_ffmpeg", "openpose_frame",
           "probe_mp4", "render_frames", "write_beat_plot", "write_gif", "write_mp4", "write_openpose_json"]
