"""Dance videos from a trained generator: the test clips, or any song.

Test clips (as the original)::

    python get_demo.py --model log/test/generator_0400.pth --output demo_out [--data F --split R --count N]

writes, per 5 s test sample ``<video>_<clip>_<half>``, in Demo/frame2vid.sh's layout::

    DIR/<sample>/frames/0000.png ...   ground truth | generated, 1280x360
    DIR/<sample>/<sample>.wav          the clip's music, 16 kHz int16
    DIR/<sample>/<sample>.npy          generated poses, (50, 18, 2) pixels
    DIR/<sample>.mp4, DIR/<sample>.gif with --video, --gif
    DIR/<sample>_beats.png             with --plot (render/beat_plot.py)

Any song (wav, flac, ogg, mp3, m4a, ..., any length)::

    python get_demo.py --model CKPT --audio song.mp3 [--audio other.ogg] --output DIR --video

writes per song ``<name>`` (the file's stem)::

    DIR/<name>.npy                     poses, (ceil(seconds * 10), 18, 2) pixels
    DIR/<name>_json/<name>_000000000000_keypoints.json ...   OpenPose JSON per frame
    DIR/<name>.wav                     the decoded song, 16 kHz int16, as danced (the last
                                       partial 0.1 s frame padded with silence)
    DIR/<name>.mp4, DIR/<name>.gif     with --video, --gif
    DIR/<name>_beats.png               with --plot: music beats over the dance's kinematic beats
    (with --person P --video, the MP4 shows that person dancing; --side-by-side, beside the skeleton)
    DIR/<name>/frames/, DIR/<name>/<name>.wav   with --frames (for Demo/frame2vid.sh)

Songs are danced in overlapping 5 s windows cross-faded at the joins (see model/inference.py);
``--seed`` fixes the noise. Problems (missing or undecodable audio, a bad or damaged checkpoint,
an unwritable output folder) end the run with one ``error: ...`` line and exit status 1, before
anything is written.
"""

import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch

from config import demo_parser
from dataset.audio import frame_audio, load_audio, write_wav
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.format import FPS, NOISE_DIM, SAMPLE_RATE
from dataset.skeleton import NUM_JOINTS, denormalize
from model.checkpoint import load_generator
from model.inference import dance_song, generate, require_finite_poses, seeded_noise
from pose2vid.person_model import Person
from render import render_frames, write_beat_plot, write_gif, write_mp4, write_openpose_json
from runtime import report_errors, resolve_device, set_threads

FRAME_DIGITS = 4  # frame file names 0000.png ...; more digits for songs over 1000 s


class DemoError(DanceSynthError):
    """A problem the user can fix (bad option, folder, data split); reported in one line."""


