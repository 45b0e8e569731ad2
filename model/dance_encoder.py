"""The choice of moves as a latent: an encoder of the true dance, for ``--latent`` (not the paper's).

Music does not say which of its genre's moves a dancer makes, nor in which order, so with an L1
term a generator that hears only music and noise learns the average of the moves: a small sway
that ignores its noise. Following BicycleGAN's cVAE-GAN and cLR-GAN (Zhu et al., 2017), each
training clip gets a latent ``z`` of ``L`` numbers:

* in the reconstruction terms (L1, pose perceptual, speed profile) the generator dances the clip
  from ``z ~ q(z | true dance)``, drawn from this encoder's Gaussian, so the latent must carry
  what the music leaves open for the generator to match the dancer;
* a KL term pulls ``q`` towards the prior N(0, I), so that at inference a ``z`` drawn from the
  prior makes some dancer's choice;
* in the adversarial terms the generator dances from a prior ``z``, and the encoder must find that
  ``z`` again in the dance it made (latent regression), so that different draws give different
  dances.

At inference only the prior is used: the encoder is not needed to dance, and is kept in the
generator's checkpoint for the upper-bound measure (dancing a clip from its true dance's latent).
"""

import torch
from torch import nn

from dataset.skeleton import POSE_DIM

WIDTH = 128


class DanceEncoder(nn.Module):
    """A clip's dance -> the mean and log-variance of its latent's Gaussian.

    Three 1-D convolutions over time (kernel 5; the last two stride 2), LeakyReLU, the mean over
    time, and a linear layer to ``2 * latent_dim`` numbers. 189,328 parameters for ``latent_dim`` 8.

    Shape:
        poses: ``(B, T, 36)`` flat normalised poses, any ``T >= 1``.
        output: ``(mean, log_variance)``, each ``(B, latent_dim)``.
    """

    def __init__(self, latent_dim, pose_dim=POSE_DIM, width=WIDTH):
        super().__init__()
        if latent_dim < 1:
            raise ValueError(f"latent_dim {latent_dim!r}: expected 1 or more")
        self.latent_dim = latent_dim
        self.convs = nn.Sequential(
            nn.Conv1d(pose_dim, width, 5, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.LeakyReLU(0.2),
            nn.Conv1d(width, width, 5, stride=2, padding=2), nn.LeakyReLU(0.2))
        self.head = nn.Linear(width, 2 * latent_dim)

    def forward(self, poses):
        pooled = self.convs(poses.transpose(1, 2)).mean(dim=-1)
        mean, log_variance = self.head(pooled).chunk(2, dim=-1)
        return mean, log_variance.clamp(-10.0, 10.0)


def draw_posterior(mean, log_variance):
    """A reparameterised draw ``mean + exp(log_variance / 2) * eps``: ``(B, L)`` -> ``(B, L)``."""
    return mean + torch.randn_like(mean) * (0.5 * log_variance).exp()


def kl_to_prior(mean, log_variance):
    """``KL(N(mean, exp(log_variance)) || N(0, I))`` summed over the latent, averaged over the batch.

    Shape: ``(B, L)``, ``(B, L)`` -> scalar (nats per clip).
    """
    return 0.5 * (mean.pow(2) + log_variance.exp() - 1.0 - log_variance).sum(dim=-1).mean()
