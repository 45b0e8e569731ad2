"""The two steps of docs/experiments.md section 22 that train.py does not do itself.

fork: a training state to resume from, made of one generator's weights and another run's
      discriminators (with their Adam states). The generator gets a fresh Adam and a restarted
      weight average; with --genres G its pose generator's first layer gets G zero input columns
      after the music code and the 8 rhythm features, so the fork starts by dancing exactly as
      the given generator does.

    python docs/genre_fork.py fork --generator pretrain_model/generator.pth \
        --run log/ctl_s2 --out log/fork0
    python docs/genre_fork.py fork --generator pretrain_model/generator.pth \
        --run log/ctl_s2 --out log/fork1 --genres 4
    python train.py --data dataset/synthetic.json --recipe beat [--genre_input] --code_shrink 0.5 \
        --seed 2 --resume log/fork1/generator_fork.pth --threads 1 --gap_save 7 --out log/fk_genre

refit: a --genre_input generator written as an inference generator, with its genre head's
       moments computed in one pass over the training clips (its own encoder, averaged weights
       where the run kept them). The section-22 run was trained by commit cec4cc3, whose genre
       input chose by nearest centroid; the head does not shape training (the decoder hears the
       sidecar's genre there), so refitting gives the head that the current code would have.

    python docs/genre_fork.py refit log/fk_genre/generator_0126.pth log/fk_genre_refit/generator_0126.pth
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from dataset.dance_dataset import DanceDataset  # noqa: E402
from model import checkpoint  # noqa: E402
from model.generator import Generator  # noqa: E402
from model.inference import music_code  # noqa: E402

FIRST_LAYER = "pose_generator.layer0.weight"


def fork(args):
    gen = torch.load(os.path.join(args.run, "generator_last.pth"), weights_only=True)
    disc = torch.load(os.path.join(args.run, "discriminator_last.pth"), weights_only=True)
    weights = checkpoint.load_generator_state(args.generator)
    if set(weights) != set(gen["generator"]):
        raise SystemExit(f"{args.generator} and {args.run} hold different generators")
    if args.genres:
        layer = weights[FIRST_LAYER]
        at = 256 + 8  # music code, rhythm features | genre | noise
        weights[FIRST_LAYER] = torch.cat([layer[:, :at], layer.new_zeros(len(layer), args.genres),
                                          layer[:, at:]], dim=1)
        weights.update(Generator(rhythm="librosa", genres=args.genres).genre.state_dict(prefix="genre."))
        gen["generator_args"] = {**gen["generator_args"], "genres": args.genres}
    gen["generator"] = weights
    gen["generator_ema"] = {key: value.clone() for key, value in weights.items()}
    gen["ema_steps"] = 0
    gen["optimizer"] = {"state": {}, "param_groups": gen["optimizer"]["param_groups"]}
    os.makedirs(args.out, exist_ok=True)
    checkpoint.save_all([(gen, os.path.join(args.out, "generator_fork.pth")),
                         (disc, os.path.join(args.out, "discriminator_fork.pth"))])
    print(f"{args.out}: fork at step {gen['step']} (epoch {gen['epoch']}, batch {gen['batch']})")


def refit(args):
    stored = checkpoint.read(args.model)
    generator_args = checkpoint.generator_args(args.model, stored)
    entry = "generator_ema" if "generator_ema" in stored else "generator"
    generator = Generator(**generator_args)
    weights = {key: value.float() if value.is_floating_point() else value
               for key, value in stored[entry].items() if not key.startswith("genre.")}
    missing, unexpected = generator.load_state_dict(weights, strict=False)
    if unexpected or not all(key.startswith("genre.") for key in missing):
        raise SystemExit(f"{args.model}: not a generator with a genre input")
    generator.eval()
    config = stored["config"]
    accuracy = {}
    for split in ("train", "test"):
        data = DanceDataset(config["data"], split=split, split_rule=config["split"],
                            val_videos=config["val_videos"])
        labels = data.genre_labels()
        code = music_code(generator, data.as_tensors()[0]).mean(dim=1)
        if split == "train":
            generator.genre.update(code, labels)  # a fresh head's first update: the exact moments
        accuracy[split] = (generator.genre.predict(code) == labels).float().mean().item()
    os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
    checkpoint.save_inference_generator(args.out, generator.state_dict(), generator_args, config,
                                        step=stored.get("step"),
                                        note=f"{args.model}, genre head refitted on the training clips")
    print(f"{args.out}: step {stored.get('step')}, genre head accuracy train {accuracy['train']:.3f}, "
          f"test {accuracy['test']:.3f}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    make = commands.add_parser("fork")
    make.add_argument("--generator", required=True, help="the generator whose weights to start from")
    make.add_argument("--run", required=True, help="a run folder with generator_last/discriminator_last")
    make.add_argument("--out", required=True)
    make.add_argument("--genres", type=int, default=0, help="add a genre input of this many genres")
    fit = commands.add_parser("refit")
    fit.add_argument("model")
    fit.add_argument("out")
    args = parser.parse_args()
    {"fork": fork, "refit": refit}[args.command](args)


if __name__ == "__main__":
    main()
