"""The training loop: one step's effects, the loss arithmetic, checkpoints and the CLI."""

import json
import math
import os

import pytest
import torch

import train
from config import SPEEDUPS, enabled_speedups, train_parser
from conftest import batch, frozen_gcn, write_gcn
from dataset.dance_dataset import DanceDataset
from model import checkpoint, gan
from model.generator import Generator
from model.losses import PERCEPTUAL_WEIGHTS
from runtime import rng_state


def args_for(*extra):
    return train_parser().parse_args(list(extra))


def step(nets, optimizers, st_gcn, music, real, args):
    """One iteration with the speed-ups ``args`` asks for, as train.py runs it."""
    return gan.training_step(nets, optimizers, st_gcn, music, real, args, enabled_speedups(args))


def test_defaults_are_the_papers():
    args = args_for()
    assert (args.niter, args.batch_size, args.gap, args.gap_save) == (400, 16, 1, 50)
    assert (args.lr_g, args.lr_d_frame, args.lr_d_seq) == (3e-4, 3e-4, 5e-4)
    assert (args.alpha, args.lambda_grad, args.lambda_gp) == (200.0, 1.0, 1.0)
    assert args.out == "./log/test/" and args.pretrain_GCN == "./pretrain_model/GCN.pth"
    assert PERCEPTUAL_WEIGHTS == (20, 5, 1, 1, 1, 1, 1, 1, 1, 1)


def test_one_step_trains_generator_and_keeps_st_gcn_frozen():
    torch.manual_seed(0)
    args = args_for()
    nets = gan.build_networks(torch.device("cpu"))
    optimizers = gan.build_optimizers(nets, args)
    st_gcn = frozen_gcn()
    before_g = {k: v.clone() for k, v in nets["generator"].state_dict().items()}
    before_gcn = {k: v.clone() for k, v in st_gcn.state_dict().items()}
    music, real = batch()

    values = step(nets, optimizers, st_gcn, music, real, args)

    assert set(values) == set(gan.LOSS_TERMS)
    assert all(math.isfinite(v) for v in values.values()), values
    changed = [k for k, v in nets["generator"].state_dict().items()
               if v.dtype.is_floating_point and not torch.equal(v, before_g[k])]
    assert any("weight" in k for k in changed)
    for k, v in st_gcn.state_dict().items():
        assert torch.equal(v, before_gcn[k]), k


def test_generator_loss_is_the_weighted_sum_of_its_terms():
    torch.manual_seed(1)
    args = args_for("--alpha", "7", "--lambda_grad", "3")
    nets = gan.build_networks(torch.device("cpu"))
    for net in nets.values():
        net.eval()  # no dropout: every forward pass is the same function
    music, real = batch(seed=3)
    fake = nets["generator"](music, noise=torch.zeros(2, 50, 10))
    total, terms = gan.generator_loss(nets, frozen_gcn(), real, fake, music, args)
    expected = (terms["g_local_adv"] + terms["g_seq_adv"] + terms["feature_matching"]
                + 7 * terms["l1"] + 3 * terms["perceptual"])
    assert torch.allclose(total, expected)
    assert terms["l1"].item() == pytest.approx((fake - real).abs().mean().item(), rel=1e-6)
    assert all(t.item() > 0 for t in terms.values())


def test_train_cli_writes_checkpoints_that_reload_exactly(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "GCN.pth")
    out = tmp_path / "run"
    train.main(["--data", tiny_corpus, "--split", "all", "--pretrain_GCN", gcn, "--out", str(out),
                "--batch_size", "2", "--max_steps", "2", "--seed", "5"])
    assert (out / "generator_last.pth").exists() and (out / "discriminator_last.pth").exists()
    assert os.listdir(out / "tensorboard")
    ckpt = torch.load(out / "generator_last.pth", weights_only=True)
    assert ckpt["step"] == 2 and ckpt["config"]["batch_size"] == 2
    assert set(ckpt) >= {"generator", "optimizer", "epoch", "step", "config", "rng"}



