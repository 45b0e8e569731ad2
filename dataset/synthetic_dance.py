"""Dance half of the synthetic corpus: a 2-D 18-joint body, beat-locked moves per genre, OpenPose-like noise.

The body is a small frontal-view puppet driven by ``len(PARAMS)`` pose parameters (hip shift,
knee drop, lean, head tilt/nod/turn, arm and elbow angles, foot positions). A move is a cycle
of key poses, one per beat; between beats the pose eases from one key to the next with a
half-cosine, ``(1 - cos(pi * beat_fraction)) / 2``, so every joint comes to rest exactly on
each beat and moves fastest half-way between beats. The local minima of the mean joint speed
(the kinematic beats) therefore sit on the musical beats, and the motion's period is one beat,
so it speeds up with the tempo.

Body coordinates are in units of standing height with y pointing up and the ankles at y = 0;
the dancer's scale and position map them to pixels on the 640x360 canvas (y down). Person's
right is image left, as for a dancer facing the camera.
"""

from dataclasses import dataclass

import numpy as np

from dataset.format import FPS
from dataset.skeleton import CANVAS_HEIGHT, CANVAS_WIDTH, JOINT_INDEX, JOINT_NAMES, NUM_JOINTS
from dataset.synthetic_music import BEATS_PER_BAR

PARAMS = (
    "shift",    # hip-centre shift to image right
    "drop",     # pelvis drop (knee bend); negative lifts the body (a hop)
    "lean",     # torso roll, radians, positive towards image right
    "tilt",     # head roll relative to the torso, radians
    "nod",      # 0 head up ... 1 chin down
    "yaw",      # head turn, -1 ... 1
    "r_arm",    # upper-arm angle from hanging (0) through sideways (pi/2) to overhead (pi)
    "r_elbow",  # forearm angle relative to the upper arm, positive bends it up/outwards
    "l_arm",
    "l_elbow",
    "r_foot",   # ankle moved outwards from the stance
    "r_lift",   # ankle lifted off the floor
    "l_foot",
    "l_lift",
)
_P = {name: i for i, name in enumerate(PARAMS)}
REST = dict(r_arm=0.15, l_arm=0.15, r_elbow=0.15, l_elbow=0.15)

# Body proportions, in units of standing height (ankle to crown).
_LEG = 0.53
_KNEE_ALONG_LEG = 0.46  # knee position from hip to ankle, as a fraction
_HIP_HALF_WIDTH = 0.09
_TORSO = 0.29
_SHOULDER_HALF_WIDTH = 0.13
_UPPER_ARM = 0.17
_FOREARM = 0.16
_NECK_TO_NOSE = 0.11
_REACH = _LEG + _TORSO + _UPPER_ARM + _FOREARM  # hands overhead: about 1.15

