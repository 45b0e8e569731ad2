"""Benchmark: a song -> dance MP4 with the music, timed stage by stage.

    python benchmarks/song_to_video.py                          # synthesized 180 s song, random weights
    python benchmarks/song_to_video.py --model log/test/generator_0400.pth --audio song.mp3

Runs the path of ``get_demo.py --audio SONG --video``: decode (and resample to 16 kHz),
generate (overlapping 5 s windows through the generator), write the poses (npy, OpenPose JSON,
WAV), then draw + encode the MP4. Drawing and encoding overlap (frames stream into ffmpeg), so
"draw" is the time spent drawing frames and "encode" the rest of the MP4 stage (I420 conversion,
pipe writes, waiting for ffmpeg). Without ``--audio`` a drum-like track (44.1 kHz stereo
OGG/Vorbis, so resampling is included) is synthesized first, untimed. Without ``--model`` the
generator has random weights (the speed is the same; the dance is not).
Goal: a 3-minute song in at most 15 s on 2 CPU cores.
"""

import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import song_video_bench_parser  # noqa: E402
from dataset.audio import frame_audio, load_audio, write_wav  # noqa: E402
from model.checkpoint import load_generator  # noqa: E402
from model.generator import Generator  # noqa: E402
from render import probe_mp4, render_frames, write_mp4, write_openpose_json  # noqa: E402
from runtime import resolve_device, set_threads  # noqa: E402
from model.inference import dance_song  # noqa: E402

GOAL_SECONDS = 15.0
SYNTH_RATE = 44100


def write_drum_track(path, seconds, bpm=120, seed=0):
    """Write a drum-like stereo OGG/Vorbis at 44.1 kHz: kick on beats, snare on 2 and 4, hi-hats, bass."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SYNTH_RATE)) / SYNTH_RATE
    beat = 60.0 / bpm
    since_beat, since_eighth = t % beat, t % (beat / 2)
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-since_beat * 30)) * since_beat) * np.exp(-since_beat * 12)
    backbeat = (t // beat) % 2 == 1
    snare = backbeat * rng.normal(0, 1, t.size) * np.exp(-since_beat * 25)
    hat = rng.normal(0, 1, t.size) * np.exp(-since_eighth * 80)
    bass = np.sin(2 * np.pi * 55 * (1 + (t // (4 * beat)) % 2 * 0.5) * t)
    mono = 0.5 * kick + 0.25 * snare + 0.08 * hat + 0.15 * bass
    stereo = np.stack([mono, 0.9 * mono], axis=1).astype(np.float32)
    # libsndfile's Vorbis encoder crashes on long single writes: feed it one second at a time.
    with sf.SoundFile(path, "w", SYNTH_RATE, 2, format="OGG", subtype="VORBIS") as f:
        for first in range(0, len(stereo), SYNTH_RATE):
            f.write(stereo[first:first + SYNTH_RATE])


def timed(frames, clock):
    """Pass ``frames`` through, adding the time spent producing each one to ``clock[0]``."""
    frames = iter(frames)
    while True:
        start = time.perf_counter()
        frame = next(frames, None)
        clock[0] += time.perf_counter() - start
        if frame is None:
            return
        yield frame


def main(argv=None):
    args = song_video_bench_parser(__doc__.split("\n\n")[0]).parse_args(argv)

    set_threads(args.threads)
    device = resolve_device(args.device)
    if args.model:
        generator = load_generator(args.model, device)
        print(f"generator: {args.model}")
    else:
        torch.manual_seed(0)
        generator = Generator().to(device).eval()
        print("generator: randomly initialised (no --model): timings only, the dance is meaningless")

    with tempfile.TemporaryDirectory() as scratch:
        out = args.output or scratch
        os.makedirs(out, exist_ok=True)
        song = args.audio
        if song is None:
            song = os.path.join(scratch, "drums.ogg")
            write_drum_track(song, args.seconds)
            print(f"song: synthesized drum track, {args.seconds:g} s, 44.1 kHz stereo OGG/Vorbis")
        else:
            print(f"song: {song}")
        print(f"device: {device}, torch threads: {torch.get_num_threads()}, CPU cores: {os.cpu_count()}")

        times = {}
        start = time.perf_counter()
        samples = load_audio(song)
        times["decode/resample"] = time.perf_counter() - start

        start = time.perf_counter()
        poses = dance_song(generator, samples, seed=0)
        times["generate"] = time.perf_counter() - start

        start = time.perf_counter()
        np.save(os.path.join(out, "song.npy"), poses)
        write_openpose_json(poses, os.path.join(out, "song_json"), "song")
        wav = write_wav(os.path.join(out, "song.wav"), frame_audio(samples).ravel())
        times["write npy/json/wav"] = time.perf_counter() - start

        drawing = [0.0]
        start = time.perf_counter()
        mp4 = write_mp4(timed(render_frames(poses), drawing), wav, os.path.join(out, "song.mp4"))
        mp4_seconds = time.perf_counter() - start
        times["draw"] = drawing[0]
        times["encode (rest of the MP4 stage)"] = mp4_seconds - drawing[0]

        info = probe_mp4(mp4)
        total = sum(times.values())
        width = max(map(len, times))
        seconds = samples.size / 16000
        print(f"{seconds:.1f} s of music -> {len(poses)} poses -> {info['video_frames']} video frames, "
              f"{info['duration']:.2f} s MP4 ({info['video_codec']} {info['pix_fmt']} + {info['audio_codec']})")
        for name, value in times.items():
            print(f"  {name:<{width}}  {value:6.2f} s")
        print(f"  {'total':<{width}}  {total:6.2f} s  (goal <= {GOAL_SECONDS:g} s for 180 s: "
              f"{'met' if total <= GOAL_SECONDS else 'missed'})")


if __name__ == "__main__":
    main()