def test_checkpoint_save_then_load_gives_identical_outputs(tmp_path):
    torch.manual_seed(2)
    args = args_for()
    nets = gan.build_networks(torch.device("cpu"))
    optimizers = gan.build_optimizers(nets, args)
    step(nets, optimizers, frozen_gcn(), *batch(), args)  # move off the init
    checkpoint.save_training_state(str(tmp_path), "0001", nets, optimizers,
                                   {"epoch": 1, "batch": None, "step": 1, "config": vars(args),
                                    "rng": [rng_state()], "generator_args": {}})

    restored = Generator()
    restored.load_state_dict(torch.load(tmp_path / "generator_0001.pth", weights_only=True)["generator"])
    trained = nets["generator"].eval()
    music, _ = batch(size=3, seed=9)
    noise = torch.randn(3, 50, 10)
    with torch.no_grad():
        assert torch.equal(trained(music, noise=noise), restored.eval()(music, noise=noise))
    discs = torch.load(tmp_path / "discriminator_0001.pth", weights_only=True)
    for name in ("local_discriminator", "sequence_discriminator"):
        for key, value in nets[name].state_dict().items():
            assert torch.equal(discs[name][key], value), (name, key)


def test_train_refuses_to_start_without_st_gcn(tiny_corpus, tmp_path, capsys):
    assert train.main(["--data", tiny_corpus, "--split", "all", "--out", str(tmp_path / "run"),
                       "--pretrain_GCN", str(tmp_path / "missing.pth"), "--batch_size", "2"]) == 1
    assert "pretrain_gcn.py" in capsys.readouterr().err


def run_steps(flags, steps=2, seed=0):
    """Losses of ``steps`` iterations on one fixed batch, from fixed weights and random state."""
    args = args_for(*flags)
    torch.manual_seed(seed)
    nets = gan.build_networks(torch.device("cpu"))
    optimizers = gan.build_optimizers(nets, args, enabled_speedups(args))
    st_gcn = frozen_gcn()
    gan.apply_speedups(nets, st_gcn, torch.device("cpu"), enabled_speedups(args))
    music, real = batch(seed=seed)
    torch.manual_seed(seed + 1)
    values = [step(nets, optimizers, st_gcn, music, real, args)
              for _ in range(steps)]
    return values, nets


def test_optimised_step_gives_the_papers_losses():
    """fp32, same seed: the speed-ups change no loss beyond float round-off.

    The forward passes are the same operations on the same values (same random draws, in the
    same order), so the first iteration's losses agree (here to the last bit, but a backend may
    pick another kernel for a pass without autograd): rel 1e-6. The gradients are not summed in
    the same order (the shared music code sums its passes' gradients; channels-last convolutions
    accumulate weight gradients in another order), so they differ by float32 round-off, and
    Adam's first step moves every weight by about +-lr whatever its gradient's size, which turns
    a round-off difference in a gradient near zero into a whole step: the second iteration's
    losses differed by up to about 1e-5 relative on an AVX-512 CPU and by 1.25e-4 on an AVX2 one
    (g_seq_adv; below 3e-5 with any one of channels_last, fused_adam or skip_pooled_out_rows
    off). rel 2.5e-4 allows that, and a real change in the maths moves them by more: a 1 %
    larger generator learning rate by 4e-4 at the second iteration, a 1 % larger gradient
    penalty weight by 6e-3.
    """
    paper, paper_nets = run_steps(["--no-optimize"])
    fast, fast_nets = run_steps([])
    for step, (slow_values, fast_values) in enumerate(zip(paper, fast)):
        assert set(slow_values) == set(fast_values) == set(gan.LOSS_TERMS)
        for name, value in slow_values.items():
            assert fast_values[name] == pytest.approx(value, rel=1e-6 if step == 0 else 2.5e-4,
                                                      abs=1e-6), (step, name)
    # Each BatchNorm of the shared music path got one update per pass, as in the paper's loop.
    slow_bn = paper_nets["sequence_discriminator"].music_encoder.encoder.activations[0][0]
    fast_bn = fast_nets["sequence_discriminator"].music_encoder.encoder.activations[0][0]
    assert slow_bn.num_batches_tracked == fast_bn.num_batches_tracked == 2 * (3 + 2)
    assert torch.allclose(slow_bn.running_var, fast_bn.running_var, rtol=1e-5)


def test_each_speedup_can_be_turned_off_alone():
    args = args_for("--no_speedup", "share_music_code")
    assert enabled_speedups(args) == set(SPEEDUPS) - {"share_music_code"}
    assert enabled_speedups(args_for("--no-optimize")) == set()
    with pytest.raises(SystemExit):
        args_for("--no_speedup", "no_such_thing")


def test_bf16_autocast_step_is_finite():
    values, _ = run_steps(["--amp", "bf16"], steps=1)
    assert set(values[0]) == set(gan.LOSS_TERMS)
    assert all(math.isfinite(v) for v in values[0].values()), values


