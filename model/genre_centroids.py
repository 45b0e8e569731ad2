"""The genre a clip's music code points to, as a one-hot input for the pose generator.

``--genre_input`` (not the paper's). On songs it has not heard, the music encoder sets a clip's
mean code closer to the corpus's centre than on the songs it trained on (0.77 of the length, for
the shipped generator), and the decoder, which learned each genre's moves from the full-length
offsets, dances a vaguer genre. The offset's direction still names the genre of every held-out
clip (``probe_genre.py``). So the decoder is also told the genre as a one-hot, whose size does
not depend on how familiar the song is: in training the sidecar's genre of the clip, at
inference the genre whose centroid lies in the direction of the clip's offset.

The centroids are running means of the training clips' mean codes per genre, kept as buffers
(no parameters, no gradient), updated in train mode whenever labels come with the batch.
"""

import torch
import torch.nn.functional as F
from torch import nn


class GenreCentroids(nn.Module):
    """Per-genre running mean of the clip-mean music code; a clip's genre is the nearest in angle.

    Buffers: ``centroids`` ``(G, C)`` and ``counts`` ``(G,)`` (batches seen per genre). A centroid
    moves towards each batch's mean for its genre by ``max(1 / counts, momentum)``: a plain mean at
    first, then a moving one that follows the encoder as it trains.

    ``forward(music, labels=None)``: ``music`` ``(B, T, C)`` -> one-hot ``(B, T, G)`` in its dtype.
    With ``labels`` ``(B,)`` int64 (train mode: the centroids are updated) the one-hot is theirs;
    without, the predicted genre's (:meth:`predict`).
    """

    def __init__(self, classes, dim, momentum=0.01):
        super().__init__()
        if classes < 2:
            raise ValueError(f"classes {classes!r}: a genre input needs at least 2 genres")
        self.classes = classes
        self.momentum = momentum
        self.register_buffer("centroids", torch.zeros(classes, dim))
        self.register_buffer("counts", torch.zeros(classes, dtype=torch.int64))

    @torch.no_grad()
    def update(self, clip_code, labels):
        """Move each genre's centroid towards the mean of its clips in ``clip_code`` ``(B, C)``."""
        for genre in labels.unique().tolist():
            if not 0 <= genre < self.classes:
                raise ValueError(f"genre label {genre}: expected 0..{self.classes - 1}")
            self.counts[genre] += 1
            rate = max(1.0 / float(self.counts[genre]), self.momentum)
            target = clip_code[labels == genre].mean(dim=0)
            self.centroids[genre] += rate * (target - self.centroids[genre])

    @torch.no_grad()
    def predict(self, clip_code):
        """Genre index ``(B,)`` of each clip ``(B, C)``: the centroid whose offset from the
        centroids' mean is closest in angle to the clip's offset from it."""
        if not bool((self.counts > 0).all()):
            missing = (self.counts == 0).nonzero().flatten().tolist()
            raise RuntimeError(f"genre centroids {missing} were never trained: the generator has "
                               "not seen every genre")
        centre = self.centroids.mean(dim=0)
        similarity = F.normalize(clip_code - centre, dim=-1) @ F.normalize(self.centroids - centre, dim=-1).T
        return similarity.argmax(dim=-1)

    def forward(self, music, labels=None):
        clip_code = music.detach().float().mean(dim=1)
        if labels is None:
            labels = self.predict(clip_code)
        elif self.training:
            self.update(clip_code, labels)
        return F.one_hot(labels, self.classes).to(music.dtype)[:, None].expand(-1, music.shape[1], -1)
