"""A trained person: the pose-to-frame generator with what it needs to draw new poses.

The file ``python -m pose2vid.train`` writes (``--out``) holds the generator's weights in
float16, its sizes, and the subject's crop and body measures. :class:`Person` loads it and
turns any dance into frames of the subject: the dance is first moved and scaled onto the
subject's body and floor (:func:`pose2vid.normalize.normalize_poses`), each pose is drawn as
in training, and the frames are made in order, each from its pose map and the frame before.
"""

from dataclasses import asdict

import cv2
import numpy as np
import torch

from dataset.errors import DanceSynthError
from model import checkpoint
from pose2vid.network import FrameGenerator
from pose2vid.normalize import BodyStats, body_stats, normalize_poses
from pose2vid.subject import Crop, pose_map
from render.draw import draw_pose

FORMAT = "dance-synth person"
SHOWN = 360  # pixels: the person's frames are shown this tall, beside a 640x360 skeleton


def to_tensor(images, device):
    """uint8 BGR images -> network input. Shape: ``(B, S, S, 3)`` -> ``(B, 3, S, S)`` in [-1, 1]."""
    array = torch.as_tensor(np.ascontiguousarray(images), device=device)
    return array.permute(0, 3, 1, 2).float() / 127.5 - 1.0


def to_images(tensor):
    """Network output -> uint8 BGR images. Shape: ``(B, 3, S, S)`` -> ``(B, S, S, 3)``."""
    scaled = ((tensor.detach().float().clamp(-1, 1) + 1) * 127.5).round()
    return scaled.to(torch.uint8).permute(0, 2, 3, 1).cpu().numpy()


def export_person(path, generator, sizes, subject, stats):
    """Write the generator (float16) with ``sizes`` (its constructor's arguments) and the
    subject's crop and body measures."""
    state = {key: value.detach().cpu().half() if value.is_floating_point() else value.cpu()
             for key, value in generator.state_dict().items()}
    checkpoint.save({"format": FORMAT, "generator": state, "config": dict(sizes),
                     "size": int(subject.maps.shape[1]),
                     "subject": {"crop": asdict(subject.crop), "stats": asdict(stats), "fps": subject.fps}},
                    path)


class Person:
    """A trained subject, ready to dance (module docstring)."""

    def __init__(self, path, device=torch.device("cpu")):
        record = checkpoint.read(path)
        if not isinstance(record, dict) or record.get("format") != FORMAT:
            raise checkpoint.CheckpointError(f"{path}: not a person model (python -m pose2vid.train writes them)")
        try:
            self.generator = FrameGenerator(**record["config"])
            self.generator.load_state_dict({key: value.float() if value.is_floating_point() else value
                                            for key, value in record["generator"].items()})
            self.size = int(record["size"])
            self.crop = Crop(**record["subject"]["crop"])
            self.stats = BodyStats(**record["subject"]["stats"])
        except (KeyError, TypeError, RuntimeError) as err:
            raise checkpoint.CheckpointError(f"{path}: a damaged person model ({type(err).__name__}: "
                                             f"{str(err).splitlines()[0] if str(err) else err})") from None
        checkpoint.require_finite(path, record["generator"])
        self.device = device
        self.generator.to(device).eval()

    def on_subject(self, poses):
        """A dance moved and scaled onto the subject's body and floor.

        Shape: ``(T, 18, 2)`` pixels of any canvas -> the same, in the subject's video pixels.
        """
        return normalize_poses(poses, body_stats(poses), self.stats)

    def frames(self, poses):
        """The subject dancing ``poses`` (already on the subject: :meth:`on_subject`), one frame
        at a time, each made from its pose map and the frame before.

        Shape: ``poses`` ``(T, 18, 2)`` -> yields ``(S, S, 3)`` uint8 BGR frames.
        """
        previous = torch.zeros(1, 3, self.size, self.size, device=self.device)
        with torch.no_grad():
            for pose in poses:
                condition = to_tensor(pose_map(pose, self.crop, self.size)[None], self.device)
                previous = self.generator(condition, previous)
                if not torch.isfinite(previous).all():
                    raise DanceSynthError("the person model produced non-finite frames")
                yield to_images(previous)[0]

    def video_frames(self, poses, side_by_side=False):
        """Frames of a video of the subject dancing a generated dance, shown ``SHOWN`` pixels
        square, with the skeleton (640x360) on its left when ``side_by_side``.

        Shape: ``poses`` ``(T, 18, 2)`` canvas pixels -> yields ``(360, 360 or 1000, 3)`` uint8.
        """
        for pose, frame in zip(poses, self.frames(self.on_subject(poses))):
            frame = cv2.resize(frame, (SHOWN, SHOWN), interpolation=cv2.INTER_CUBIC)
            yield np.concatenate([draw_pose(pose), frame], axis=1) if side_by_side else frame
