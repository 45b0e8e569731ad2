"""Drawing OpenPose-18 skeletons the way the original release did.

White 640x360 canvas; each bone a filled ellipse along the limb (half-width 4 px) in its
OpenPose colour, blended at 60 % opacity over what lies beneath; a black dot on each joint.
A joint stored as missing (pixel (0, 0)) or non-finite is not drawn, nor is any bone
touching it. All poses are in pixel coordinates (``dataset.skeleton.denormalize`` maps
the generator's [-1, 1] output there).
"""

import math

import cv2
import numpy as np

from dataset.skeleton import (BONES, CANVAS_HEIGHT, CANVAS_WIDTH, JOINT_COLOR, LIMB_COLORS, NUM_JOINTS,
                              missing_mask)

LIMB_HALF_WIDTH = 4  # px, the original's stickwidth
LIMB_OPACITY = 0.6
JOINT_RADIUS = 4
LABELS = ("ground truth", "generated")
_LABEL_COLOR = (96, 96, 96)
_COORD_LIMIT = 1e4  # clamp wild coordinates so OpenCV's int conversion cannot overflow


def blank_canvas():
    """A white ``(360, 640, 3)`` uint8 BGR image."""
    return np.full((CANVAS_HEIGHT, CANVAS_WIDTH, 3), 255, dtype=np.uint8)


def draw_pose(pose_pixels, canvas=None):
    """Draw one skeleton.

    Shape: ``pose_pixels`` ``(18, 2)`` (x, y) pixels -> ``(H, W, 3)`` uint8 BGR, by default
    ``(360, 640, 3)``. ``canvas``, when given, is drawn on in place and returned.
    """
    pose = np.asarray(pose_pixels, dtype=np.float64)
    if pose.shape != (NUM_JOINTS, 2):
        raise ValueError(f"draw_pose: expected a pose of shape ({NUM_JOINTS}, 2), got {pose.shape}")
    if canvas is None:
        canvas = blank_canvas()
    visible = np.isfinite(pose).all(axis=1) & ~missing_mask(np.nan_to_num(pose))
    pose = np.clip(np.nan_to_num(pose), -_COORD_LIMIT, _COORD_LIMIT)

    for (a, b), color in zip(BONES, LIMB_COLORS):
        if visible[a] and visible[b]:
            _blend_limb(canvas, pose[a], pose[b], color)
    for x, y in pose[visible]:
        cv2.circle(canvas, (int(round(x)), int(round(y))), JOINT_RADIUS, JOINT_COLOR, thickness=-1)
    return canvas


def _blend_limb(canvas, start, end, color):
    """Blend one filled limb ellipse from ``start`` to ``end`` (pixels) into ``canvas`` in place.

    Only the ellipse's bounding box is blended: outside the ellipse the overlay equals
    the canvas, so this matches the original's whole-canvas ``addWeighted`` at a
    fraction of the cost.
    """
    dx, dy = end - start
    center = (int(round((start[0] + end[0]) / 2)), int(round((start[1] + end[1]) / 2)))
    half_length = int(math.hypot(dx, dy) / 2)
    angle = int(math.degrees(math.atan2(dy, dx)))
    polygon = cv2.ellipse2Poly(center, (half_length, LIMB_HALF_WIDTH), angle, 0, 360, 1)

    height, width = canvas.shape[:2]
    x0, y0 = np.maximum(polygon.min(axis=0), 0)
    x1, y1 = np.minimum(polygon.max(axis=0) + 1, (width, height))
    if x0 >= x1 or y0 >= y1:
        return
    region = canvas[y0:y1, x0:x1]
    overlay = region.copy()
    cv2.fillConvexPoly(overlay, (polygon - (x0, y0)).astype(np.int32), color)
    region[...] = cv2.addWeighted(region, 1 - LIMB_OPACITY, overlay, LIMB_OPACITY, 0)


def draw_side_by_side(left, right, labels=LABELS):
    """Ground truth beside the generated pose.

    Shape: ``left``, ``right`` ``(18, 2)`` pixels (either may be None: a blank half) ->
    ``(360, 1280, 3)`` uint8 BGR. ``labels`` (two strings, or None) are written small in
    each half's top-left corner.
    """
    halves = []
    for pose, label in zip((left, right), labels or (None, None)):
        half = blank_canvas() if pose is None else draw_pose(pose)
        if label:
            cv2.putText(half, label, (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, _LABEL_COLOR, 1, cv2.LINE_AA)
        halves.append(half)
    return np.hstack(halves)


def render_frames(poses, ground_truth=None, labels=LABELS):
    """Draw a pose sequence lazily, one frame at a time (a 3-minute song is 1800 frames).

    Shape: ``poses`` ``(T, 18, 2)`` pixels -> iterator of ``T`` uint8 BGR images,
    ``(360, 640, 3)`` each, or ``(360, 1280, 3)`` (ground truth | generated) when
    ``ground_truth`` ``(T, 18, 2)`` is given.
    """
    poses = np.asarray(poses)
    if poses.ndim != 3 or poses.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(f"render_frames: expected poses of shape (T, {NUM_JOINTS}, 2), got {poses.shape}")
    if ground_truth is not None:
        ground_truth = np.asarray(ground_truth)
        if ground_truth.shape != poses.shape:
            raise ValueError(
                f"render_frames: ground truth shape {ground_truth.shape} differs from poses shape {poses.shape}"
            )
    return _iter_frames(poses, ground_truth, labels)


def _iter_frames(poses, ground_truth, labels):
    """Generator behind :func:`render_frames`, so that shape errors raise at call time."""
    for t, pose in enumerate(poses):
        if ground_truth is None:
            yield draw_pose(pose)
        else:
            yield draw_side_by_side(ground_truth[t], pose, labels)
