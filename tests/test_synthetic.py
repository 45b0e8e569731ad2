"""The embedded synthetic corpus: release format, ground truth, tempo, beat-locked dance, noise."""

import json

import numpy as np
import pytest

from dataset.format import CLIP_FRAMES, CLIP_SAMPLES, FPS, INT16_MAX, SAMPLE_RATE
from dataset.skeleton import CANVAS_HEIGHT, CANVAS_WIDTH, NUM_JOINTS, missing_mask
from dataset.synthetic import (
    GENRES, META_FORMAT, generate_corpus, held_out_videos, main, meta_path_for, write_corpus,
)
from dataset.synthetic_dance import (
    GENRE_MOVES, PARAMS, body_joints, dance_parameters, sample_dancer, synthesize_dance,
)
from dataset.synthetic_music import STYLES, Song, sample_song, song_beats

CLIP_SECONDS = CLIP_SAMPLES / SAMPLE_RATE


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """A tiny corpus on disk: 4 videos (one per genre) x 2 clips, plus what was generated."""
    path = tmp_path_factory.mktemp("synthetic") / "tiny.json"
    data, meta = generate_corpus(videos=4, clips=2, seed=3)
    write_corpus(path, data, meta)
    return path, data, meta


def kinematic_beats(pose, fps=FPS):
    """Times (s) of local minima of the smoothed mean joint speed; missing joints are ignored.

    Shape: ``(T, 18, 2)`` pixels -> ``(num_minima,)``.
    """
    pose = np.asarray(pose, dtype=float).copy()
    pose[missing_mask(pose)] = np.nan
    speed = np.nanmean(np.linalg.norm(np.gradient(pose, axis=0), axis=-1), axis=1)
    speed = np.convolve(np.pad(speed, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    minima = np.flatnonzero((speed[1:-1] < speed[:-2]) & (speed[1:-1] <= speed[2:])) + 1
    return minima / fps


def beat_alignment(music_beats, dance_beats, sigma=0.1):
    """Mean over music beats of ``exp(-d^2 / (2 sigma^2))``, d = distance to the nearest dance beat."""
    distance = np.min(np.abs(np.asarray(music_beats)[:, None] - np.asarray(dance_beats)[None, :]), axis=1)
    return float(np.mean(np.exp(-distance**2 / (2 * sigma**2))))


def test_beat_alignment_helper_on_known_cases():
    assert beat_alignment([1.0, 2.0], [1.0, 2.0, 3.0]) == pytest.approx(1.0)
    assert beat_alignment([1.0], [1.1]) == pytest.approx(np.exp(-0.5))
    pose = np.zeros((21, NUM_JOINTS, 2)) + 100.0
    pose[:, :, 0] += 25 * (1 - np.cos(np.pi * np.arange(21) / 10))[:, None]  # at rest at 0, 1, 2 s
    assert kinematic_beats(pose).tolist() == [1.0]  # the ends have no neighbour on both sides


def test_file_is_double_encoded_in_the_release_layout(corpus):
    path, _, _ = corpus
    with open(path) as file:
        text = json.load(file)
    assert isinstance(text, str)
    data = json.loads(text)
    assert list(data) == ["000", "001", "002", "003"]
    for video, clips in data.items():
        assert len(clips) == 2
        for start, clip in clips.items():
            assert len(start) == 3 and start.isdigit()
            assert set(clip) == {"audio_sequence", "joint_coors"}
            audio = clip["audio_sequence"]
            assert len(audio) == CLIP_SAMPLES
            assert all(type(value) is int for value in audio), (video, start)
            assert -INT16_MAX - 1 <= min(audio) and max(audio) <= INT16_MAX
            pose = np.asarray(clip["joint_coors"])
            assert pose.shape == (CLIP_FRAMES, NUM_JOINTS, 2) and pose.dtype == np.float64
            assert np.array_equal(pose, np.round(pose, 2))


def test_file_holds_the_generated_data(corpus):
    path, data, _ = corpus
    with open(path) as file:
        loaded = json.loads(json.load(file))
    for video, clips in data.items():
        assert list(loaded[video]) == list(clips)
        for start, clip in clips.items():
            assert np.array_equal(loaded[video][start]["audio_sequence"], clip["audio_sequence"])
            assert np.array_equal(loaded[video][start]["joint_coors"], clip["joint_coors"])


def test_meta_sidecar_is_consistent(corpus):
    path, data, _ = corpus
    assert meta_path_for(path) == path.with_name("tiny_meta.json")
    with open(meta_path_for(path)) as file:
        meta = json.load(file)
    assert meta["format"] == META_FORMAT and meta["seed"] == 3
    assert meta["genres"] == list(GENRES)
    assert set(meta["test_videos"]) <= set(data) and meta["test_videos"]
    assert list(meta["videos"]) == list(data)
    assert sorted(v["genre"] for v in meta["videos"].values()) == sorted(GENRES)  # one video per genre
    for video, entry in meta["videos"].items():
        assert entry["genre"] == GENRES[entry["genre_index"]]
        low, high = STYLES[entry["genre_index"]].bpm_range
        assert low <= entry["bpm"] <= high
        assert list(entry["clips"]) == list(data[video])
        period = 60.0 / entry["bpm"]
        song_times = []
        for start, clip in entry["clips"].items():
            beats = np.asarray(clip["beats"])
            assert np.all((beats >= 0) & (beats < CLIP_SECONDS)), (video, start)
            assert len(beats) == pytest.approx(CLIP_SECONDS / period, abs=1)
            song_times += (int(start) + beats).tolist()
        # one song per video: every clip's beats lie on one continuous grid
        phase = (np.asarray(song_times) - song_times[0]) / period
        assert np.allclose(phase, np.round(phase), atol=1e-3), video


def test_held_out_videos_cover_every_genre():
    genres = {f"{i:03d}": i % 4 for i in range(40)}
    test = held_out_videos(genres)
    assert len(test) == 8 and sorted(genres[v] for v in test) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert test == ["032", "033", "034", "035", "036", "037", "038", "039"]
    assert held_out_videos({"000": 0, "001": 1}) == ["001"]  # single video per genre: hold out the last


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        write_corpus(tmp_path / f"{name}.json", *generate_corpus(videos=2, clips=1, seed=seed))
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert (tmp_path / "a_meta.json").read_bytes() == (tmp_path / "b_meta.json").read_bytes()
    assert (tmp_path / "a.json").read_bytes() != (tmp_path / "c.json").read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == [  # no temporary files left behind
        "a.json", "a_meta.json", "b.json", "b_meta.json", "c.json", "c_meta.json"]


def test_extra_videos_keep_the_base_corpus_and_its_test_list():
    base_data, base_meta = generate_corpus(videos=8, clips=1, seed=2)
    data, meta = generate_corpus(videos=8, clips=1, seed=2, extra_videos=4)
    assert list(data) == [f"{i:03d}" for i in range(12)] and meta["base_videos"] == 8
    assert "base_videos" not in base_meta
    assert meta["test_videos"] == base_meta["test_videos"] and all(int(v) < 8 for v in meta["test_videos"])
    for video in base_data:
        assert meta["videos"][video] == base_meta["videos"][video]
        for start, clip in base_data[video].items():
            assert np.array_equal(data[video][start]["joint_coors"], clip["joint_coors"])
            assert np.array_equal(data[video][start]["audio_sequence"], clip["audio_sequence"])
    extra_genres = sorted(meta["videos"][f"{i:03d}"]["genre_index"] for i in range(8, 12))
    assert extra_genres == list(range(len(GENRES)))  # balanced over the extra videos too


def test_failed_write_keeps_both_previous_files(tmp_path):
    path = tmp_path / "corpus.json"
    data, meta = generate_corpus(videos=1, clips=1, seed=0)
    write_corpus(path, data, meta)
    before = path.read_bytes(), (tmp_path / "corpus_meta.json").read_bytes()
    with pytest.raises(TypeError):  # the sidecar fails after the corpus file is complete
        write_corpus(path, generate_corpus(videos=1, clips=1, seed=1)[0], {"not json": {1, 2}})
    assert (path.read_bytes(), (tmp_path / "corpus_meta.json").read_bytes()) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.json", "corpus_meta.json"]


def test_cli_writes_both_files_and_prints_a_summary(tmp_path, capsys):
    out = tmp_path / "sub" / "corpus.json"
    main(["--out", str(out), "--videos", "2", "--clips", "1", "--seed", "1", "--missing-fraction", "0"])
    assert out.exists() and (tmp_path / "sub" / "corpus_meta.json").exists()
    summary = capsys.readouterr().out
    assert "2 videos, 2 clips, 20 s of audio" in summary and "BPM" in summary


@pytest.mark.parametrize("kwargs", [dict(videos=0), dict(clips=0), dict(seed=-1), dict(missing_fraction=1.0),
                                    dict(extra_videos=-1), dict(videos=990, extra_videos=20)])
def test_bad_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        generate_corpus(**{"videos": 1, "clips": 1, **kwargs})


def test_genres_differ_in_tempo_and_have_several_moves():
    assert set(GENRE_MOVES) == set(GENRES) and len(GENRES) >= 4
    ranges = sorted(style.bpm_range for style in STYLES)
    assert ranges[0][0] >= 70 and ranges[-1][1] <= 150
    assert all(a[1] < b[0] for a, b in zip(ranges, ranges[1:]))  # disjoint tempo ranges
    assert all(len(moves) >= 3 for moves in GENRE_MOVES.values())


def test_song_beats_on_a_known_grid():
    song = Song(genre_index=0, bpm=120.0, first_beat=-0.25, key=40, progression=0, gain=0.5, seed=0)
    assert song_beats(song, 0.0, 2.0) == pytest.approx([0.25, 0.75, 1.25, 1.75])
    assert song_beats(song, 10.25, 1.0) == pytest.approx([0.0, 0.5])


def test_every_joint_rests_on_the_beat_and_moves_between_beats():
    for genre_index, genre in enumerate(GENRES):
        rng = np.random.default_rng(genre_index)
        song, dancer = sample_song(genre_index, rng), sample_dancer(genre, rng)
        beats = 20.0 + song_beats(song, 20.0, 8.0)
        dt = 1e-3

        def joint_speed(times):
            ahead = body_joints(dance_parameters(song, dancer, times + dt), dancer.stance)
            behind = body_joints(dance_parameters(song, dancer, times - dt), dancer.stance)
            return np.linalg.norm(ahead - behind, axis=-1).max(axis=1) / (2 * dt)

        between = joint_speed(beats[:-1] + song.beat_period / 2)
        assert np.all(joint_speed(beats[:-1]) < 0.02 * between), genre
        assert between.min() > 0.1, genre  # body heights per second: always visibly moving
    assert body_joints(np.zeros((1, len(PARAMS)))).shape == (1, NUM_JOINTS, 2)


def test_missing_fraction_is_respected_and_joints_stay_on_the_canvas():
    rng = np.random.default_rng(0)
    song, dancer = sample_song(1, rng), sample_dancer(GENRES[1], rng)
    for fraction in (0.0, 0.01, 0.1):
        pose = np.concatenate([synthesize_dance(song, dancer, start, CLIP_FRAMES, fraction)
                               for start in (10.0, 20.0, 30.0, 40.0)])
        missing = missing_mask(pose)
        assert missing.mean() == pytest.approx(fraction, abs=max(0.004, 0.15 * fraction))
        visible = pose[~missing]
        assert np.all((visible > 0) & (visible < [CANVAS_WIDTH, CANVAS_HEIGHT]))


def test_librosa_tempo_matches_the_ground_truth(corpus):
    librosa = pytest.importorskip("librosa")
    _, data, meta = corpus
    ratios = []
    for video, clips in data.items():
        for clip in clips.values():
            audio = clip["audio_sequence"].astype(np.float32) / (INT16_MAX + 1)
            tempo = float(np.atleast_1d(librosa.feature.tempo(y=audio, sr=SAMPLE_RATE))[0])
            ratios.append(tempo / meta["videos"][video]["bpm"])
    ratios = np.asarray(ratios)
    # no octave errors allowed: the ratio itself must be within 5 %
    assert np.mean(np.abs(ratios - 1.0) < 0.05) >= 0.8, ratios


def test_dance_beats_align_with_its_own_music_not_with_other_music(corpus):
    _, data, meta = corpus
    keys = [(video, start) for video in data for start in data[video]]
    dance = [kinematic_beats(data[v][s]["joint_coors"]) for v, s in keys]
    music = [meta["videos"][v]["clips"][s]["beats"] for v, s in keys]
    true = np.mean([beat_alignment(m, d) for m, d in zip(music, dance)])
    shuffled = np.mean([beat_alignment(music[j], dance[i])
                        for i in range(len(keys)) for j in range(len(keys)) if keys[i][0] != keys[j][0]])
    assert true > 0.75 and true - shuffled > 0.25, (true, shuffled)
