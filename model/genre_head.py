"""The genre a clip's music code names, as a one-hot input for the pose generator.

``--genre_input`` (not the paper's). On songs it has not heard, the music encoder sets a clip's
mean code closer to the corpus's centre than on the songs it trained on (0.77 of the length, for
the shipped generator), and the decoder, which learned each genre's moves from the full-length
offsets, dances a vaguer genre. A linear classifier still reads the genre of every held-out clip
off that mean code (``probe_genre.py``). So the decoder is also told the genre as a one-hot,
whose size does not depend on how familiar the song is: in training the sidecar's genre of the
clip, at inference the genre that such a linear classifier reads off the clip's mean code.

The classifier is ridge regression onto one-hot genres over standardised codes, as the probe's,
solved from running moments of the training clips' mean codes and genres. The moments are
buffers (no parameters, no gradient), updated in train mode whenever labels come with the
batch, so they follow the encoder as it trains; a weight average of the generator averages
them too, which keeps them moments.
"""

import torch
import torch.nn.functional as F
from torch import nn


class GenreHead(nn.Module):
    """Running moments of the clip-mean music code x and one-hot genre y; ridge classifier.

    Buffers: ``mean`` E[x] ``(C,)``, ``second`` E[x x^T] ``(C, C)``, ``cross`` E[x y^T] ``(C, G)``,
    ``prior`` E[y] ``(G,)`` and ``updates`` (batches seen). Each moment moves towards the batch's
    by ``max(1 / updates, momentum)``: a plain mean at first, then a moving one.

    ``forward(music, labels=None)``: ``music`` ``(B, T, C)`` -> one-hot ``(B, T, G)`` in its dtype.
    With ``labels`` ``(B,)`` int64 the one-hot is theirs (and in train mode the moments take the
    batch in); without, the predicted genre's (:meth:`predict`).
    """

    def __init__(self, classes, dim, momentum=0.01, ridge=0.05):
        super().__init__()
        if classes < 2:
            raise ValueError(f"classes {classes!r}: a genre input needs at least 2 genres")
        self.classes = classes
        self.momentum = momentum
        self.ridge = ridge  # relative to the number of clips, as the probe's 10 over its 224 clips
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("second", torch.zeros(dim, dim))
        self.register_buffer("cross", torch.zeros(dim, classes))
        self.register_buffer("prior", torch.zeros(classes))
        self.register_buffer("updates", torch.zeros((), dtype=torch.int64))

    @torch.no_grad()
    def update(self, clip_code, labels):
        """Take the batch's clips ``(B, C)`` and their genres ``(B,)`` into the moments."""
        if labels.min() < 0 or labels.max() >= self.classes:
            raise ValueError(f"genre labels {labels.tolist()}: expected 0..{self.classes - 1}")
        x, y = clip_code.float(), F.one_hot(labels, self.classes).float()
        self.updates += 1
        rate = max(1.0 / float(self.updates), self.momentum)
        for moment, value in ((self.mean, x.mean(0)), (self.second, x.T @ x / len(x)),
                              (self.cross, x.T @ y / len(x)), (self.prior, y.mean(0))):
            moment += rate * (value - moment)

    @torch.no_grad()
    def predict(self, clip_code):
        """Genre index ``(B,)`` of each clip ``(B, C)``: argmax of the ridge regression onto
        one-hot genres over codes standardised by the running mean and spread."""
        if not bool(self.updates > 0):
            raise RuntimeError("the genre head was never trained: it has seen no labelled clip")
        std = (self.second.diagonal() - self.mean ** 2).clamp_min(1e-8).sqrt()
        covariance = (self.second - torch.outer(self.mean, self.mean)) / torch.outer(std, std)
        target = (self.cross - torch.outer(self.mean, self.prior)) / std[:, None]
        eye = torch.eye(len(std), device=std.device)
        weights = torch.linalg.solve(covariance + self.ridge * eye, target)
        scores = ((clip_code.float() - self.mean) / std) @ weights + self.prior / (1 + self.ridge)
        return scores.argmax(dim=-1)

    def forward(self, music, labels=None):
        clip_code = music.detach().float().mean(dim=1)
        if labels is None:
            labels = self.predict(clip_code)
        elif self.training:
            self.update(clip_code, labels)
        return F.one_hot(labels, self.classes).to(music.dtype)[:, None].expand(-1, music.shape[1], -1)