# Key-pose cycles, one key per beat; unspecified parameters take their REST value.
GENRE_MOVES = {
    "lofi": {
        "sway": (
            dict(shift=-0.04, lean=-0.07, tilt=-0.1, r_arm=0.4, r_elbow=0.7, l_arm=0.15, l_elbow=0.3),
            dict(shift=0.04, lean=0.07, tilt=0.1, r_arm=0.15, r_elbow=0.3, l_arm=0.4, l_elbow=0.7),
        ),
        "slow_wave": (
            dict(shift=-0.02, tilt=-0.08, r_arm=1.9, r_elbow=0.5),
            dict(r_arm=1.2, r_elbow=-0.4),
            dict(shift=0.02, tilt=0.08, l_arm=1.9, l_elbow=0.5),
            dict(l_arm=1.2, l_elbow=-0.4),
        ),
        "step_touch": (
            dict(shift=-0.05, lean=-0.04, r_foot=0.12, r_arm=0.45, l_arm=0.45, r_elbow=0.8, l_elbow=0.8),
            dict(drop=0.03, nod=0.5),
            dict(shift=0.05, lean=0.04, l_foot=0.12, r_arm=0.45, l_arm=0.45, r_elbow=0.8, l_elbow=0.8),
            dict(drop=0.03, nod=0.5),
        ),
    },
    "hiphop": {
        "bounce": (
            dict(drop=0.06, nod=1.0, r_arm=0.5, r_elbow=1.8, l_arm=0.5, l_elbow=1.8),
            dict(r_arm=0.6, r_elbow=1.3, l_arm=0.6, l_elbow=1.3),
        ),
        "arm_pump": (
            dict(drop=0.04, nod=0.6, r_arm=2.6, r_elbow=0.3, l_arm=0.3, l_elbow=1.6),
            dict(r_arm=1.4, r_elbow=1.5, l_arm=0.3, l_elbow=1.6),
        ),
        "rock_step": (
            dict(shift=-0.06, lean=-0.12, r_foot=0.12, r_arm=0.8, r_elbow=1.2, l_arm=0.2),
            dict(drop=0.05, nod=0.8),
            dict(shift=0.06, lean=0.12, l_foot=0.12, l_arm=0.8, l_elbow=1.2, r_arm=0.2),
            dict(drop=0.05, nod=0.8),
        ),
        "cross_open": (
            dict(drop=0.04, r_arm=0.6, r_elbow=-1.6, l_arm=0.6, l_elbow=-1.6),
            dict(r_arm=1.2, r_elbow=0.4, l_arm=1.2, l_elbow=0.4, yaw=0.4),
        ),
    },
    "house": {
        "running_man": (
            dict(drop=0.04, lean=-0.03, r_lift=0.14, r_foot=0.02, r_arm=0.9, r_elbow=1.6, l_arm=0.3, l_elbow=0.6),
            dict(drop=0.04, lean=0.03, l_lift=0.14, l_foot=0.02, l_arm=0.9, l_elbow=1.6, r_arm=0.3, r_elbow=0.6),
        ),
        "heel_toe": (
            dict(shift=-0.02, r_foot=0.14, l_foot=-0.04, r_arm=0.7, l_arm=0.7, r_elbow=0.9, l_elbow=0.9),
            dict(shift=0.02, r_foot=-0.04, l_foot=0.14, r_arm=0.5, l_arm=0.5, r_elbow=1.2, l_elbow=1.2),
        ),
        "arm_wave": (
            dict(lean=-0.05, r_arm=1.6, r_elbow=0.9, l_arm=1.6, l_elbow=-0.9),
            dict(lean=0.05, r_arm=1.6, r_elbow=-0.9, l_arm=1.6, l_elbow=0.9),
        ),
    },
    "techno": {
        "fist_pump": (
            dict(drop=0.03, r_arm=2.8, r_elbow=0.15, l_arm=0.3, l_elbow=1.9),
            dict(r_arm=2.0, r_elbow=1.3, l_arm=0.3, l_elbow=1.9),
        ),
        "pogo": (
            dict(drop=-0.05, r_lift=0.05, l_lift=0.05, r_arm=0.6, l_arm=0.6),
            dict(drop=0.05, nod=0.6, r_arm=0.25, l_arm=0.25),
        ),
        "robot": (
            dict(yaw=-0.8, r_arm=1.57, r_elbow=1.57, l_arm=0.2),
            dict(yaw=0.8, l_arm=1.57, l_elbow=1.57, r_arm=0.2),
            dict(yaw=-0.8, r_arm=1.57, r_elbow=-1.4, l_arm=0.2),
            dict(yaw=0.8, l_arm=1.57, l_elbow=-1.4, r_arm=0.2),
        ),
        "hands_up": (
            dict(lean=-0.05, r_arm=2.9, r_elbow=0.3, l_arm=2.9, l_elbow=0.3),
            dict(lean=0.05, drop=0.03, r_arm=2.5, r_elbow=0.9, l_arm=2.5, l_elbow=0.9),
        ),
    },
}

# OpenPose misses extremities and ears more often than the trunk (relative weights, mean 1 after scaling).
_MISS_WEIGHT = np.array([
    {"r_ear": 3.0, "l_ear": 3.0, "r_wrist": 2.0, "l_wrist": 2.0,
     "r_ankle": 1.5, "l_ankle": 1.5, "r_eye": 1.2, "l_eye": 1.2}.get(name, 1.0)
    for name in JOINT_NAMES
])
_MISS_WEIGHT /= _MISS_WEIGHT.mean()


def _key_array(key):
    """A key-pose dict -> parameter vector, shape ``(len(PARAMS),)``."""
    values = np.zeros(len(PARAMS))
    for name, value in {**REST, **key}.items():
        values[_P[name]] = value
    return values


