"""Release-checkpoint compatibility: numerical agreement with the original, checkpoint loading."""

import os
import re
import shutil
from pathlib import Path

import pytest
import torch

from model import STGCN, Generator
from model.checkpoint import (CheckpointError, load_generator, load_generator_state, load_st_gcn,
                              load_st_gcn_state)
from model.compat import compare_with_fixtures, main
from model.graph import spatial_adjacency

FIXTURES = os.environ.get("DANCE_SYNTH_FIXTURES")
needs_fixtures = pytest.mark.skipif(
    not FIXTURES, reason="set DANCE_SYNTH_FIXTURES to the original's fixture folder "
                         "(shared/fixtures/original) to compare with the original code")


@needs_fixtures
def test_outputs_match_the_original_code():
    diffs = compare_with_fixtures(FIXTURES)
    assert len(diffs) == 12
    assert max(diffs.values()) <= 1e-4, diffs


@needs_fixtures
def test_cli_fails_when_an_output_differs(tmp_path, capsys):
    for name in ("generator_state_dict.pt", "st_gcn_state_dict.pt"):
        shutil.copy(Path(FIXTURES) / name, tmp_path / name)
    io = torch.load(Path(FIXTURES) / "io.pt", weights_only=True)
    torch.save(io, tmp_path / "io.pt")
    assert main(["--check", str(tmp_path)]) == 0
    io["st_gcn_logits"] = io["st_gcn_logits"] + 1e-3
    torch.save(io, tmp_path / "io.pt")
    assert main(["--check", str(tmp_path)]) == 1
    assert "st_gcn_logits" in capsys.readouterr().out


@needs_fixtures
def test_default_graph_is_the_releases():
    """The release's A is ST-GCN's OpenPose layout (hips hang off the shoulders); ours too."""
    release_a, _ = load_st_gcn_state(Path(FIXTURES) / "st_gcn_state_dict.pt")
    rebuilt = spatial_adjacency()
    # stored as float16, so 1/3 is off by ~8e-5
    assert torch.allclose(release_a["A"], rebuilt, atol=2e-4)


@pytest.fixture(scope="module")
def generator_state():
    torch.manual_seed(0)
    return Generator().state_dict()


@pytest.fixture(scope="module")
def st_gcn_state():
    torch.manual_seed(0)
    return STGCN(num_class=3).state_dict()


def _half(state):
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _assert_same(loaded, state):
    assert loaded.keys() == state.keys()
    for key, value in loaded.items():
        expected = torch.float32 if state[key].is_floating_point() else state[key].dtype
        assert value.dtype == expected, key
        assert torch.equal(value, state[key].to(value.dtype)), key


def test_generator_project_checkpoint(tmp_path, generator_state):
    path = tmp_path / "generator_0050.pth"
    torch.save({"generator": generator_state, "config": {"lr_g": 3e-4, "batch_size": 16},
                "epoch": 50}, path)
    _assert_same(load_generator_state(path), generator_state)
    assert not load_generator(path).training


def test_generator_release_checkpoint_float16(tmp_path, generator_state):
    path = tmp_path / "generator_0400.pth"
    torch.save(_half(generator_state), path)
    _assert_same(load_generator_state(path), _half(generator_state))


def test_generator_data_parallel_prefix(tmp_path, generator_state):
    path = tmp_path / "generator_dp.pth"
    torch.save({f"module.{k}": v for k, v in generator_state.items()}, path)
    _assert_same(load_generator_state(path), generator_state)


ISSUE_36 = "retired in issue 36"
AFTER_1FC2E5F = "removed after commit 1fc2e5f, the last that has it"
ENCODER = {"dance_encoder.head.weight": torch.zeros(16, 128)}  # a Gaussian latent's (not recorded as a kind)


