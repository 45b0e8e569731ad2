"""Train the music-dance embedding (model/music_dance_embedding.py) contrastively on the training split.

Symmetric InfoNCE over batches of true (music, dance) pairs; every other pair in the batch is a
negative, including other clips of the same song at another beat phase. Each step sees a random
40-frame window (4 s) of every 5 s sample, the same window for music and dance. About 30 s on
two CPU cores for the default synthetic corpus.

    python train_embedding.py --data dataset/synthetic.json --out pretrain_model/embedding.pth

``evaluate.py`` calls :func:`load_or_train`: it reuses the file when it was trained on the same
dataset file (path, size, modification time), split rule and seed, and trains it otherwise.
"""

import argparse
import logging
import os
import time

import torch

from config import add_data_args, add_device_args
from dataset.dance_dataset import DanceDataset
from model.music_dance_embedding import MusicDanceEmbedding, dance_features, info_nce, music_features
from runtime import atomic_torch_save, resolve_device, set_threads

EMBEDDING_FORMAT = "dance-synth/music-dance-embedding/1"
DEFAULT_EMBEDDING = "pretrain_model/embedding.pth"

log = logging.getLogger("train_embedding")


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
    atomic_torch_save({"format": EMBEDDING_FORMAT, "embedding": model.cpu().state_dict(),
                       "config": model.config, "trained_on": trained_on}, out)
    log.info("music-dance embedding: trained on %d samples of %s in %.0f s (final InfoNCE %.3f), saved %s",
             len(train_set), data, trained_on["seconds"], loss, out)
    return model.to(device).eval()


def load_embedding(path, device="cpu"):
    """``(model in eval mode, trained_on dict)`` from a file written by :func:`train_and_save`."""
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != EMBEDDING_FORMAT:
        raise ValueError(f"{path}: not a music-dance embedding checkpoint (expected format {EMBEDDING_FORMAT!r})")
    model = MusicDanceEmbedding(**checkpoint["config"])
    model.load_state_dict(checkpoint["embedding"])
    return model.to(device).eval().requires_grad_(False), checkpoint["trained_on"]


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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_data_args(parser)
    add_device_args(parser)
    parser.add_argument("--out", default=DEFAULT_EMBEDDING, help="where to write the embedding model")
    parser.add_argument("--epochs", type=int, default=80)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    train_and_save(args.data, args.out, args.split, args.seed, resolve_device(args.device), args.epochs)


if __name__ == "__main__":
    main()
