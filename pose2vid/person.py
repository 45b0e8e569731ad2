"""The synthetic default subject: a clothed person drawn from an OpenPose-18 skeleton.

Pose2Vid learns a subject's look from (pose, frame) pairs. This subject needs no video: its frame
is a pure, deterministic function of the pose, so training pairs exist without downloads and the
true frame of any pose can be computed for measurements.

The person stands in a static room (a wall with a vertical gradient, a floor below a horizon
fixed in the image) and is built from shaded volumes, back to front: a soft shadow under the
feet, the legs (trousers, shoes), the torso (shirt), the arms (sleeves, bare forearms, hands),
the neck and the head (hair, face, eyes). Each limb is an anti-aliased capsule drawn as
concentric strokes, dark at its rim and light along its axis, so the volumes read as round.
Sizes are fractions of the person's height, estimated from the trunk and legs of the pose, so a
smaller (farther) person gets thinner limbs. A part touching a missing joint (pixel (0, 0) or
non-finite) is not drawn, except that the shirt and neck stand in for one missing shoulder or
the missing neck (OpenPose puts the neck midway between the shoulders); coordinates far outside
the image are clamped, never fatal.
"""

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from dataset.skeleton import CANVAS_HEIGHT, CANVAS_WIDTH, JOINT_INDEX, NUM_JOINTS, missing_mask


@dataclass(frozen=True)
class Appearance:
    """How the subject and its room look.

    Colours are BGR triples (0-255). Sizes are fractions of the person's height, measured from
    the highest head joint to the ankles (see :func:`body_height`); widths are full widths.
    """

    skin: tuple = (138, 170, 222)
    hair: tuple = (28, 36, 56)
    shirt: tuple = (56, 64, 200)
    trousers: tuple = (118, 78, 46)
    shoes: tuple = (226, 228, 232)
    wall_top: tuple = (218, 222, 226)
    wall_bottom: tuple = (176, 188, 200)
    floor_far: tuple = (110, 140, 172)
    floor_near: tuple = (70, 98, 132)
    horizon: float = 0.62  # the floor line, as a fraction of the image height
    upper_arm_width: float = 0.075
    forearm_width: float = 0.058
    hand_size: float = 0.05
    thigh_width: float = 0.105
    shin_width: float = 0.078
    torso_width: float = 0.2  # the narrowest the torso gets, e.g. seen side-on
    neck_width: float = 0.062
    head_width: float = 0.15
    head_height: float = 0.18
    shoe_length: float = 0.1
    shoe_height: float = 0.045
    shadow_strength: float = 0.45  # fraction of the floor's light the shadow takes at its centre


DEFAULT_APPEARANCE = Appearance()

# Trunk (neck to mid-hip) and leg (hip-knee-ankle) lengths as fractions of the height from the
# highest head joint to the lower ankle: medians over the built-in corpus's complete skeletons,
# where the median of the estimates lies within 2.5 % of the true height in 90 % of frames.
_TRUNK_FRACTION = 0.306
_LEG_FRACTION = 0.552
_DEFAULT_HEIGHT = 0.5  # of the image height, when the pose has no trunk or whole leg
_COORD_LIMIT = 1e4  # clamp wild coordinates so OpenCV's fixed-point conversion cannot overflow
_FLOOR_BOARDS = 8
_SHIFT = 4  # fractional bits of OpenCV's fixed-point coordinates: sub-pixel placement
_ONE = 1 << _SHIFT
# (width fraction, brightness) of the concentric strokes, from the rim to the axis.
_TONES = ((1.0, 0.68), (0.8, 0.88), (0.58, 1.02), (0.32, 1.16))
_TORSO_TONES = tuple(zip(np.linspace(1.0, 0.2, 7), np.linspace(0.7, 1.16, 7)))
_HEAD_TONES = ((1.0, 0.8), (0.84, 0.94), (0.62, 1.04), (0.36, 1.12))

_J = JOINT_INDEX
# Each leg as (upper joint, lower joint, width field) segments.
_LEG_CHAINS = tuple(((f"{s}_hip", f"{s}_knee", "thigh_width"), (f"{s}_knee", f"{s}_ankle", "shin_width"))
                    for s in ("r", "l"))


