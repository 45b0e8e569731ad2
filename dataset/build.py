"""Build a dataset in the original release's format from OpenPose JSON output and a song.

    python -m dataset.build --openpose DIR --audio SONG --out FILE [--video-id ID] [--fps F]
        [--min-confidence C] [--width W --height H] [--plain-json] [--overwrite-video]

Steps, one pure function each:

1. ``parse_openpose_frame``: one OpenPose ``*_keypoints.json`` -> every person's COCO-18
   keypoints ``(P, 18, 3)`` (x, y, confidence). COCO-18 (54 values) is taken as is; BODY_25
   (75 values) is mapped to COCO-18 (MidHip and the feet are dropped).
2. ``select_person``: the most confident person of a frame (highest mean confidence over the
   joints OpenPose detected); joints below ``--min-confidence`` become missing.
3. ``rescale_to_canvas``: with ``--width/--height`` of the source video, pixels are scaled by
   one factor ``min(640/W, 360/H)`` and centred on the 640x360 canvas, so body proportions are
   kept (a 16:9 video fills the canvas exactly; other aspect ratios get side or top bars).
4. ``resample_poses``: source frame rate -> 10 fps. The pose at ``t = k/10`` interpolates
   linearly between the two source frames around ``t * fps`` when the joint is present in
   both, takes the one that has it when only one does, and is missing otherwise. A time that
   falls exactly on a source frame takes that frame.
5. ``cut_clips``: poses and 16 kHz audio, aligned at t = 0, cut into 10 s clips (100 frames,
   160000 samples) keyed by start second ("000", "010", ...); the last partial clip is dropped.
6. ``merge_into_corpus`` + ``write_corpus``: the clips become one video of the output file,
   added to whatever the file already holds, written atomically (``dataset.atomic``).

Timing: the first JSON file (lowest frame number) is the video's first frame, t = 0; frame
number ``n`` sits at ``(n - first) / fps`` seconds, and numbers missing from the folder count as
frames in which nobody was detected. Missing joints are stored as pixel (0, 0), as in the release.
Coordinates are written rounded to 0.001 px.

The output is double-encoded JSON like the release (the file holds a JSON string of the
object) unless ``--plain-json``; an existing file keeps the encoding it has. The whole file is
parsed and rewritten, so appending to a large corpus needs memory for all of it.
"""

import contextlib
import json
import logging
import os
import re
import sys
from dataclasses import dataclass

import numpy as np

from dataset.atomic import atomic_open
from config import build_parser
from dataset.audio import AudioError, load_audio
from dataset.errors import DanceSynthError
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES, FPS, SAMPLE_RATE
from dataset.skeleton import CANVAS_HEIGHT, CANVAS_WIDTH, NUM_JOINTS

log = logging.getLogger(__name__)

AUDIO_KEY = "audio_sequence"
POSE_KEY = "joint_coors"

DEFAULT_SOURCE_FPS = 30.0
DEFAULT_MIN_CONFIDENCE = 0.05
COORD_DECIMALS = 3

# COCO-18 joint k is BODY_25 joint BODY25_TO_COCO18[k] (BODY_25 adds MidHip = 8 and six foot points).
BODY25_TO_COCO18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
LAYOUTS = {18: "COCO-18", 25: "BODY_25"}
# Keypoint keys of OpenPose >= 1.2 and of the older 1.0/1.1 releases.
KEYPOINT_KEYS = ("pose_keypoints_2d", "pose_keypoints")

_FRAME_NUMBER = re.compile(r"(\d+)(?!.*\d)")


class BuildError(DanceSynthError, ValueError):
    """The inputs or the output file do not allow building the dataset. The message names the file."""


@dataclass(frozen=True)
class BuildSummary:
    """What :func:`build_dataset` wrote.

    Attributes:
        video_id: key of the new video in the output file.
        clip_keys: start seconds of the written clips ("000", "010", ...).
        source_frames: frames the OpenPose folder spans at the source frame rate.
        empty_frames: source frames in which nobody was detected (including missing files).
        frames: 10 fps frames written (``100 * len(clip_keys)``).
        missing_fraction: fraction of written joints stored as missing (0, 0).
        out: path of the output file.
    """

    video_id: str
    clip_keys: tuple
    source_frames: int
    empty_frames: int
    frames: int
    missing_fraction: float
    out: str


# OpenPose frames -> poses

