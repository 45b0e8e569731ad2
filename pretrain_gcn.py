"""Pre-train the ST-GCN whose frozen features give the pose perceptual loss.

The release never shipped its ``GCN.pth`` (a 16-class classifier of 50-frame 2-D skeleton
clips), so this script trains one on the training split of the dataset:

- labels: ``--labels FILE`` (JSON ``{video_id: label}``) when given, else the genre in the
  corpus's ``<stem>_meta.json`` sidecar, else the video id;
- held-out accuracy: on the test videos for genre / file labels; for video-id labels (test
  videos have ids never seen in training) on every fifth sample of the training videos instead.

    python pretrain_gcn.py --data dataset/synthetic.json --out pretrain_model/GCN.pth
"""

import json
import logging
import os
import sys
import time

import torch
import torch.nn.functional as F
from tqdm import tqdm

from config import pretrain_parser
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.format import SAMPLE_FRAMES
from dataset.skeleton import POSE_DIM
from model import checkpoint
from model.st_gcn import STGCN
from runtime import report_errors, resolve_device, seed_everything, set_threads

HOLDOUT_EVERY = 5  # for video-id labels: every fifth training sample is held out

log = logging.getLogger("pretrain_gcn")


def video_labels(args, train_set):
    """Label of each training video and where the labels came from.

    Returns ``(labels: {video_id: str}, source: str)``.
    """
    if args.labels:
        try:
            with open(args.labels) as f:
                mapping = json.load(f)
        except json.JSONDecodeError as err:
            raise DanceSynthError("%s: not a JSON file of {video_id: label} (%s)" % (args.labels, err)) from None
        if not isinstance(mapping, dict):
            raise DanceSynthError("%s: expected a JSON object {video_id: label}" % args.labels)
        missing = [v for v in train_set.video_ids if v not in mapping]
        if missing:
            raise DanceSynthError("%s: no label for training video(s) %s" % (args.labels, ", ".join(missing[:10])))
        return {v: str(label) for v, label in mapping.items()}, "file:" + args.labels
    genres = {v: train_set.video_genre(v) for v in train_set.video_ids}
    if all(genre is not None for genre in genres.values()):
        return genres, "genre"
    return {v: v for v in train_set.video_ids}, "video_id"


def pose_tensor(dataset, indices):
    """Stack the normalised poses of ``indices``. Shape: ``(N, 50, 36)``."""
    if not indices:
        return torch.zeros(0, SAMPLE_FRAMES, POSE_DIM)
    return torch.stack([dataset[i]["pose"] for i in indices])


def build_sets(args):
    """Training and held-out (poses, label index) tensors, the class names and a description."""
    train_set = DanceDataset(args.data, split="train", split_rule=args.split)
    labels, source = video_labels(args, train_set)
    keys = train_set.keys
    if source == "video_id":
        test_source = train_set
        test_idx = list(range(HOLDOUT_EVERY - 1, len(keys), HOLDOUT_EVERY))
        train_idx = sorted(set(range(len(keys))) - set(test_idx))
    else:
        train_idx = list(range(len(train_set)))
        test_set = DanceDataset(args.data, split="test", split_rule=args.split)
        test_source, test_idx = test_set, list(range(len(test_set)))
        if source == "genre":
            labels.update({v: test_set.video_genre(v) for v in test_set.video_ids})
    classes = sorted({labels[keys[i][0]] for i in train_idx})
    index = {name: k for k, name in enumerate(classes)}

    def labelled(dataset, idx):
        known = [i for i in idx if labels.get(dataset.keys[i][0]) in index]
        y = torch.tensor([index[labels[dataset.keys[i][0]]] for i in known], dtype=torch.long)
        return pose_tensor(dataset, known), y

    return labelled(train_set, train_idx), labelled(test_source, test_idx), classes, source


def augment(poses, generator, scale=0.2, shift=0.2):
    """Random per-clip zoom and shift of normalised poses; missing joints stay missing.

    Each video has its own body size and place in the frame; without this the classifier
    learns those instead of the motion and does not carry over to unseen videos.

    Shape: ``(B, T, 36)`` -> ``(B, T, 36)``.
    """
    joints = poses.view(poses.shape[0], poses.shape[1], -1, 2)
    missing = (joints == -1).all(dim=-1, keepdim=True)
    zoom = 1 + scale * (2 * torch.rand(poses.shape[0], 1, 1, 1, generator=generator) - 1)
    offset = shift * (2 * torch.rand(poses.shape[0], 1, 1, 2, generator=generator) - 1)
    moved = torch.where(missing, joints, joints * zoom + offset)
    return moved.reshape(poses.shape)


@torch.no_grad()
def accuracy(net, poses, labels, device, batch_size=64):
    """Top-1 accuracy of ``net`` on ``poses`` (N, T, 36); nan when there is nothing to score."""
    if len(labels) == 0:
        return float("nan")
    net.eval()
    correct = 0
    for start in range(0, len(labels), batch_size):
        logits = net(poses[start:start + batch_size].to(device))
        correct += (logits.argmax(1).cpu() == labels[start:start + batch_size]).sum().item()
    return correct / len(labels)


def pretrain(argv=None):
    args = pretrain_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    seed_everything(args.seed)
    device = resolve_device(args.device)

    (train_x, train_y), (test_x, test_y), classes, source = build_sets(args)
    print("ST-GCN pre-training: %d training clips, %d held-out, %d classes (%s labels), device %s"
          % (len(train_y), len(test_y), len(classes), source, device))

    net = STGCN(num_class=len(classes)).to(device)
    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    steps = args.epochs * -(-len(train_y) // args.batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(steps, 1))
    generator = torch.Generator().manual_seed(args.seed)
    start = time.time()
    bar = tqdm(range(args.epochs), desc="ST-GCN", unit="epoch")
    for _epoch in bar:
        net.train()
        order = torch.randperm(len(train_y), generator=generator)
        total, seen = 0.0, 0
        for begin in range(0, len(order), args.batch_size):
            batch = order[begin:begin + args.batch_size]
            if len(batch) < 2:  # BatchNorm needs more than one clip
                continue
            poses = train_x[batch]
            if args.augment:
                poses = augment(poses, generator)
            logits = net(poses.to(device))
            loss = F.cross_entropy(logits, train_y[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(batch)
            seen += len(batch)
        bar.set_postfix(loss="%.4f" % (total / max(seen, 1)))

    train_acc = accuracy(net, train_x, train_y, device)
    test_acc = accuracy(net, test_x, test_y, device)
    record = {
        "data": os.path.abspath(args.data),
        "split": args.split,
        "label_source": source,
        "classes": classes,
        "epochs": args.epochs,
        "augment": args.augment,
        "seed": args.seed,
        "train_clips": len(train_y),
        "held_out_clips": len(test_y),
        "train_accuracy": train_acc,
        "held_out_accuracy": test_acc,
        "seconds": round(time.time() - start, 1),
    }
    net.cpu()
    checkpoint.save_st_gcn(args.out, net.state_dict(), len(classes), record)
    print(json.dumps({"out": args.out, "train_accuracy": round(train_acc, 4),
                      "held_out_accuracy": round(test_acc, 4), "classes": len(classes),
                      "label_source": source, "seconds": record["seconds"]}))


def main(argv=None):
    return report_errors(pretrain, argv)


if __name__ == "__main__":
    sys.exit(main())