def test_non_finite_loss_stops_and_keeps_the_last_checkpoint(tiny_corpus, tmp_path, monkeypatch, capsys):
    gcn = write_gcn(tmp_path / "GCN.pth")
    out = tmp_path / "run"
    common = ["--data", tiny_corpus, "--split", "all", "--pretrain_GCN", gcn, "--out", str(out),
              "--batch_size", "2", "--save_every_steps", "1", "--device", "cpu"]
    train.main(common + ["--max_steps", "1"])
    before = (out / "generator_last.pth").read_bytes()

    def nan_l1(*args, **kwargs):
        return torch.tensor(float("nan"))

    monkeypatch.setattr(gan.F, "l1_loss", nan_l1)
    assert train.main(common + ["--resume", "auto", "--max_steps", "3"]) == 1
    message = capsys.readouterr().err
    assert "non-finite loss at step 1" in message and "l1" in message
    assert (out / "generator_last.pth").read_bytes() == before


def test_recipe_sets_defaults_and_explicit_options_win():
    from config import RECIPES, parse_train_args

    beat = parse_train_args(["--recipe", "beat"])
    for name, value in RECIPES["beat"].items():
        assert getattr(beat, name) == value
    assert parse_train_args(["--recipe", "beat", "--edge_pad", "2"]).edge_pad == 2
    paper = parse_train_args([])
    assert (paper.edge_pad, paper.ema, paper.eval_every, paper.amp) == (0, 0.0, 0, "fp32")
    assert (paper.rhythm, paper.fill_missing, paper.lambda_motion) == (None, False, 0.0)
    assert paper.decoder_dropout == 0.5 and beat.decoder_dropout == 0.0 and beat.lambda_motion == 100.0
    assert (paper.motion_smooth, beat.motion_smooth) == (0.0, 1.0)
    assert (paper.lambda_bone, beat.lambda_bone) == (0.0, 0.0)
    repertoire = parse_train_args(["--recipe", "repertoire"])
    for name, value in RECIPES["repertoire"].items():
        assert getattr(repertoire, name) == value
    assert repertoire.lambda_bone == 10.0 and repertoire.motion_prior and repertoire.code_hold
    assert (repertoire.lambda_move, repertoire.lambda_r1, repertoire.lambda_r1_seq) == (600.0, 0.02, 0.02)
    assert repertoire.lambda_stage == 100.0 and paper.lambda_stage == 0.0
    assert (repertoire.pose_output, repertoire.lambda_modes, repertoire.max_minutes) == ("bones", 10.0, 100.0)
    assert (paper.pose_output, paper.lambda_modes) == ("joints", 0.0)
    assert (paper.lambda_move, paper.lambda_r1, paper.lambda_r1_seq, paper.genre_input) == (0.0, 0.0, 0.0, False)
    assert not parse_train_args(["--recipe", "repertoire", "--no-genre_input"]).genre_input
    with pytest.raises(SystemExit):
        parse_train_args(["--decoder_dropout", "1.5"])
    for retired in (["--decoder_norm", "layer"], ["--rhythm_tempo"], ["--code_offset_norm"],  # issue 36
                    ["--code_shrink", "0.5"], ["--key_codebook"], ["--latent_kind", "choice"],
                    ["--lambda_kl", "0.05"], ["--lambda_latent", "0.5"]):  # after commit 1fc2e5f
        with pytest.raises(SystemExit):
            parse_train_args(retired)
    assert not parse_train_args(["--recipe", "beat", "--no-fill_missing"]).fill_missing


def test_beat_recipe_keeps_the_average_and_the_best_held_out_generator(tiny_corpus, tmp_path):
    from model.checkpoint import load_generator

    gcn = write_gcn(tmp_path / "GCN.pth")
    out = tmp_path / "run"
    train.main(["--data", tiny_corpus, "--split", "videos:002", "--pretrain_GCN", gcn,
                "--out", str(out), "--batch_size", "2", "--max_steps", "2", "--recipe", "beat",
                "--eval_every", "1", "--amp", "fp32", "--val_videos", "1", "--device", "cpu"])
    lines = [json.loads(line) for line in (out / "heldout.jsonl").read_text().splitlines()]
    assert len(lines) == 2 and all(0 <= line["beat_align"] <= 1 for line in lines)
    assert all(line["split"] == "val" for line in lines)  # chosen on training videos held out
    best = torch.load(out / "generator_best.pth", weights_only=True)
    level = DanceDataset(tiny_corpus, split="train", split_rule="videos:002", val_videos=1).audio_level()
    assert level > 0
    assert best["step"] in (1, 2)
    assert best["generator_args"] == {"edge_pad": 6, "rhythm": "librosa", "audio_level": level}
    assert best["heldout_split"] == "val"

    last = torch.load(out / "generator_last.pth", weights_only=True)
    assert last["ema_steps"] == 2 and last["generator_args"] == best["generator_args"]
    assert any(not torch.equal(last["generator_ema"][k], v)
               for k, v in last["generator"].items() if v.is_floating_point())
    dancer = load_generator(out / "generator_last.pth")  # inference takes the averaged weights
    assert dancer.edge_pad == 6 and dancer.rhythm == "librosa"
    for key, value in dancer.state_dict().items():
        assert torch.equal(value, last["generator_ema"][key].float()), key


