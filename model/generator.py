"""The generator: raw music -> dance poses (music encoder + pose generator).

``Generator().state_dict()`` has exactly the keys of the original release's
``generator_XXXX.pth`` files (``audio_encoder.*``, ``pose_generator.*``). 8,982,664 parameters.
"""

import torch
import torch.nn.functional as F
from torch import nn

from dataset.format import NOISE_DIM, NOISE_STD
from dataset.rhythm import FEATURES
from dataset.rhythm_cache import SOURCES

from .audio_gaps import cut_gaps
from .genre_head import GenreHead
from .music_code import cap_frame_norm, hold_clip_mean
from .music_encoder import CODE_DIM, MusicEncoder
from .pose_generator import PoseGenerator


def prior_latent(noise, latent_dim):
    """The choice a clip is danced from at inference, read off its noise's first frame: the
    one-hot of the largest of its first ``latent_dim`` numbers, so each of the ``latent_dim``
    choices is equally likely. Reading it off the noise keeps one seeded source of randomness: the
    same seed gives the same choice everywhere, and each window of a song takes the choice at its
    own first frame.

    Shape: ``(B, T, 10)`` -> ``(B, latent_dim)``.
    """
    return F.one_hot(noise[:, 0, :latent_dim].argmax(dim=-1), latent_dim).to(noise.dtype)


