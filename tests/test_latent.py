"""--latent: a per-clip choice of moves, learned by multiple-choice learning (model/gan.py's
dance_with_latents and best_choice); the terms that judge every choice's dance."""

import argparse
import math

import pytest
import torch

import train
from conftest import batch, write_gcn
from model import checkpoint, inference
from model.gan import best_choice, build_networks, build_optimizers, dance_with_latents, training_step
from model.generator import Generator, prior_latent


def test_a_latent_generator_dances_its_noises_choice_and_another_choice_changes_the_dance():
    torch.manual_seed(0)
    G = Generator(latent_dim=6).eval()
    assert sum(p.numel() for p in G.parameters()) - sum(p.numel() for p in Generator().parameters()) == 6 * 1024
    music = torch.randn(2, 50, 1600) * 3000
    noise = inference.seeded_noise((2, 50, 10), 1)
    with torch.no_grad():
        default = G(music, noise)
        explicit = G(music, noise, latent=prior_latent(noise, 6))
        other = G(music, noise, latent=prior_latent(noise, 6).roll(1, dims=1))  # the next choice
    assert torch.equal(default, explicit)
    assert (default - other).abs().max() > 1e-3
    with pytest.raises(ValueError, match="latent"):
        Generator()(music, noise, latent=torch.zeros(2, 6))
    for size in (1, 11):  # one choice is no choice; the noise has 10 numbers
        with pytest.raises(ValueError, match="latent_dim"):
            Generator(latent_dim=size)


def _args(**changes):
    values = dict(amp="no", alpha=100.0, lambda_grad=1.0, lambda_gp=1.0, lambda_r1=0.0, lambda_r1_seq=0.0, gp_every=1, lambda_motion=0.0,
                  motion_smooth=0.0, lambda_bone=0.0, lambda_move=0.0, lambda_stage=0.0, lambda_modes=0.0, motion_prior=False, d_logits=False,
                  l1_relative=False, perceptual_in_place=False)
    return argparse.Namespace(**{**values, **changes})


def test_the_prior_choice_dances_for_the_discriminators_and_the_nearest_choice_for_the_l1():
    torch.manual_seed(0)
    G = Generator(latent_dim=4, decoder_dropout=0.0).eval()
    music, real = batch(3)
    torch.manual_seed(1)
    fake, recon, differ = dance_with_latents(G, music, real, {})
    torch.manual_seed(1)
    with torch.no_grad():
        noise = G.sample_noise(music)
        code = G.encode(music)
        prior, fits = prior_latent(noise, 4), best_choice(G, code, noise, real, {})
        assert torch.equal(fake, G.decode(code, noise, latent=prior))
        assert torch.equal(recon, G.decode(code, noise, latent=fits))
    assert torch.equal(differ, (prior != fits).any(dim=1))


def test_bone_term_is_zero_for_the_dancers_build_and_grows_when_a_joint_is_thrown():
    from dataset.skeleton import BONES, normalize
    from model.losses import bone_length_loss

    torch.manual_seed(0)
    body = torch.rand(18, 2) * 100 + 200  # one rigid skeleton in pixels, moved around the canvas
    frames = body + torch.arange(10.0).view(10, 1, 1) * torch.tensor([3.0, -2.0])
    real = normalize(torch.stack([frames, frames + 5.0])).reshape(2, 10, 36)
    assert bone_length_loss(real, real) == pytest.approx(0.0, abs=1e-6)
    thrown = real.clone().requires_grad_(True)
    with torch.no_grad():
        thrown[0, 4, 8:10] += 0.5  # joint 4 (the right wrist) 160 px to the right in one frame
    loss = bone_length_loss(thrown, real)
    loss.backward()
    # one of 2 * 10 * 17 bone-frames stretched: |log ratio| of at least log 2 there
    assert loss > torch.log(torch.tensor(2.0)) / (2 * 10 * len(BONES))
    assert thrown.grad[0, 4, 8:10].abs().sum() > 0 and torch.isfinite(thrown.grad).all()
    # two dances per clip (the prior choice's and the best choice's) against one build each
    assert bone_length_loss(torch.cat([real, thrown.detach()]), real) == pytest.approx(loss.item() / 2, rel=1e-4)


def test_a_training_step_with_the_bone_term_logs_it():
    from conftest import frozen_gcn

    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), latent_dim=8)
    args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, lambda_bone=10.0)
    music, real = batch(4)
    terms = training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)
    assert terms["bone"] > 0 and all(torch.isfinite(torch.tensor(v)) for v in terms.values())


