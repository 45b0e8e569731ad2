"""--latent_kind beat: a choice of key pose on every beat, assigned per beat in training and
drawn from a trigram of choices at inference (model/beat_choice.py)."""

import math

import numpy as np
import pytest
import torch

from conftest import batch, frozen_gcn
from model import checkpoint, inference
from model.beat_choice import (assign_choices, beat_intervals, choice_uniforms, count_choices, empty_counts,
                               frame_latent, held_latent, key_count, key_weights, nearest_choices,
                               sample_choices, trigram)
from model.gan import build_networks, build_optimizers, held_choice_errors, training_step
from model.generator import Generator
from test_latent import _args, train_tiny


def rhythm_with_beats(batch_size, frames, period, first=0.0):
    """Rhythm features ``(B, T, 8)`` whose beat phase runs one beat per ``period`` frames from
    ``first`` (a frame number, may be fractional); the other features are zero."""
    beats = (torch.arange(frames, dtype=torch.float32) - first) / period
    angle = 2 * math.pi * torch.remainder(beats, 1.0)
    rhythm = torch.zeros(batch_size, frames, 8)
    rhythm[..., 1], rhythm[..., 2] = torch.sin(angle), torch.cos(angle)
    return rhythm


def test_beat_intervals_count_the_phase_wraps():
    intervals, phase = beat_intervals(rhythm_with_beats(2, 20, 4.0, first=1.0))
    # beats on frames 1, 5, 9, 13, 17: frame 0 lies in interval 0, frames 1-4 in interval 1, ...
    assert intervals[0].tolist() == [0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5]
    assert torch.allclose(phase[0, 1:5], torch.tensor([0.0, 0.25, 0.5, 0.75]), atol=1e-5)
    assert key_count(intervals) == 7
    silent, _ = beat_intervals(torch.zeros(1, 10, 8))  # no beats: one interval
    assert silent.eq(0).all() and key_count(silent) == 2


def test_a_frame_hears_its_intervals_two_choices_and_the_beat_weighs_its_key():
    intervals, phase = beat_intervals(rhythm_with_beats(1, 8, 4.0))
    choices = torch.tensor([[2, 0, 1]])
    latent = frame_latent(choices, intervals, 3)
    assert latent.shape == (1, 8, 6)
    assert latent[0, 0].tolist() == [0, 0, 1, 1, 0, 0]  # interval 0: from choice 2 to choice 0
    assert latent[0, 5].tolist() == [1, 0, 0, 0, 1, 0]  # interval 1: from choice 0 to choice 1
    weights = key_weights(intervals, phase, 3)
    assert weights[0, 0].tolist() == [1.0, 0.0, 0.0]  # on the beat: all of key 0
    assert weights[0, 2].tolist() == pytest.approx([0.25, 0.25, 0.0])  # half-way: a quarter each
    assert weights[0, 3, 1] > weights[0, 3, 0]  # three quarters on: mostly the next key
    assert torch.equal(held_latent(1, (2, 5), 3), torch.tensor([0.0, 1, 0, 0, 1, 0]).expand(2, 5, 6))


def test_each_key_takes_the_choice_nearest_the_true_dance_around_its_beat():
    intervals, phase = beat_intervals(rhythm_with_beats(1, 12, 4.0))
    keys = key_count(intervals)  # 4: beats on frames 0, 4, 8, and the one after frame 11
    errors = torch.ones(1, 12, 3)
    errors[0, 0:2, 2] = 0.0  # choice 2 fits around beat 0
    errors[0, 3:6, 0] = 0.0  # choice 0 around beat 1 (frame 4)
    errors[0, 7:12, 1] = 0.0  # choice 1 around beats 2 and 3
    assert nearest_choices(errors, key_weights(intervals, phase, keys)).tolist() == [[2, 0, 1, 1]]
    assert assign_choices(errors, key_weights(intervals, phase, keys)).tolist() == [[2, 0, 1, 1]]


