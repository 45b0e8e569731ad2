"""A small music-dance embedding: two temporal conv towers mapping music and dance into one space.

It scores how well a dance belongs to a piece of music (the cross-modal score of ``evaluate.py``)
and is trained contrastively (InfoNCE) on true (music, dance) pairs: symmetric InfoNCE over
batches of true pairs, every other pair in the batch a negative (including other clips of the
same song at another beat phase), each step on a random 40-frame window (4 s) of every 5 s
sample, the same window for music and dance; about 30 s on two CPU cores for the default
synthetic corpus (:func:`train_and_save`, ``train_embedding.py``). ``evaluate.py`` calls
:func:`load_or_train`: it reuses the file when it was trained on the same dataset file (path,
size, modification time), split rule and seed, and trains it otherwise.

- Music branch: per pose frame (0.1 s), 32 log-mel bands averaged over the frame and the
  spectral flux (onset strength) at each of its ten 10 ms hops -> ``(B, T, 42)``.
- Dance branch: per frame, joint positions relative to the clip's mean joint position, joint
  velocities and joint speeds -> ``(B, T, 90)``; a missing joint (normalised (-1, -1)) gives 0.
- Each tower: input BatchNorm, a 5-tap conv, three dilated residual convs (receptive field
  ~2.3 s), a 1x1 projection to ``dim`` channels per frame.

The embedding of a clip is its whole ``(T, dim)`` sequence, flattened and L2-normalised, so the
cosine similarity of music and dance compares them frame by frame: it sees the timing (which
beat a movement lands on), not only tempo and style. Music and dance must have the same T.
"""

import functools
import logging
import os
import time

import librosa
import torch
import torch.nn.functional as F
from torch import nn

from dataset.dance_dataset import DanceDataset
from dataset.format import SAMPLE_RATE, SAMPLES_PER_FRAME
from dataset.librosa_warm_up import warm_up
from dataset.skeleton import NUM_JOINTS

from . import checkpoint

N_FFT = 512
HOP = 160  # 10 ms at 16 kHz: ten hops per pose frame
N_MELS = 32
HOPS_PER_FRAME = SAMPLES_PER_FRAME // HOP
MUSIC_FEATURES = N_MELS + HOPS_PER_FRAME  # 42
DANCE_FEATURES = 5 * NUM_JOINTS  # 90: positions (36), velocities (36), speeds (18)
MISSING_TOL = 1e-4  # a normalised coordinate this close to -1 in x and y is a missing joint

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=None)
def _mel_basis():
    """Mel filterbank ``(N_MELS, N_FFT // 2 + 1)`` as a CPU float32 tensor."""
    warm_up()  # librosa.filters imports librosa.util, whose numba code compiles on import
    return torch.from_numpy(librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)).float()


def music_features(audio):
    """Per-frame music features: frame-mean log-mel bands and per-hop spectral flux.

    The audio is scaled to peak 1 per clip first (raw int16-range input; loudness does not
    matter). Spectral flux is the mean over bands of the positive log-mel increase from one
    10 ms hop to the next.

    Shape: ``(B, T, 1600)`` raw audio -> ``(B, T, 42)`` float32 (32 log-mel, 10 flux values).
    """
    batch, frames, width = audio.shape
    if width != SAMPLES_PER_FRAME:
        raise ValueError(f"audio: expected (B, T, {SAMPLES_PER_FRAME}), got {tuple(audio.shape)}")
    wave = audio.reshape(batch, frames * width).float()
    wave = wave / wave.abs().amax(dim=1, keepdim=True).clamp_min(1.0)
    window = torch.hann_window(N_FFT, device=wave.device)
    spec = torch.stft(wave, N_FFT, HOP, window=window, center=True, return_complex=True).abs() ** 2
    mel = torch.log(_mel_basis().to(wave.device) @ spec + 1e-6)[..., : frames * HOPS_PER_FRAME]
    flux = F.relu(torch.diff(mel, dim=-1, prepend=mel[..., :1])).mean(dim=1)  # (B, T*10)
    mel = mel.reshape(batch, N_MELS, frames, HOPS_PER_FRAME).mean(dim=-1).transpose(1, 2)
    return torch.cat([mel, flux.reshape(batch, frames, HOPS_PER_FRAME)], dim=-1)