def test_a_training_step_with_the_move_term_logs_it_for_both_dances():
    from conftest import frozen_gcn

    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), latent_dim=8)
    args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, lambda_move=100.0, motion_smooth=1.0)
    music, real = batch(4)
    terms = training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)
    assert terms["move"] > 0 and all(torch.isfinite(torch.tensor(v)) for v in terms.values())


def test_a_training_step_with_the_stage_term_logs_it_and_needs_the_box():
    from conftest import frozen_gcn

    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), latent_dim=8)
    args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, lambda_stage=100.0)
    music, real = batch(4)
    tiny = torch.tensor([[0.0, 0.0], [0.01, 0.01]])  # a box no untrained neck stands in
    terms = training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args, stage=tiny)
    assert terms["stage"] > 0 and all(torch.isfinite(torch.tensor(v)) for v in terms.values())
    with pytest.raises(ValueError, match="stage box"):
        training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)


def test_the_mode_seeking_term_pushes_apart_two_choices_that_move_alike_and_no_further():
    from model.losses import choice_spread_loss

    torch.manual_seed(0)
    recon = torch.rand(3, 50, 36)
    fake = (recon + 0.01 * torch.randn(3, 50, 36)).requires_grad_()  # nearly the same dance
    differ = torch.tensor([True, True, False])
    loss = choice_spread_loss(fake, recon, differ, spread=0.05)
    assert 0.5 < loss.item() < 1.0
    loss.backward()
    assert fake.grad[:2].abs().sum() > 0 and fake.grad[2].abs().sum() == 0  # same choice: untouched
    far = recon + 0.2  # every joint moved alike: the same pose relative to the neck
    assert choice_spread_loss(far, recon, differ, spread=0.05).item() == pytest.approx(1.0)
    held = recon.clone()
    held[..., 4:] += 0.2  # another pose, held throughout: the same moves, no distance
    assert choice_spread_loss(held, recon, differ, spread=0.05).item() == pytest.approx(1.0)
    apart = recon.clone()
    apart[:, 25:, 4:] += 0.2  # all but the nose and the neck jump 0.2 half-way: moves apart
    assert choice_spread_loss(apart, recon, differ, spread=0.05).item() == 0.0
    assert choice_spread_loss(fake, recon, torch.zeros(3, dtype=torch.bool), spread=0.05).item() == 0.0


def test_the_dancers_spread_pairs_clips_of_one_genre_from_different_videos_only():
    from model.losses import dancers_spread

    poses = torch.zeros(4, 50, 36)
    poses[1, 25:, 4:] = 0.1  # video 1, genre 0: a move half-way
    poses[2, 25:, 4:] = 5.0  # video 0 again, genre 0: never paired with clip 0
    poses[3, 25:, 4:] = 9.0  # genre 1 alone
    poses[:, :, 4:] += 3.0  # a pose held by every clip: no move
    spread = dancers_spread(poses, genres=[0, 0, 0, 1], videos=[0, 1, 0, 2])
    assert spread == pytest.approx((0.1 + 4.9) / 2 / 2 * 32 / 36)  # pairs (0, 1) and (1, 2)
    assert math.isnan(dancers_spread(poses[:1], genres=[0], videos=[0]))


def test_a_training_step_with_the_mode_seeking_term_logs_it_and_needs_the_spread():
    from conftest import frozen_gcn

    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), latent_dim=8)
    args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, lambda_modes=10.0)
    music, real = batch(8)
    terms = training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args, spread=10.0)
    assert 0 < terms["modes"] < 1 and all(torch.isfinite(torch.tensor(v)) for v in terms.values())
    with pytest.raises(ValueError, match="lambda_modes"):
        training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)


def test_the_motion_term_reaches_the_prior_choice_only_with_motion_prior():
    from conftest import frozen_gcn

    def motion(prior):
        torch.manual_seed(0)
        nets = build_networks(torch.device("cpu"), latent_dim=8)
        args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, lambda_motion=100.0, motion_prior=prior)
        music, real = batch(4)
        return training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)["motion"]

    assert motion(True) != pytest.approx(motion(False), rel=1e-3)