def test_a_choice_no_key_took_is_given_its_groups_worst_fitted_key():
    intervals, phase = beat_intervals(rhythm_with_beats(2, 12, 4.0))
    weights = key_weights(intervals, phase, key_count(intervals))
    errors = torch.ones(2, 12, 4)
    errors[..., 0] = 0.1  # choice 0 is nearest everywhere ...
    errors[0, 3:6, 0] = 0.9  # ... but fits beat 1 of clip 0 worst
    errors[1, 7:12, 0] = 0.5  # and beats 2-3 of clip 1 next worst
    assert nearest_choices(errors, weights).eq(0).all()
    # one group: choices 1, 2 and 3 take the three worst-fitted keys, in that order
    assert assign_choices(errors, weights).tolist() == [[0, 1, 0, 0], [0, 0, 2, 3]]
    # two groups (genres): each clip's group re-seeds from its own keys
    assert assign_choices(errors, weights, torch.tensor([0, 1])).tolist() == [[3, 1, 2, 0], [0, 3, 1, 2]]


def test_the_trigram_learns_a_cycle_and_draws_it_back():
    intervals = torch.arange(10).repeat(8, 1)  # 10 frames, one per interval: 11 keys
    cycle = torch.tensor([0, 1, 2, 3] * 3)[:11].repeat(8, 1)
    counts = empty_counts(1, 4)
    for _ in range(50):
        count_choices(counts, cycle, intervals, None)
    table = trigram(counts)
    assert torch.allclose(table.sum(-1), torch.ones(1, 5, 5))
    assert table[0, 0, 1, 2] > 0.95 and table[0, 2, 3, 0] > 0.95  # the cycle goes on
    assert table[0, 4, 4, 0] > 0.95  # every clip started on choice 0
    torch.manual_seed(0)
    drawn = sample_choices(counts, None, torch.rand(3, 11))
    assert (drawn == cycle[:3]).float().mean() > 0.9
    # with nothing counted every choice is as likely
    assert torch.allclose(trigram(empty_counts(2, 4)), torch.full((2, 5, 5, 4), 0.25))


def test_counts_decay_and_keep_genres_apart():
    counts = empty_counts(2, 3)
    intervals = torch.zeros(2, 5, dtype=torch.long)  # one interval: two keys each
    count_choices(counts, torch.tensor([[0, 1], [2, 2]]), intervals, torch.tensor([0, 1]), decay=0.5)
    assert counts[0, 3, 3, 0] == 1 and counts[0, 3, 0, 1] == 1 and counts[1, 3, 2, 2] == 1
    assert counts.sum() == 4
    count_choices(counts, torch.tensor([[0, 1], [2, 2]]), intervals, torch.tensor([0, 1]), decay=0.5)
    assert counts[0, 3, 3, 0] == 1.5 and counts.sum() == 6


def test_each_key_draws_from_the_noise_at_its_first_frame():
    intervals = torch.tensor([[0, 0, 1, 1, 1, 2]])
    noise = torch.zeros(1, 6, 10)
    noise[0, 0, 0], noise[0, 2, 0], noise[0, 5, 0], noise[0, 5, 1] = 1.0, -1.0, 0.5, -0.5
    uniforms = choice_uniforms(noise, intervals, 4)
    phi = lambda x: 0.5 * (1 + math.erf(x / (0.33 * math.sqrt(2))))  # noqa: E731
    assert uniforms[0].tolist() == pytest.approx([phi(1.0), phi(-1.0), phi(0.5), phi(-0.5)], rel=1e-4)


def beat_generator(genres=0):
    torch.manual_seed(0)
    return Generator(rhythm="truth", latent_dim=6, latent_kind="beat", genres=genres)


def test_a_beat_generator_hears_two_one_hots_per_frame_and_draws_its_choices_from_the_seed():
    G = beat_generator().eval()
    plain = sum(p.numel() for p in Generator(rhythm="truth").parameters())
    assert sum(p.numel() for p in G.parameters()) - plain == 2 * 6 * 1024
    assert G.choice_counts.shape == (1, 7, 7, 6)
    music, rhythm = torch.randn(2, 50, 1600) * 3000, rhythm_with_beats(2, 50, 5.0)
    noise = inference.seeded_noise((2, 50, 10), 1)
    with torch.no_grad():
        default = G(music, noise, rhythm=rhythm)
        explicit = G(music, noise, rhythm=rhythm, latent=G.prior_frames(rhythm, noise))
        held = G(music, noise, rhythm=rhythm, latent=held_latent(3, (2, 50), 6))
        again = G(music, inference.seeded_noise((2, 50, 10), 1), rhythm=rhythm)
        other = G(music, inference.seeded_noise((2, 50, 10), 2), rhythm=rhythm)
    assert torch.equal(default, explicit) and torch.equal(default, again)
    assert (default - held).abs().max() > 1e-3 and (default - other).abs().max() > 1e-3
    with pytest.raises(ValueError, match="two one-hots"):
        G(music, noise, rhythm=rhythm, latent=torch.zeros(2, 6))
    with pytest.raises(ValueError, match="rhythm"):
        Generator(latent_dim=6, latent_kind="beat")
    with pytest.raises(ValueError, match="latent_dim"):
        Generator(rhythm="truth", latent_dim=33, latent_kind="beat")
    assert Generator(rhythm="truth", latent_dim=12, latent_kind="beat").latent_dim == 12


