"""One generator from a stretch of training: averaged weights, BatchNorm statistics measured again."""

import torch

from conftest import write_corpus_file
from dataset.dance_dataset import DanceDataset
from model import checkpoint, export
from model.generator import Generator
from model.weight_average import average_states, refresh_batchnorm


def clips(count=8, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [{"audio": torch.randn(50, 1600, generator=gen) * 4000} for _ in range(count)]


def test_average_is_the_mean_of_floats_and_keeps_the_last_counter():
    states = [{"w": torch.tensor([1.0, 2.0]), "n": torch.tensor(3)},
              {"w": torch.tensor([3.0, 6.0]), "n": torch.tensor(5)}]
    averaged = average_states(states)
    assert torch.equal(averaged["w"], torch.tensor([2.0, 4.0])) and int(averaged["n"]) == 5


def test_refresh_measures_the_first_batchnorm_mean_over_the_clips_and_leaves_the_rest_alone():
    torch.manual_seed(0)
    generator, data = Generator(), clips()
    norms = [m for m in generator.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    first = norms[0]
    seen = []
    hook = first.register_forward_pre_hook(lambda module, inputs: seen.append(inputs[0].detach()))
    with torch.no_grad():
        generator.eval()(torch.stack([item["audio"] for item in data]))
    hook.remove()
    channels = seen[0].transpose(0, 1).reshape(seen[0].shape[1], -1)  # (C, everything else)
    weights = {k: v.clone() for k, v in generator.state_dict().items() if "running" not in k}
    rng = torch.get_rng_state()

    refresh_batchnorm(generator, data, passes=2, batch_size=4, seed=3)
    # equal batches, each clip seen twice: the cumulative mean of batch means is the plain mean
    assert torch.allclose(first.running_mean, channels.mean(1), atol=1e-3, rtol=1e-4)
    assert not generator.training and all(norm.momentum == 0.1 for norm in norms)
    assert torch.equal(torch.get_rng_state(), rng)
    state = generator.state_dict()
    assert all(torch.equal(state[k], v) for k, v in weights.items() if "num_batches" not in k)
    again = Generator()  # other statistics to start from: the refresh forgets them
    again.load_state_dict(weights, strict=False)
    refresh_batchnorm(again, data, passes=2, batch_size=4, seed=3)
    assert all(torch.equal(a, b) for a, b in zip(again.state_dict().values(), state.values()))


def test_export_refreshes_an_average_on_the_runs_training_clips(tmp_path, capsys):
    corpus = write_corpus_file(tmp_path / "tiny.json", videos=3, clips=2)
    config = {"data": corpus, "split": "videos:002", "val_videos": 0, "rhythm": None, "fill_missing": False}
    sources = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        sources.append(str(tmp_path / f"generator_{seed}.pth"))
        torch.save({"generator": Generator().state_dict(), "generator_args": {}, "config": config,
                    "step": seed}, sources[-1])
    out = tmp_path / "averaged.pth"
    assert export.main(["generator", *sources, str(out), "--refresh_bn", "--threads", "1"]) == 0

    generator = Generator()
    generator.load_state_dict(average_states([torch.load(s, weights_only=True)["generator"] for s in sources]))
    refresh_batchnorm(generator, DanceDataset(corpus, split="train", split_rule="videos:002"))
    shipped = checkpoint.load_generator(out)
    for key, value in generator.state_dict().items():
        assert torch.allclose(shipped.state_dict()[key].float(), value.float(), atol=2e-3, rtol=1e-3), key

    torch.save({"generator": Generator().state_dict()}, tmp_path / "release.pth")
    assert export.main(["generator", str(tmp_path / "release.pth"), str(out), "--refresh_bn"]) == 1
    assert "records no training data" in capsys.readouterr().err
