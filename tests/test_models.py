"""Shapes, parameter counts, graph, CLI and losses of the model package."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from dataset.format import NOISE_DIM, SAMPLES_PER_FRAME
from dataset.skeleton import GRAPH_BONES, NUM_JOINTS, POSE_DIM
from model import (PERCEPTUAL_WEIGHTS, STGCN, Generator, LocalDiscriminator,
                   SequenceDiscriminator, count_parameters, feature_matching_loss,
                   gradient_penalty, pose_perceptual_loss)
from model.graph import spatial_adjacency

ROOT = Path(__file__).resolve().parents[1]
FRAMES = 50
EXPECTED_COUNTS = {
    "generator": 8_982_664,
    "music_encoder": 2_361_808,
    "pose_generator": 6_620_856,
    "local_discriminator": 1_552_001,
    "sequence_discriminator": 3_788_393,
    "st_gcn": 3_078_224,
}


def _audio(batch, frames=FRAMES):
    return torch.randn(batch, frames, SAMPLES_PER_FRAME) * 3000


def _pose(batch, frames=FRAMES):
    return torch.rand(batch, frames, POSE_DIM) * 2 - 1


@pytest.fixture(scope="module")
def nets():
    torch.manual_seed(0)
    return {"generator": Generator().eval(), "local": LocalDiscriminator().eval(),
            "sequence": SequenceDiscriminator().eval(), "st_gcn": STGCN().eval()}


def test_parameter_counts(nets):
    generator = nets["generator"]
    counts = {
        "generator": count_parameters(generator),
        "music_encoder": count_parameters(generator.audio_encoder),
        "pose_generator": count_parameters(generator.pose_generator),
        "local_discriminator": count_parameters(nets["local"]),
        "sequence_discriminator": count_parameters(nets["sequence"]),
        "st_gcn": count_parameters(nets["st_gcn"]),
    }
    assert counts == EXPECTED_COUNTS


def test_st_gcn_class_count_is_an_argument():
    net = STGCN(num_class=5)
    assert count_parameters(net) == EXPECTED_COUNTS["st_gcn"] - 11 * 257
    with torch.no_grad():
        assert net.eval()(_pose(2)).shape == (2, 5)


def test_cli_prints_parameter_counts_as_json():
    result = subprocess.run([sys.executable, "-m", "model"], cwd=ROOT, capture_output=True,
                            text=True, check=True)
    assert json.loads(result.stdout) == EXPECTED_COUNTS


@pytest.mark.parametrize("batch", [1, 3, 16])
def test_output_shapes(nets, batch):
    audio, pose = _audio(batch), _pose(batch)
    with torch.no_grad():
        assert nets["generator"](audio).shape == (batch, FRAMES, POSE_DIM)
        assert nets["local"](pose).shape == (batch, 16)
        prob, features = nets["sequence"](pose, audio)
        logits = nets["st_gcn"](pose)
        blocks = nets["st_gcn"].extract_feature(pose)
    assert prob.shape == (batch, 1)
    assert ((prob > 0) & (prob < 1)).all()
    assert len(features) == 6 and all(f.shape[0] == batch for f in features)
    assert logits.shape == (batch, 16)
    expected = [(64, 50)] * 4 + [(128, 25)] * 3 + [(256, 13)] * 3
    assert [tuple(f.shape) for f in blocks] == [(batch, c, t, NUM_JOINTS) for c, t in expected]


def test_lengths_come_from_the_input(nets):
    with torch.no_grad():
        assert nets["generator"](_audio(2, frames=7)).shape == (2, 7, POSE_DIM)
        assert nets["local"](_pose(2, frames=20)).shape == (2, 6)
        assert nets["st_gcn"].extract_feature(_pose(2, frames=12))[-1].shape == (2, 256, 3, 18)
    with pytest.raises(ValueError, match="50-frame"):
        nets["sequence"](_pose(1, frames=40), _audio(1, frames=40))


def test_generator_trains_with_batch_one():
    generator = Generator().train()
    out = generator(_audio(1, frames=4))
    out.sum().backward()
    assert out.shape == (1, 4, POSE_DIM)
    assert generator.audio_encoder.encoder.cl[0].weight.grad is not None


def test_generator_noise_reproducible(nets):
    generator, audio = nets["generator"], _audio(2)
    noise = torch.randn(2, FRAMES, NOISE_DIM) * 0.33
    with torch.no_grad():
        first, second = generator(audio, noise), generator(audio, noise.clone())
        other = generator(audio, noise + 0.5)
        torch.manual_seed(7)
        drawn = generator(audio)
        torch.manual_seed(7)
        drawn_again = generator(audio)
    assert torch.equal(first, second)
    assert not torch.allclose(first, other)
    assert torch.equal(drawn, drawn_again)
    with pytest.raises(ValueError, match="noise"):
        generator(audio, noise[:, :10])


def test_decoder_dropout_is_the_only_train_mode_randomness_given_the_noise():
    audio, noise = _audio(2), torch.randn(2, FRAMES, NOISE_DIM) * 0.33
    outputs = {}
    for p in (0.5, 0.0):
        torch.manual_seed(3)
        generator = Generator(decoder_dropout=p).train()
        with torch.no_grad():
            outputs[p] = generator(audio, noise), generator(audio, noise)
    assert Generator().pose_generator.dropout.p == 0.5
    assert not torch.equal(*outputs[0.5])
    assert torch.equal(*outputs[0.0])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_networks_run_on_cuda():
    device = torch.device("cuda")
    audio, pose = _audio(2).to(device), _pose(2).to(device)
    with torch.no_grad():
        assert Generator().to(device).eval()(audio).device.type == "cuda"
        assert LocalDiscriminator().to(device).eval()(pose).device.type == "cuda"
        assert SequenceDiscriminator().to(device).eval()(pose, audio)[0].device.type == "cuda"
        assert STGCN().to(device).eval()(pose).device.type == "cuda"


def test_graph_is_column_normalised_spatial_partition():
    adjacency = spatial_adjacency()
    assert adjacency.shape == (3, NUM_JOINTS, NUM_JOINTS)
    columns = adjacency.sum(dim=(0, 1))
    assert torch.allclose(columns, torch.ones(NUM_JOINTS))
    # every nonzero entry of column w is 1 / (size of w's neighbourhood, itself included)
    neighbourhood = (adjacency != 0).sum(dim=(0, 1)).float()
    nonzero = adjacency != 0
    assert torch.allclose(adjacency[nonzero], (1 / neighbourhood).expand_as(adjacency)[nonzero])
    assert torch.equal(adjacency[0], torch.diag(adjacency[0].diagonal()))


def test_graph_is_built_from_skeleton_graph_bones():
    linked = spatial_adjacency().sum(dim=0) != 0
    expected = torch.eye(NUM_JOINTS, dtype=torch.bool)
    for i, j in GRAPH_BONES:
        expected[i, j] = expected[j, i] = True
    assert torch.equal(linked, expected)
    # column w is normalised by w's neighbourhood size; the neck reaches the nose (farther from
    # the centre) through the centrifugal partition. Nose: neck, 2 eyes, self; neck: nose and
    # both shoulders + self (the hips hang off the shoulders in the ST-GCN graph).
    neck, nose = 1, 0
    assert spatial_adjacency()[2, neck, nose] == pytest.approx(1 / 4)
    assert spatial_adjacency()[1, nose, neck] == pytest.approx(1 / 4)
    three_joint_chain = spatial_adjacency(num_joints=3, bones=((0, 1), (1, 2)), center=1)
    assert torch.allclose(three_joint_chain.sum(dim=0),
                          torch.tensor([[.5, 1 / 3, 0], [.5, 1 / 3, .5], [0, 1 / 3, .5]]))


class _Features(nn.Module):
    """Stand-in ST-GCN whose ten 'block outputs' are the pose itself."""

    def extract_feature(self, pose):
        return [pose] * len(PERCEPTUAL_WEIGHTS)


def test_pose_perceptual_loss_known_cases(nets):
    pose = _pose(2)
    assert pose_perceptual_loss(nets["st_gcn"], pose, pose.clone()).item() == 0.0
    fake = pose + 0.25
    expected = sum(PERCEPTUAL_WEIGHTS) * 0.25
    assert pose_perceptual_loss(_Features(), fake, pose).item() == pytest.approx(expected)


def test_pose_perceptual_loss_reaches_the_fake_only(nets):
    fake, real = _pose(1).requires_grad_(True), _pose(1).requires_grad_(True)
    pose_perceptual_loss(nets["st_gcn"], fake, real).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None


def test_feature_matching_loss_known_cases():
    features = [torch.randn(2, 4, 5, 3), torch.randn(2, 8)]
    assert feature_matching_loss(features, [f.clone() for f in features]).item() == 0.0
    shifted = [(f + 0.5).requires_grad_(True) for f in features]
    assert feature_matching_loss(shifted, features).item() == pytest.approx(1.0)
    real = [f.clone().requires_grad_(True) for f in features]
    feature_matching_loss(shifted, real).backward()
    assert all(r.grad is None for r in real)
    assert all(s.grad is not None for s in shifted)


class _LinearCritic(nn.Module):
    """D(x, audio) = <w, x> + b: its gradient w.r.t. x is w everywhere."""

    def __init__(self, weight):
        super().__init__()
        self.weight = nn.Parameter(weight)

    def forward(self, pose, audio):
        return (pose * self.weight).flatten(1).sum(dim=1, keepdim=True) + audio.mean(), []


@pytest.mark.parametrize("norm", [0.0, 0.5, 3.0])
def test_gradient_penalty_of_linear_critic_is_closed_form(norm):
    weight = torch.randn(FRAMES, POSE_DIM)
    critic = _LinearCritic(weight / weight.norm() * norm)
    penalty = gradient_penalty(critic, _pose(3), _pose(3), _audio(3, frames=FRAMES))
    assert penalty.item() == pytest.approx((norm - 1) ** 2, rel=1e-5, abs=1e-6)
    penalty.backward()  # create_graph: the penalty trains the critic
    if norm > 0:
        assert critic.weight.grad.abs().sum() > 0


def test_gradient_penalty_runs_on_sequence_discriminator(nets):
    penalty = gradient_penalty(nets["sequence"], _pose(2), _pose(2), _audio(2))
    assert penalty.dim() == 0 and torch.isfinite(penalty)


def test_edge_pad_keeps_shapes_and_parameters_and_changes_only_the_context():
    torch.manual_seed(0)
    plain, padded = Generator().eval(), Generator(edge_pad=6).eval()
    padded.load_state_dict(plain.state_dict())
    assert count_parameters(padded) == count_parameters(plain)
    audio = torch.randn(2, 50, 1600) * 3000
    noise = torch.zeros(2, 50, 10)
    with torch.no_grad():
        a, b = plain(audio, noise=noise), padded(audio, noise=noise)
    assert b.shape == (2, 50, 36)
    assert not torch.allclose(a, b)  # the GRU saw mirrored context at both ends


def test_load_generator_rebuilds_edge_pad_from_checkpoint(tmp_path):
    from model.checkpoint import load_generator

    torch.manual_seed(1)
    net = Generator(edge_pad=4)
    torch.save({"generator": net.state_dict(), "generator_args": {"edge_pad": 4}, "config": {}},
               tmp_path / "g.pth")
    loaded = load_generator(tmp_path / "g.pth")
    assert loaded.edge_pad == 4
    audio, noise = torch.randn(1, 50, 1600) * 3000, torch.zeros(1, 50, 10)
    with torch.no_grad():
        assert torch.equal(loaded(audio, noise=noise), net.eval()(audio, noise=noise))


def test_aggregate_first_graph_conv_is_the_same_sum():
    """The ``aggregate_first`` order gives the einsum's features and input gradients, with a
    non-trivial bias and edge importance (so the bias carried through A is exercised)."""
    torch.manual_seed(3)
    gcn = STGCN().eval().requires_grad_(False)
    for importance in gcn.edge_importance:
        importance.uniform_(0.5, 1.5)
    for module in gcn.modules():
        if isinstance(module, nn.Conv2d):
            module.bias.uniform_(-0.5, 0.5)
    pose = torch.randn(3, 20, POSE_DIM, requires_grad=True)

    def features_and_grad(aggregate_first):
        for block in gcn.st_gcn_networks:
            block.gcn.aggregate_first = aggregate_first
        features = gcn.extract_feature(pose)
        grad, = torch.autograd.grad(sum(f.square().mean() for f in features), pose)
        return features, grad

    (einsum, einsum_grad), (first, first_grad) = features_and_grad(False), features_and_grad(True)
    for a, b in zip(einsum, first):
        assert a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5)
    assert torch.allclose(einsum_grad, first_grad, rtol=1e-4, atol=1e-6)


def test_skipping_the_pooled_out_row_keeps_the_local_discriminator_exact():
    torch.manual_seed(4)
    local = LocalDiscriminator().eval()
    pose = torch.rand(2, 50, POSE_DIM) * 2 - 1
    with torch.no_grad():
        full = local(pose), local.hcn(pose[:, :5].reshape(2, 5, NUM_JOINTS, 2).permute(0, 3, 1, 2))
        local.hcn.skip_pooled_out_rows = True
        skipped = local(pose), local.hcn(pose[:, :5].reshape(2, 5, NUM_JOINTS, 2).permute(0, 3, 1, 2))
    assert torch.equal(full[0], skipped[0])
    assert all(torch.equal(a, b) for a, b in zip(full[1], skipped[1]))


@pytest.mark.parametrize("name", ["local", "sequence"])
def test_confident_discriminator_keeps_its_gradient_under_bf16_autocast(name):
    """A logit of 8 is a probability of 1 - 3.4e-4: in bfloat16 that rounds to exactly 1, where
    BCE has no gradient. The probability must come out in float32 so the discriminator can still
    learn that a fake is fake (the seed-0 beat-recipe run lost its sequence discriminator so)."""
    from model.gan import bce

    torch.manual_seed(0)
    net = LocalDiscriminator() if name == "local" else SequenceDiscriminator()
    head = net.fc8 if name == "local" else net.fc
    with torch.no_grad():
        head.weight.zero_()
        head.bias.fill_(8.0)
    pose = _pose(2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        prob = net(pose) if name == "local" else net(pose, _audio(2))[0]
        loss = bce(prob, 0.0)
    loss.backward()
    assert prob.dtype == torch.float32
    assert prob.max().item() < 1.0
    assert loss.item() == pytest.approx(8.0, abs=0.01)  # -log(1 - sigmoid(8)) ~ 8.0003
    assert head.bias.grad.item() == pytest.approx(1.0, abs=1e-3)  # d/db = sigmoid(8)


@pytest.mark.parametrize("name", ["local", "sequence"])
def test_logit_bce_is_the_same_loss_and_keeps_a_saturated_discriminators_gradient(name):
    """At a logit of 2 both forms give the same loss and gradient; at 20 float32 rounds the
    probability to exactly 1, where the paper's form is clamped at 100 with no gradient and the
    logit form (--d_logits) still pushes the bias down by sigmoid(20) ~ 1."""
    from model.gan import bce

    torch.manual_seed(0)
    net = LocalDiscriminator() if name == "local" else SequenceDiscriminator()
    net.eval()
    head = net.fc8 if name == "local" else net.fc
    pose, audio = _pose(2), _audio(2)

    def loss_and_grad(bias, logits):
        with torch.no_grad():
            head.weight.zero_()
            head.bias.fill_(bias)
        net.zero_grad()
        out = net(pose, logits=logits) if name == "local" else net(pose, audio, logits=logits)[0]
        loss = bce(out, 0.0, logits)
        loss.backward()
        return loss.item(), head.bias.grad.item()

    prob_loss, prob_grad = loss_and_grad(2.0, logits=False)
    logit_loss, logit_grad = loss_and_grad(2.0, logits=True)
    assert logit_loss == pytest.approx(prob_loss, rel=1e-6)
    assert logit_grad == pytest.approx(prob_grad, rel=1e-5)
    assert prob_grad == pytest.approx(0.8808, abs=1e-4)  # sigmoid(2)

    saturated_loss, saturated_grad = loss_and_grad(20.0, logits=False)
    assert saturated_loss == pytest.approx(100.0) and saturated_grad == 0.0
    logit_loss, logit_grad = loss_and_grad(20.0, logits=True)
    assert logit_loss == pytest.approx(20.0, abs=1e-4)
    assert logit_grad == pytest.approx(1.0, abs=1e-6)