def dance_features(pose):
    """Per-frame dance features: centred positions, velocities and speeds of the joints.

    Positions are relative to the mean of the clip's present joints over all frames (so the
    dancer's place on the canvas does not matter, their bounce does). Velocities are centred
    differences per frame (one-sided at the ends), zero unless the joint is present in the
    frames they read. Missing joints are 0 throughout.

    Shape: ``(B, T, 36)`` normalised poses in [-1, 1] -> ``(B, T, 90)`` float32.
    """
    batch, frames, dim = pose.shape
    if dim != 2 * NUM_JOINTS or frames < 2:
        raise ValueError(f"pose: expected (B, T >= 2, {2 * NUM_JOINTS}), got {tuple(pose.shape)}")
    joints = pose.float().reshape(batch, frames, NUM_JOINTS, 2)
    present = ((joints + 1).abs() > MISSING_TOL).any(dim=-1, keepdim=True).float()  # (B, T, V, 1)
    centre = (joints * present).sum(dim=(1, 2), keepdim=True) / present.sum(dim=(1, 2), keepdim=True).clamp_min(1)
    position = (joints - centre) * present
    padded = torch.cat([joints[:, :1], joints, joints[:, -1:]], dim=1)
    padded_present = torch.cat([present[:, :1], present, present[:, -1:]], dim=1)
    step = torch.full((1, frames, 1, 1), 2.0, device=pose.device)
    step[:, 0], step[:, -1] = 1.0, 1.0
    velocity = (padded[:, 2:] - padded[:, :-2]) / step
    velocity = velocity * padded_present[:, 2:] * padded_present[:, :-2] * present
    speed = velocity.norm(dim=-1)
    return torch.cat([position.flatten(2), velocity.flatten(2), speed], dim=-1)


class TemporalTower(nn.Module):
    """Per-frame features -> per-frame embedding, with dilated residual temporal convs.

    Shape: ``(B, T, C_in)`` -> ``(B, T, dim)``.
    """

    def __init__(self, in_features, hidden=64, dim=32, dilations=(1, 2, 4)):
        super().__init__()
        self.norm = nn.BatchNorm1d(in_features)
        self.stem = nn.Conv1d(in_features, hidden, kernel_size=5, padding=2)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.Conv1d(hidden, hidden, 3, padding=d, dilation=d), nn.BatchNorm1d(hidden), nn.ReLU())
            for d in dilations)
        self.project = nn.Conv1d(hidden, dim, kernel_size=1)

    def forward(self, x):
        x = F.relu(self.stem(self.norm(x.transpose(1, 2))))
        for block in self.blocks:
            x = x + block(x)
        return self.project(x).transpose(1, 2)


class MusicDanceEmbedding(nn.Module):
    """Music and dance towers into one space; a clip's embedding is its unit-norm flattened sequence.

    Shape:
        embed_music: audio ``(B, T, 1600)`` raw -> ``(B, T * dim)`` unit vectors.
        embed_dance: pose ``(B, T, 36)`` normalised -> ``(B, T * dim)`` unit vectors.
        ``*_from_features``: the same from :func:`music_features` ``(B, T, 42)`` /
        :func:`dance_features` ``(B, T, 90)``.
    """

    def __init__(self, hidden=64, dim=32):
        super().__init__()
        self.config = {"hidden": hidden, "dim": dim}
        self.music = TemporalTower(MUSIC_FEATURES, hidden, dim)
        self.dance = TemporalTower(DANCE_FEATURES, hidden, dim)

    def music_from_features(self, features):
        return F.normalize(self.music(features).flatten(1), dim=1)

    def dance_from_features(self, features):
        return F.normalize(self.dance(features).flatten(1), dim=1)

    def embed_music(self, audio):
        return self.music_from_features(music_features(audio))

    def embed_dance(self, pose):
        return self.dance_from_features(dance_features(pose))


