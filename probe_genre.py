"""Does the music code carry the genre of unseen songs, and does the decoder dance it?

Three measurements (four for a generator with ``--genre_input``) on a corpus whose sidecar names
each video's genre (``dataset.synthetic``), with the generator's training videos (less
``--val_videos``) against the held-out test videos:

    probe      a linear classifier (ridge regression onto one-hot genres) from each clip's mean
               music code, fitted on the training clips and scored on the test clips
    offset     each clip's song-level offset (its mean code minus the training clips' centre):
               its mean length on the test clips and on the training clips
    scale w    the test clips danced with each clip's offset lengthened by 1 + w (every frame
               moved by w x the offset; the code's changes from frame to frame kept), judged by
               the ST-GCN: genre accuracy, FID against the test dances, median joint step
    equalise f the held-out clips danced with every offset set to f x the training clips' mean
               offset length
    genre input how often the genre a ``--genre_input`` generator tells its decoder (its genre
               head's choice) is the clip's own

    python probe_genre.py --model pretrain_model/generator.pth --scale 0 0.25 0.5 1
    python probe_genre.py --equalise 0.8 1 --subset val    # on the validation videos instead
"""

import logging
import sys

import numpy as np
import torch

from config import probe_genre_parser
from dataset.dance_dataset import DanceDataset
from dataset.errors import DanceSynthError
from dataset.skeleton import NUM_JOINTS, denormalize
from metrics.evaluation import fid_in_sample_span, genre_accuracy, genre_labels, median_step, thrown_steps
from metrics.genre_probe import clip_offsets, ridge_genre_probe, scale_offsets
from metrics.music_set import dataset_music
from metrics.table import gcn_outputs
from model.checkpoint import generator_args, load_generator, load_st_gcn, st_gcn_record
from model.inference import WINDOWS_PER_PASS, music_code, seeded_noise
from model.music_code import equalise_offsets
from runtime import report_errors, resolve_device, set_threads

def dance_codes(generator, codes, rhythm, seed):
    """Pixel dances from music codes, one seeded noise draw per clip: ``(N, T, C)`` ->
    ``(N, T, 18, 2)`` float64."""
    noise = seeded_noise((*codes.shape[:2], generator.noise_dim), seed).to(codes.device)
    rhythm = None if rhythm is None else torch.as_tensor(rhythm).to(codes.device)
    with torch.no_grad():
        passes = range(0, len(codes), WINDOWS_PER_PASS)
        poses = torch.cat([generator.decode(codes[i:i + WINDOWS_PER_PASS], noise[i:i + WINDOWS_PER_PASS],
                                            None if rhythm is None else rhythm[i:i + WINDOWS_PER_PASS])
                           for i in passes])
    return denormalize(poses.cpu().numpy().astype(np.float64).reshape(*codes.shape[:2], NUM_JOINTS, 2))


def probe(argv=None):
    args = probe_genre_parser(__doc__.split("\n\n")[0]).parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    set_threads(args.threads)
    device = resolve_device(args.device)
    classes = st_gcn_record(args.gcn).get("classes")
    if not classes:
        raise DanceSynthError(f"{args.gcn}: this ST-GCN does not record its class names "
                              f"(train one with pretrain_gcn.py)")
    rhythm = generator_args(args.model).get("rhythm")
    music, dances = {}, {}
    for split in ("train", args.subset):
        data = DanceDataset(args.data, split=split, split_rule=args.split, val_videos=args.val_videos,
                            rhythm=rhythm)
        music[split], dances[split] = dataset_music(data, "truth")
        if music[split].genres is None:
            raise DanceSynthError(f"{args.data}: no sidecar naming each video's genre (make the "
                                  f"corpus with `python -m dataset.synthetic`)")
    labels = {split: genre_labels(music[split].genres, classes) for split in music}
    generator = load_generator(args.model, device).eval()
    codes = {split: music_code(generator, music[split].audio) for split in music}
    centre = codes["train"].mean(dim=(0, 1))
    offsets = {split: clip_offsets(codes[split].cpu().numpy(), centre.cpu().numpy()) for split in codes}
    held = args.subset
    accuracy = ridge_genre_probe(offsets["train"], labels["train"], offsets[held], labels[held],
                                 len(classes), args.ridge)
    length = {split: float(np.linalg.norm(offsets[split], axis=1).mean()) for split in offsets}

    print(f"genre probes: {args.data}, train {len(labels['train'])} clips -> held-out {held} "
          f"{len(labels[held])} clips of {len(classes)} genres; model {args.model}")
    print(f"probe: a linear classifier of the clip's mean music code: train {accuracy['train']:.3f}, "
          f"{held} {accuracy['test']:.3f} (chance {1 / len(classes):.3f})")
    print(f"offset: mean length of the clips' song-level offsets: train {length['train']:.3f}, {held} "
          f"{length[held]:.3f} ({length[held] / length['train']:.2f} of train)")
    if generator.genres:
        names = data.meta["genres"]  # the sidecar's, whose genre_index the generator learned
        for split in music:
            told = [names[i] for i in generator.genre.predict(codes[split].mean(dim=1)).tolist()]
            hits = np.mean([a == b for a, b in zip(told, music[split].genres)])
            print(f"genre input: the genre head names the genre of {hits:.3f} of the {split} clips")
    gcn = load_st_gcn(args.gcn, device)
    reference, _ = gcn_outputs(gcn, dances[held], device)
    rows = [("scale w", value, scale_offsets(codes[held], centre, value)) for value in args.scale]
    rows += [("equalise f", value, equalise_offsets(codes[held], centre, value * length["train"]))
             for value in args.equalise]
    for index, (name, value, code) in enumerate(rows):
        if index == 0 or name != rows[index - 1][0]:
            print(f"{name:>10}{'genre':>8}{'FID':>8}{'step px':>9}{'thrown':>8}")
        dance = dance_codes(generator, code, music[held].rhythm, args.seed)
        features, logits = gcn_outputs(gcn, dance, device)
        print(f"{value:>10.2f}{genre_accuracy(logits, labels[held]):>8.3f}"
              f"{fid_in_sample_span(features, reference):>8.1f}{median_step(dance):>9.2f}"
              f"{thrown_steps(dance):>8.2f}")


def main(argv=None):
    return report_errors(probe, argv)


if __name__ == "__main__":
    sys.exit(main())
