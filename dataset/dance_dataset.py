"""Loader for the original dataset file: parsing and validation, a binary cache, the video split.

The released file is JSON, double-encoded (the file holds a JSON string whose content is the
object); plain JSON is accepted too. Layout::

    {video_id ("000", ...): {clip_start ("025", ...): {
        "audio_sequence": [160000 ints, int16 range],      # 10 s of 16 kHz mono audio
        "joint_coors": [100][18][2] pixel floats}}}         # 10 fps COCO-18 poses, 640x360 canvas

Each 10 s clip becomes two 5 s training samples: frames 0-49 with audio samples 0-79999 and
frames 50-99 with samples 80000-159999.

Parsing the JSON takes seconds, so the parsed arrays are kept in ``<file>.cache.npz`` beside the
file, rebuilt whenever the source's size or modification time changes. The source is only read.
"""

import json
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from dataset.atomic import atomic_open
from dataset.audio_level import peak_level
from dataset.errors import DanceSynthError
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES, SAMPLE_FRAMES, SAMPLES_PER_CLIP, SAMPLES_PER_FRAME
from dataset.rhythm_cache import SOURCES, clip_rhythm
from dataset.skeleton import NUM_JOINTS, POSE_DIM, denormalize, fill_missing_joints, normalize

logger = logging.getLogger(__name__)

AUDIO_KEY = "audio_sequence"
POSE_KEY = "joint_coors"
CLIP_POSE_SHAPE = (CLIP_FRAMES, NUM_JOINTS, 2)

CACHE_SUFFIX = ".cache.npz"
CACHE_VERSION = 1

ORIGINAL_LAST_TRAIN_VIDEO = "046"
ORIGINAL_TEST_VIDEOS = ("047", "049")
DEFAULT_TEST_FRACTION = 0.1
SPLITS = ("train", "val", "test", "all")

_INT16 = np.iinfo(np.int16)


class DatasetFormatError(DanceSynthError, ValueError):
    """The dataset file or its sidecar cannot be read or does not hold the expected layout, or
    the split asked of it cannot be made.

    The message names the file and, where it applies, the video and clip, and what was expected.
    """


class DatasetFileNotFoundError(DatasetFormatError, FileNotFoundError):
    """The dataset file does not exist (also catchable as ``FileNotFoundError``)."""


@dataclass(frozen=True, eq=False)
class Corpus:
    """Every valid clip of one dataset file, sorted by (video, clip).

    Shape:
        audio: ``(N, 160000)`` raw int16-range samples; int16 when every value fits, else float32.
        pose: ``(N, 100, 18, 2)`` float32 pixel coordinates (missing joints are (0, 0)).
        videos, clips: ``N`` ids each, ``videos[i]``/``clips[i]`` name row ``i``.
        skipped: ``(video, clip)`` of clips left out because their ``joint_coors`` were ragged.
    """

    videos: tuple
    clips: tuple
    audio: np.ndarray
    pose: np.ndarray
    skipped: tuple = ()

    def __len__(self):
        return len(self.videos)

    @property
    def video_ids(self):
        """Sorted distinct video ids."""
        return sorted(set(self.videos))


# ---------------------------------------------------------------------------------------------
# Parsing and validation


class _Ragged:
    """Stands in for a nested list numpy cannot turn into a regular array."""


def _numeric_array(value):
    """A numeric ndarray made from a parsed JSON value, ``_Ragged`` if nesting is ragged, else None.

    ``None`` means non-numeric content (strings, nulls, booleans, objects).
    """
    try:
        array = np.asarray(value)
    except ValueError:  # numpy >= 1.24 refuses inhomogeneous nesting
        return _Ragged()
    return array if array.dtype.kind in "iuf" else None


def _compact_clip_hook(pairs):
    """``object_pairs_hook`` that turns a clip's lists into arrays as soon as the clip is parsed.

    Converting clip by clip keeps only one clip's Python lists alive at a time instead of the
    whole file's (a 345-clip file is ~55 M Python numbers). Values that do not convert cleanly
    are left as parsed; validation diagnoses them once it knows the video and clip names.
    """
    obj = dict(pairs)
    for key in (AUDIO_KEY, POSE_KEY):
        if isinstance(obj.get(key), list):
            array = _numeric_array(obj[key])
            if isinstance(array, np.ndarray):
                obj[key] = array
    return obj