def parse_openpose_frame(frame, source="<frame>"):
    """Every person of one parsed OpenPose frame as COCO-18 keypoints.

    Shape: ``{"people": [{"pose_keypoints_2d": [x0, y0, c0, ...]}, ...]}`` -> ``(P, 18, 3)``
    float64 of (x, y, confidence) per joint; ``P = 0`` when nobody was detected. Layouts are
    recognised by length: 18 joints (COCO-18, kept as is) or 25 (BODY_25, mapped to COCO-18).

    Raises :class:`BuildError` naming ``source`` for any other layout or malformed content.
    """
    if not isinstance(frame, dict) or not isinstance(frame.get("people"), list):
        raise BuildError(f"{source}: not an OpenPose frame; expected an object with a 'people' list")
    people = []
    for index, person in enumerate(frame["people"]):
        key = next((k for k in KEYPOINT_KEYS if isinstance(person, dict) and k in person), None)
        if key is None:
            raise BuildError(f"{source}: person {index} has no 'pose_keypoints_2d' list")
        try:
            values = np.asarray(person[key], dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise BuildError(f"{source}: person {index}: {key} is not a list of numbers ({err})") from err
        joints = values.size // 3
        if values.ndim != 1 or values.size % 3 or joints not in LAYOUTS:
            raise BuildError(
                f"{source}: person {index}: {key} has {values.size} values; expected "
                f"{18 * 3} (COCO-18) or {25 * 3} (BODY_25)"
            )
        keypoints = values.reshape(joints, 3)
        people.append(keypoints[list(BODY25_TO_COCO18)] if joints == 25 else keypoints)
    return np.stack(people) if people else np.zeros((0, NUM_JOINTS, 3))


def select_person(people, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """The most confident person's joints, with low-confidence joints marked missing.

    Shape: ``(P, 18, 3)`` (x, y, confidence) -> ``(18, 2)`` pixels, NaN where missing.
    The person with the highest mean confidence over detected joints (confidence > 0) wins;
    ties go to the earlier one. A joint is kept when its confidence is > 0 and
    >= ``min_confidence``. With ``P = 0`` every joint is missing.
    """
    pose = np.full((NUM_JOINTS, 2), np.nan)
    if len(people) == 0:
        return pose
    confidence = people[..., 2]
    detected = confidence > 0
    scores = np.where(detected, confidence, 0).sum(axis=1) / np.maximum(detected.sum(axis=1), 1)
    best = people[int(np.argmax(scores))]
    keep = (best[:, 2] > 0) & (best[:, 2] >= min_confidence)
    pose[keep] = best[keep, :2]
    return pose


def frame_number(name):
    """The frame number in an OpenPose file name: its last run of digits (``video_000000000012_keypoints.json`` -> 12).

    Raises :class:`BuildError` when the name has no digits.
    """
    match = _FRAME_NUMBER.search(name)
    if match is None:
        raise BuildError(f"{name}: no frame number in the file name; expected e.g. video_000000000012_keypoints.json")
    return int(match.group(1))


def list_openpose_files(folder):
    """The ``*.json`` files of ``folder`` as ``[(frame_number, path)]``, sorted by frame number.

    Raises :class:`BuildError` when the folder is missing, holds no JSON file, or two files
    carry the same frame number (e.g. two videos' output in one folder).
    """
    if not os.path.isdir(folder):
        raise BuildError(f"OpenPose folder not found: {folder}")
    names = sorted(n for n in os.listdir(folder) if n.lower().endswith(".json"))
    if not names:
        raise BuildError(f"no OpenPose JSON files (*.json) in {folder}")
    numbered = sorted((frame_number(n), os.path.join(folder, n)) for n in names)
    for (a, path_a), (b, path_b) in zip(numbered, numbered[1:]):
        if a == b:
            raise BuildError(f"{path_a} and {path_b} both have frame number {a}; expected one video per folder")
    return numbered


def read_openpose_frame(path):
    """Read and parse one OpenPose JSON file: ``(P, 18, 3)`` as :func:`parse_openpose_frame`.

    Raises :class:`BuildError` naming the file when it cannot be read or is not valid JSON.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            frame = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BuildError(f"cannot read OpenPose file {path}: {err}") from err
    return parse_openpose_frame(frame, source=path)


def load_openpose_folder(folder, min_confidence=DEFAULT_MIN_CONFIDENCE):
    """Every frame of an OpenPose output folder, one person per frame.

    Returns ``(poses, empty)``: ``poses`` ``(T, 18, 2)`` pixels, NaN where missing, one row per
    frame number from the first to the last file; rows whose file is absent or holds nobody are
    all NaN, and ``empty`` counts them. Raises :class:`BuildError` naming the folder or file.
    """
    numbered = list_openpose_files(folder)
    first, last = numbered[0][0], numbered[-1][0]
    empty = last - first + 1 - len(numbered)
    if empty > len(numbered):
        raise BuildError(
            f"{folder}: frame numbers run from {first} to {last} but there are only {len(numbered)} files; "
            "expected one file per frame, numbered consecutively"
        )
    poses = np.full((last - first + 1, NUM_JOINTS, 2), np.nan)
    if empty:
        log.warning("%s: %d frame numbers have no file; treating them as frames with nobody", folder, empty)
    for number, path in numbered:
        people = read_openpose_frame(path)
        empty += len(people) == 0
        poses[number - first] = select_person(people, min_confidence)
    return poses, empty


# Geometry and time

def rescale_to_canvas(poses, width, height):
    """Map pixels of a ``width`` x ``height`` video onto the 640x360 canvas, keeping aspect.

    Shape: ``(..., 2)`` -> same shape. Scale ``s = min(640/width, 360/height)``, then centre:
    ``x' = s*x + (640 - s*width)/2``, ``y' = s*y + (360 - s*height)/2``. NaN (missing) stays NaN.
    """
    if width <= 0 or height <= 0:
        raise BuildError(f"video size must be positive, got {width}x{height}")
    scale = min(CANVAS_WIDTH / width, CANVAS_HEIGHT / height)
    offset = np.array([(CANVAS_WIDTH - scale * width) / 2, (CANVAS_HEIGHT - scale * height) / 2])
    return np.asarray(poses, dtype=np.float64) * scale + offset


def resample_poses(poses, source_fps, target_fps=FPS):
    """Resample poses from ``source_fps`` to ``target_fps``, joint by joint.

    Shape: ``(T, J, 2)`` with NaN for missing -> ``(K, J, 2)``, ``K = ceil(T * target / source)``
    (every output time ``k / target_fps`` before the source's end ``T / source_fps``).
    Output frame ``k`` sits at source position ``s = k * source / target``: a joint present in
    frames ``floor(s)`` and ``floor(s) + 1`` is interpolated linearly; present in one of them,
    it is copied from that one; present in neither, it is NaN. When ``s`` is a whole number
    only that frame is used.
    """
    poses = np.asarray(poses, dtype=np.float64)
    if source_fps <= 0 or target_fps <= 0:
        raise BuildError(f"frame rates must be positive, got {source_fps} -> {target_fps}")
    total = len(poses)
    count = int(np.ceil(total * target_fps / source_fps - 1e-9))
    position = np.arange(count) * (source_fps / target_fps)
    whole = np.rint(position)
    position = np.where(np.abs(position - whole) < 1e-6, whole, position)
    lower = np.floor(position).astype(int)
    weight = (position - lower)[:, None, None]
    upper = np.minimum(lower + 1, total - 1)

    before, after = poses[lower], poses[upper]
    has_before = ~np.isnan(before)
    has_after = ~np.isnan(after) & (weight > 0) & (lower + 1 < total)[:, None, None]
    mixed = before + weight * (after - before)
    return np.where(has_before & has_after, mixed, np.where(has_before, before, np.where(has_after, after, np.nan)))


def clip_key(start_second):
    """Clip key of the release: the start second, zero-padded to 3 digits (10 -> "010")."""
    return f"{start_second:03d}"


def cut_clips(poses, audio):
    """Cut aligned 10 fps poses and 16 kHz audio into 10 s clips in the release's layout.

    Shape: ``poses`` ``(K, 18, 2)`` pixels, NaN or (0, 0) where missing; ``audio`` ``(N,)``
    int16-range values; both start at t = 0. Returns ``{"000": {"audio_sequence": [160000 ints],
    "joint_coors": [100][18][2] floats}, "010": ...}`` with ``min(K // 100, N // 160000)``
    clips; missing joints become 0.0, coordinates are rounded to 0.001 px. Whatever follows the
    last whole clip is dropped with a log message.

    Raises :class:`BuildError` when poses or audio are shorter than one clip.
    """
    poses = np.asarray(poses, dtype=np.float64)
    audio = np.asarray(audio)
    pose_seconds, audio_seconds = len(poses) / FPS, len(audio) / SAMPLE_RATE
    count = min(len(poses) // CLIP_FRAMES, len(audio) // CLIP_SAMPLES)
    if count == 0:
        clip_seconds = CLIP_FRAMES / FPS
        raise BuildError(
            f"need at least one {clip_seconds:g} s clip of both poses and audio; "
            f"got {pose_seconds:.1f} s of poses and {audio_seconds:.1f} s of audio"
        )
    if abs(pose_seconds - audio_seconds) > 1:
        log.warning("poses last %.1f s but the audio %.1f s; both are used from t = 0", pose_seconds, audio_seconds)
    kept_seconds = count * CLIP_FRAMES / FPS
    if max(pose_seconds, audio_seconds) > kept_seconds:
        log.info("dropping the partial clip after %.0f s (poses %.1f s, audio %.1f s)",
                 kept_seconds, pose_seconds, audio_seconds)

    pixels = np.round(np.nan_to_num(poses[: count * CLIP_FRAMES], nan=0.0), COORD_DECIMALS)
    samples = np.rint(audio[: count * CLIP_SAMPLES]).astype(np.int64)
    clips = {}
    for i in range(count):
        clips[clip_key(i * CLIP_FRAMES // FPS)] = {
            AUDIO_KEY: samples[i * CLIP_SAMPLES:(i + 1) * CLIP_SAMPLES].tolist(),
            POSE_KEY: pixels[i * CLIP_FRAMES:(i + 1) * CLIP_FRAMES].tolist(),
        }
    return clips


# The corpus file

def next_video_id(corpus):
    """The next free 3-digit video id: one past the largest numeric id, "000" for an empty corpus."""
    numbers = [int(key) for key in corpus if key.isdigit()]
    return f"{max(numbers, default=-1) + 1:03d}"


def check_video_id_free(corpus, video_id, overwrite=False):
    """Raise :class:`BuildError` when ``video_id`` is already in ``corpus``, unless ``overwrite``."""
    if video_id in corpus and not overwrite:
        raise BuildError(
            f"video {video_id!r} already exists ({len(corpus[video_id])} clips); "
            "choose another --video-id or pass --overwrite-video"
        )


def merge_into_corpus(corpus, video_id, clips, overwrite=False):
    """A new corpus dict: ``corpus`` with ``clips`` as video ``video_id``; ``corpus`` is not changed.

    Raises :class:`BuildError` when the video already exists, unless ``overwrite``.
    """
    check_video_id_free(corpus, video_id, overwrite)
    return {**corpus, video_id: clips}


def _check_corpus_layout(corpus, path):
    """Raise :class:`BuildError` unless ``corpus`` is ``{video: {clip: {audio_sequence, joint_coors}}}``.

    Only types are checked: the release itself holds a few ragged clips, which its loader skips.
    """
    if not isinstance(corpus, dict):
        raise BuildError(f"{path}: expected a JSON object of videos, got {type(corpus).__name__}")
    for video, clips in corpus.items():
        if not isinstance(clips, dict):
            raise BuildError(f"{path}: video {video!r} is {type(clips).__name__}; expected an object of clips")
        for clip, entry in clips.items():
            if not (isinstance(entry, dict) and isinstance(entry.get(AUDIO_KEY), list)
                    and isinstance(entry.get(POSE_KEY), list)):
                raise BuildError(f"{path}: video {video!r} clip {clip!r}: expected lists '{AUDIO_KEY}' and '{POSE_KEY}'")


def read_corpus(path):
    """Read an existing dataset file, double-encoded or plain.

    Returns ``(corpus, double_encoded)``. Raises :class:`BuildError` naming the file when it is
    not valid dataset JSON; the file is only read.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            content = json.load(handle)
        double_encoded = isinstance(content, str)
        corpus = json.loads(content) if double_encoded else content
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise BuildError(f"{path} exists but is not a readable dataset JSON file ({err}); left it untouched") from err
    try:
        _check_corpus_layout(corpus, path)
    except BuildError as err:
        raise BuildError(f"{err}; {path} exists but is not a dataset file, left it untouched") from None
    return corpus, double_encoded


def check_output_path(path):
    """Make sure ``path`` can be written: create its folder, refuse a folder or a read-only place.

    Raises :class:`BuildError` naming the path.
    """
    if os.path.isdir(path):
        raise BuildError(f"output {path} is a folder; expected a file name")
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError as err:
        raise BuildError(f"cannot create the output folder {folder} for {path}: {err.strerror}") from err
    if not os.access(folder, os.W_OK):
        raise BuildError(f"output folder {folder} is not writable; cannot write {path}")


def write_corpus(path, corpus, double_encoded=True):
    """Write ``corpus`` to ``path`` atomically (:func:`dataset.atomic.atomic_open`).

    An existing file keeps its permissions and is never left half-written. Raises
    :class:`BuildError` naming the file when it cannot be written.
    """
    text = json.dumps(corpus)
    if double_encoded:
        text = json.dumps(text)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        with contextlib.ExitStack() as stack:
            try:
                handle = stack.enter_context(atomic_open(path, "w", encoding="utf-8"))
            except OSError as err:
                raise BuildError(f"cannot write {path}: folder {folder} is not writable ({err.strerror})") from err
            handle.write(text)
    except OSError as err:
        raise BuildError(f"cannot write {path}: {err}") from err


# The whole build

def normalize_video_id(video_id):
    """Numeric ids are zero-padded to 3 digits like the release's ("7" -> "007"); others kept."""
    video_id = video_id.strip()
    if not video_id:
        raise BuildError("--video-id must not be empty")
    return f"{int(video_id):03d}" if video_id.isdigit() else video_id


def _warn_if_off_canvas(poses, tolerated=0.05):
    """Log a warning when more than ``tolerated`` of the present joints lie beyond the 640x360 canvas,
    the sign of a larger source video given without ``--width/--height``. ``poses`` ``(T, 18, 2)``, NaN missing."""
    present = poses[~np.isnan(poses[..., 0])]
    if len(present) == 0:
        return
    outside = np.mean((present[:, 0] > CANVAS_WIDTH) | (present[:, 1] > CANVAS_HEIGHT))
    if outside > tolerated:
        log.warning("%.0f%% of joints lie outside the 640x360 canvas; pass --width/--height of the source video",
                    100 * outside)


def build_dataset(openpose_dir, audio_path, out, video_id=None, source_fps=DEFAULT_SOURCE_FPS,
                  min_confidence=DEFAULT_MIN_CONFIDENCE, video_size=None, plain_json=False,
                  overwrite_video=False):
    """OpenPose folder + song -> one new video in the dataset file ``out``. Returns a :class:`BuildSummary`.

    ``video_size`` is the source video's ``(width, height)`` (None: already 640x360 pixels).
    ``video_id`` None picks :func:`next_video_id`. A new file is double-encoded unless
    ``plain_json``; an existing one keeps its encoding. Raises :class:`BuildError` (inputs,
    output file) or :class:`dataset.audio.AudioError` (song); on error ``out`` is unchanged.
    """
    check_output_path(out)
    exists = os.path.exists(out)
    corpus, double_encoded = read_corpus(out) if exists else ({}, not plain_json)
    if exists and plain_json and double_encoded:
        log.warning("%s is double-encoded; keeping its encoding despite --plain-json", out)
    video_id = next_video_id(corpus) if video_id is None else normalize_video_id(video_id)
    check_video_id_free(corpus, video_id, overwrite_video)

    poses, empty = load_openpose_folder(openpose_dir, min_confidence)
    if video_size is not None:
        poses = rescale_to_canvas(poses, *video_size)
    _warn_if_off_canvas(poses)
    resampled = resample_poses(poses, source_fps)
    clips = cut_clips(resampled, load_audio(audio_path))

    write_corpus(out, merge_into_corpus(corpus, video_id, clips, overwrite_video), double_encoded)
    frames = len(clips) * CLIP_FRAMES
    missing = float(np.isnan(resampled[:frames, :, 0]).mean())
    log.info("wrote video %s (%d clips) to %s", video_id, len(clips), out)
    return BuildSummary(video_id, tuple(clips), len(poses), empty, frames, missing, out)


def main(argv=None):
    """Command-line entry: build, print a summary; returns the exit status (0 ok, 1 error)."""
    parser = build_parser(DEFAULT_SOURCE_FPS, DEFAULT_MIN_CONFIDENCE)
    args = parser.parse_args(argv)
    if (args.width is None) != (args.height is None):
        parser.error("--width and --height go together")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    try:
        summary = build_dataset(
            args.openpose, args.audio, args.out, video_id=args.video_id, source_fps=args.fps,
            min_confidence=args.min_confidence,
            video_size=None if args.width is None else (args.width, args.height),
            plain_json=args.plain_json, overwrite_video=args.overwrite_video,
        )
    except (BuildError, AudioError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"video {summary.video_id}: {len(summary.clip_keys)} clips "
          f"({', '.join(summary.clip_keys)}) -> {summary.out}")
    print(f"frames: {summary.source_frames} at {args.fps:g} fps ({summary.empty_frames} with nobody) "
          f"-> {summary.frames} written at {FPS} fps; missing joints {100 * summary.missing_fraction:.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