def test_ema_warms_up_then_averages_at_its_decay():
    assert gan.ema_decay(0.999, 1) == pytest.approx(2 / 11)
    assert gan.ema_decay(0.999, 100_000) == 0.999

    net = torch.nn.Sequential(torch.nn.Linear(1, 1, bias=False), torch.nn.BatchNorm1d(1))
    ema = gan.build_ema(net, 0.999)
    expected = None
    for update in range(1, 6):  # the weight is set to 1, 2, ..., 5 before each update
        with torch.no_grad():
            net[0].weight.fill_(float(update))
        net(torch.randn(4, 1))  # moves the BatchNorm statistics and counter
        ema.update_parameters(net)
        done = update - 1  # updates averaged before this one; the first one copies
        d = (1.0 + done) / (10.0 + done)
        expected = float(update) if done == 0 else d * expected + (1 - d) * update
        assert ema.module[0].weight.item() == pytest.approx(expected, rel=1e-6)
    assert ema.module[1].num_batches_tracked.item() == net[1].num_batches_tracked.item() == 5


def test_the_local_r1_penalty_adds_its_weighted_gradient_norm_and_trains_the_discriminator():
    torch.manual_seed(5)
    nets = gan.build_networks(torch.device("cpu"))
    _, real = batch(seed=6)
    fake = torch.rand_like(real) * 2 - 1
    D_local = nets["local_discriminator"].eval()  # no dropout: the passes agree
    plain, none = gan.local_discriminator_loss(D_local, real, fake, logits=True)
    penalised, r1 = gan.local_discriminator_loss(D_local, real, fake, logits=True, lambda_r1=0.5)
    x = real.clone().requires_grad_(True)
    grad, = torch.autograd.grad(D_local(x, logits=True).sum(), x)
    assert none is None and r1.item() == pytest.approx(grad.pow(2).flatten(1).sum(1).mean().item(), rel=1e-5)
    assert penalised.item() == pytest.approx(plain.item() + 0.25 * r1.item(), rel=1e-6)
    penalised.backward()  # the penalty's graph reaches the weights
    assert all(p.grad is not None for p in D_local.parameters())

    args = args_for("--lambda_r1", "1", "--d_logits")
    values = gan.training_step(nets, gan.build_optimizers(nets, args), frozen_gcn(), *batch(seed=6), args,
                               enabled_speedups(args))
    assert values["local_r1"] > 0 and math.isfinite(values["d_local"])
    assert gan.training_step(nets, gan.build_optimizers(nets, args_for()), frozen_gcn(), *batch(seed=6),
                             args_for()).keys().isdisjoint({"local_r1", "sequence_r1"})


def test_the_sequence_r1_penalty_is_the_logits_gradient_at_the_real_dances_with_their_music():
    torch.manual_seed(5)
    nets = gan.build_networks(torch.device("cpu"))
    music, real = batch(seed=6)
    fake = torch.rand_like(real) * 2 - 1
    D_seq = nets["sequence_discriminator"].eval()
    plain, _, none = gan.sequence_discriminator_loss(D_seq, real, fake, music, None, logits=True)
    penalised, _, r1 = gan.sequence_discriminator_loss(D_seq, real, fake, music, None, logits=True,
                                                       lambda_r1=0.5)
    x = real.clone().requires_grad_(True)
    grad, = torch.autograd.grad(D_seq(x, music, logits=True)[0].sum(), x)
    assert none is None and r1.item() == pytest.approx(grad.pow(2).flatten(1).sum(1).mean().item(), rel=1e-5)
    assert penalised.item() == pytest.approx(plain.item() + 0.25 * r1.item(), rel=1e-6)

    args = args_for("--lambda_r1_seq", "1", "--d_logits")
    nets["sequence_discriminator"].train()
    for speedups in (enabled_speedups(args), frozenset()):  # with and without the shared music code
        values = gan.training_step(nets, gan.build_optimizers(nets, args), frozen_gcn(), music, real, args,
                                   speedups)
        assert values["sequence_r1"] > 0 and math.isfinite(values["d_seq"])