def train_tiny(corpus, tmp_path, *options):
    """Two iterations of ``train.py`` on ``corpus`` with ``options``; the last generator's path."""
    out = tmp_path / "run"
    assert train.main(["--data", corpus, "--pretrain_GCN", write_gcn(tmp_path / "gcn.pth"), "--out", str(out),
                       "--max_steps", "2", "--batch_size", "2", "--split", "all", "--save_every_steps", "0",
                       *options]) == 0
    return str(out / "generator_last.pth")


def test_train_records_the_latent_and_two_seeds_dance_apart(tiny_corpus, tmp_path):
    model = train_tiny(tiny_corpus, tmp_path, "--latent", "8")
    assert checkpoint.generator_args(model)["latent_dim"] == 8
    loaded = checkpoint.load_generator(model)
    music = torch.randn(1, 50, 1600) * 3000
    one, two = (inference.generate(loaded, music, inference.seeded_noise((1, 50, 10), s)) for s in (1, 2))
    assert abs(one - two).max() > 1e-4


def test_train_measures_the_dancers_spread_for_the_mode_seeking_term_and_needs_a_latent(tmp_path, capsys, caplog):
    import logging
    import re

    from dataset.synthetic import generate_corpus, write_corpus

    corpus = str(tmp_path / "genres.json")
    write_corpus(corpus, *generate_corpus(videos=8, clips=1, seed=3))  # two videos per genre
    with caplog.at_level(logging.INFO):
        train_tiny(corpus, tmp_path, "--latent", "8", "--lambda_modes", "10")
    spread = re.search(r"two dancers of a genre move ([0-9.]+) apart", caplog.text)
    assert spread and 0.005 < float(spread.group(1)) < 0.5
    assert train.main(["--data", corpus, "--pretrain_GCN", str(tmp_path / "gcn.pth"), "--out", str(tmp_path / "x"),
                       "--batch_size", "2", "--lambda_modes", "10"]) != 0
    assert "give --latent too" in capsys.readouterr().err


def test_a_song_changes_its_latent_every_few_windows_and_seeds_give_other_dances():
    torch.manual_seed(0)
    G = Generator(latent_dim=4).eval()
    noise = inference.seeded_noise((200, 10), 3)
    starts = torch.tensor([0, 30, 60, 90, 120, 150])
    latents = inference.window_latents(G, noise, starts, hold=3)
    assert torch.equal(latents[:3], prior_latent(noise[None, 0:1], 4).expand(3, -1))
    assert torch.equal(latents[3:], prior_latent(noise[None, 90:91], 4).expand(3, -1))
    assert inference.window_latents(Generator(), noise, starts) is None
    frames = torch.randn(200, 1600).numpy() * 3000
    first = inference.dance(G, frames, seed=1)
    assert (inference.dance(G, frames, seed=1) == first).all()
    assert abs(inference.dance(G, frames, seed=2) - first).max() > 1e-4


def test_a_choice_latent_is_the_one_hot_of_the_noises_largest_and_every_choice_is_drawn():
    noise = inference.seeded_noise((4000, 1, 10), 0)
    choices = prior_latent(noise, 5)
    assert torch.equal(choices.argmax(1), noise[:, 0, :5].argmax(1)) and torch.equal(choices.sum(1), torch.ones(4000))
    assert torch.allclose(choices.mean(0), torch.full((5,), 0.2), atol=0.03)


def test_the_best_choice_is_the_one_whose_dance_is_nearest_and_leaves_batchnorm_statistics():
    torch.manual_seed(0)
    G = Generator(latent_dim=3).train()
    music, noise = torch.randn(4, 50, 256), inference.seeded_noise((4, 50, 10), 0)
    eye = torch.eye(3)
    with torch.no_grad():
        G.eval()
        targets = torch.stack([G.decode(music, noise[i:i + 1].expand(4, -1, -1), latent=eye[[2, 0, 1, 2]])[i]
                               for i in range(4)])  # clip i danced from choice (2, 0, 1, 2)[i]
        G.train()
    running = [b.clone() for name, b in G.pose_generator.named_buffers() if "running" in name]
    picked = best_choice(G.eval(), music, noise, targets, {})
    assert torch.equal(picked, eye[[2, 0, 1, 2]])
    G.train()
    best_choice(G, music, noise, targets, {})
    after = [b for name, b in G.pose_generator.named_buffers() if "running" in name]
    assert all(torch.equal(a, b) for a, b in zip(after, running))
    shifted = targets.clone()
    shifted[..., 0::2] += 0.3  # the same moves, danced further right: the same choices
    assert torch.equal(best_choice(G.eval(), music, noise, shifted, {}), eye[[2, 0, 1, 2]])