def info_nce(music, dance, temperature=0.1):
    """Symmetric InfoNCE over a batch of matching (music i, dance i) unit embeddings.

    Shape: ``(B, E)``, ``(B, E)`` -> scalar loss (0 when every pair outscores its batch by far).
    """
    logits = dance @ music.T / temperature
    target = torch.arange(len(music), device=music.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


@torch.no_grad()
def features_of(audio, pose, device, chunk=64):
    """Music and dance features of a set of clips, computed in chunks on ``device``.

    Shape: ``(N, T, 1600)``, ``(N, T, 36)`` -> ``(N, T, 42)``, ``(N, T, 90)`` on ``device``.
    """
    music = torch.cat([music_features(audio[i:i + chunk].to(device)) for i in range(0, len(audio), chunk)])
    dance = torch.cat([dance_features(pose[i:i + chunk].to(device)) for i in range(0, len(pose), chunk)])
    return music, dance


def fit_embedding(audio, pose, epochs=80, batch_size=64, lr=2e-3, crop=40, temperature=0.1, seed=0,
                  device="cpu", hidden=64, dim=32):
    """Train a :class:`MusicDanceEmbedding` on matching clips ``audio[i]``, ``pose[i]``.

    Args:
        audio: ``(N, T, 1600)`` raw int16-range audio; pose: ``(N, T, 36)`` normalised, N >= 2.
        crop: frames of the random window each step trains on (``min(crop, T)``).

    Returns:
        ``(model in eval mode, final epoch's mean loss)``.
    """
    if len(audio) != len(pose) or len(audio) < 2:
        raise ValueError(f"need at least 2 matching clips, got {len(audio)} audio and {len(pose)} poses")
    torch.manual_seed(seed)
    rng = torch.Generator().manual_seed(seed)
    model = MusicDanceEmbedding(hidden, dim).to(device)
    music, dance = features_of(audio, pose, device)
    crop = min(crop, music.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_sum = 0.0
    for _epoch in range(epochs):
        model.train()
        order = torch.randperm(len(music), generator=rng)
        loss_sum, seen = 0.0, 0
        for begin in range(0, len(order), batch_size):
            batch = order[begin:begin + batch_size]
            if len(batch) < 2:  # one pair has no negative
                continue
            start = int(torch.randint(0, music.shape[1] - crop + 1, (1,), generator=rng))
            window = slice(start, start + crop)
            loss = info_nce(model.music_from_features(music[batch, window]),
                            model.dance_from_features(dance[batch, window]), temperature)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(batch)
            seen += len(batch)
        loss_sum /= max(seen, 1)
    return model.eval(), loss_sum


def data_fingerprint(path, split_rule, seed):
    """What a cached embedding must have been trained on to be reused: file identity, split, seed."""
    stat = os.stat(path)
    return {"data": os.path.abspath(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
            "split": split_rule, "seed": seed}


def train_and_save(data, out, split_rule="auto", seed=0, device="cpu", epochs=80):
    """Train on the training split of ``data`` and save to ``out`` atomically. Returns the model."""
    train_set = DanceDataset(data, split="train", split_rule=split_rule)
    audio, pose = train_set.as_tensors()
    began = time.time()
    model, loss = fit_embedding(audio, pose, epochs=epochs, seed=seed, device=device)
    trained_on = {**data_fingerprint(data, split_rule, seed), "resolved_split": train_set.split_rule,
                  "videos": list(train_set.video_ids), "samples": len(train_set), "epochs": epochs,
                  "final_loss": loss, "seconds": round(time.time() - began, 1)}
    checkpoint.save_embedding(out, model.cpu().state_dict(), model.config, trained_on)
    log.info("music-dance embedding: trained on %d samples of %s in %.0f s (final InfoNCE %.3f), saved %s",
             len(train_set), data, trained_on["seconds"], loss, out)
    return model.to(device).eval()


def load_embedding(path, device="cpu"):
    """``(model in eval mode, trained_on dict)`` from a file written by :func:`train_and_save`."""
    state, config, trained_on = checkpoint.read_embedding(path)
    model = MusicDanceEmbedding(**config)
    model.load_state_dict(state)
    return model.to(device).eval().requires_grad_(False), trained_on


def load_or_train(path, data, split_rule="auto", seed=0, device="cpu", retrain=False):
    """The embedding at ``path`` if it was trained on ``data``/``split_rule``/``seed``, else a new one.

    A new one is trained on the training split and saved to ``path`` (replacing a stale file).
    """
    if os.path.exists(path) and not retrain:
        model, trained_on = load_embedding(path, device)
        wanted = data_fingerprint(data, split_rule, seed)
        if all(trained_on.get(key) == value for key, value in wanted.items()):
            return model
        log.info("%s was trained on other data, split or seed; retraining", path)
    return train_and_save(data, path, split_rule, seed, device).requires_grad_(False)