def test_lazy_gradient_penalty_weights_k_times_on_its_steps_and_skips_the_others():
    torch.manual_seed(5)
    nets = gan.build_networks(torch.device("cpu"))
    music, real = batch(seed=6)
    fake = torch.rand_like(real) * 2 - 1
    D_seq = nets["sequence_discriminator"]
    torch.manual_seed(7)
    penalised, gp, _ = gan.sequence_discriminator_loss(D_seq, real, fake, music, lambda_gp=3.0)
    torch.manual_seed(7)
    plain, none, _ = gan.sequence_discriminator_loss(D_seq, real, fake, music, lambda_gp=None)
    assert none is None and gp.item() > 0
    assert penalised.item() == pytest.approx(plain.item() + 3.0 * gp.item(), rel=1e-6)

    args = args_for("--gp_every", "4")
    optimizers = gan.build_optimizers(nets, args)
    skipped = gan.training_step(nets, optimizers, frozen_gcn(), music, real, args,
                                enabled_speedups(args), penalise=False)
    assert "gradient_penalty" not in skipped and math.isfinite(skipped["d_seq"])
    with pytest.raises(SystemExit):
        args_for("--gp_every", "0")


def test_lazy_r1_penalties_weigh_k_times_on_the_penalised_steps_and_skip_the_others():
    import copy

    torch.manual_seed(5)
    nets = gan.build_networks(torch.device("cpu"))
    music, real = batch(seed=6)
    values = {}
    for every in (1, 4):
        args = args_for("--lambda_r1", "0.5", "--lambda_r1_seq", "1000", "--lambda_gp", "0", "--d_logits",
                        "--gp_every", str(every))  # the sequence R1 is small: a large weight shows it
        copied = copy.deepcopy(nets)
        torch.manual_seed(8)
        values[every] = gan.training_step(copied, gan.build_optimizers(copied, args), frozen_gcn(), music, real,
                                          args, enabled_speedups(args), update_generator=False)
    r1, seq_r1 = values[1]["local_r1"], values[1]["sequence_r1"]
    assert r1 > 0 and seq_r1 > 0
    assert (values[4]["local_r1"], values[4]["sequence_r1"]) == pytest.approx((r1, seq_r1), rel=1e-5)
    assert values[4]["d_local"] - values[1]["d_local"] == pytest.approx(0.5 * 0.5 * 3 * r1, rel=1e-3)
    assert values[4]["d_seq"] - values[1]["d_seq"] == pytest.approx(0.5 * 1000 * 3 * seq_r1, rel=1e-3)
    skipped = gan.training_step(nets, gan.build_optimizers(nets, args), frozen_gcn(), music, real, args,
                                enabled_speedups(args), update_generator=False, penalise=False)
    assert skipped.keys().isdisjoint({"local_r1", "sequence_r1", "gradient_penalty"})


def test_resuming_keeps_this_runs_adam_kernel(tmp_path):
    """A checkpoint from a fused-Adam run resumes into --no-optimize with the plain kernel (and
    back): the kernel is this run's choice, the state the checkpoint's."""
    torch.manual_seed(3)
    fused_args, plain_args = args_for(), args_for("--no-optimize")
    nets = gan.build_networks(torch.device("cpu"))
    fused = gan.build_optimizers(nets, fused_args, enabled_speedups(fused_args))
    step(nets, fused, frozen_gcn(), *batch(), fused_args)
    checkpoint.save_training_state(str(tmp_path), "0001", nets, fused,
                                   {"epoch": 1, "batch": None, "step": 1, "config": vars(fused_args),
                                    "rng": [rng_state()], "generator_args": {}})
    plain = gan.build_optimizers(nets, plain_args, enabled_speedups(plain_args))
    checkpoint.load_training_state(str(tmp_path / "generator_0001.pth"), nets, plain)
    for name, optimizer in plain.items():
        assert optimizer.param_groups[0]["fused"] is None, name
        assert torch.equal(optimizer.state_dict()["state"][0]["exp_avg"],
                           fused[name].state_dict()["state"][0]["exp_avg"])
