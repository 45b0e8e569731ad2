"""The one skeleton definition: OpenPose COCO-18 joints, bones, colours, canvas, normalisation.

Every other module (ST-GCN graph, renderer, metrics, synthetic data, dataset builder)
takes its joints and bones from here.

Pixel coordinates live on a 640x360 canvas; the networks see them mapped to [-1, 1]
(``x/320 - 1``, ``y/180 - 1``), the range of the generator's final tanh. A joint that
OpenPose missed is stored as pixel (0, 0), i.e. (-1, -1) once normalised.
"""

import numpy as np

JOINT_NAMES = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)
NUM_JOINTS = len(JOINT_NAMES)  # 18
JOINT_INDEX = {name: i for i, name in enumerate(JOINT_NAMES)}
POSE_DIM = 2 * NUM_JOINTS  # 36: (x, y) per joint, flattened joint-major

# Bones as (parent, child) joint indices; the neck (1) is the graph's centre joint.
BONES = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7),
    (1, 8), (8, 9), (9, 10), (1, 11), (11, 12), (12, 13),
    (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
CENTER_JOINT = 1

# Edges of the ST-GCN graph. The original's ST-GCN used its library's own OpenPose layout, in
# which the hips hang from the shoulders (2-8, 5-11) rather than from the neck as drawn; the
# release's GCN.pth carries that graph, so ours is built from the same edges to compute the same.
GRAPH_BONES = tuple({(1, 8): (2, 8), (1, 11): (5, 11)}.get(bone, bone) for bone in BONES)

# One BGR colour per bone (OpenCV order), the OpenPose rainbow palette.
LIMB_COLORS = (
    (0, 0, 255), (0, 85, 255), (0, 170, 255), (0, 255, 255), (0, 255, 170), (0, 255, 85),
    (0, 255, 0), (85, 255, 0), (170, 255, 0), (255, 255, 0), (255, 170, 0), (255, 85, 0),
    (255, 0, 0), (255, 0, 85), (255, 0, 170), (255, 0, 255), (170, 0, 255),
)
JOINT_COLOR = (0, 0, 0)

CANVAS_WIDTH = 640
CANVAS_HEIGHT = 360
_HALF_SIZE = (CANVAS_WIDTH / 2, CANVAS_HEIGHT / 2)


def _half_size_like(values):
    """(320, 180) as an array or tensor matching ``values``' type, dtype and device."""
    if hasattr(values, "new_tensor"):  # torch.Tensor
        return values.new_tensor(_HALF_SIZE)
    values = np.asarray(values)
    return np.asarray(_HALF_SIZE, dtype=np.result_type(values.dtype, np.float32))


def normalize(pixels):
    """Map pixel coordinates to [-1, 1]: ``x/320 - 1``, ``y/180 - 1``.

    Shape: ``(..., 2)`` (x, y) in pixels -> same shape. Accepts numpy arrays and torch tensors.
    """
    return pixels / _half_size_like(pixels) - 1


def denormalize(coords):
    """Inverse of :func:`normalize`: ``(..., 2)`` in [-1, 1] -> pixels, ``(x+1)*320``, ``(y+1)*180``."""
    return (coords + 1) * _half_size_like(coords)


def missing_mask(pixels, tol=1e-6):
    """True where a joint is stored as missing, i.e. pixel (0, 0). Shape ``(..., 2)`` -> ``(...)``."""
    return np.all(np.abs(np.asarray(pixels)) <= tol, axis=-1)


def fill_missing_joints(pixels):
    """Missing joints replaced by interpolating each joint's visible positions over time.

    Within a sequence, a missing joint gets the linear interpolation of its positions at the
    nearest visible frames before and after; before the first (after the last) visible frame it
    keeps the first (last) visible position. A joint never visible in a sequence stays missing.

    Shape: ``(..., T, V, 2)`` pixels -> a new float array of the same shape.
    """
    pixels = np.asarray(pixels)
    out = pixels.astype(np.result_type(pixels.dtype, np.float32), copy=True)
    flat = out.reshape(-1, *out.shape[-3:])  # (S, T, V, 2), a view of ``out``
    frames = np.arange(flat.shape[1])
    missing = missing_mask(flat)  # (S, T, V)
    for sequence, joint in zip(*np.nonzero(missing.any(axis=1) & ~missing.all(axis=1))):
        seen = ~missing[sequence, :, joint]
        for axis in range(2):
            track = flat[sequence, :, joint, axis]
            track[~seen] = np.interp(frames[~seen], frames[seen], track[seen])
    return out
