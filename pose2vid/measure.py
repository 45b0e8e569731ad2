"""How good is a trained person? The issue's measures, printed as a table (and as JSON).

    python -m pose2vid.measure --person pretrain_model/person.pth --subject log/subject \\
        --dance demo_out/song/song.npy [--json person.json]

Rows:
  held_out   the subject's last ``--held_out`` share of frames (poses the network never trained
             on), made in order from their poses, against the video's frames
  dance      a generated dance (``get_demo.py`` poses, ``--dance``), moved onto the subject and
             made in order, against the built-in subject's renderer on the same poses (only
             meaningful for the built-in subject, whose true frame of any pose is known)
Columns: PSNR (dB) and SSIM at the working resolution; the mean absolute difference between
consecutive frames, made and true, and their ratio (temporal stability: flicker raises it); and
seconds per frame on this machine.
"""

import json
import sys
import time

import cv2
import numpy as np
import torch

from config import person_measure_parser
from dataset.atomic import atomic_open
from pose2vid.measures import frame_difference, psnr, ssim
from pose2vid.person import render_person
from pose2vid.person_model import Person
from pose2vid.subject import load_subject
from runtime import report_errors, resolve_device, set_threads


def made(person, poses):
    """The person's frames of ``poses`` (subject pixels), in order, and seconds per frame.

    Shape: ``(T, 18, 2)`` -> ``(T, S, S, 3)`` uint8, float.
    """
    start = time.perf_counter()
    frames = np.stack(list(person.frames(poses)))
    return frames, (time.perf_counter() - start) / len(poses)


def rendered(person, poses):
    """The built-in subject's true frames of ``poses`` in the person's crop and size.

    Shape: ``(T, 18, 2)`` subject pixels -> ``(T, S, S, 3)`` uint8.
    """
    crop, size = person.crop, person.size
    return np.stack([cv2.resize(render_person(pose, size=(crop.height, crop.width))
                                [crop.y:crop.y + crop.side, crop.x:crop.x + crop.side],
                                (size, size), interpolation=cv2.INTER_AREA) for pose in poses])


def scores(frames, truth, seconds_per_frame):
    """The row of one comparison (module docstring). Shapes: ``(T, S, S, 3)`` each."""
    moved, true_moved = frame_difference(frames), frame_difference(truth)
    return {"psnr_db": psnr(frames, truth), "ssim": ssim(frames, truth), "frame_difference": moved,
            "true_frame_difference": true_moved, "difference_ratio": moved / true_moved,
            "seconds_per_frame": seconds_per_frame, "frames": len(frames)}


def measure(argv=None):
    args = person_measure_parser().parse_args(argv)
    set_threads(args.threads)
    person = Person(args.person, resolve_device(args.device))
    rows = {}
    subject = load_subject(args.subject, person.size)
    tail = len(subject.poses) - int(round(args.held_out * len(subject.poses)))
    frames, seconds = made(person, subject.poses[tail:])
    rows["held_out"] = scores(frames, subject.frames[tail:], seconds)
    if args.dance:
        poses = person.on_subject(np.load(args.dance)[:args.max_frames])
        frames, seconds = made(person, poses)
        rows["dance"] = scores(frames, rendered(person, poses), seconds)
    print(f"{args.person} on {args.subject} ({person.size}x{person.size}, {torch.get_num_threads()} threads)")
    print(f"{'row':10} {'frames':>6} {'PSNR dB':>8} {'SSIM':>6} {'diff':>6} {'true':>6} {'ratio':>6} {'s/frame':>8}")
    for name, row in rows.items():
        print(f"{name:10} {row['frames']:6d} {row['psnr_db']:8.2f} {row['ssim']:6.3f} {row['frame_difference']:6.2f} "
              f"{row['true_frame_difference']:6.2f} {row['difference_ratio']:6.2f} {row['seconds_per_frame']:8.4f}")
    if args.json:
        with atomic_open(args.json) as handle:
            json.dump({"person": args.person, "subject": args.subject, "dance": args.dance, "rows": rows},
                      handle, indent=1)


def main(argv=None):
    return report_errors(measure, argv)


if __name__ == "__main__":
    sys.exit(main())