_REST_ARRAY = _key_array({})
_MOVE_ARRAYS = {
    genre: tuple(np.stack([_key_array(key) for key in cycle]) for cycle in moves.values())
    for genre, moves in GENRE_MOVES.items()
}


@dataclass(frozen=True)
class Dancer:
    """One dancer: body size and place on the canvas, style, and the seed of their choices.

    ``scale`` is the standing height in pixels, ``center_x``/``ground_y`` the pixel position of
    the feet's midpoint; ``energy`` scales every move's amplitude; moves change every
    ``bars_per_move`` bars.
    """

    genre: str
    scale: float
    center_x: float
    ground_y: float
    stance: float
    energy: float
    bars_per_move: int
    seed: int


def sample_dancer(genre, rng):
    """Draw a dancer of ``genre`` (a key of ``GENRE_MOVES``) that always stays on the canvas."""
    scale = float(rng.uniform(170.0, 235.0))
    return Dancer(
        genre=genre,
        scale=round(scale, 2),
        center_x=round(float(rng.uniform(200.0, CANVAS_WIDTH - 200.0)), 2),
        # room above the head for raised hands and hops
        ground_y=round(float(rng.uniform(max(310.0, 1.25 * scale + 6.0), CANVAS_HEIGHT - 8.0)), 2),
        stance=round(float(rng.uniform(0.07, 0.12)), 3),
        energy=round(float(rng.uniform(0.8, 1.15)), 3),
        bars_per_move=int(rng.choice((2, 4))),
        seed=int(rng.integers(2**31)),
    )


