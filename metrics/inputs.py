"""Input conversion shared by the metrics: tensors to numpy, any pose layout to pixel joints.

Pose metrics work in pixels on the 640x360 canvas, where a missing joint is (0, 0). They accept
the two layouts used in the project:

- pixel joints ``(T, 18, 2)`` (the dataset's ``joint_coors``), the default;
- normalised flat ``(T, 36)`` in [-1, 1] (the generator's output), with ``normalized=True``,
  mapped back to pixels by :func:`dataset.skeleton.denormalize` (so -1, -1 becomes missing).
"""

import numpy as np

from dataset.skeleton import NUM_JOINTS, denormalize


def as_array(values):
    """``values`` (numpy array, list or torch tensor on any device) as a float64 numpy array."""
    if hasattr(values, "detach"):  # torch.Tensor
        values = values.detach().cpu().numpy()
    return np.asarray(values, dtype=np.float64)


def as_pixel_poses(poses, normalized=False):
    """One pose sequence as pixel joints.

    Args:
        poses: ``(T, 18, 2)`` or flat ``(T, 36)`` (x, y per joint, joint-major).
        normalized: True if the coordinates are in [-1, 1] (``x/320 - 1``, ``y/180 - 1``),
            False if they are pixels.

    Shape: ``(T, 18, 2)`` or ``(T, 36)`` -> ``(T, 18, 2)`` float64 pixels.
    """
    poses = as_array(poses)
    if poses.ndim == 2 and poses.shape[1] == 2 * NUM_JOINTS:
        poses = poses.reshape(len(poses), NUM_JOINTS, 2)
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(
            f"poses: expected shape (T, {NUM_JOINTS}, 2) or (T, {2 * NUM_JOINTS}), got {poses.shape}")
    return denormalize(poses) if normalized else poses
