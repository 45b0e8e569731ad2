"""The embedded synthetic music-dance corpus, written in the original release format.

Each video is one synthetic song of one genre (``dataset.synthetic_music``) with one dancer
whose moves are phase-locked to its beat (``dataset.synthetic_dance``). Its clips are 10-s
windows of that song at increasing start seconds, so the beat grid runs on across a video's
clips. Genres differ in tempo range, drums, bass, harmony, timbre and in their dance moves.

Files (``python -m dataset.synthetic --out dataset/synthetic.json``):

- ``synthetic.json``: the original's double-encoded JSON (``json.loads(json.load(f))``),
  ``{video "000": {clip start second "025": {"audio_sequence": [160000 ints],
  "joint_coors": [100][18][2] pixel floats}}}``.
- ``synthetic_meta.json``: plain JSON with the ground truth, ``{"format": META_FORMAT, "seed",
  "genres", "test_videos", "videos": {video: {"genre", "genre_index", "bpm",
  "clips": {start: {"beats": [s from clip start], "downbeat": index of the first beat 1 of a
  bar among them}}}}}``. ``test_videos`` is a held-out set
  covering every genre. ``--extra-videos N`` adds N videos after the ``--videos`` ones, none
  of them test videos, and keeps the corpus of ``--videos`` (and so its test set) byte for byte.

Everything is deterministic for a seed: the same arguments give the same bytes.
"""

import json
import logging
import time
from pathlib import Path

import numpy as np

from dataset.atomic import atomic_paths
from config import synthetic_corpus_parser
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES, SAMPLE_RATE
from dataset.synthetic_dance import GENRE_MOVES, sample_dancer, synthesize_dance
from dataset.synthetic_music import STYLE_NAMES, first_downbeat, sample_song, song_beats, synthesize_song

logger = logging.getLogger(__name__)

META_FORMAT = "dance-synth-synthetic-meta/1"
GENRES = STYLE_NAMES
CLIP_SECONDS = CLIP_SAMPLES / SAMPLE_RATE
MAX_VIDEOS = 1000  # ids are 3 digits
MAX_CLIP_START = 989  # clip starts are 3 digits and the clip must end within 999 s
MAX_CLIPS = (MAX_CLIP_START - 25) // 20 + 1  # starts are at most 25 + 20 * (clip index)
TEST_FRACTION = 0.2  # of each genre's videos, at most 2 per genre

if set(GENRE_MOVES) != set(GENRES):
    raise ImportError(f"genres of music {sorted(GENRES)} and dance {sorted(GENRE_MOVES)} differ")


def meta_path_for(path):
    """Sidecar path of a corpus file: ``dir/name.json`` -> ``dir/name_meta.json``."""
    path = Path(path)
    return path.with_name(f"{path.stem}_meta.json")


def clip_starts(num_clips, rng):
    """Start seconds of a video's clips: a random first start (5-25 s), then every 10 s or 20 s.

    Shape: ``(num_clips,)`` ints, increasing.
    """
    starts = [5 * int(rng.integers(1, 6))]
    for _ in range(num_clips - 1):
        starts.append(starts[-1] + (20 if rng.random() < 0.25 else 10))
    return starts


def generate_video(genre_index, num_clips, seed, missing_fraction=0.01):
    """One video: a song and a dancer of genre ``GENRES[genre_index]``, cut into clips.

    Returns ``(clips, meta)``: ``clips`` maps a clip key ("025") to ``{"audio_sequence": int16
    (160000,), "joint_coors": float64 (100, 18, 2) pixels}``; ``meta`` is the video's entry of
    the sidecar (genre, bpm, per-clip beats). ``seed`` is a non-negative int or a sequence of them.
    """
    rng = np.random.default_rng(seed)
    song = sample_song(genre_index, rng)
    dancer = sample_dancer(GENRES[genre_index], rng)
    clips, beats = {}, {}
    for start in clip_starts(num_clips, rng):
        key = f"{start:03d}"
        clips[key] = {
            "audio_sequence": synthesize_song(song, float(start), CLIP_SAMPLES),
            "joint_coors": synthesize_dance(song, dancer, float(start), CLIP_FRAMES, missing_fraction),
        }
        beats[key] = {"beats": [round(float(b), 4) for b in song_beats(song, float(start), CLIP_SECONDS)],
                      "downbeat": first_downbeat(song, float(start))}
    meta = {"genre": GENRES[genre_index], "genre_index": genre_index, "bpm": song.bpm, "clips": beats}
    return clips, meta


def held_out_videos(video_genres):
    """Test split: the last ``max(1, 20 %)`` (at most 2) videos of every genre with 2+ videos.

    ``video_genres`` maps video id -> genre index. Returns sorted ids. If that leaves no test
    video at all (every genre has a single video), the last video is held out.
    """
    by_genre = {}
    for video in sorted(video_genres):
        by_genre.setdefault(video_genres[video], []).append(video)
    test = []
    for videos in by_genre.values():
        if len(videos) >= 2:
            test += videos[-min(2, max(1, int(TEST_FRACTION * len(videos)))):]
    if not test and len(video_genres) >= 2:
        test = [max(video_genres)]
    return sorted(test)