def visible_joints(pose_pixels):
    """True for each joint that is present: finite and not stored as missing (pixel (0, 0)).

    Shape: ``(18, 2)`` pixels -> ``(18,)`` bool.
    """
    pose = np.asarray(pose_pixels, dtype=np.float64)
    return np.isfinite(pose).all(axis=-1) & ~missing_mask(np.nan_to_num(pose))


def body_height(pose_pixels):
    """The person's height in pixels, highest head joint to ankles, estimated from the pose.

    Each visible trunk (neck, or mid-shoulder, to mid-hip) and whole leg (hip-knee-ankle) gives
    an estimate through its typical share of that height; bending the body leaves these lengths
    unchanged. Returns the median estimate, or None when no trunk or whole leg is visible.

    Shape: ``(18, 2)`` pixels -> float or None.
    """
    pose = np.asarray(pose_pixels, dtype=np.float64)
    seen = visible_joints(pose)
    estimates = []
    shoulders, hips = [_J["r_shoulder"], _J["l_shoulder"]], [_J["r_hip"], _J["l_hip"]]
    top = pose[_J["neck"]] if seen[_J["neck"]] else pose[shoulders].mean(axis=0) if seen[shoulders].all() else None
    if top is not None and seen[hips].all():
        bottom = pose[hips].mean(axis=0)
        estimates.append(np.linalg.norm(bottom - top) / _TRUNK_FRACTION)
    for side in ("r", "l"):
        hip, knee, ankle = (_J[f"{side}_{name}"] for name in ("hip", "knee", "ankle"))
        if seen[[hip, knee, ankle]].all():
            leg = np.linalg.norm(pose[knee] - pose[hip]) + np.linalg.norm(pose[ankle] - pose[knee])
            estimates.append(leg / _LEG_FRACTION)
    return float(np.median(estimates)) if estimates else None


def render_background(appearance=DEFAULT_APPEARANCE, size=(CANVAS_HEIGHT, CANVAS_WIDTH)):
    """The empty room: a wall shading darker downwards, a skirting line, a boarded floor.

    Shape: ``size`` (height, width) -> ``(H, W, 3)`` uint8 BGR, a new array.
    """
    return _background(appearance, (int(size[0]), int(size[1]))).copy()


def render_person(pose_pixels, appearance=DEFAULT_APPEARANCE, size=(CANVAS_HEIGHT, CANVAS_WIDTH)):
    """The subject in the pose, in its room.

    Shape: ``pose_pixels`` ``(18, 2)`` (x, y) pixels of an image of ``size`` (height, width) ->
    ``(H, W, 3)`` uint8 BGR. Deterministic: the same pose gives the same image.
    """
    pose = np.asarray(pose_pixels, dtype=np.float64)
    if pose.shape != (NUM_JOINTS, 2):
        raise ValueError(f"render_person: expected a pose of shape ({NUM_JOINTS}, 2) in pixels, got {pose.shape}")
    image = render_background(appearance, size)
    seen = visible_joints(pose)
    pose = np.clip(np.where(seen[:, None], pose, 0.0), -_COORD_LIMIT, _COORD_LIMIT)
    height = body_height(pose)
    if height is None:
        height = _DEFAULT_HEIGHT * image.shape[0]
    height = float(np.clip(height, 4.0, 2.0 * max(image.shape[:2])))

    _shadow(image, pose, seen, height, appearance)
    _capsule_between(image, pose, seen, "r_hip", "l_hip", appearance.thigh_width * height, appearance.trousers)
    for chain in _LEG_CHAINS:
        _chain(image, pose, seen, height, appearance, chain, appearance.trousers)
    for side in ("r", "l"):
        _shoe(image, pose, seen, height, appearance, side)
    _torso(image, pose, seen, height, appearance)
    for side in ("r", "l"):
        _arm(image, pose, seen, height, appearance, side)
    _head(image, pose, seen, height, appearance)
    return image


