"""Compact float16 inference copies of checkpoints."""

import torch

from model.checkpoint import load_generator, load_st_gcn
from model import export
from model.export import export_generator, export_st_gcn
from model.generator import Generator
from model.st_gcn import STGCN


def test_generator_export_is_small_and_dances_the_same(tmp_path):
    torch.manual_seed(0)
    net = Generator(edge_pad=6)
    source, out = tmp_path / "generator_last.pth", tmp_path / "shipped.pth"
    torch.save({"generator": net.state_dict(), "optimizer": {"state": {}},
                "generator_args": {"edge_pad": 6}, "config": {"seed": 1}, "step": 7}, source)
    export_generator(source, out, note="test")

    shipped = torch.load(out, weights_only=True)
    assert shipped["note"] == "test" and shipped["step"] == 7 and "optimizer" not in shipped
    assert shipped["generator"]["pose_generator.layer0.weight"].dtype == torch.float16
    assert shipped["generator"]["pose_generator.layer1.layer.1.running_var"].dtype == torch.float32
    assert out.stat().st_size < 0.6 * source.stat().st_size

    loaded = load_generator(out)
    assert loaded.edge_pad == 6
    audio, noise = torch.randn(2, 50, 1600) * 3000, torch.randn(2, 50, 10) * 0.33
    with torch.no_grad():
        difference = (loaded(audio, noise=noise) - net.eval()(audio, noise=noise)).abs().max()
    assert 0 < difference < 5e-3  # float16 weights: close, not equal


def test_generator_export_records_a_cap_and_keeps_the_offset_norm_in_float32(tmp_path, capsys):
    torch.manual_seed(0)
    net = Generator(code_offset_norm=True)
    net.code_offset.centre.normal_(), net.code_offset.length.fill_(1.2345)
    source, out = tmp_path / "generator_last.pth", tmp_path / "capped.pth"
    torch.save({"generator": net.state_dict(), "generator_args": {"code_offset_norm": True}}, source)
    assert export.main(["generator", str(source), str(out), "--code_cap", "6"]) == 0
    shipped = torch.load(out, weights_only=True)
    assert shipped["generator_args"] == {"code_offset_norm": True, "code_cap": 6.0}
    assert shipped["generator"]["code_offset.centre"].dtype == torch.float32
    loaded = load_generator(out)
    assert loaded.code_cap == 6.0 and torch.equal(loaded.code_offset.centre, net.code_offset.centre)
    assert torch.equal(loaded.code_offset.length, net.code_offset.length)  # not rounded to float16
    assert export.main(["st_gcn", str(source), str(out), "--code_cap", "6"]) == 1
    assert "has no music code" in capsys.readouterr().err


def test_st_gcn_export_keeps_graph_and_classes(tmp_path):
    torch.manual_seed(0)
    net = STGCN(num_class=4)
    source, out = tmp_path / "GCN.pth", tmp_path / "shipped.pth"
    torch.save({"st_gcn": net.state_dict(), "num_class": 4, "trained_on": {"classes": list("abcd")}},
               source)
    export_st_gcn(source, out)
    shipped = torch.load(out, weights_only=True)
    assert shipped["st_gcn"]["A"].dtype == torch.float32
    assert shipped["trained_on"]["classes"] == list("abcd")
    loaded = load_st_gcn(out)
    assert torch.equal(loaded.A, net.A)
    pose = torch.rand(3, 50, 36) * 2 - 1
    with torch.no_grad():
        assert torch.allclose(loaded(pose), net.eval()(pose), atol=5e-2)
