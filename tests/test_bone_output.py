"""--pose_output bones: joints laid out bone by bone from the neck, with bounded bone lengths."""

import numpy as np
import pytest
import torch

import train
from conftest import write_gcn
from dataset.dance_dataset import DanceDataset
from dataset.skeleton import BONES, CENTER_JOINT, NUM_JOINTS, denormalize
from metrics.evaluation import bone_lengths
from model import checkpoint, count_parameters
from model.bone_output import LONGEST, SHORTEST, BoneOutput
from model.generator import Generator
from model.pose_generator import PoseGenerator


def test_every_bone_keeps_a_length_between_the_bounds_of_the_dancers_median():
    torch.manual_seed(0)
    layer = BoneOutput(16)
    median = torch.linspace(8.0, 60.0, len(BONES))
    layer.set_lengths(median)
    with torch.no_grad():
        layer.linear.weight.mul_(50.0)  # extreme outputs: directions and lengths at their limits
        poses = layer(torch.randn(200, 16))
    assert poses.shape == (200, 36)
    pixels = denormalize(poses.view(-1, NUM_JOINTS, 2))
    for k, (parent, child) in enumerate(BONES):
        length = (pixels[:, child] - pixels[:, parent]).norm(dim=-1)
        assert bool((length >= SHORTEST * median[k] - 1e-3).all())
        assert bool((length <= LONGEST * median[k] + 1e-3).all())
    neck = pixels[:, CENTER_JOINT]
    assert bool((neck >= 0).all()) and bool((neck[:, 0] <= 640).all()) and bool((neck[:, 1] <= 360).all())


def test_a_bone_points_where_its_direction_outputs_say():
    layer = BoneOutput(4)
    layer.set_lengths(torch.full((len(BONES),), 20.0))
    with torch.no_grad():
        layer.linear.weight.zero_()
        layer.linear.bias.zero_()  # the neck at the centre, every length mid-range
        layer.linear.bias[2:2 + 2 * len(BONES)] = torch.tensor([3.0, 4.0]).repeat(len(BONES))  # along (3, 4)
        pixels = denormalize(layer(torch.zeros(1, 4)).view(NUM_JOINTS, 2))
    assert torch.allclose(pixels[CENTER_JOINT], torch.tensor([320.0, 180.0]))
    middle = (SHORTEST + LONGEST) / 2 * 20.0  # sigmoid(0) = 1/2
    for parent, child in BONES:
        assert torch.allclose(pixels[child] - pixels[parent], torch.tensor([0.6, 0.8]) * middle, atol=1e-4)


def test_lengths_must_be_17_positive_pixels_and_gradients_reach_the_layer():
    layer = BoneOutput(8)
    with pytest.raises(ValueError, match="17 positive"):
        layer.set_lengths(torch.zeros(len(BONES)))
    with pytest.raises(ValueError, match="17 positive"):
        layer.set_lengths(torch.ones(3))
    layer.set_lengths(torch.ones(len(BONES)) * 10)
    layer(torch.randn(5, 8)).square().sum().backward()
    assert layer.linear.weight.grad.abs().sum() > 0


def test_the_bone_output_adds_17425_parameters_and_is_off_by_default():
    assert PoseGenerator().output == "joints"
    assert count_parameters(Generator(pose_output="bones")) - count_parameters(Generator()) == 17_425
    assert "pose_generator.final_linear.length" in Generator(pose_output="bones").state_dict()
    with pytest.raises(ValueError, match="output"):
        PoseGenerator(output="angles")


def test_train_sets_the_dancers_bone_lengths_and_records_the_output(tiny_corpus, tmp_path):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
                       "--batch_size", "2", "--split", "videos:002", "--save_every_steps", "0",
                       "--pose_output", "bones"]) == 0
    model = str(out / "generator_last.pth")
    assert checkpoint.generator_args(model)["pose_output"] == "bones"
    loaded = checkpoint.load_generator(model)
    expected = bone_lengths(DanceDataset(tiny_corpus, split="train", split_rule="videos:002").pixel_poses())
    assert np.allclose(loaded.pose_generator.final_linear.length.numpy(), expected, rtol=1e-5)
    with torch.no_grad():
        dance = loaded(torch.randn(1, 50, 1600) * 3000)
    assert dance.shape == (1, 50, 36) and bool(torch.isfinite(dance).all())


def test_preactivations_invert_the_layout_of_a_pose_within_the_bounds():
    torch.manual_seed(1)
    layer = BoneOutput(8)
    median = torch.linspace(10.0, 50.0, len(BONES), dtype=torch.float64)
    layer.set_lengths(median)
    poses = torch.zeros(5, NUM_JOINTS, 2, dtype=torch.float64)
    poses[:, CENTER_JOINT] = torch.tensor([[320.0, 100.0], [100.0, 300.0], [500.0, 60.0],
                                           [320.0, 180.0], [250.0, 200.0]], dtype=torch.float64)
    angle = torch.rand(5, len(BONES), dtype=torch.float64) * 2 * np.pi
    fraction = 0.75 + 0.3 * torch.rand(5, len(BONES), dtype=torch.float64)
    for k, (parent, child) in enumerate(BONES):
        step = torch.stack([angle[:, k].cos(), angle[:, k].sin()], dim=-1) * (fraction[:, k] * median[k])[:, None]
        poses[:, child] = poses[:, parent] + step
    target = layer.double().preactivations(poses)
    assert target.shape == (5, 53)
    rebuilt = []
    with torch.no_grad():  # a layer that emits exactly the targets: zero weights, the target as bias
        layer.linear.weight.zero_()
        for row in target:
            layer.linear.bias.copy_(row)
            rebuilt.append(layer(torch.zeros(1, 8, dtype=torch.float64))[0])
    rebuilt = torch.stack(rebuilt)
    assert torch.allclose(denormalize(rebuilt.view(5, NUM_JOINTS, 2)).double(), poses, atol=1e-3)  # float32 layout
