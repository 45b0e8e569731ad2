"""Benchmark: parsing the JSON dataset file vs loading its ``.cache.npz``.

    python benchmarks/dataset_cache.py                      # generated file, 160 random clips
    python benchmarks/dataset_cache.py --data dataset/synthetic.json

With ``--data`` the cache is written beside that file, as the loader always does. Without it a
double-encoded file of random clips is generated in a temporary folder and removed afterwards.
Goal: the cache loads at least 10x faster than the JSON parses.
"""

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import dataset_cache_bench_parser  # noqa: E402
from dataset.dance_dataset import cache_path, load_corpus, parse_dataset_file  # noqa: E402
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES  # noqa: E402
from dataset.skeleton import CANVAS_HEIGHT, CANVAS_WIDTH, NUM_JOINTS  # noqa: E402

CLIPS_PER_VIDEO = 8


def write_random_dataset(path, clips, seed=0):
    """Write ``clips`` random 10 s clips, double-encoded like the release, 8 clips per video."""
    rng = np.random.default_rng(seed)
    videos = {}
    for index in range(clips):
        audio = rng.normal(0, 4000, CLIP_SAMPLES).clip(-32768, 32767).astype(np.int16)
        pose = rng.uniform(0, (CANVAS_WIDTH, CANVAS_HEIGHT), (CLIP_FRAMES, NUM_JOINTS, 2)).round(3)
        clip_text = json.dumps({"audio_sequence": audio.tolist(), "joint_coors": pose.tolist()})
        video = f"{index // CLIPS_PER_VIDEO:03d}"
        clip = f"{10 * (index % CLIPS_PER_VIDEO) + 5:03d}"
        videos.setdefault(video, []).append(f'"{clip}": {clip_text}')
    text = "{" + ", ".join(f'"{v}": {{{", ".join(c)}}}' for v, c in videos.items()) + "}"
    path.write_text(json.dumps(text))


def median_seconds(function, repeats):
    """Median wall time of ``repeats`` calls of ``function()``."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def run(path, repeats):
    parse_s = median_seconds(lambda: parse_dataset_file(path), repeats)
    start = time.perf_counter()
    corpus = load_corpus(path)  # builds the cache if missing or stale
    first_s = time.perf_counter() - start
    load_s = median_seconds(lambda: load_corpus(path), repeats)
    megabytes = 1 / 2**20
    print(f"file        {path} ({path.stat().st_size * megabytes:.1f} MiB, {len(corpus)} clips)")
    print(f"cache       {cache_path(path)} ({cache_path(path).stat().st_size * megabytes:.1f} MiB)")
    print(f"JSON parse  {parse_s:8.3f} s  (median of {repeats}, parsing + validation)")
    print(f"first load  {first_s:8.3f} s  (builds the cache if missing or stale)")
    print(f"cache load  {load_s:8.3f} s  (median of {repeats})")
    print(f"speed-up    {parse_s / load_s:8.1f}x  (goal >= 10x)")


def main():
    args = dataset_cache_bench_parser(__doc__).parse_args()
    if args.data is not None:
        run(Path(args.data), args.repeats)
        return
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "random_dataset.json"
        write_random_dataset(path, args.clips)
        run(path, args.repeats)


if __name__ == "__main__":
    main()
