"""Beat-phase probes: phase targets, context, the ridge probe's scores, and the CLI."""

import math

import numpy as np
import pytest

import probe_beat_phase
from dataset.synthetic import generate_corpus, write_corpus
from metrics.phase_probe import beat_phase, energy_envelope, ridge_probe, with_context
from model.generator import Generator
from model.checkpoint import save


def test_beat_phase_by_hand():
    phase = beat_phase([-0.1, 0.0, 0.25, 0.5, 1.75, 2.0], [0.0, 1.0, 2.0])
    assert np.isnan(phase[0]).all() and np.isnan(phase[5]).all()  # before the first, at the last beat
    expected = [(0.0, 1.0), (1.0, 0.0), (0.0, -1.0), (-1.0, 0.0)]  # phases 0, 1/4, 1/2, 3/4
    np.testing.assert_allclose(phase[1:5], expected, atol=1e-12)
    assert np.isnan(beat_phase([0.5], [1.0])).all()  # one beat: no interval


def test_context_stacks_neighbours_with_repeated_edges():
    x = np.arange(4, dtype=float).reshape(1, 4, 1)
    out = with_context(x, 1)
    assert out.shape == (1, 4, 3)
    assert out[0].tolist() == [[0, 0, 1], [0, 1, 2], [1, 2, 3], [2, 3, 3]]


def test_energy_envelope_of_a_constant_signal():
    audio = np.full((2, 3, 1600), 100.0)
    envelope = energy_envelope(audio)
    assert envelope.shape == (2, 3, 17)
    np.testing.assert_allclose(envelope, math.log1p(100.0))


def test_probe_recovers_encoded_phase_and_not_noise():
    rng = np.random.default_rng(0)
    times = np.arange(50) / 10
    targets = np.stack([beat_phase(times, np.arange(-1, 7) * rng.uniform(0.4, 0.8) + rng.uniform(0, 0.5))
                        for _ in range(40)])
    filled = np.nan_to_num(targets)
    mixing = rng.normal(size=(2, 6))
    encoded = filled @ mixing + 0.01 * rng.normal(size=(40, 50, 6))
    good = ridge_probe(encoded[:30], targets[:30], encoded[30:], targets[30:], ridge=1e-3)
    assert good["r2"] > 0.99 and good["phase_error"] < 0.01
    assert good["frames"] == int((~np.isnan(targets[30:]).any(-1)).sum())
    noise = rng.normal(size=(40, 50, 6))
    bad = ridge_probe(noise[:30], targets[:30], noise[30:], targets[30:])
    assert bad["r2"] < 0.05 and 0.15 < bad["phase_error"] < 0.35  # chance: 0.25


def test_cli_prints_every_row(tmp_path, capsys):
    data = tmp_path / "synthetic.json"
    write_corpus(data, *generate_corpus(videos=4, clips=1, seed=3))
    model = tmp_path / "g.pth"
    save({"generator": Generator().state_dict()}, str(model))
    probe_beat_phase.main(["--data", str(data), "--model", str(model), "--context", "1", "--device", "cpu"])
    lines = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert set(rows) == {"energy_envelope", "music_code", "untrained_code"}
    for r2, error in rows.values():
        assert math.isfinite(float(r2)) and 0 <= float(error) <= 0.5