@lru_cache(maxsize=8)
def _background(look, size):
    """The room for one appearance and size, computed once; read-only ``(H, W, 3)`` uint8."""
    height, width = size
    horizon = int(round(look.horizon * height))
    rows = np.empty((height, 3), dtype=np.float64)
    wall = np.linspace(0.0, 1.0, horizon)[:, None]
    rows[:horizon] = (1 - wall) * np.asarray(look.wall_top) + wall * np.asarray(look.wall_bottom)
    floor = np.linspace(0.0, 1.0, height - horizon)[:, None]
    rows[horizon:] = (1 - floor) * np.asarray(look.floor_far) + floor * np.asarray(look.floor_near)
    # Board seams parallel to the wall, spaced wider towards the camera as perspective does.
    growth = 1.4 ** np.arange(_FLOOR_BOARDS + 1)
    for seam in horizon + (height - horizon) * (growth[1:-1] - 1) / (growth[-1] - 1):
        rows[int(seam)] *= 0.9
    skirting = max(1, int(round(0.012 * height)))
    rows[max(0, horizon - skirting):horizon] = 0.8 * np.asarray(look.wall_bottom)
    image = np.repeat(np.rint(rows).astype(np.uint8)[:, None, :], width, axis=1)
    image.flags.writeable = False
    return image


def _fixed(point):
    """A point in pixels as OpenCV fixed-point integers (``_SHIFT`` fractional bits)."""
    return int(round(point[0] * _ONE)), int(round(point[1] * _ONE))


def _tone(colour, brightness):
    """A colour scaled in brightness, clipped to 255."""
    return tuple(min(255.0, c * brightness) for c in colour)


def _unit(vector, fallback=(0.0, -1.0)):
    """``vector`` scaled to length 1, or ``fallback`` when it has no length."""
    length = math.hypot(vector[0], vector[1])
    return np.asarray(vector, dtype=np.float64) / length if length > 1e-9 else np.asarray(fallback)


def _mean_of(pose, seen, names):
    """The mean of the named joints that are visible, or None when none is."""
    indices = [_J[name] for name in names if seen[_J[name]]]
    return pose[indices].mean(axis=0) if indices else None


def _capsules(image, segments, colour, tones=_TONES):
    """Shaded round-ended limbs, ``segments`` a list of (start, end, full width), all in pixels.

    The segments are drawn stroke by stroke together, so a chain of them (thigh and shin) reads
    as one bent tube rather than two pieces.
    """
    for fraction, brightness in tones:
        for start, end, width in segments:
            thickness = max(1, int(round(width * fraction)))
            cv2.line(image, _fixed(start), _fixed(end), _tone(colour, brightness), thickness, cv2.LINE_AA, _SHIFT)


def _capsule_between(image, pose, seen, a, b, width, colour):
    """A capsule between two named joints, when both are visible."""
    if seen[_J[a]] and seen[_J[b]]:
        _capsules(image, [(pose[_J[a]], pose[_J[b]], width)], colour)


def _chain(image, pose, seen, height, look, segments, colour):
    """The visible segments among ``(joint, joint, width field)`` triples, as one shaded tube."""
    _capsules(image, [(pose[_J[a]], pose[_J[b]], getattr(look, width) * height)
                      for a, b, width in segments if seen[_J[a]] and seen[_J[b]]], colour)


def _ellipse(image, centre, half_axes, angle, colour, tones=_TONES):
    """A shaded filled ellipse; ``half_axes`` in pixels, ``angle`` in degrees (first axis's direction)."""
    for fraction, brightness in tones:
        axes = tuple(max(1, int(round(half * fraction * _ONE))) for half in half_axes)
        cv2.ellipse(image, _fixed(centre), axes, angle, 0, 360, _tone(colour, brightness), -1, cv2.LINE_AA, _SHIFT)