@pytest.mark.parametrize("retired, weights, what, where", [
    ({"decoder_norm": "layer"}, {}, "generator_args name decoder_norm", ISSUE_36),
    ({"rhythm": "librosa", "rhythm_tempo": True}, {}, "generator_args name rhythm_tempo", ISSUE_36),
    ({"code_offset_norm": True}, {}, "generator_args name code_offset_norm", ISSUE_36),
    ({"rhythm": "truth", "latent_dim": 4, "latent_kind": "beat", "key_codebook": True}, {},
     "generator_args name key_codebook", AFTER_1FC2E5F),
    ({"rhythm": "truth", "latent_dim": 4, "latent_kind": "beat"}, {}, "a generator with --latent_kind beat",
     AFTER_1FC2E5F),
    ({"latent_dim": 4, "latent_kind": "gaussian"}, ENCODER, "a generator with --latent_kind gaussian", AFTER_1FC2E5F),
    ({"latent_dim": 4}, ENCODER, "a generator with --latent_kind gaussian (its weights hold a dance encoder)",
     AFTER_1FC2E5F),
])
def test_a_generator_with_a_retired_option_is_refused_in_one_line(tmp_path, capsys, generator_state, retired,
                                                                   weights, what, where):
    from model import export

    path = tmp_path / "generator_old.pth"
    torch.save({"generator": {**generator_state, **weights}, "generator_args": {"edge_pad": 6, **retired}}, path)
    with pytest.raises(CheckpointError, match=re.escape(f"generator_old.pth: {what}, an option {where} "
                                                        f"(docs/experiments.md)")):
        load_generator(path)
    assert export.main(["generator", str(path), str(tmp_path / "out.pth")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "generator_old.pth" in err and where in err
    assert len(err.splitlines()) == 1


def test_st_gcn_project_and_release_checkpoints(tmp_path, st_gcn_state):
    project, release = tmp_path / "project_GCN.pth", tmp_path / "GCN.pth"
    torch.save({"st_gcn": st_gcn_state, "num_class": 3, "labels": ["a", "b", "c"]}, project)
    torch.save(_half(st_gcn_state), release)
    state, num_class = load_st_gcn_state(project)
    assert num_class == 3
    _assert_same(state, st_gcn_state)
    state, num_class = load_st_gcn_state(release)
    assert num_class == 3
    _assert_same(state, _half(st_gcn_state))
    frozen = load_st_gcn(release)
    assert not frozen.training and not any(p.requires_grad for p in frozen.parameters())


def test_wrong_network_is_named(tmp_path, generator_state, st_gcn_state):
    gcn_path, gen_path = tmp_path / "GCN.pth", tmp_path / "generator.pth"
    torch.save(st_gcn_state, gcn_path)
    torch.save(generator_state, gen_path)
    with pytest.raises(CheckpointError, match=r"GCN\.pth: not a generator state dict "
                                              r"\(missing keys: audio_encoder"):
        load_generator_state(gcn_path)
    with pytest.raises(CheckpointError, match=r"generator\.pth: not an ST-GCN .*fcn\.weight"):
        load_st_gcn_state(gen_path)


def test_wrong_shapes_are_listed(tmp_path, generator_state):
    state = dict(generator_state)
    state["pose_generator.final_linear.weight"] = torch.zeros(30, 1024)
    path = tmp_path / "narrow.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointError, match=r"narrow\.pth: .*wrong shapes: "
                                              r"pose_generator\.final_linear\.weight \(30, 1024\)"):
        load_generator_state(path)


def test_extra_keys_are_listed(tmp_path, st_gcn_state):
    path = tmp_path / "extra.pth"
    torch.save({**st_gcn_state, "fc.weight": torch.zeros(2)}, path)
    with pytest.raises(CheckpointError, match=r"unexpected keys: fc\.weight"):
        load_st_gcn_state(path)


def test_class_count_mismatch(tmp_path, st_gcn_state):
    path = tmp_path / "GCN.pth"
    torch.save({"st_gcn": st_gcn_state, "num_class": 16}, path)
    with pytest.raises(CheckpointError, match="num_class is 16 but the classifier head has 3"):
        load_st_gcn_state(path)


@pytest.mark.parametrize("content, message", [
    (b"certainly not a checkpoint", "not a readable torch checkpoint"),
    ([torch.zeros(3)], "expected a dict .* found list"),
    ({"epoch": 3, "note": "hello"}, "top-level keys: epoch, note"),
    ({"generator": {"layer": "text"}}, "top-level keys: generator"),
])
def test_garbage_is_rejected_with_the_file_name(tmp_path, content, message):
    path = tmp_path / "junk.pth"
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)
    for loader in (load_generator_state, load_st_gcn_state):
        with pytest.raises(CheckpointError, match=rf"junk\.pth: .*{message}"):
            loader(path)


def test_check_reports_an_incomplete_io_file(tmp_path, capsys, generator_state, st_gcn_state):
    torch.save(generator_state, tmp_path / "generator_state_dict.pt")
    torch.save(st_gcn_state, tmp_path / "st_gcn_state_dict.pt")
    torch.save({"audio": torch.zeros(1, 50, 1600)}, tmp_path / "io.pt")
    assert main(["--check", str(tmp_path)]) == 1
    assert "io.pt: expected a dict with audio, generator_output" in capsys.readouterr().err


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match=r"absent\.pth: no such file"):
        load_generator_state(tmp_path / "absent.pth")
