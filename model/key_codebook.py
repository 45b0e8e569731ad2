"""A codebook of the dancers' key poses: the choices of ``--latent_kind beat --key_codebook``.

Section 39's choice on every beat learned what its ``L`` choices mean through the decoder: a key
took the choice whose held dance came nearest, so a choice was only as distinct as the decoder's
dance of it, and the decoder drew small moves even when given each key's nearest choice. Here the
choices are fixed before training, from the data: the training dances' poses on the beat (frames
whose eased pose holds at least :data:`ON_BEAT` of one key, :func:`model.beat_choice.key_weights`),
taken relative to the neck and clustered by k-means, ``L`` per genre. A training key takes the key
pose nearest the true dance around its beat (:func:`key_pose_errors`, then
:func:`model.beat_choice.nearest_choices`), so each choice stands for one pose that the decoder
learns to draw, and the trigram prior learns the order the dancers put them in. Nothing here is
needed at inference, where the prior draws the choices; the codebook is kept in the generator
(buffer ``key_poses``) so that a run resumes with it.
"""

import torch

from dataset.skeleton import denormalize, missing_mask
from .beat_choice import beat_intervals, key_count, key_weights
from .losses import neck_relative

ON_BEAT = 0.8  # a frame counts as on a beat when its eased pose holds this much of one key
ROUNDS = 50  # Lloyd iterations


def on_beat_frames(rhythm):
    """Which frames are on a beat: their eased pose holds at least :data:`ON_BEAT` of one key.

    Shape: ``(N, T, 8)`` rhythm features -> ``(N, T)`` bool.
    """
    intervals, phase = beat_intervals(rhythm)
    return key_weights(intervals, phase, key_count(intervals)).max(dim=-1).values >= ON_BEAT


def kmeans(points, count, seed=0, rounds=ROUNDS):
    """``count`` centres of ``points`` by Lloyd's algorithm from k-means++ seeds (drawn from a
    generator seeded with ``seed``); a centre that loses all its points keeps its place.

    Shape: ``(M, D)`` with ``M >= count`` -> ``(count, D)``.
    """
    if len(points) < count:
        raise ValueError(f"{len(points)} points cannot seed {count} centres")
    draw = torch.Generator().manual_seed(seed)
    points = points.double()
    centres = points[torch.randint(len(points), (1,), generator=draw)]
    while len(centres) < count:
        spread = torch.cdist(points, centres).min(dim=1).values ** 2
        weights = spread if spread.sum() > 0 else torch.ones_like(spread)
        centres = torch.cat([centres, points[torch.multinomial(weights, 1, generator=draw)]])
    for _ in range(rounds):
        nearest = torch.cdist(points, centres).argmin(dim=1)
        sums = torch.zeros_like(centres).index_add_(0, nearest, points)
        sizes = torch.bincount(nearest, minlength=count)
        moved = torch.where(sizes[:, None] > 0, sums / sizes.clamp_min(1)[:, None], centres)
        if torch.equal(moved, centres):
            break
        centres = moved
    return centres.float()


def all_joints_seen(poses):
    """Which frames show every joint: none stored as missing (:func:`dataset.skeleton.missing_mask`).

    Shape: ``(N, T, 36)`` normalised -> ``(N, T)`` bool.
    """
    joints = denormalize(poses.detach().cpu().reshape(*poses.shape[:-1], -1, 2))
    return ~torch.as_tensor(missing_mask(joints)).any(dim=-1).to(poses.device)


def fit_key_poses(poses, rhythm, count, groups=None, group_count=1, seed=0):
    """The codebook: ``count`` key poses per group (genre), k-means of the neck-relative poses of
    the group's frames on a beat (:func:`on_beat_frames`) that show every joint. A frame with a
    joint missing would sit far from every pose, relative to the neck, and k-means++ seeds its
    centres on exactly such outliers (on the built-in corpus without ``--fill_missing``, a
    codebook's random key poses then moved the wrists 5.3x as far as the dancers').

    Shape: ``poses`` ``(N, T, 36)`` normalised, ``rhythm`` ``(N, T, 8)``, ``groups`` ``(N,)``
    int64 in [0, ``group_count``) or None (one group) -> ``(group_count, count, 36)`` float32.

    Raises ValueError naming a group with fewer such frames than ``count``.
    """
    groups = torch.zeros(len(poses), dtype=torch.long) if groups is None else torch.as_tensor(groups)
    poses = torch.as_tensor(poses).float()
    moves = neck_relative(poses)
    on_beat = on_beat_frames(torch.as_tensor(rhythm)) & all_joints_seen(poses)
    codebook = []
    for group in range(group_count):
        points = moves[on_beat & (groups == group)[:, None]]
        if len(points) < count:
            raise ValueError(f"genre {group}: {len(points)} training frames on a beat with every joint "
                             f"seen, fewer than the {count} key poses to find")
        codebook.append(kmeans(points, count, seed=seed + group))
    return torch.stack(codebook)


def key_pose_errors(key_poses, real, groups=None):
    """The distance (mean L1 of the joints relative to the neck) of each frame of ``real`` to
    each key pose of its clip's group, as :func:`model.gan.held_choice_errors` measures a held
    choice's dance.

    Shape: ``key_poses`` ``(G, L, 36)``, ``real`` ``(B, T, 36)``, ``groups`` ``(B,)`` int64 or
    None (group 0) -> ``(B, T, L)``.
    """
    groups = torch.zeros(len(real), dtype=torch.long, device=real.device) if groups is None else groups
    table = key_poses[groups].to(real.device, torch.float32)
    return (neck_relative(real.float())[:, :, None] - table[:, None]).abs().mean(dim=-1)
