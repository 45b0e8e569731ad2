"""The paper's four networks, their losses and release-checkpoint compatibility.

Shapes are batch first throughout: audio ``(B, T, 1600)`` raw int16-range samples, poses
``(B, T, 36)`` flat (x, y per joint, joint-major) normalised to [-1, 1].
"""

import torch

from .generator import Generator
from .local_discriminator import LocalDiscriminator
from .losses import (PERCEPTUAL_WEIGHTS, feature_matching_loss, gradient_penalty,
                     pose_perceptual_loss)
from .music_encoder import MusicEncoder
from .pose_generator import PoseGenerator
from .sequence_discriminator import SequenceDiscriminator
from .st_gcn import STGCN


def count_parameters(module):
    """Number of parameters (trainable or not) of ``module``."""
    return sum(p.numel() for p in module.parameters())


def parameter_counts():
    """Parameter count of every network with its default configuration, by name."""
    with torch.device("meta"):  # shapes only: nothing is allocated or initialised
        generator = Generator()
        return {
            "generator": count_parameters(generator),
            "music_encoder": count_parameters(generator.audio_encoder),
            "pose_generator": count_parameters(generator.pose_generator),
            "local_discriminator": count_parameters(LocalDiscriminator()),
            "sequence_discriminator": count_parameters(SequenceDiscriminator()),
            "st_gcn": count_parameters(STGCN()),
        }


__all__ = [
    "Generator", "MusicEncoder", "PoseGenerator", "LocalDiscriminator", "SequenceDiscriminator",
    "STGCN", "PERCEPTUAL_WEIGHTS", "pose_perceptual_loss", "feature_matching_loss",
    "gradient_penalty", "count_parameters", "parameter_counts",
]
