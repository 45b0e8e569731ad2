"""--audio_gaps: quiet gaps cut into the training music (model/audio_gaps.py), in training only."""

import math

import pytest
import torch

import train
from conftest import assert_training_only, write_gcn
from model import checkpoint
from model.audio_gaps import GAP_FRAMES, GAP_GAIN, cut_gaps
from model.gan import dance_with_latents
from model.generator import Generator


def frame_gains(audio, cut):
    """Each frame's factor, where the audio is the same constant in every sample: (B, T)."""
    return (cut / audio)[:, :, 0]


def test_gaps_are_whole_quiet_frames_and_at_most_so_many_per_clip():
    torch.manual_seed(0)
    audio = torch.full((64, 50, 1600), 1000.0)
    cut = cut_gaps(audio, max_gaps=2)
    assert cut.shape == audio.shape and cut.dtype == audio.dtype
    gains = frame_gains(audio, cut)
    assert torch.equal(cut, audio * gains[:, :, None])  # one factor per whole frame
    quiet = gains < 1
    assert torch.all(gains[quiet] >= GAP_GAIN[0] - 1e-6) and torch.all(gains[quiet] <= GAP_GAIN[1] + 1e-6)
    assert torch.all(gains[~quiet] == 1)
    per_clip = quiet.sum(dim=1)
    assert per_clip.max() <= 2 * GAP_FRAMES[1]
    assert (per_clip == 0).any() and (per_clip > 0).sum() > 32  # counts 0, 1, 2 drawn uniformly
    assert per_clip[per_clip > 0].min() <= 3 and per_clip.max() >= 12  # brief breaks, long stretches
    factors = gains[quiet].log()
    assert factors.min() < math.log(0.03) and factors.max() > math.log(0.1)  # log-uniform spread


def test_no_gaps_leaves_the_audio_as_it_is():
    audio = torch.randn(3, 20, 1600)
    assert torch.equal(cut_gaps(audio, 0), audio)
    with pytest.raises(ValueError, match="max_gaps"):
        cut_gaps(audio, -1)


def test_a_clip_shorter_than_a_gap_is_cut_whole():
    torch.manual_seed(1)
    audio = torch.full((8, 2, 1600), 500.0)
    gains = frame_gains(audio, cut_gaps(audio, 3))
    assert gains.shape == (8, 2) and torch.all(gains <= 1) and (gains < 1).any()


def test_generator_cuts_gaps_only_in_training_and_only_when_asked():
    assert_training_only(audio_gaps=2)
    with pytest.raises(ValueError, match="audio_gaps"):
        Generator(audio_gaps=-1)


def test_both_dances_of_a_latent_generator_hear_the_gapped_music():
    torch.manual_seed(3)
    plain = Generator(decoder_dropout=0.0, latent_dim=4)
    gapped = Generator(decoder_dropout=0.0, latent_dim=4, audio_gaps=3)
    gapped.load_state_dict(plain.state_dict())
    music, real = torch.randn(16, 20, 1600) * 3000, torch.rand(16, 20, 36) * 2 - 1
    with torch.no_grad():
        torch.manual_seed(4)
        fake, recon, _ = dance_with_latents(plain, music, real, {})
        torch.manual_seed(4)
        gapped_fake, gapped_recon, _ = dance_with_latents(gapped, music, real, {})
    assert not torch.allclose(fake, gapped_fake, atol=1e-4)
    assert not torch.allclose(recon, gapped_recon, atol=1e-4)


def test_train_takes_the_gaps_and_does_not_record_them(tiny_corpus, tmp_path, capsys):
    gcn = write_gcn(tmp_path / "gcn.pth")
    out = tmp_path / "run"
    assert train.main(["--data", tiny_corpus, "--pretrain_GCN", gcn, "--out", str(out), "--max_steps", "1",
                       "--batch_size", "2", "--split", "videos:002", "--audio_gaps", "2",
                       "--save_every_steps", "0"]) == 0
    model = str(out / "generator_last.pth")
    assert "audio_gaps" not in checkpoint.generator_args(model)  # training only: not recorded
    assert checkpoint.load_generator(model).audio_gaps == 0
    with pytest.raises(SystemExit):
        train.main(["--data", tiny_corpus, "--audio_gaps", "-1"])
    assert "must be 0 or more" in capsys.readouterr().err