def check_output_folder(folder):
    """Create ``folder`` and make sure a file can be written in it, before any heavy work."""
    try:
        os.makedirs(folder, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise DemoError(f"cannot write to output folder {folder}: {err.strerror or err}") from None


def unique_names(paths):
    """Output names for songs: each file's stem, with ``-2``, ``-3``, ... appended to repeats."""
    names, seen = [], {}
    for path in paths:
        stem = Path(path).stem or "song"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(stem if seen[stem] == 1 else f"{stem}-{seen[stem]}")
    return names


def saving_pngs(frames, folder, count):
    """Pass ``frames`` through, writing each to ``folder/%0Nd.png`` first (N >= 4 digits).

    Shape: ``frames`` iterable of ``(H, W, 3)`` uint8 BGR, ``count`` of them -> the same frames.
    """
    os.makedirs(folder, exist_ok=True)
    digits = max(FRAME_DIGITS, len(str(count - 1)))
    for t, frame in enumerate(frames):
        path = os.path.join(folder, f"{t:0{digits}d}.png")
        if not cv2.imwrite(path, frame):
            raise DemoError(f"cannot write frame {path}")
        yield frame


def write_outputs(folder, name, poses, wav_path, ground_truth, args, frames_dir=None, person=None):
    """Frames, MP4 and GIF of one sequence, drawing each frame once for frames and MP4.

    Shape: ``poses`` ``(T, 18, 2)`` pixels; ``ground_truth`` the same shape, or None for a
    single skeleton. ``frames_dir``: where the PNG frames go (None: no frames). ``person`` (a
    :class:`pose2vid.person_model.Person`): the MP4 shows that person dancing instead.
    """
    frames = render_frames(poses, ground_truth)
    if frames_dir is not None:
        frames = saving_pngs(frames, frames_dir, len(poses))
    mp4 = os.path.join(folder, f"{name}.mp4")
    if args.video and person is None:
        write_mp4(frames, wav_path, mp4, fps=FPS)  # draws (and saves) each frame once
    else:
        if frames_dir is not None:
            for _ in frames:
                pass
        if args.video:
            write_mp4(person.video_frames(poses, args.side_by_side), wav_path, mp4, fps=FPS)
    if args.gif:
        write_gif(render_frames(poses, ground_truth), os.path.join(folder, f"{name}.gif"), fps=FPS)


def dance_songs(generator, args, person=None):
    """Every ``--audio`` song -> poses, OpenPose JSON, WAV (+ frames, MP4, GIF) in ``--output``;
    ``person`` dances in the MP4 when given."""
    songs = [(name, path, load_audio(path)) for name, path in zip(unique_names(args.audio), args.audio)]
    for name, path, decoded in songs:
        start = time.perf_counter()
        poses = require_finite_poses(dance_song(generator, decoded, seed=args.seed), args.model)
        # The music as danced: the last partial frame zero-padded, so the MP4 keeps all T frames.
        samples = frame_audio(decoded).ravel()
        np.save(os.path.join(args.output, f"{name}.npy"), poses)
        write_openpose_json(poses, os.path.join(args.output, f"{name}_json"), name)
        wav = write_wav(os.path.join(args.output, f"{name}.wav"), samples)
        frames_dir = None
        if args.frames:
            frames_dir = os.path.join(args.output, name, "frames")
            write_wav(os.path.join(args.output, name, f"{name}.wav"), samples)
        write_outputs(args.output, name, poses, wav, None, args, frames_dir, person)
        if args.plot:
            write_beat_plot(os.path.join(args.output, f"{name}_beats.png"), samples, poses, title=name)
        print(f"{path}: {decoded.size / SAMPLE_RATE:.2f} s -> {len(poses)} frames "
              f"-> {os.path.join(args.output, name)}.* ({time.perf_counter() - start:.1f} s)")


def dance_test_clips(generator, args):
    """The first ``--count`` test samples -> frames (ground truth | generated), WAV, poses, videos."""
    dataset = DanceDataset(args.data, split="test", split_rule=args.split, rhythm=generator.rhythm)
    count = min(args.count, len(dataset))
    items = [dataset[i] for i in range(count)]
    audio = torch.stack([item["audio"] for item in items])
    rhythm = torch.stack([item["rhythm"] for item in items]) if generator.rhythm else None
    noise = seeded_noise((*audio.shape[:2], NOISE_DIM), args.seed)
    generated = require_finite_poses(generate(generator, audio, noise, rhythm), args.model)
    generated = denormalize(generated.reshape(count, -1, NUM_JOINTS, 2))
    for item, poses in zip(items, generated):
        name = f"{item['video']}_{item['clip']}_{item['half']}"
        sample = os.path.join(args.output, name)
        os.makedirs(sample, exist_ok=True)
        np.save(os.path.join(sample, f"{name}.npy"), poses)
        wav = write_wav(os.path.join(sample, f"{name}.wav"), item["audio"].numpy().ravel())
        truth = denormalize(item["pose"].numpy().reshape(-1, NUM_JOINTS, 2))
        write_outputs(args.output, name, poses, wav, truth, args, os.path.join(sample, "frames"))
        if args.plot:
            write_beat_plot(os.path.join(args.output, f"{name}_beats.png"), item["audio"].numpy().ravel(),
                            poses, title=name)
    print(f"{count} of {len(dataset)} test samples (videos {', '.join(dataset.video_ids)}) "
          f"-> {args.output}")


def demo(argv=None):
    args = demo_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s")
    if args.count < 1:
        raise DemoError(f"--count must be at least 1, got {args.count}")
    device = resolve_device(args.device)
    set_threads(args.threads)
    check_output_folder(args.output)
    if args.person and not (args.audio and args.video):
        raise DemoError("--person makes the video of a song: give --audio and --video with it")
    if args.side_by_side and not args.person:
        raise DemoError("--side-by-side puts the skeleton beside a --person: give --person with it")
    generator = load_generator(args.model, device)
    person = Person(args.person, device) if args.person else None
    if args.audio:
        dance_songs(generator, args, person)
    else:
        dance_test_clips(generator, args)


def main(argv=None):
    return report_errors(demo, argv)


if __name__ == "__main__":
    sys.exit(main())