def _key_pose(dancer, beat):
    """Parameter vector of the key pose the dancer hits on (absolute, >= 0) ``beat``."""
    moves = _MOVE_ARRAYS[dancer.genre]
    segment = beat // (BEATS_PER_BAR * dancer.bars_per_move)
    # every run of len(moves) segments shows each move once, in a random order
    order = np.random.default_rng([dancer.seed, 1, segment // len(moves)]).permutation(len(moves))
    cycle = moves[order[segment % len(moves)]]
    rng = np.random.default_rng([dancer.seed, 0, beat])
    amplitude = dancer.energy * (1.0 + 0.12 * rng.standard_normal())
    wobble = 1.0 + 0.05 * rng.standard_normal(len(PARAMS))
    return _REST_ARRAY + (cycle[beat % len(cycle)] - _REST_ARRAY) * amplitude * wobble


def dance_parameters(song, dancer, times):
    """Pose parameters at absolute song ``times`` (s), eased between per-beat key poses.

    Shape: ``(T,)`` -> ``(T, len(PARAMS))``. ``song`` supplies the beat grid
    (``first_beat``, ``beat_period``); times must not precede beat 0.
    """
    beats = (np.asarray(times, dtype=float) - song.first_beat) / song.beat_period
    index = np.floor(beats).astype(int)
    if index.min() < 0:
        raise ValueError(f"times before the song's first beat ({song.first_beat:.3f} s)")
    keys = {k: _key_pose(dancer, k) for k in range(index.min(), index.max() + 2)}
    start = np.stack([keys[k] for k in index])
    end = np.stack([keys[k + 1] for k in index])
    ease = (1.0 - np.cos(np.pi * (beats - index)))[:, None] / 2.0
    return start + (end - start) * ease


def _direction(angle, side):
    """Unit vectors ``(side*sin a, -cos a)``: angle 0 hangs down, pi/2 points outwards, pi up."""
    return np.stack([side * np.sin(angle), -np.cos(angle)], axis=-1)


def body_joints(params, stance=0.1):
    """Forward kinematics of the frontal puppet.

    Shape: ``(T, len(PARAMS))`` -> ``(T, 18, 2)`` in body units (y up, ankles at y = 0),
    joints in ``JOINT_NAMES`` order.
    """
    p = {name: params[:, i] for i, name in enumerate(PARAMS)}
    joints = np.zeros((len(params), NUM_JOINTS, 2))

    def put(name, xy):
        joints[:, JOINT_INDEX[name]] = xy

    def xy(x, y):
        return np.stack([x, y], axis=-1)

    pelvis = xy(p["shift"], _LEG - p["drop"])
    up = xy(np.sin(p["lean"]), np.cos(p["lean"]))
    across = xy(np.cos(p["lean"]), -np.sin(p["lean"]))  # towards image right
    neck = pelvis + _TORSO * up
    put("neck", neck)
    for side, prefix in ((-1.0, "r"), (1.0, "l")):
        shoulder = neck + side * _SHOULDER_HALF_WIDTH * across
        elbow = shoulder + _UPPER_ARM * _direction(p[f"{prefix}_arm"], side)
        wrist = elbow + _FOREARM * _direction(p[f"{prefix}_arm"] + p[f"{prefix}_elbow"], side)
        hip = pelvis + np.array([side * _HIP_HALF_WIDTH, 0.0])
        ankle = xy(side * (stance + p[f"{prefix}_foot"]), p[f"{prefix}_lift"])
        # a shortened hip-ankle distance shows as a knee pushed outwards
        reach = np.linalg.norm(hip - ankle, axis=-1)
        bend = np.sqrt(np.maximum(_LEG**2 - reach**2, 0.0)) / 2.0
        knee = hip + _KNEE_ALONG_LEG * (ankle - hip) + xy(side * 0.6 * bend, np.zeros_like(bend))
        for joint, value in (("shoulder", shoulder), ("elbow", elbow), ("wrist", wrist),
                             ("hip", hip), ("knee", knee), ("ankle", ankle)):
            put(f"{prefix}_{joint}", value)

    head_angle = p["lean"] + p["tilt"]
    head_up = xy(np.sin(head_angle), np.cos(head_angle))
    head_across = xy(np.cos(head_angle), -np.sin(head_angle))
    nod = p["nod"][:, None]
    turn = 0.03 * p["yaw"][:, None] * head_across
    nose = neck + _NECK_TO_NOSE * (1.0 - 0.25 * nod) * head_up + turn
    put("nose", nose)
    for side, prefix in ((-1.0, "r"), (1.0, "l")):
        put(f"{prefix}_eye", nose + 0.028 * side * head_across + (0.025 + 0.012 * nod) * head_up)
        put(f"{prefix}_ear", nose - turn + 0.065 * side * head_across + 0.02 * nod * head_up)
    return joints


def to_pixels(joints, dancer):
    """Body units (y up) -> canvas pixels (y down). Shape ``(..., 2)`` -> ``(..., 2)``."""
    x = dancer.center_x + dancer.scale * joints[..., 0]
    y = dancer.ground_y - dancer.scale * joints[..., 1]
    return np.stack([x, y], axis=-1)


def openpose_noise(pixels, rng, jitter_px=1.2, missing_fraction=0.01):
    """Add detector-like noise: Gaussian jitter and joints dropped to (0, 0).

    Shape: ``(T, 18, 2)`` -> ``(T, 18, 2)``. Each joint-frame is missing independently, with
    probability ``missing_fraction`` scaled per joint (ears and wrists more often than the
    trunk, mean over joints = ``missing_fraction``). Visible joints stay strictly inside the
    canvas so that none reads as missing.
    """
    noisy = pixels + rng.normal(0.0, jitter_px, size=pixels.shape)
    noisy[..., 0] = np.clip(noisy[..., 0], 1.0, CANVAS_WIDTH - 1.0)
    noisy[..., 1] = np.clip(noisy[..., 1], 1.0, CANVAS_HEIGHT - 1.0)
    missing = rng.random(pixels.shape[:2]) < np.minimum(missing_fraction * _MISS_WEIGHT, 1.0)
    noisy[missing] = 0.0
    return noisy


def synthesize_dance(song, dancer, start_second, num_frames, missing_fraction=0.01, jitter_px=1.2):
    """The dancer's OpenPose-like track for ``num_frames`` frames from ``start_second`` (10 fps).

    Frame ``i`` shows the pose at song time ``start_second + i / FPS``. Returns pixel
    coordinates, shape ``(num_frames, 18, 2)`` float64, rounded to 0.01 px; missing joints are
    (0, 0). Deterministic for its arguments.
    """
    times = start_second + np.arange(num_frames) / FPS
    clean = to_pixels(body_joints(dance_parameters(song, dancer, times), dancer.stance), dancer)
    rng = np.random.default_rng([dancer.seed, 2, int(round(start_second * 1000))])
    return np.round(openpose_noise(clean, rng, jitter_px, missing_fraction), 2)