def generate_corpus(videos=40, clips=4, seed=0, missing_fraction=0.01, extra_videos=0):
    """Generate the whole corpus in memory.

    Returns ``(data, meta)``: ``data`` has the release layout ``{video: {clip: {"audio_sequence":
    int16 (160000,), "joint_coors": float64 (100, 18, 2)}}}`` with numpy arrays in place of
    the nested lists; ``meta`` is the sidecar dict (see the module docstring). Genres are
    balanced over the videos (in a seeded order).

    ``extra_videos`` more videos follow the first ``videos`` (their genres balanced in a seeded
    order of their own) and are never test videos: the first ``videos`` videos and the test list
    are exactly those of the corpus without them, so a larger corpus keeps its benchmark and
    adds training and validation videos. The sidecar then records ``base_videos``.
    """
    if extra_videos < 0:
        raise ValueError(f"extra_videos must be non-negative, got {extra_videos}")
    if not 1 <= videos <= MAX_VIDEOS - extra_videos:
        raise ValueError(f"videos must be in 1..{MAX_VIDEOS - extra_videos}, got {videos}")
    if not 1 <= clips <= MAX_CLIPS:
        raise ValueError(f"clips must be in 1..{MAX_CLIPS}, got {clips}")
    if seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    if not 0.0 <= missing_fraction < 1.0:
        raise ValueError(f"missing_fraction must be in [0, 1), got {missing_fraction}")
    genre_of = np.concatenate([
        np.random.default_rng([seed, 0]).permutation(np.arange(videos) % len(GENRES)),
        np.random.default_rng([seed, 2]).permutation(np.arange(extra_videos) % len(GENRES))])
    data, video_meta = {}, {}
    for index, genre_index in enumerate(genre_of.tolist()):
        video = f"{index:03d}"
        data[video], video_meta[video] = generate_video(genre_index, clips, [seed, 1, index], missing_fraction)
        logger.debug("video %s: %s at %.1f BPM", video, GENRES[genre_index], video_meta[video]["bpm"])
    meta = {
        "format": META_FORMAT,
        "seed": seed,
        "genres": list(GENRES),
        "test_videos": held_out_videos({v: m["genre_index"] for v, m in list(video_meta.items())[:videos]}),
        "videos": video_meta,
    }
    if extra_videos:
        meta["base_videos"] = videos
    return data, meta


def _release_json_pieces(data):
    """The inner (once-encoded) JSON text of ``data``, in consecutive pieces of one clip or less."""
    yield "{"
    for v, video in enumerate(data):
        yield ("," if v else "") + json.dumps(video) + ":{"
        for c, start in enumerate(data[video]):
            clip = data[video][start]
            yield ("," if c else "") + json.dumps(start) + ':{"audio_sequence":'
            yield json.dumps(np.asarray(clip["audio_sequence"]).tolist(), separators=(",", ":"))
            yield ',"joint_coors":'
            yield json.dumps(np.asarray(clip["joint_coors"]).tolist(), separators=(",", ":"))
            yield "}"
        yield "}"
    yield "}"


def write_corpus(path, data, meta):
    """Write ``data`` double-encoded to ``path`` and ``meta`` to its ``_meta.json`` sidecar.

    The corpus file is one JSON string whose content is the JSON object, as in the original
    release; it is streamed clip by clip (escaping each piece of the inner text), so memory
    stays at one clip's worth of text. Both files are replaced atomically, together
    (:func:`dataset.atomic.atomic_paths`). Returns the sidecar's path.
    """
    path = Path(path)
    meta_path = meta_path_for(path)
    with atomic_paths([path, meta_path]) as (data_temp, meta_temp):
        with open(data_temp, "w", encoding="ascii") as file:
            file.write('"')
            for piece in _release_json_pieces(data):
                file.write(json.dumps(piece)[1:-1])
            file.write('"')
        with open(meta_temp, "w", encoding="ascii") as file:
            json.dump(meta, file, indent=1)
    logger.info("wrote %s and %s", path, meta_path)
    return meta_path


def main(argv=None):
    args = synthetic_corpus_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    began = time.perf_counter()
    data, meta = generate_corpus(args.videos, args.clips, args.seed, args.missing_fraction, args.extra_videos)
    meta_path = write_corpus(args.out, data, meta)
    elapsed = time.perf_counter() - began

    num_clips = sum(len(clips) for clips in data.values())
    genre_counts = {g: sum(v["genre"] == g for v in meta["videos"].values()) for g in GENRES}
    bpms = [v["bpm"] for v in meta["videos"].values()]
    print(f"{args.out}: {len(data)} videos, {num_clips} clips, "
          f"{num_clips * CLIP_SECONDS:.0f} s of audio, {Path(args.out).stat().st_size / 1e6:.1f} MB")
    print("genres: " + ", ".join(f"{g} x{n}" for g, n in genre_counts.items())
          + f"; BPM {min(bpms):.1f}-{max(bpms):.1f}; test videos: {' '.join(meta['test_videos'])}")
    print(f"ground truth: {meta_path}; took {elapsed:.1f} s")


if __name__ == "__main__":
    main()