def _read_json(path):
    """Parse ``path`` as double-encoded or plain JSON and return the top-level value."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise DatasetFileNotFoundError(f"{path}: dataset file not found") from None
    except OSError as err:
        raise DatasetFormatError(f"{path}: cannot read the dataset file: {err}") from err
    if not raw.strip():
        raise DatasetFormatError(f"{path}: the file is empty; expected a JSON object (or a JSON string holding one)")
    stage = "file"
    try:
        value = json.loads(raw, object_pairs_hook=_compact_clip_hook)
        if isinstance(value, str):  # the release's double encoding: a JSON string holding JSON
            stage = "JSON string inside the file (double-encoded)"
            value = json.loads(value, object_pairs_hook=_compact_clip_hook)
    except UnicodeDecodeError as err:
        raise DatasetFormatError(f"{path}: not a JSON text file ({err})") from None
    except json.JSONDecodeError as err:
        hint = " (truncated?)" if err.pos >= len(err.doc) - 1 else ""
        raise DatasetFormatError(
            f"{path}: the {stage} is not valid JSON{hint}: {err.msg} at line {err.lineno} "
            f"column {err.colno}; expected a JSON object (or a JSON string holding one)"
        ) from None
    return value


def _describe(value):
    """A short name of a parsed JSON value's type, for error messages."""
    return {dict: "an object", list: "a list", str: "a string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _is_number(value):
    """Whether a parsed JSON value is a finite number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _clip_audio(path, video, clip, value):
    """Validated audio of one clip: ``(160000,)`` int16 if integral and in range, else float32."""
    where = f"{path}: video {video!r} clip {clip!r}: {AUDIO_KEY}"
    array = value if isinstance(value, np.ndarray) else _numeric_array(value)
    if isinstance(array, _Ragged):
        raise DatasetFormatError(f"{where} is a ragged nested list; expected {CLIP_SAMPLES} numbers")
    if array is None:
        raise DatasetFormatError(f"{where} holds non-numeric values; expected {CLIP_SAMPLES} numbers")
    if array.shape != (CLIP_SAMPLES,):
        raise DatasetFormatError(
            f"{where} has shape {array.shape}; expected {CLIP_SAMPLES} samples (10 s at 16 kHz)"
        )
    if array.dtype.kind == "f":
        if not np.all(np.isfinite(array)):
            raise DatasetFormatError(f"{where} contains NaN or Inf; expected finite samples")
        if not np.array_equal(array, np.round(array)):
            return array.astype(np.float32)
    if array.min() < _INT16.min or array.max() > _INT16.max:
        return array.astype(np.float32)
    return array.astype(np.int16)


def _clip_pose(path, video, clip, value):
    """Validated pose of one clip ``(100, 18, 2)`` float32, or None if ragged (clip is skipped)."""
    where = f"{path}: video {video!r} clip {clip!r}: {POSE_KEY}"
    array = value if isinstance(value, np.ndarray) else _numeric_array(value)
    if isinstance(array, _Ragged):
        return None
    if array is None:
        raise DatasetFormatError(f"{where} holds non-numeric values; expected pixel coordinates")
    if array.shape != CLIP_POSE_SHAPE:
        raise DatasetFormatError(
            f"{where} has shape {array.shape}; expected {CLIP_POSE_SHAPE} (frames, joints, x/y)"
        )
    array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise DatasetFormatError(f"{where} contains NaN or Inf; expected finite pixel coordinates")
    return array


def parse_dataset_file(path):
    """Read and validate a dataset file (double-encoded or plain JSON), without any cache.

    Clips whose ``joint_coors`` are ragged are skipped with a warning naming video and clip.
    Any other deviation raises :class:`DatasetFormatError` naming the file, video and clip.

    Returns:
        :class:`Corpus` sorted by (video, clip); audio ``(N, 160000)``, pose ``(N, 100, 18, 2)``.
    """
    path = Path(path)
    data = _read_json(path)
    if not isinstance(data, dict):
        raise DatasetFormatError(
            f"{path}: top level is {_describe(data)}; expected an object "
            "{video_id: {clip_start: {audio_sequence, joint_coors}}}"
        )
    videos, clips, audios, poses, skipped = [], [], [], [], []
    for video in sorted(data):
        video_clips = data[video]
        if not isinstance(video_clips, dict):
            raise DatasetFormatError(
                f"{path}: video {video!r} is {_describe(video_clips)}; expected an object "
                "{clip_start: {audio_sequence, joint_coors}}"
            )
        for clip in sorted(video_clips):
            entry = video_clips[clip]
            if not isinstance(entry, dict):
                raise DatasetFormatError(
                    f"{path}: video {video!r} clip {clip!r} is {_describe(entry)}; "
                    f"expected an object with {AUDIO_KEY!r} and {POSE_KEY!r}"
                )
            missing = [key for key in (AUDIO_KEY, POSE_KEY) if key not in entry]
            if missing:
                raise DatasetFormatError(
                    f"{path}: video {video!r} clip {clip!r} lacks {', '.join(map(repr, missing))}; "
                    f"expected keys {AUDIO_KEY!r} and {POSE_KEY!r}"
                )
            audio = _clip_audio(path, video, clip, entry[AUDIO_KEY])
            pose = _clip_pose(path, video, clip, entry[POSE_KEY])
            if pose is None:
                warnings.warn(
                    f"{path}: video {video!r} clip {clip!r}: {POSE_KEY} is ragged (frames or "
                    f"joints of unequal length, expected {CLIP_POSE_SHAPE}); clip skipped",
                    stacklevel=2,
                )
                skipped.append((video, clip))
                continue
            videos.append(video)
            clips.append(clip)
            audios.append(audio)
            poses.append(pose)
    if not videos:
        raise DatasetFormatError(f"{path}: no valid clips; expected at least one video with one clip")
    audio_dtype = np.int16 if all(a.dtype == np.int16 for a in audios) else np.float32
    return Corpus(
        videos=tuple(videos),
        clips=tuple(clips),
        audio=np.stack(audios).astype(audio_dtype, copy=False),
        pose=np.stack(poses),
        skipped=tuple(skipped),
    )


# ---------------------------------------------------------------------------------------------
# Cache


def cache_path(path):
    """Where the cache of dataset file ``path`` lives: ``<path>.cache.npz`` beside it."""
    path = Path(path)
    return path.with_name(path.name + CACHE_SUFFIX)


def _read_cache(cache, stat):
    """The cached :class:`Corpus` if ``cache`` exists and matches the source ``stat``, else None.

    A cache that cannot be read or is inconsistent is reported and ignored, never fatal.
    """
    if not cache.exists():
        return None
    try:
        with np.load(cache, allow_pickle=False) as stored:
            header = (int(stored["version"]), int(stored["source_size"]), int(stored["source_mtime_ns"]))
            if header != (CACHE_VERSION, stat.st_size, stat.st_mtime_ns):
                logger.info("%s: cache is stale (source or format changed), rebuilding", cache)
                return None
            corpus = Corpus(
                videos=tuple(stored["videos"].tolist()),
                clips=tuple(stored["clips"].tolist()),
                audio=stored["audio"],
                pose=stored["pose"],
                skipped=tuple(tuple(pair) for pair in stored["skipped"].tolist()),
            )
    except Exception as err:  # noqa: BLE001 - the cache is disposable: anything wrong means rebuild
        logger.warning("%s: cache unreadable (%s), rebuilding", cache, err)
        return None
    n = len(corpus)
    if not (
        n > 0
        and len(corpus.clips) == n
        and corpus.audio.shape == (n, CLIP_SAMPLES)
        and corpus.audio.dtype in (np.int16, np.float32)
        and corpus.pose.shape == (n, *CLIP_POSE_SHAPE)
        and corpus.pose.dtype == np.float32
    ):
        logger.warning("%s: cache arrays are inconsistent, rebuilding", cache)
        return None
    return corpus


def _write_cache(cache, corpus, stat):
    """Write ``corpus`` to ``cache`` atomically (:func:`dataset.atomic.atomic_open`).

    Raises:
        OSError: the folder is not writable or the disk is full; no partial file is left.
    """
    with atomic_open(cache, "wb") as f:
        np.savez(
            f,
            version=np.int64(CACHE_VERSION),
            source_size=np.int64(stat.st_size),
            source_mtime_ns=np.int64(stat.st_mtime_ns),
            videos=np.array(corpus.videos),
            clips=np.array(corpus.clips),
            audio=corpus.audio,
            pose=corpus.pose,
            skipped=np.array(corpus.skipped, dtype=str).reshape(-1, 2),
        )


def load_corpus(path, use_cache=True):
    """Load a dataset file through its cache: parse once, then reuse ``<path>.cache.npz``.

    The cache records the source's size and ``mtime_ns`` and is rebuilt when either changes,
    or when it is unreadable. If it cannot be written (read-only folder) the parsed data is
    returned anyway, with a logged warning.

    Returns:
        :class:`Corpus`; audio ``(N, 160000)``, pose ``(N, 100, 18, 2)`` float32 pixels.
    """
    path = Path(path)
    if not use_cache:
        return parse_dataset_file(path)
    try:
        stat = path.stat()  # taken before parsing: a source changed meanwhile leaves a stale cache
    except FileNotFoundError:
        raise DatasetFileNotFoundError(f"{path}: dataset file not found") from None
    cache = cache_path(path)
    corpus = _read_cache(cache, stat)
    if corpus is not None:
        logger.debug("%s: loaded %d clips from cache %s", path, len(corpus), cache)
        if corpus.skipped:
            skipped = ", ".join(f"{video}/{clip}" for video, clip in corpus.skipped)
            logger.info("%s: ragged clips skipped when the cache was built: %s", path, skipped)
        return corpus
    corpus = parse_dataset_file(path)
    try:
        _write_cache(cache, corpus, stat)
        logger.info("%s: wrote cache %s (%d clips)", path, cache, len(corpus))
    except OSError as err:
        logger.warning("%s: cannot write cache %s (%s); loading without cache", path, cache, err)
    return corpus


# ---------------------------------------------------------------------------------------------
# Sidecar metadata and the video split


def meta_path(path):
    """Where the sidecar metadata of dataset file ``path`` lives: ``<stem>_meta.json`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.stem}_meta.json")


def load_meta(path):
    """The sidecar metadata dict of dataset file ``path`` (plain JSON), or None if there is none.

    Expected layout: ``{"genres": [...], "test_videos": [...], "videos": {id: {"genre",
    "genre_index", "bpm", "clips": {clip: {"beats": [...]}}}}}``.
    """
    sidecar = meta_path(path)
    if not sidecar.exists():
        return None
    try:
        meta = json.loads(sidecar.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DatasetFormatError(f"{sidecar}: cannot read sidecar metadata as JSON: {err}") from None
    if not isinstance(meta, dict):
        raise DatasetFormatError(f"{sidecar}: top level is {_describe(meta)}; expected an object")
    return meta


def _known_ids(ids, video_ids, source):
    """``ids`` sorted, after checking that each is in ``video_ids``."""
    unknown = sorted(set(ids) - set(video_ids))
    if unknown:
        raise DatasetFormatError(
            f"{source} names videos not in the corpus: {unknown}; corpus videos: {sorted(video_ids)}"
        )
    return sorted(set(ids))


def resolve_split_rule(video_ids, rule="auto", meta=None):
    """The concrete rule ``"auto"`` stands for; any other rule is returned unchanged.

    ``"auto"`` is ``"meta"`` if the sidecar lists ``test_videos`` (a corpus that names its own
    test videos), else ``"original"`` if the corpus has video "047" or "049" (the release's test
    videos), else ``"fraction:0.1"``.
    """
    if rule != "auto":
        return rule
    if meta and meta.get("test_videos"):
        return "meta"
    if set(ORIGINAL_TEST_VIDEOS) & set(video_ids):
        return "original"
    return f"fraction:{DEFAULT_TEST_FRACTION}"


def split_videos(video_ids, rule="auto", meta=None):
    """Split video ids into training and test ids by ``rule``.

    Rules:
        ``"original"``: the release's split; ids visited sorted, training takes ids up to and
        including "046", test is "047" and "049" (those present). Other ids are unused.
        ``"videos:047,049"``: the listed ids are test, all others train.
        ``"fraction:0.2"``: the last 20% of sorted ids (rounded, at least one) are test.
        ``"meta"``: test is the sidecar's ``test_videos``; ``meta`` is :func:`load_meta`'s dict.
        ``"all"``: every id trains, none tests.
        ``"auto"``: see :func:`resolve_split_rule`.

    Returns:
        ``(train_ids, test_ids)``, each sorted.

    Raises:
        DatasetFormatError: (a ``ValueError``) unknown or malformed rule, a rule naming ids not in
            ``video_ids``, or a rule that leaves no test video.
    """
    ids = sorted(set(video_ids))
    rule = resolve_split_rule(ids, rule.strip(), meta)
    name, _, arg = rule.partition(":")
    if name == "all" and not arg:
        return ids, []
    if name == "original" and not arg:
        test = [v for v in ids if v in ORIGINAL_TEST_VIDEOS]
        train = [v for v in ids if v <= ORIGINAL_LAST_TRAIN_VIDEO and v not in test]
        return train, test
    if name == "videos" and arg:
        test = _known_ids([v.strip() for v in arg.split(",") if v.strip()], ids, f"split rule {rule!r}")
    elif name == "fraction" and arg:
        try:
            fraction = float(arg)
        except ValueError:
            fraction = math.nan
        if not 0 < fraction < 1:
            raise DatasetFormatError(f"split rule {rule!r}: expected a fraction strictly between 0 and 1")
        test = ids[len(ids) - max(1, int(fraction * len(ids) + 0.5)):]
    elif name == "meta" and not arg:
        if not meta or not meta.get("test_videos"):
            raise DatasetFormatError("split rule 'meta' needs sidecar metadata with a non-empty 'test_videos'")
        test = _known_ids(meta["test_videos"], ids, "sidecar 'test_videos'")
    else:
        raise DatasetFormatError(
            f"unknown split rule {rule!r}; expected 'auto', 'original', 'all', 'meta', "
            "'videos:<id>,<id>...' or 'fraction:<0..1>'"
        )
    if not test:
        raise DatasetFormatError(f"split rule {rule!r} names no test videos")
    return [v for v in ids if v not in test], test


def validation_videos(train_ids, count):
    """``count`` of the sorted ``train_ids``, spread evenly over them, to hold out of training.

    They stand in for unseen data when choosing among checkpoints, so that the test videos are
    not used for that choice. ``count`` 0 gives none.

    Raises:
        ValueError: ``count`` negative, or not fewer than the training videos.
    """
    ids = sorted(train_ids)
    if count < 0 or (count and count >= len(ids)):
        raise ValueError(f"{count} validation videos: expected 0 or fewer than the "
                         f"{len(ids)} training videos")
    step = len(ids) / count if count else 0
    return [ids[int(step * (i + 0.5))] for i in range(count)]


# ---------------------------------------------------------------------------------------------
# Dataset


class DanceDataset(Dataset):
    """5 s (music, dance) samples of one split of a dataset file; two per 10 s clip, its first
    and last 5 s.

    Args:
        path: the dataset file (double-encoded or plain JSON).
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (every video, whatever the rule).
        split_rule: see :func:`split_videos`; ``"auto"`` by default.
        use_cache: read and write ``<path>.cache.npz``.
        val_videos: this many training videos (:func:`validation_videos`) leave ``"train"`` and
            form ``"val"``.
        rhythm: ``"librosa"`` or ``"truth"``: items also carry the clip's rhythm features from
            that source (:mod:`dataset.rhythm_cache`, cached beside the file); None: they do not.
        fill_missing: replace missing joints (0, 0) of the poses by interpolating the joint's
            visible positions over time (nearest visible value at the clip's ends), so that no
            sample shows a joint thrown to the canvas corner.

    Item (dict):
        audio: ``(50, 1600)`` float32, raw int16-range samples (not normalised); row t is frame t.
        pose: ``(50, 36)`` float32 in [-1, 1] (:func:`dataset.skeleton.normalize`), joint-major
            ``x0, y0, x1, y1, ...``.
        video, clip: str ids; half: 0 for frames 0-49, 1 for frames 50-99 of the clip.
        start: the window's first frame in its clip, ``50 * half``.
        rhythm: ``(50, 8)`` float32 :data:`dataset.rhythm.FEATURES`, only with ``rhythm``.

    Attributes:
        video_ids: sorted ids of this split's videos.
        keys: ``(video, clip, half)`` of every item, in item order.
        meta: the sidecar dict (:func:`load_meta`) or None; read it through :meth:`clip_beats`,
            :meth:`video_bpm`, :meth:`video_genre` and :meth:`genre_labels`.
        split_rule: the concrete rule used (``"auto"`` resolved).

    Raises:
        DatasetFormatError: the file or its sidecar is not a dataset, or the split cannot be made
            (unknown rule, no video in the requested split, ``"val"`` without ``val_videos``).
    """

    def __init__(self, path, split="train", split_rule="auto", use_cache=True, val_videos=0,
                 rhythm=None, fill_missing=False):
        if split not in SPLITS:
            raise ValueError(f"split {split!r}: expected one of {SPLITS}")
        if rhythm not in (None, *SOURCES):
            raise ValueError(f"rhythm {rhythm!r}: expected None or one of {SOURCES}")
        self.path = Path(path)
        self.split = split
        corpus = load_corpus(self.path, use_cache=use_cache)
        self.meta = load_meta(self.path)
        if split == "all":
            self.split_rule = "all"
            chosen = corpus.video_ids
        else:
            self.split_rule = resolve_split_rule(corpus.video_ids, split_rule, self.meta)
            train, test = split_videos(corpus.video_ids, self.split_rule, self.meta)
            try:
                val = validation_videos(train, val_videos)
            except ValueError as exc:
                raise DatasetFormatError(f"{self.path}: split rule {self.split_rule!r}: {exc}") from None
            if split == "val" and not val:
                raise DatasetFormatError(f"{self.path}: the 'val' split needs val_videos > 0")
            chosen = {"train": [v for v in train if v not in val], "val": val, "test": test}[split]
            if not chosen:
                raise DatasetFormatError(
                    f"{self.path}: split rule {self.split_rule!r} gives no {split} videos "
                    f"(corpus videos: {corpus.video_ids})"
                )
        self.video_ids = list(chosen)
        chosen = set(chosen)
        rows = [i for i, video in enumerate(corpus.videos) if video in chosen]
        self.keys = [
            (corpus.videos[i], corpus.clips[i], half) for i in rows for half in range(SAMPLES_PER_CLIP)
        ]
        # Clip row i holds items 2i and 2i+1; audio stays int16, one row of 1600 samples per frame.
        self._audio = np.ascontiguousarray(corpus.audio[rows].reshape(-1, CLIP_FRAMES, SAMPLES_PER_FRAME))
        pose = corpus.pose[rows]
        if fill_missing:
            pose = fill_missing_joints(pose)
        self._pose = np.ascontiguousarray(normalize(pose).reshape(-1, CLIP_FRAMES, POSE_DIM), dtype=np.float32)
        self.rhythm = rhythm
        self._rhythm = None
        if rhythm is not None:
            if rhythm == "truth" and self.meta is None:
                raise DatasetFormatError(f"{self.path}: rhythm from the true beats needs the "
                                         f"sidecar {meta_path(self.path)}")
            sources = [meta_path(self.path)] if rhythm == "truth" else []
            self._rhythm = clip_rhythm(self.path, corpus, rhythm, self._true_rhythm, sources)[rows]

    def __len__(self):
        return len(self.keys)

    def window_start(self, index):
        """First frame of item ``index``'s window in its clip: ``50 * half``."""
        return SAMPLE_FRAMES * self.keys[index][2]

    def __getitem__(self, index):
        video, clip, half = self.keys[index]
        start = self.window_start(index)
        frames = slice(start, start + SAMPLE_FRAMES)
        row = index // SAMPLES_PER_CLIP
        item = {
            "audio": torch.from_numpy(self._audio[row, frames].astype(np.float32)),
            "pose": torch.from_numpy(self._pose[row, frames].copy()),
            "video": video,
            "clip": clip,
            "half": half,
            "start": start,
        }
        if self._rhythm is not None:
            item["rhythm"] = torch.from_numpy(self._rhythm[row, frames].copy())
        return item

    def as_tensors(self):
        """The whole split at once: audio ``(N, 50, 1600)`` and pose ``(N, 50, 36)``, float32
        copies, item order."""
        audio = self._audio.reshape(-1, SAMPLE_FRAMES, SAMPLES_PER_FRAME).astype(np.float32)
        return torch.from_numpy(audio), self.pose_windows()

    def pose_windows(self):
        """Every item's poses, item order: ``(N, 50, 36)`` float32 tensor, normalised as the items'
        (no audio is copied)."""
        return torch.from_numpy(self._pose.reshape(-1, SAMPLE_FRAMES, POSE_DIM).copy())

    def pixel_poses(self):
        """The whole split's poses in pixels, ``(N, 50, 18, 2)`` float64, item order (missing
        joints at (0, 0) unless the dataset fills them); no audio is copied."""
        poses = self._pose.reshape(-1, SAMPLE_FRAMES, NUM_JOINTS, 2).astype(np.float64)
        return denormalize(poses)

    def audio_level(self):
        """The level of the split's music as the encoder hears it: :func:`dataset.audio_level.peak_level`
        of its 5 s items."""
        return peak_level(self._audio.reshape(-1, SAMPLE_FRAMES * SAMPLES_PER_FRAME))

    def rhythm_windows(self):
        """Every item's rhythm features, item order: ``(N, 50, 8)`` float32 tensor (None without
        ``rhythm``)."""
        if self._rhythm is None:
            return None
        return torch.from_numpy(self._rhythm.reshape(-1, SAMPLE_FRAMES, self._rhythm.shape[-1]).copy())

    def video_labels(self):
        """Per-item index of its video in :attr:`video_ids`: int64 tensor ``(N,)``."""
        index = {video: i for i, video in enumerate(self.video_ids)}
        return torch.tensor([index[video] for video, _, _ in self.keys], dtype=torch.int64)

    # Sidecar access: None where the sidecar (or the entry) is absent, DatasetFormatError where
    # an entry is there but not of the documented layout (:func:`load_meta`).

    def _sidecar_object(self, value, where):
        """``value`` if it is a dict (or None when absent), else :class:`DatasetFormatError`."""
        if value is not None and not isinstance(value, dict):
            raise DatasetFormatError(f"{meta_path(self.path)}: {where} is {_describe(value)}; expected an object")
        return value

    def _video_entry(self, video):
        """The sidecar's ``videos[video]`` dict, or None."""
        if self.meta is None:
            return None
        videos = self._sidecar_object(self.meta.get("videos"), "'videos'")
        if videos is None:
            return None
        return self._sidecar_object(videos.get(video), f"video {video!r}")

    def clip_beats(self, video, clip):
        """True beat times of ``clip`` of ``video``, in seconds from the clip's start (a list of
        floats), or None when the sidecar has none for it."""
        entry = self._video_entry(video)
        clips = self._sidecar_object(entry.get("clips"), f"video {video!r}: 'clips'") if entry else None
        info = self._sidecar_object(clips.get(clip), f"video {video!r} clip {clip!r}") if clips else None
        beats = info.get("beats") if info else None
        if beats is None:
            return None
        where = f"{meta_path(self.path)}: video {video!r} clip {clip!r}: 'beats'"
        if not isinstance(beats, list):
            raise DatasetFormatError(f"{where} is {_describe(beats)}; expected a list of times in seconds")
        bad = [b for b in beats if not _is_number(b)]
        if bad:
            raise DatasetFormatError(f"{where} holds {bad[0]!r}; expected times in seconds (finite numbers)")
        return [float(b) for b in beats]

    def _true_rhythm(self, video, clip):
        """``(beats, downbeat)`` of a clip from the sidecar, for the ``"truth"`` rhythm features
        (computed for every clip of the file, whatever the split)."""
        beats = self.clip_beats(video, clip)
        if beats is None:
            raise DatasetFormatError(f"{self.path}: rhythm from the true beats needs per-clip "
                                     f"'beats' in the sidecar {meta_path(self.path)}; video "
                                     f"{video!r} clip {clip!r} has none")
        return beats, self.clip_downbeat(video, clip)

    def clip_downbeat(self, video, clip):
        """Index among :meth:`clip_beats` of the clip's first downbeat (0..3), or None when the
        sidecar does not give it."""
        entry = self._video_entry(video)
        clips = self._sidecar_object(entry.get("clips"), f"video {video!r}: 'clips'") if entry else None
        info = self._sidecar_object(clips.get(clip), f"video {video!r} clip {clip!r}") if clips else None
        downbeat = info.get("downbeat") if info else None
        if downbeat is not None and (not isinstance(downbeat, int) or isinstance(downbeat, bool)
                                     or downbeat < 0):
            raise DatasetFormatError(f"{meta_path(self.path)}: video {video!r} clip {clip!r}: "
                                     f"'downbeat' is {downbeat!r}; expected a beat index (0, 1, 2, ...)")
        return downbeat

    def video_bpm(self, video):
        """The tempo of ``video``'s music in beats per minute (float), or None when not given."""
        entry = self._video_entry(video)
        bpm = entry.get("bpm") if entry else None
        if bpm is None:
            return None
        if not _is_number(bpm) or bpm <= 0:
            raise DatasetFormatError(f"{meta_path(self.path)}: video {video!r}: 'bpm' is {bpm!r}; "
                                     "expected a positive number")
        return float(bpm)

    def video_genre(self, video):
        """The genre name of ``video`` (str), or None when not given."""
        entry = self._video_entry(video)
        genre = entry.get("genre") if entry else None
        if genre is not None and not isinstance(genre, str):
            raise DatasetFormatError(f"{meta_path(self.path)}: video {video!r}: 'genre' is "
                                     f"{_describe(genre)}; expected a string")
        return genre

    def has_beats(self):
        """Whether the sidecar gives true beats for every clip of this split."""
        return all(self.clip_beats(video, clip) is not None for video, clip, _ in self.keys)

    def genre_labels(self):
        """Per-item genre index from the sidecar's ``videos[id]["genre_index"]``: int64 ``(N,)``.

        Raises:
            DatasetFormatError: no sidecar, or a video of this split has no ``genre_index``.
        """
        if self.meta is None:
            raise DatasetFormatError(f"{self.path}: no sidecar {meta_path(self.path)}; genre labels need it")
        genres = {}
        for video in self.video_ids:
            entry = self._video_entry(video)
            genres[video] = entry.get("genre_index") if entry else None
            if not isinstance(genres[video], int):
                raise DatasetFormatError(
                    f"{meta_path(self.path)}: video {video!r} has no integer 'genre_index' under 'videos'"
                )
        return torch.tensor([genres[video] for video, _, _ in self.keys], dtype=torch.int64)


def training_set(options):
    """The training split that ``options`` describe (train.py's options, or a checkpoint's
    recorded config as a namespace): less its ``val_videos``, with its rhythm features and,
    with ``fill_missing``, its missing joints filled."""
    return DanceDataset(options.data, split="train", split_rule=options.split,
                        val_videos=options.val_videos, rhythm=options.rhythm,
                        fill_missing=options.fill_missing)