def _shadow(image, pose, seen, height, look):
    """Darken the floor under the ankles with a blurred ellipse, in place."""
    ankles = pose[[i for i in (_J["r_ankle"], _J["l_ankle"]) if seen[i]]]
    if len(ankles) == 0:
        return
    centre = np.array([ankles[:, 0].mean(), ankles[:, 1].max() + 0.05 * height])
    half_axes = np.array([np.ptp(ankles[:, 0]) / 2 + 0.09 * height, 0.028 * height])
    sigma = max(1.0, 0.02 * height)
    x0, y0 = np.floor(centre - half_axes - 3 * sigma).astype(int)
    x1, y1 = np.ceil(centre + half_axes + 3 * sigma).astype(int)
    x0, y0 = max(x0, 0), max(y0, 0)
    x1, y1 = min(x1, image.shape[1]), min(y1, image.shape[0])
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), dtype=np.float32)
    axes = tuple(max(1, int(round(half * _ONE))) for half in half_axes)
    cv2.ellipse(mask, _fixed(centre - (x0, y0)), axes, 0, 0, 360, 1.0, -1, cv2.LINE_AA, _SHIFT)
    mask = cv2.GaussianBlur(mask, (0, 0), sigma)
    region = image[y0:y1, x0:x1]
    region[...] = np.rint(region * (1.0 - look.shadow_strength * mask[..., None])).astype(np.uint8)


def _shoe(image, pose, seen, height, look, side):
    """A shoe under the ankle, its toe turned 8 degrees away from the other foot."""
    ankle, other = _J[f"{side}_ankle"], _J[f"{'l' if side == 'r' else 'r'}_ankle"]
    if not seen[ankle]:
        return
    hips = _mean_of(pose, seen, ("r_hip", "l_hip"))
    middle = pose[other, 0] if seen[other] else (hips[0] if hips is not None else pose[ankle, 0])
    outward = math.copysign(1.0, pose[ankle, 0] - middle)
    toe = pose[ankle] + (outward * 0.02 * height, 0.045 * height)
    _ellipse(image, toe, (look.shoe_length * height / 2, look.shoe_height * height / 2), outward * 8.0, look.shoes)


def _shoulders(pose, seen):
    """Both shoulders, a missing one mirrored through the neck (OpenPose puts the neck midway
    between them), or None when that is not possible. Shape: ``(2, 2)`` pixels, right then left."""
    right, left, neck = _J["r_shoulder"], _J["l_shoulder"], _J["neck"]
    if seen[right] and seen[left]:
        return pose[[right, left]]
    if seen[neck] and (seen[right] or seen[left]):
        known = pose[right] if seen[right] else pose[left]
        mirrored = 2 * pose[neck] - known
        return np.stack([known, mirrored] if seen[right] else [mirrored, known])
    return None


def _torso(image, pose, seen, height, look):
    """The shirt, from the shoulders down to just over the hips, tapering at the waist.

    The outline is built in trunk coordinates (along the shoulder-to-hip axis, across it): each
    corner keeps its joint's position along the trunk (a raised shoulder raises its side) and
    lies a limb's half-width outside it across, never narrower than ``torso_width``. The shading
    strokes shrink the outline across the trunk only.
    """
    shoulders = _shoulders(pose, seen)
    if shoulders is None or not (seen[_J["r_hip"]] and seen[_J["l_hip"]]):
        return
    hips = pose[[_J["r_hip"], _J["l_hip"]]]
    top, bottom = shoulders.mean(axis=0), hips.mean(axis=0)
    along = _unit(bottom - top, fallback=(0.0, 1.0))
    across = np.array([-along[1], along[0]])
    arm = look.upper_arm_width * height / 2
    shoulder_half = max(abs((shoulders[0] - top) @ across) + arm, look.torso_width * height / 2)
    hip_half = max(abs((hips[0] - bottom) @ across) + 0.45 * look.thigh_width * height,
                   0.8 * look.torso_width * height / 2)
    waist_half = max(0.9 * hip_half, 0.82 * shoulder_half)
    hem = 0.03 * height
    sides = []
    for sign in (1.0, -1.0):
        s = shoulders[0] if ((shoulders[0] - top) @ across >= 0) == (sign > 0) else shoulders[1]
        h = hips[0] if ((hips[0] - bottom) @ across >= 0) == (sign > 0) else hips[1]
        s_along, h_along = (s - top) @ along, (h - top) @ along
        sides.append([  # (along, across) from ``top``, from the collar down to the hem
            (s_along - 1.1 * arm, sign * 0.3 * shoulder_half),
            (s_along - 0.7 * arm, sign * (shoulder_half - arm)),
            (s_along + 0.2 * arm, sign * shoulder_half),
            (s_along + 0.3 * (h_along - s_along), sign * 0.96 * shoulder_half),
            (s_along + 0.7 * (h_along - s_along), sign * waist_half),
            (h_along + hem, sign * hip_half),
        ])
    outline = np.array(sides[0] + sides[1][::-1])
    for fraction, brightness in _TORSO_TONES:
        points = top + np.outer(outline[:, 0], along) + np.outer(outline[:, 1] * fraction, across)
        cv2.fillPoly(image, [np.rint(points * _ONE).astype(np.int32)], _tone(look.shirt, brightness),
                     cv2.LINE_AA, _SHIFT)


