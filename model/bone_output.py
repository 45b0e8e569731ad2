"""Poses laid out bone by bone, so that a skeleton cannot come apart (``--pose_output bones``).

The paper's generator ends in ``Linear 1024 -> 36`` and tanh: every joint's position on its
own. Trained where the decoder cannot tell some dances apart, the L1 and perceptual terms pull
each joint towards its own average, and the skeleton comes apart (docs/experiments.md, section
23). This output layer instead gives, per frame, the neck's position and each bone's direction
and length; the joints are laid out from the neck along :data:`dataset.skeleton.BONES` (every
parent before its children). A length is a fraction between 0.7 and 1.1 of the dancers' median
length of that bone, which keeps 2-D foreshortening: rebuilt so, the held-out true dances move
0.9 px on average and score FID 0.03.
"""

import torch
from torch import nn

from dataset.skeleton import BONES, CANVAS_HEIGHT, CANVAS_WIDTH, CENTER_JOINT, NUM_JOINTS

SHORTEST, LONGEST = 0.7, 1.1  # a bone's length, as a fraction of the dancers' median


class BoneOutput(nn.Module):
    """``Linear width -> 2 + 3 * 17``: the neck (tanh, normalised coordinates), 17 direction
    vectors (unit length after the layer) and 17 length fractions (sigmoid into
    ``[SHORTEST, LONGEST]``), laid out into joints in pixels and returned normalised.

    Buffer ``length`` ``(17,)``: the dancers' median bone lengths in pixels
    (:func:`metrics.evaluation.bone_lengths`), set once with :meth:`set_lengths` before training;
    a checkpoint keeps it. Its layer has 53 * (width + 1) parameters, 17 * (width + 1) more than
    the paper's (17,425 at width 1024). The arithmetic is float32 whatever the input's dtype.

    Shape: ``(N, width)`` -> ``(N, 36)`` flat poses in normalised coordinates (not clamped to
    (-1, 1): a limb may reach past the canvas edge).
    """

    def __init__(self, width):
        super().__init__()
        self.linear = nn.Linear(width, 2 + 3 * len(BONES))
        self.register_buffer("length", torch.zeros(len(BONES)))

    @torch.no_grad()
    def set_lengths(self, lengths):
        """Set the dancers' median bone lengths, ``(17,)`` pixels, all positive."""
        lengths = torch.as_tensor(lengths, dtype=torch.float32)
        if lengths.shape != self.length.shape or not bool((lengths > 0).all()):
            raise ValueError(f"bone lengths must be {len(BONES)} positive pixel lengths, got "
                             f"{lengths.tolist()}")
        self.length.copy_(lengths)

    def preactivations(self, poses):
        """What :attr:`linear` must emit for :meth:`forward` to lay out ``poses``: the inverse
        of the activations (bone lengths outside the bounds are clipped just inside them, and a
        neck on the canvas edge just inside it). Used to fit the layer to a trained joint output.

        Shape: ``poses`` ``(N, 18, 2)`` pixels -> ``(N, 53)``: the neck's atanh, 17 unit
        directions, 17 length-fraction logits.
        """
        poses = torch.as_tensor(poses)
        length = self.length.to(poses.dtype)
        half = poses.new_tensor([CANVAS_WIDTH / 2, CANVAS_HEIGHT / 2])
        neck = torch.atanh((poses[:, CENTER_JOINT] / half - 1).clamp(-0.999, 0.999))
        bone = torch.stack([poses[:, child] - poses[:, parent] for parent, child in BONES], dim=1)
        norm = bone.norm(dim=-1)
        fraction = ((norm / length - SHORTEST) / (LONGEST - SHORTEST)).clamp(0.02, 0.98)
        direction = bone / norm[..., None].clamp_min(1e-3)
        return torch.cat([neck, direction.flatten(1), torch.logit(fraction)], dim=1)

    def forward(self, x):
        out = self.linear(x).float()
        bones = len(BONES)
        half = out.new_tensor([CANVAS_WIDTH / 2, CANVAS_HEIGHT / 2])
        direction = out[:, 2:2 + 2 * bones].reshape(-1, bones, 2)
        direction = direction / direction.norm(dim=-1, keepdim=True).clamp_min(1e-6)
        fraction = SHORTEST + (LONGEST - SHORTEST) * out[:, 2 + 2 * bones:].sigmoid()
        bone = direction * (fraction * self.length)[..., None]  # (N, 17, 2) pixels
        joints = [None] * NUM_JOINTS
        joints[CENTER_JOINT] = (out[:, :2].tanh() + 1) * half
        for k, (parent, child) in enumerate(BONES):
            joints[child] = joints[parent] + bone[:, k]
        return (torch.stack(joints, dim=1) / half - 1).flatten(1).to(x.dtype)