class Generator(nn.Module):
    """Music-to-dance generator.

    ``forward(audio, noise=None)``: without ``noise``, draws N(0, 0.33) noise on the audio's
    device (from the global torch RNG), as the original did inside its forward.

    Shape:
        audio: ``(B, T, 1600)`` raw int16-range float audio, batch first.
        noise: ``(B, T, 10)`` or None.
        output: ``(B, T, 36)`` flat poses in (-1, 1), normalised coordinates.

    ``edge_pad``: see :class:`MusicEncoder` (0, the paper's, by default). It adds no parameters.
    ``rhythm``: None (the paper's), or where the generator's rhythm features come from
    (``"librosa"`` or ``"truth"``, :mod:`dataset.rhythm_cache`): then ``forward`` also takes
    ``rhythm`` ``(B, T, 8)``, :data:`dataset.rhythm.FEATURES` per frame, fed to the pose
    generator beside the music code (8,192 more parameters).
    ``decoder_dropout``: the dropout before the pose generator's output layer (0.5, the paper's;
    only active in training, so a checkpoint does not record it).
    ``audio_gaps``: in training only, up to this many quiet gaps are cut into each clip's music
    before it is encoded (:func:`model.audio_gaps.cut_gaps`); 0, the paper's, cuts none and draws
    no random numbers. Not recorded in a checkpoint.
    ``code_cap``: None (the paper's), or the largest norm a frame's music code may have before it
    is decoded, in training and inference (:func:`model.music_code.cap_frame_norm`).
    ``code_hold``: every frame is decoded from its clip's mean music code
    (:func:`model.music_code.hold_clip_mean`), in training and inference, so the beat reaches the
    pose generator only through ``rhythm``, which it needs. No parameters; off, the paper's.
    ``pose_output``: ``"joints"`` (the paper's) or ``"bones"``: the pose generator lays each
    frame out bone by bone from the neck (:class:`model.bone_output.BoneOutput`; 17,425 more
    parameters and 17 buffer values, the dancers' bone lengths, which are set before training).
    ``genres``: 0 (the paper's), or the number G of genres of ``--genre_input``: the pose generator
    also hears a one-hot genre per frame (:class:`model.genre_head.GenreHead`, under ``genre``;
    1024 * G more parameters, and the head's running moments, 256 * (257 + G) + G + 1 buffer
    values): ``forward`` and ``decode`` take ``genre`` ``(B,)`` genre indices in training, and
    predict them from the music code without.
    ``genre_gain``: None (1), or a factor on that one-hot: a gain above 1 makes the decoder dance
    the genre more distinctly than it learned to (set on export, ``model.export --genre_gain``,
    and chosen on validation videos; training never sets it). Needs ``genres``.
    ``latent_dim``: 0 (the paper's), or the number L (2 to 10) of learned choices of moves
    (``--latent``): a per-clip latent, the one-hot of one choice, that the pose generator hears
    on every frame (1024 * L more parameters). In training each clip is reconstructed from the
    choice that dances it best (multiple-choice learning, :func:`model.gan.dance_with_latents`).
    ``forward`` and ``decode`` take ``latent`` ``(B, L)``; without it, the choice read off the
    noise (:func:`prior_latent`).
    ``max_bpm``: None, or the fastest tempo of the training music: a song faster than this is
    danced at half time (:func:`model.inference.song_rhythm`). Not used by ``forward``.
    ``audio_level``: the :func:`dataset.audio_level.peak_level` of the music it was trained on,
    or None (release checkpoints). Not used by ``forward``: a song is brought to this level
    before it is danced (:func:`model.inference.dance`), since the encoder hears level.
    """

    noise_dim = NOISE_DIM

    def __init__(self, edge_pad=0, rhythm=None, decoder_dropout=0.5, audio_level=None, code_cap=None,
                 code_hold=False, genres=0, pose_output="joints", genre_gain=None,
                 latent_dim=0, max_bpm=None, audio_gaps=0):
        super().__init__()
        if rhythm not in (None, *SOURCES):
            raise ValueError(f"rhythm {rhythm!r}: expected None or one of {SOURCES}")
        if audio_level is not None and not audio_level > 0:
            raise ValueError(f"audio_level {audio_level!r}: expected None or a positive level")
        if audio_gaps < 0:
            raise ValueError(f"audio_gaps {audio_gaps!r}: expected 0 or more")
        self.edge_pad = edge_pad
        if code_cap is not None and not code_cap > 0:
            raise ValueError(f"code_cap {code_cap!r}: expected None or a positive norm")
        if code_hold and not rhythm:
            raise ValueError("code_hold decodes every frame from the clip's mean code, so only the "
                             "rhythm features say when to move: give rhythm too")
        if genre_gain is not None and not (genres and genre_gain > 0):
            raise ValueError(f"genre_gain {genre_gain!r}: expected None, or a positive factor on "
                             f"the genre one-hot of a generator with genres")
        if latent_dim == 1 or not 0 <= latent_dim <= NOISE_DIM:
            raise ValueError(f"latent_dim {latent_dim!r}: expected 0, or 2 to {NOISE_DIM} choices read off "
                             f"the noise (one choice is no choice)")
        if max_bpm is not None and not max_bpm > 0:
            raise ValueError(f"max_bpm {max_bpm!r}: expected None or a positive tempo")
        self.max_bpm = max_bpm
        self.latent_dim = latent_dim
        self.genre_gain = genre_gain
        self.code_hold = bool(code_hold)
        self.audio_gaps = audio_gaps
        self.code_cap = code_cap
        self.audio_level = audio_level
        self.rhythm = rhythm
        self.rhythm_dim = len(FEATURES) if rhythm else 0
        self.audio_encoder = MusicEncoder(edge_pad=edge_pad)
        self.genres = genres
        if genres:
            self.genre = GenreHead(genres, CODE_DIM)
        self.pose_generator = PoseGenerator(noise_dim=NOISE_DIM,
                                            rhythm_dim=self.rhythm_dim + genres + latent_dim,
                                            dropout=decoder_dropout,
                                            output=pose_output)

    def sample_noise(self, audio):
        """N(0, 0.33) noise for ``audio``: ``(B, T, 1600)`` -> ``(B, T, 10)``."""
        batch, frames, _ = audio.shape
        return torch.randn(batch, frames, self.noise_dim, device=audio.device,
                           dtype=audio.dtype) * NOISE_STD

    def forward(self, audio, noise=None, rhythm=None, genre=None, latent=None):
        if noise is None:
            noise = self.sample_noise(audio)
        return self.decode(self.encode(audio), noise, rhythm, genre, latent)

    def encode(self, audio):
        """The music code, with ``audio_gaps`` cut into the music first in training.

        Shape: ``(B, T, 1600)`` raw int16-range -> ``(B, T, 256)``.
        """
        if self.training and self.audio_gaps:
            audio = cut_gaps(audio, self.audio_gaps)
        return self.audio_encoder(audio)

    def decode(self, music, noise, rhythm=None, genre=None, latent=None):
        """Poses from the music code: ``forward`` after the music encoder (for probes that
        change the code).

        Shape: ``music`` ``(B, T, 256)``, ``noise`` ``(B, T, 10)``, ``rhythm`` ``(B, T, 8)`` or
        None, ``genre`` ``(B,)`` int64 or None, ``latent`` ``(B, L)`` or None -> ``(B, T, 36)``.
        """
        if noise.shape != (*music.shape[:2], self.noise_dim):
            raise ValueError(f"noise must have shape {(*music.shape[:2], self.noise_dim)}, got "
                             f"{tuple(noise.shape)}")
        if self.rhythm_dim and (rhythm is None or rhythm.shape != (*music.shape[:2], self.rhythm_dim)):
            raise ValueError(f"this generator hears rhythm features: rhythm must have shape "
                             f"{(*music.shape[:2], self.rhythm_dim)}, got "
                             f"{None if rhythm is None else tuple(rhythm.shape)}")
        if self.genres:
            heard = self.genre(music, genre)
            if self.genre_gain:
                heard = heard * self.genre_gain
            rhythm = heard if rhythm is None else torch.cat([rhythm, heard.to(rhythm.dtype)], dim=-1)
        elif genre is not None:
            raise ValueError("this generator was built without genres (genre_input): genre must be None")
        if self.latent_dim:
            latent = prior_latent(noise, self.latent_dim) if latent is None else latent
            if latent.shape != (len(music), self.latent_dim):
                raise ValueError(f"latent must have shape {(len(music), self.latent_dim)}, got "
                                 f"{tuple(latent.shape)}")
            every_frame = latent[:, None].expand(-1, music.shape[1], -1)
            rhythm = every_frame if rhythm is None else torch.cat([rhythm, every_frame.to(rhythm.dtype)], -1)
        elif latent is not None:
            raise ValueError("this generator was built without a latent (--latent): latent must be None")
        if self.code_hold:
            music = hold_clip_mean(music)
        if self.code_cap:
            music = cap_frame_norm(music, self.code_cap)
        return self.pose_generator(music, noise, rhythm)