def test_held_choice_errors_find_the_choice_a_clip_was_danced_from():
    G = beat_generator()
    music, noise = torch.randn(3, 50, 256), inference.seeded_noise((3, 50, 10), 0)
    rhythm = rhythm_with_beats(3, 50, 5.0)
    with torch.no_grad():
        G.eval()
        targets = torch.cat([G.decode(music[i:i + 1], noise[i:i + 1], rhythm[i:i + 1],
                                      latent=held_latent(c, (1, 50), 6)) for i, c in enumerate((4, 0, 2))])
        G.train()
    running = [b.clone() for name, b in G.pose_generator.named_buffers() if "running" in name]
    errors = held_choice_errors(G.eval(), music, noise, targets, {"rhythm": rhythm})
    assert errors.shape == (3, 50, 6)
    assert errors.mean(dim=1).argmin(dim=1).tolist() == [4, 0, 2]
    G.train()
    held_choice_errors(G, music, noise, targets, {"rhythm": rhythm})
    after = [b for name, b in G.pose_generator.named_buffers() if "running" in name]
    assert all(torch.equal(a, b) for a, b in zip(after, running))


def test_a_training_step_counts_the_assigned_choices_per_genre():
    torch.manual_seed(0)
    nets = build_networks(torch.device("cpu"), rhythm="truth", latent_dim=4, latent_kind="beat", genres=2)
    args = _args(lr_g=1e-3, lr_d_frame=1e-4, lr_d_seq=1e-4)
    music, real = batch(4)
    rhythm, genre = rhythm_with_beats(4, 50, 5.0), torch.tensor([0, 1, 1, 0])
    terms = training_step(nets, build_optimizers(nets, args), frozen_gcn(), music, real, args, rhythm=rhythm,
                          genre=genre)
    assert {"l1", "perceptual", "g_seq_adv"} <= set(terms)
    assert all(np.isfinite(v) for v in terms.values())
    counts = nets["generator"].choice_counts
    # 10 beats in 50 frames from frame 0: 11 keys per clip, two clips per genre
    assert counts[0].sum() == pytest.approx(22.0) and counts[1].sum() == pytest.approx(22.0)


def test_a_song_draws_one_sequence_of_choices_that_every_window_shares():
    G = beat_generator().eval()
    frames = 200
    rhythm = rhythm_with_beats(1, frames, 5.0)[0]
    noise = inference.seeded_noise((frames, 10), 3)
    starts = torch.tensor([0, 30, 60, 90, 120, 150])
    latents = inference.window_latents(G, noise, starts, rhythm)
    whole = G.prior_frames(rhythm[None], noise[None])[0]
    assert latents.shape == (6, 50, 12)
    assert torch.equal(latents[1], whole[30:80]) and torch.equal(latents[5], whole[150:200])


def test_train_records_a_beat_latent_and_evaluate_finds_each_clips_choices(tiny_corpus, tmp_path):
    import types

    import evaluate

    model = train_tiny(tiny_corpus, tmp_path, "--latent", "12", "--latent_kind", "beat", "--rhythm", "librosa")
    assert checkpoint.generator_args(model)["latent_kind"] == "beat"
    loaded = checkpoint.load_generator(model)
    assert loaded.latent_dim == 12 and loaded.choice_counts.sum() > 0
    music = types.SimpleNamespace(audio=torch.randn(3, 50, 1600).numpy() * 3000,
                                  rhythm=rhythm_with_beats(3, 50, 4.5, first=2.0).numpy())
    dances = np.random.default_rng(0).uniform(100, 300, (3, 50, 18, 2))
    fits = evaluate.true_latents(loaded, dances, music)
    assert fits.shape == (3, 50, 24)
    assert torch.equal(fits.sum(-1), torch.full((3, 50), 2.0))
