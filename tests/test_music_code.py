"""The music code before decoding: --code_cap and --code_hold (recorded), and the probes' equal
offsets; --code_offset_norm and --code_shrink are retired."""

import pytest
import torch

import train
from conftest import write_gcn
from model import checkpoint
from model.checkpoint import CheckpointError
from model.music_code import cap_frame_norm, equalise_offsets, hold_clip_mean
from model.generator import Generator


def test_cap_shortens_only_the_frames_over_it():
    code = torch.zeros(1, 3, 4)
    code[0, 0, 0] = 2.0   # norm 2: under the cap
    code[0, 1] = 3.0      # norm 6: over it
    capped = cap_frame_norm(code, 3.0)
    assert torch.equal(capped[0, 0], code[0, 0]) and torch.equal(capped[0, 2], code[0, 2])
    assert torch.allclose(capped[0, 1], torch.full((4,), 1.5))  # same direction, norm 3
    with pytest.raises(ValueError, match="cap"):
        cap_frame_norm(code, 0.0)


def test_generator_caps_its_code_in_training_and_inference():
    torch.manual_seed(3)
    plain = Generator(decoder_dropout=0.0).eval()
    capped = Generator(decoder_dropout=0.0, code_cap=0.5).eval()
    capped.load_state_dict(plain.state_dict())
    audio, noise = torch.randn(2, 20, 1600) * 3000, torch.randn(2, 20, 10) * 0.33
    with torch.no_grad():
        code = plain.audio_encoder(audio)
        assert code.norm(dim=-1).max() > 0.5  # the cap acts on this music
        expected = plain.decode(cap_frame_norm(code, 0.5), noise)
        assert torch.equal(capped(audio, noise), expected)
        assert not torch.allclose(plain(audio, noise), expected, atol=1e-4)
    with pytest.raises(ValueError, match="code_cap"):
        Generator(code_cap=0.0)


def test_train_records_the_cap_and_loading_restores_it(tiny_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
                       "--batch_size", "2", "--split", "videos:002", "--code_cap", "6",
                       "--save_every_steps", "0"]) == 0
    model = str(out / "generator_last.pth")
    assert checkpoint.generator_args(model)["code_cap"] == 6.0
    assert checkpoint.load_generator(model).code_cap == 6.0
    bad = str(tmp_path / "bad.pth")
    checkpoint.save_generator(bad, Generator().state_dict(), {"generator_args": {"code_cap": -1.0}})
    with pytest.raises(CheckpointError, match="unknown generator_args"):
        checkpoint.load_generator(bad)
    with pytest.raises(SystemExit):
        train.main(["--data", tiny_corpus, "--code_cap", "-1"])
    assert "must be 0 or more" in capsys.readouterr().err



def test_equalised_offsets_by_hand():
    code = torch.tensor([[[1.0, 0.0], [3.0, 2.0]], [[0.0, 0.0], [0.0, -0.5]]])  # offsets (1.5, 1), (-0.5, -0.25)
    centre = torch.tensor([0.5, 0.0])
    equalised = equalise_offsets(code, centre, 2.0)
    offsets, before = equalised.mean(dim=1) - centre, code.mean(dim=1) - centre
    assert torch.allclose(offsets.norm(dim=-1), torch.tensor([2.0, 2.0]))
    assert torch.allclose(offsets, 2.0 * before / before.norm(dim=-1, keepdim=True))
    assert torch.allclose(equalised.diff(dim=1), code.diff(dim=1))  # frame changes kept
    still = torch.zeros(1, 3, 2)  # an offset of 0 stays 0 (taken as eps long, not divided by 0)
    assert torch.equal(equalise_offsets(still, torch.zeros(2), 2.0), still)


def test_hold_gives_every_frame_its_clips_mean_code():
    code = torch.tensor([[[1.0, 2.0], [3.0, 6.0]], [[0.0, -1.0], [0.0, 1.0]]])
    held = hold_clip_mean(code)
    assert torch.equal(held, torch.tensor([[[2.0, 4.0], [2.0, 4.0]], [[0.0, 0.0], [0.0, 0.0]]]))
    assert hold_clip_mean(code.bfloat16()).dtype == torch.bfloat16


def test_generator_with_hold_decodes_the_same_dance_from_any_order_of_its_code_frames():
    torch.manual_seed(5)
    held = Generator(rhythm="truth", code_hold=True, decoder_dropout=0.0).eval()
    music, noise, rhythm = torch.randn(2, 12, 256), torch.randn(2, 12, 10) * 0.33, torch.rand(2, 12, 8)
    reversed_music = music.flip(1)
    with torch.no_grad():
        dance = held.decode(music, noise, rhythm)
        assert torch.allclose(held.decode(reversed_music, noise, rhythm), dance, atol=1e-6)
        plain = Generator(rhythm="truth", decoder_dropout=0.0).eval()
        plain.load_state_dict(held.state_dict())  # no parameters or buffers of its own
        assert not torch.allclose(plain.decode(reversed_music, noise, rhythm), dance, atol=1e-4)
        assert torch.allclose(plain.decode(hold_clip_mean(music), noise, rhythm), dance, atol=1e-6)
    with pytest.raises(ValueError, match="give rhythm"):
        Generator(code_hold=True)


def test_train_records_the_hold_and_refuses_it_without_rhythm(tiny_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    common = ["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
              "--batch_size", "2", "--split", "videos:002", "--save_every_steps", "0", "--code_hold"]
    assert train.main(common + ["--rhythm", "librosa"]) == 0
    model = str(out / "generator_last.pth")
    assert checkpoint.generator_args(model)["code_hold"] is True
    assert checkpoint.load_generator(model).code_hold
    assert train.main(common) == 1
    assert "--code_hold leaves only the rhythm features" in capsys.readouterr().err
    bad = str(tmp_path / "bad.pth")
    checkpoint.save_generator(bad, Generator().state_dict(), {"generator_args": {"code_hold": True}})
    with pytest.raises(CheckpointError, match="unknown generator_args"):
        checkpoint.load_generator(bad)