def test_a_checkpoint_that_records_the_choice_kind_loads_as_before(tiny_corpus, tmp_path):
    model = train_tiny(tiny_corpus, tmp_path, "--latent", "4")
    stored = torch.load(model, weights_only=True)
    assert stored["generator_args"]["latent_dim"] == 4 and "latent_kind" not in stored["generator_args"]
    old = str(tmp_path / "generator_old.pth")  # as written until commit 1fc2e5f
    torch.save({**stored, "generator_args": {**stored["generator_args"], "latent_kind": "choice"}}, old)
    assert checkpoint.generator_args(old) == checkpoint.generator_args(model)
    music, noise = torch.randn(2, 50, 1600) * 3000, inference.seeded_noise((2, 50, 10), 1)
    assert (inference.generate(checkpoint.load_generator(old), music, noise)
            == inference.generate(checkpoint.load_generator(model), music, noise)).all()


def test_the_neck_relative_l1_keeps_the_placement_out_of_the_pose():
    from model.losses import neck_relative_l1

    torch.manual_seed(0)
    real = torch.randint(-16, 16, (2, 5, 36)) / 64.0  # sixty-fourths: every sum below is exact
    shift = torch.tensor([0.25, -0.125]).repeat(18)  # the whole body elsewhere on the canvas
    assert torch.nn.functional.l1_loss(real + shift, real) == 0.1875
    assert neck_relative_l1(real + shift, real) == pytest.approx(0.1875 / 18)  # the neck's 2 of 36
    # a body far off with its right wrist (joint 4) a little too low: the plain L1's gradient on the wrist
    # says "move up and left" with the body; the neck-relative one says "raise the wrist" alone
    fake = (real + shift).clone()
    fake[..., 9] += 1 / 64
    fake.requires_grad_(True)
    neck_relative_l1(fake, real).backward()
    assert (fake.grad[..., 9] > 0).all() and fake.grad[..., 8].eq(0).all()
    assert fake.grad[..., [0, 1, 4, 5]].eq(0).all()  # nose and shoulders stand as the dancer's
    plain = (real + shift).clone()
    plain[..., 9] += 1 / 64
    plain.requires_grad_(True)
    torch.nn.functional.l1_loss(plain, real).backward()
    assert (plain.grad[..., 9] < 0).all()


def test_the_perceptual_term_in_place_sees_the_dance_and_not_where_it_stands():
    from conftest import frozen_gcn
    from model.losses import moved_to_place, pose_perceptual_loss

    torch.manual_seed(0)
    real = torch.rand(2, 50, 36) * 0.5
    shift = torch.tensor([0.25, -0.125]).repeat(18)
    elsewhere = real + shift * torch.tensor([1.0, -2.0])[:, None, None]  # each clip somewhere else
    assert torch.allclose(moved_to_place(elsewhere, real), real, atol=1e-6)
    gcn = frozen_gcn()
    assert pose_perceptual_loss(gcn, elsewhere, real) > 0.1
    assert pose_perceptual_loss(gcn, moved_to_place(elsewhere, real), real) < 1e-4
    # the neck's own movement inside the clip is part of the dance and stays
    swaying = real.clone()
    swaying.view(2, 50, 18, 2)[:, :, 1, 0] += torch.linspace(-0.1, 0.1, 50)
    moved = moved_to_place(swaying, real).view(2, 50, 18, 2)
    assert torch.allclose(moved[:, :, 1, 0] - real.view(2, 50, 18, 2)[:, :, 1, 0], torch.linspace(-0.1, 0.1, 50))
    # and where the dancer stands gets no gradient from the term
    fake = (real + shift).requires_grad_(True)
    pose_perceptual_loss(gcn, moved_to_place(fake, real), real + 0.01 * torch.randn_like(real)).backward()
    per_clip_x = fake.grad.view(2, 50, 18, 2)[..., 0].sum(dim=(1, 2))
    assert torch.allclose(per_clip_x, torch.zeros(2), atol=1e-6)


def test_l1_relative_changes_the_logged_l1_of_a_training_step():
    from conftest import frozen_gcn

    def l1(relative):
        torch.manual_seed(0)
        nets = build_networks(torch.device("cpu"), latent_dim=4)
        args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4, l1_relative=relative)
        music, real = batch(4)
        return training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args)["l1"]

    assert l1(True) != pytest.approx(l1(False), rel=1e-3)
