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


def test_generator_export_records_a_cap(tmp_path, capsys):
    torch.manual_seed(0)
    net = Generator(edge_pad=6)
    source, out = tmp_path / "generator_last.pth", tmp_path / "capped.pth"
    torch.save({"generator": net.state_dict(), "generator_args": {"edge_pad": 6}}, source)
    assert export.main(["generator", str(source), str(out), "--code_cap", "6"]) == 0
    shipped = torch.load(out, weights_only=True)
    assert shipped["generator_args"] == {"edge_pad": 6, "code_cap": 6.0}
    assert load_generator(out).code_cap == 6.0
    assert export.main(["st_gcn", str(source), str(out), "--code_cap", "6"]) == 1
    assert "are a generator's options" in capsys.readouterr().err


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


def test_generator_export_averages_checkpoints_of_one_run(tmp_path, capsys):
    sources, nets = [], []
    for seed in (0, 1, 2):
        torch.manual_seed(seed)
        nets.append(Generator(edge_pad=6))
        nets[-1].pose_generator.layer1.layer[1].running_var.uniform_(0.5, 2.0)
        sources.append(tmp_path / f"generator_{seed:04d}.pth")
        torch.save({"generator": nets[-1].state_dict(), "generator_args": {"edge_pad": 6},
                    "config": {"seed": seed}, "step": 100 * seed, "heldout": {"beat": 0.5}},
                   sources[-1])
    out = tmp_path / "averaged.pth"
    assert export.main(["generator", *map(str, sources), str(out), "--note", "mean"]) == 0

    shipped = torch.load(out, weights_only=True)
    assert shipped["step"] == 200 and shipped["config"] == {"seed": 2} and shipped["heldout"] is None
    states = [net.state_dict() for net in nets]
    for key in ("pose_generator.layer0.weight", "pose_generator.layer1.layer.1.running_var"):
        mean = sum(state[key] for state in states) / 3
        assert not torch.allclose(states[0][key], mean, atol=1e-3)
        assert torch.allclose(shipped["generator"][key].float(), mean, atol=2e-3, rtol=1e-3)
    counter = "pose_generator.layer1.layer.1.num_batches_tracked"
    assert torch.equal(shipped["generator"][counter], states[-1][counter])

    torch.save({"generator": nets[0].state_dict(), "generator_args": {"edge_pad": 3}},
               tmp_path / "other_run.pth")
    assert export.main(["generator", str(sources[0]), str(tmp_path / "other_run.pth"),
                        str(tmp_path / "mixed.pth")]) == 1
    assert "other_run.pth: generator_args" in capsys.readouterr().err
    assert not (tmp_path / "mixed.pth").exists()
    assert export.main(["st_gcn", str(sources[0]), str(sources[1]), str(out)]) == 1
    assert "only generators average" in capsys.readouterr().err