def _arm(image, pose, seen, height, look, side):
    """One arm: the bare forearm and hand, then the sleeve over the upper arm down to the elbow."""
    shoulder, elbow, wrist = (_J[f"{side}_{name}"] for name in ("shoulder", "elbow", "wrist"))
    if seen[elbow] and seen[wrist]:
        hand = look.hand_size * height
        reach = pose[wrist] + 0.5 * hand * _unit(pose[wrist] - pose[elbow], fallback=(0.0, 1.0))
        _capsules(image, [(pose[elbow], pose[wrist], look.forearm_width * height), (pose[wrist], reach, hand)],
                  look.skin)
    if seen[shoulder] and seen[elbow]:
        _capsules(image, [(pose[shoulder], pose[elbow], look.upper_arm_width * height)], look.shirt)


def _head(image, pose, seen, height, look):
    """Neck, then the head: hair all round, the face and eyes when the nose is seen."""
    centre = _mean_of(pose, seen, ("r_eye", "l_eye", "r_ear", "l_ear"))
    nose = pose[_J["nose"]] if seen[_J["nose"]] else None
    if centre is None and nose is None:
        return
    shoulders = _shoulders(pose, seen)
    neck = pose[_J["neck"]] if seen[_J["neck"]] else (shoulders.mean(axis=0) if shoulders is not None else None)
    up = _unit((centre if centre is not None else nose) - neck) if neck is not None else np.array([0.0, -1.0])
    half_height, half_width = look.head_height * height / 2, look.head_width * height / 2
    if centre is None:
        centre = nose + 0.3 * half_height * up
    centre = centre + 0.12 * half_height * up
    if neck is not None:
        _capsules(image, [(neck, centre, look.neck_width * height)], look.skin)
    angle = math.degrees(math.atan2(up[1], up[0]))
    _ellipse(image, centre + 0.1 * half_height * up, (1.05 * half_height, 1.05 * half_width), angle,
             look.hair, _HEAD_TONES)
    if nose is None:
        return
    across = np.array([-up[1], up[0]])
    turn = float(np.clip((nose - centre) @ across, -0.5 * half_width, 0.5 * half_width))
    face = centre - 0.26 * half_height * up + 0.35 * turn * across
    _ellipse(image, face, (0.84 * half_height, 0.86 * half_width), angle, look.skin, _HEAD_TONES)
    eye_radius = max(1, int(round(0.011 * height * _ONE)))
    for eye in (_J["r_eye"], _J["l_eye"]):
        if seen[eye]:
            cv2.circle(image, _fixed(pose[eye]), eye_radius, _tone(look.hair, 0.6), -1, cv2.LINE_AA, _SHIFT)
    mouth = nose - 0.32 * half_height * up
    lips = (0.72 * look.skin[0], 0.62 * look.skin[1], 0.8 * look.skin[2])
    _capsules(image, [(mouth - 0.16 * half_width * across, mouth + 0.16 * half_width * across,
                       0.007 * height)], lips, tones=((1.0, 1.0),))
