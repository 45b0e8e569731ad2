"""A training state that continues a finished generator under new generator options
(docs/experiments.md section 24): how the shipped generator was taught to emit bones.

Given the options of the run to come (train.py's, after ``--``), it builds that run's networks
and fills the generator from ``--generator``:

- every weight the two generators share is copied;
- with ``--genre_input``, the first decoder layer gets zero columns for the genre one-hot, so
  the genre changes nothing yet;
- with ``--pose_output bones``, the new last layer is fitted by ridge regression to reproduce
  what the old last layer makes of the same hidden features on the training clips (with the
  new generator's own code path, so ``--code_hold`` included): the neck's position, each
  bone's direction and its length fraction.

The discriminators and all three Adam states are fresh, the weight average starts at the
forked weights and the random streams restart from ``--seed``, so the run's only inheritance
is the given generator.

    git show 0141b93:pretrain_model/generator.pth > log/generator_1400.pth  # the one before
    python docs/bone_fork.py --generator log/generator_1400.pth --out log/bones_fork -- --data dataset/synthetic.json --recipe beat \
        --genre_input --code_shrink 0.5 --code_hold --pose_output bones --seed 1
    python train.py --data dataset/synthetic.json --recipe beat --genre_input --code_shrink 0.5 \
        --code_hold --pose_output bones --seed 1 --resume log/bones_fork/generator_fork.pth \
        --max_minutes 75 --threads 1 --gap_save 7 --out log/bones_s1

Keep the fork outside the run's folder: it is not one of the run's generators (and its genre
head has heard no clip yet, so ``select_checkpoint.py`` would skip it).
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from config import parse_train_args  # noqa: E402
from dataset.dance_dataset import training_set  # noqa: E402
from dataset.skeleton import NUM_JOINTS, denormalize  # noqa: E402
from model import checkpoint  # noqa: E402
from model.gan import build_ema, build_optimizers  # noqa: E402
from model.generator import Generator  # noqa: E402
from model.music_encoder import CODE_DIM  # noqa: E402
from train import run_networks  # noqa: E402

FIRST_LAYER = "pose_generator.layer0.weight"
LAST_LAYER = "pose_generator.final_linear."


def ridge(features, targets, strength=1.0):
    """Weight ``(out, in)`` and bias ``(out,)`` of the ridge fit ``features -> targets``."""
    x = torch.cat([features, features.new_ones(len(features), 1)], dim=1)
    solution = torch.linalg.solve(x.T @ x + strength * torch.eye(x.shape[1], dtype=x.dtype), x.T @ targets)
    return solution[:-1].T.contiguous(), solution[-1].contiguous()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--generator", default="pretrain_model/generator.pth",
                        help="the generator to continue")
    parser.add_argument("--out", required=True, help="writes generator_fork.pth, discriminator_fork.pth")
    parser.add_argument("train_options", nargs=argparse.REMAINDER,
                        help="-- then the train.py options of the run to come")
    fork = parser.parse_args()
    train_options = fork.train_options[1:] if fork.train_options[:1] == ["--"] else fork.train_options
    args = parse_train_args(train_options + ["--out", fork.out])
    torch.manual_seed(args.seed)

    train_set = training_set(args)
    nets, generator_args, genre_of = run_networks(args, train_set, torch.device("cpu"))
    generator = nets["generator"]
    stored = checkpoint.read(fork.generator)
    old_args = {key: value for key, value in checkpoint.generator_args(fork.generator, stored).items()
                if key != "code_cap"}  # a cap added at export: training never had it
    weights = checkpoint.load_generator_state(fork.generator, stored)

    state = generator.state_dict()
    # the first layer hears the music code, the rhythm features (and tempo), then the genre one-hot
    before_genre = CODE_DIM + generator.rhythm_dim + generator.rhythm_tempo
    for key, value in weights.items():
        if key == FIRST_LAYER and generator.genres:
            value = torch.cat([value[:, :before_genre], value.new_zeros(len(value), generator.genres),
                               value[:, before_genre:]], dim=1)
        if key.startswith(LAST_LAYER) and generator_args.get("pose_output") == "bones":
            continue
        if state[key].shape != value.shape:
            raise SystemExit(f"{fork.generator}: {key} is {tuple(value.shape)}, the run's is "
                             f"{tuple(state[key].shape)}")
        state[key] = value
    generator.load_state_dict(state)

    if generator_args.get("pose_output") == "bones":
        old = Generator(**{**old_args, "code_hold": generator_args.get("code_hold", False)})
        old.load_state_dict(weights)
        old.eval()
        generator.eval()
        audio, _ = train_set.as_tensors()
        rhythm = torch.stack([train_set[i]["rhythm"] for i in range(len(train_set))])
        genre = (torch.tensor([genre_of[video] for video, _, _ in train_set.keys])
                 if genre_of else None)
        hidden = []
        hook = generator.pose_generator.final_linear.register_forward_hook(
            lambda module, inputs, output: hidden.append(inputs[0]))
        with torch.no_grad():
            noise = generator.sample_noise(audio)
            generator(audio, noise, rhythm, genre)
            dances = old(audio, noise, rhythm)
        hook.remove()
        features = hidden[0].double()
        poses = denormalize(dances.reshape(-1, NUM_JOINTS, 2).double())
        last = generator.pose_generator.final_linear
        weight, bias = ridge(features, last.double().preactivations(poses))
        last.float()
        with torch.no_grad():
            last.linear.weight.copy_(weight)
            last.linear.bias.copy_(bias)
            redone = generator(audio, noise, rhythm, genre)
        error = (denormalize(redone.reshape(-1, NUM_JOINTS, 2)) - poses).norm(dim=-1).mean()
        print(f"bone layer fitted on {len(features)} frames: mean joint error {error:.2f} px "
              f"against {fork.generator} on the same code path")
        generator.train()

    optimizers = build_optimizers(nets, args)
    ema = build_ema(generator, args.ema)
    step = int(stored.get("step") or 0)
    batches = len(train_set) // args.batch_size
    os.makedirs(fork.out, exist_ok=True)
    checkpoint.save_training_state(
        fork.out, "fork", nets, optimizers, ema=ema,
        common={"epoch": step // batches + 1, "batch": step % batches, "step": step,
                "config": vars(args), "rng": [], "generator_args": generator_args})
    print(f"{fork.out}/generator_fork.pth: {fork.generator} at step {step}, "
          f"fresh discriminators and optimisers")


if __name__ == "__main__":
    main()
