"""Tests of the original-format loader: parsing, validation, cache, split rules, items."""

import json
import logging
import os

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from dataset import atomic, dance_dataset
from dataset.dance_dataset import (
    DanceDataset,
    DatasetFileNotFoundError,
    DatasetFormatError,
    cache_path,
    load_corpus,
    load_meta,
    parse_dataset_file,
    resolve_split_rule,
    split_videos,
    validation_videos,
)
from dataset.errors import DanceSynthError
from dataset.format import CLIP_FRAMES, CLIP_SAMPLES
from dataset.skeleton import NUM_JOINTS, denormalize


def make_clip(seed):
    """A deterministic clip: audio (160000,) int64 spanning int16, pose (100, 18, 2) quarter-pixels."""
    rng = np.random.default_rng(seed)
    audio = rng.integers(-32768, 32768, CLIP_SAMPLES)
    audio[:2] = (-32768, 32767)
    pose = np.round(rng.uniform(0, 360, (CLIP_FRAMES, NUM_JOINTS, 2)) * 4) / 4
    pose[0, 0] = (0, 0)  # a missing joint
    return audio, pose


def to_json_clip(audio, pose):
    return {"audio_sequence": audio.tolist(), "joint_coors": pose.tolist()}


def make_corpus(layout):
    """``{video: [clip, ...]}`` -> (JSON-ready dict, {(video, clip): (audio, pose)})."""
    data, arrays = {}, {}
    for v_index, (video, clips) in enumerate(layout.items()):
        data[video] = {}
        for c_index, clip in enumerate(clips):
            arrays[video, clip] = make_clip(100 * v_index + c_index)
            data[video][clip] = to_json_clip(*arrays[video, clip])
    return data, arrays


def write_json(path, data, double=True):
    text = json.dumps(data)
    path.write_text(json.dumps(text) if double else text)
    return path


@pytest.fixture
def small(tmp_path):
    """Two videos, three clips, double-encoded: (path, arrays)."""
    data, arrays = make_corpus({"001": ["025", "035"], "000": ["045"]})
    return write_json(tmp_path / "data.json", data), arrays


# --- items -----------------------------------------------------------------------------------


def test_items_split_each_clip_into_two_normalised_samples(small):
    path, arrays = small
    ds = DanceDataset(path, split="all")
    assert ds.keys == [("000", "045", 0), ("000", "045", 1), ("001", "025", 0), ("001", "025", 1),
                       ("001", "035", 0), ("001", "035", 1)]
    assert ds.video_ids == ["000", "001"] and len(ds) == 6
    for index, (video, clip, half) in enumerate(ds.keys):
        audio, pose = arrays[video, clip]
        item = ds[index]
        assert (item["video"], item["clip"], item["half"]) == (video, clip, half)
        assert item["audio"].dtype == torch.float32 and item["audio"].shape == (50, 1600)
        assert item["pose"].dtype == torch.float32 and item["pose"].shape == (50, 36)
        expected_audio = audio[half * 80000:(half + 1) * 80000].reshape(50, 1600)
        np.testing.assert_array_equal(item["audio"].numpy(), expected_audio)  # raw, not normalised
        frames = pose[half * 50:(half + 1) * 50]
        expected_pose = np.stack([frames[..., 0] / 320 - 1, frames[..., 1] / 180 - 1], -1).reshape(50, 36)
        np.testing.assert_allclose(item["pose"].numpy(), expected_pose, rtol=0, atol=1e-6)
    first = ds[0]
    assert first["audio"][0, :2].tolist() == [-32768.0, 32767.0]
    assert first["pose"][0, :2].tolist() == [-1.0, -1.0]  # missing joint (0, 0) -> (-1, -1)
    x3, y3 = arrays["000", "045"][1][7, 3]  # joint-major flattening: frame 7, joint 3 -> columns 6, 7
    assert first["pose"][7, 6].item() == pytest.approx(x3 / 320 - 1)
    assert first["pose"][7, 7].item() == pytest.approx(y3 / 180 - 1)


def test_items_start_at_their_half(small):
    ds = DanceDataset(small[0], split="all")
    assert [ds[i]["start"] for i in range(len(ds))] == [0, 50] * 3
    assert [ds.window_start(i) for i in range(len(ds))] == [0, 50] * 3


def test_known_pixels_normalise_by_hand(tmp_path):
    audio, pose = make_clip(0)
    pose[60, 1] = (320, 180)
    pose[60, 2] = (640, 360)
    path = write_json(tmp_path / "d.json", {"000": {"000": to_json_clip(audio, pose)}})
    item = DanceDataset(path, split="all")[1]
    assert item["pose"][10, 2:6].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_plain_and_double_encoded_json_load_identically(tmp_path):
    data, _ = make_corpus({"000": ["025"], "003": ["015"]})
    double = parse_dataset_file(write_json(tmp_path / "double.json", data, double=True))
    plain = parse_dataset_file(write_json(tmp_path / "plain.json", data, double=False))
    assert double.videos == plain.videos == ("000", "003")
    assert double.clips == plain.clips == ("025", "015")
    assert double.audio.dtype == np.int16 and double.audio.shape == (2, CLIP_SAMPLES)
    assert double.pose.dtype == np.float32 and double.pose.shape == (2, 100, 18, 2)
    np.testing.assert_array_equal(double.audio, plain.audio)
    np.testing.assert_array_equal(double.pose, plain.pose)


def test_audio_outside_int16_kept_exactly_as_float(tmp_path):
    audio, pose = make_clip(1)
    clip = to_json_clip(audio, pose)
    clip["audio_sequence"][5] = 40000
    clip["audio_sequence"][6] = 0.5
    corpus = parse_dataset_file(write_json(tmp_path / "d.json", {"000": {"000": clip}}))
    assert corpus.audio.dtype == np.float32
    assert corpus.audio[0, 4:7].tolist() == [float(audio[4]), 40000.0, 0.5]


def test_ragged_clip_is_skipped_with_a_warning(tmp_path, caplog):
    data, _ = make_corpus({"000": ["025", "035"], "001": ["005"]})
    data["000"]["035"]["joint_coors"][17] = data["000"]["035"]["joint_coors"][17][:-1]  # joint lost
    path = write_json(tmp_path / "d.json", data)
    with pytest.warns(UserWarning, match=r"video '000' clip '035'.*ragged"):
        ds = DanceDataset(path, split="all")
    assert [key[:2] for key in ds.keys[::2]] == [("000", "025"), ("001", "005")]
    with caplog.at_level(logging.INFO, logger="dataset.dance_dataset"):
        assert load_corpus(path).skipped == (("000", "035"),)  # remembered by the cache
    assert "ragged clips skipped when the cache was built: 000/035" in caplog.text


def test_dataloader_batches(small):
    loader = DataLoader(DanceDataset(small[0], split="all"), batch_size=3, shuffle=False)
    batch = next(iter(loader))
    assert batch["audio"].shape == (3, 50, 1600) and batch["pose"].shape == (3, 50, 36)
    assert batch["video"] == ["000", "000", "001"] and batch["half"].tolist() == [0, 1, 0]


def test_whole_split_tensors_and_video_labels(small):
    ds = DanceDataset(small[0], split="all")
    audio, pose = ds.as_tensors()
    assert audio.shape == (6, 50, 1600) and pose.shape == (6, 50, 36)
    assert audio.dtype == pose.dtype == torch.float32
    torch.testing.assert_close(pose[3], ds[3]["pose"])
    pixels = ds.pixel_poses()
    assert pixels.shape == (6, 50, NUM_JOINTS, 2) and pixels.dtype == np.float64
    np.testing.assert_allclose(pixels, denormalize(pose.double().numpy().reshape(6, 50, NUM_JOINTS, 2)))
    assert ds.video_labels().tolist() == [0, 0, 1, 1, 1, 1]


def test_items_do_not_share_memory_with_the_dataset(small):
    ds = DanceDataset(small[0], split="all")
    ds[0]["pose"].zero_()
    assert ds[0]["pose"].abs().sum() > 0


# --- bad data --------------------------------------------------------------------------------


def _set(video, clip, key, value):
    def mutate(data):
        data[video][clip][key] = value
    return mutate


def _set_element(key, index, value):
    def mutate(data):
        target = data["000"]["025"][key]
        for i in index[:-1]:
            target = target[i]
        target[index[-1]] = value
    return mutate


BAD_CLIPS = {
    "clip not an object": (lambda d: d["000"].update({"025": [1, 2]}), "expected an object"),
    "missing audio": (lambda d: d["000"]["025"].pop("audio_sequence"), "lacks 'audio_sequence'"),
    "missing pose": (lambda d: d["000"]["025"].pop("joint_coors"), "lacks 'joint_coors'"),
    "short audio": (_set("000", "025", "audio_sequence", list(range(CLIP_SAMPLES - 1))), "expected 160000"),
    "nested audio": (_set("000", "025", "audio_sequence", [[1, 2]] * 80000), "expected 160000"),
    "text audio": (_set_element("audio_sequence", [7], "loud"), "non-numeric"),
    "null in audio": (_set_element("audio_sequence", [7], None), "non-numeric"),
    "nan audio": (_set_element("audio_sequence", [7], float("nan")), "NaN or Inf"),
    "pose 3 coords": (_set("000", "025", "joint_coors", np.zeros((100, 18, 3)).tolist()), r"\(100, 18, 2\)"),
    "pose 99 frames": (_set("000", "025", "joint_coors", np.zeros((99, 18, 2)).tolist()), r"\(100, 18, 2\)"),
    "pose 17 joints": (_set("000", "025", "joint_coors", np.zeros((100, 17, 2)).tolist()), r"\(100, 18, 2\)"),
    "text pose": (_set("000", "025", "joint_coors", "none"), "non-numeric"),
    "inf pose": (_set_element("joint_coors", [3, 4, 1], float("inf")), "NaN or Inf"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLIPS))
def test_bad_clip_raises_naming_file_video_clip(tmp_path, case):
    mutate, expected = BAD_CLIPS[case]
    data, _ = make_corpus({"000": ["015", "025"]})
    mutate(data)
    path = write_json(tmp_path / "bad.json", data)
    before = path.read_bytes()
    with pytest.raises(DatasetFormatError, match=expected) as info:
        DanceDataset(path, split="all")
    message = str(info.value)
    assert str(path) in message and "video '000'" in message and "clip '025'" in message
    assert path.read_bytes() == before
    assert not cache_path(path).exists()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[1, 2, 3]", "top level is a list"),
        ('{"000": [1]}', "video '000' is a list"),
        ('"[1, 2]"', "top level is a list"),  # double-encoded list
        ("{}", "no valid clips"),
        ("hello", "not valid JSON"),
        ('{"000": {"025": {"audio_sequence": [1, 2', r"not valid JSON \(truncated\?\)"),
        (json.dumps('{"000": {'), r"JSON string inside the file \(double-encoded\) is not valid JSON"),
    ],
)
def test_bad_file_raises_naming_the_file(tmp_path, text, expected):
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(DatasetFormatError, match=expected) as info:
        load_corpus(path)
    assert str(path) in str(info.value)
    assert path.read_text() == text


def test_binary_file_is_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"\xff\xfe\x00\xd8garbage\x80")
    with pytest.raises(DatasetFormatError, match="bad.json"):
        load_corpus(path)


def test_truncated_release_file_raises(small):
    path, _ = small
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DatasetFormatError, match="truncated"):
        DanceDataset(path)


@pytest.mark.parametrize("content", [b"# dance-synth\n\nMusic in, dance out.\n", b"", b"  \n",
                                     b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xd8"],
                         ids=["markdown", "empty", "blank", "binary"])
def test_a_file_that_is_not_a_dataset_raises_one_line_naming_it(tmp_path, content):
    path = tmp_path / "README.md"
    path.write_bytes(content)
    with pytest.raises(DatasetFormatError) as info:
        DanceDataset(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message
    assert isinstance(info.value, DanceSynthError)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["README.md"]  # no cache of a non-dataset


def test_missing_file(tmp_path):
    for use_cache in (True, False):
        with pytest.raises(DatasetFileNotFoundError, match="nothere.json: dataset file not found"):
            DanceDataset(tmp_path / "nothere.json", use_cache=use_cache)
    assert issubclass(DatasetFileNotFoundError, FileNotFoundError)
    assert issubclass(DatasetFileNotFoundError, DatasetFormatError)
    assert issubclass(DatasetFormatError, DanceSynthError) and issubclass(DatasetFormatError, ValueError)


# --- cache -----------------------------------------------------------------------------------


def _forbid_parsing(monkeypatch):
    def fail(path):
        raise AssertionError("the JSON was parsed although the cache is valid")
    monkeypatch.setattr(dance_dataset, "parse_dataset_file", fail)


def test_cache_is_built_once_and_reused(small, monkeypatch):
    path, _ = small
    before = path.read_bytes()
    first = load_corpus(path)
    assert cache_path(path).exists() and path.read_bytes() == before
    _forbid_parsing(monkeypatch)
    second = load_corpus(path)
    assert second.videos == first.videos and second.clips == first.clips
    np.testing.assert_array_equal(second.audio, first.audio)
    np.testing.assert_array_equal(second.pose, first.pose)
    assert len(DanceDataset(path, split="all")) == 6
    assert sorted(p.name for p in path.parent.iterdir()) == ["data.json", "data.json.cache.npz"]


def test_cache_rebuilt_when_source_changes(small):
    path, _ = small
    load_corpus(path)
    stat = path.stat()
    data, arrays = make_corpus({"007": ["005"]})
    write_json(path, data)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    corpus = load_corpus(path)
    assert corpus.videos == ("007",)
    np.testing.assert_array_equal(corpus.audio[0], arrays["007", "005"][0])


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong arrays"])
def test_corrupt_cache_is_rebuilt(small, caplog, damage):
    path, _ = small
    expected = load_corpus(path)
    cache = cache_path(path)
    if damage == "garbage":
        cache.write_bytes(b"not a cache at all")
    elif damage == "truncated":
        cache.write_bytes(cache.read_bytes()[:5000])
    else:
        stat = path.stat()
        np.savez(cache, version=1, source_size=stat.st_size, source_mtime_ns=stat.st_mtime_ns,
                 videos=np.array(["000"]), clips=np.array(["025"]), audio=np.zeros((1, 3)),
                 pose=np.zeros((1, 3)), skipped=np.zeros((0, 2), str))
    with caplog.at_level(logging.WARNING, logger="dataset.dance_dataset"):
        corpus = load_corpus(path)
    assert "rebuilding" in caplog.text
    np.testing.assert_array_equal(corpus.audio, expected.audio)
    caplog.clear()
    load_corpus(path)  # the rebuilt cache is valid again
    assert "rebuilding" not in caplog.text


def test_unwritable_folder_loads_without_cache(small, monkeypatch, caplog):
    # Running as root makes chmod ineffective, so the folder's refusal is simulated.
    path, _ = small

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path.parent))
    monkeypatch.setattr(dance_dataset, "atomic_open", refuse)
    with caplog.at_level(logging.WARNING, logger="dataset.dance_dataset"):
        ds = DanceDataset(path, split="all")
    assert len(ds) == 6
    assert "cannot write cache" in caplog.text
    assert not cache_path(path).exists()


def test_failed_cache_write_leaves_no_temporary_file(small, monkeypatch):
    path, _ = small

    def disk_full(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(atomic.os, "replace", disk_full)
    assert len(load_corpus(path)) == 3
    assert [p.name for p in path.parent.iterdir()] == ["data.json"]


def test_no_cache_when_disabled(small):
    path, _ = small
    DanceDataset(path, split="all", use_cache=False)
    assert not cache_path(path).exists()


# --- split rules -----------------------------------------------------------------------------


IDS_50 = [f"{i:03d}" for i in range(50)]
IDS_10 = [f"{i:03d}" for i in range(10)]


def test_original_split():
    train, test = split_videos(reversed(IDS_50), "original")
    assert train == IDS_50[:47] and test == ["047", "049"]
    assert "048" not in train + test


def test_explicit_fraction_all_and_meta_rules():
    assert split_videos(IDS_10, "videos: 003, 007") == ([v for v in IDS_10 if v not in ("003", "007")],
                                                       ["003", "007"])
    assert split_videos(IDS_10, "fraction:0.2") == (IDS_10[:8], ["008", "009"])
    assert split_videos(IDS_10, "fraction:0.01") == (IDS_10[:9], ["009"])  # at least one
    assert split_videos(IDS_10, "all") == (IDS_10, [])
    assert split_videos(IDS_10, "meta", {"test_videos": ["002"]}) == (IDS_10[:2] + IDS_10[3:], ["002"])


def test_auto_rule():
    meta = {"test_videos": ["001"]}
    # a sidecar's own test list wins, also over ids that look like the release's (a synthetic
    # corpus of 50+ videos has "047" and "049" too)
    assert resolve_split_rule(IDS_50, "auto", meta) == "meta"
    assert split_videos(IDS_50, "auto", meta)[1] == ["001"]
    assert resolve_split_rule(IDS_50, "auto", None) == "original"
    assert split_videos(IDS_50, "auto") == split_videos(IDS_50, "original")
    assert split_videos(IDS_10 + ["049"], "auto")[1] == ["049"]
    assert resolve_split_rule(IDS_10, "auto", meta) == "meta"
    assert split_videos(IDS_10, "auto", meta)[1] == ["001"]
    assert resolve_split_rule(IDS_10, "auto", None) == "fraction:0.1"
    assert resolve_split_rule(IDS_10, "auto", {"test_videos": []}) == "fraction:0.1"
    assert split_videos(IDS_10, "auto") == (IDS_10[:9], ["009"])


@pytest.mark.parametrize(
    "rule, meta, expected",
    [
        ("random", None, "unknown split rule 'random'"),
        ("videos:", None, "unknown split rule"),
        ("videos:999", None, r"not in the corpus: \['999'\]"),
        ("fraction:1.5", None, "strictly between 0 and 1"),
        ("fraction:abc", None, "strictly between 0 and 1"),
        ("meta", None, "needs sidecar metadata"),
        ("meta", {"test_videos": ["404"]}, "sidecar 'test_videos' names videos not in the corpus"),
    ],
)
def test_bad_split_rules(rule, meta, expected):
    with pytest.raises(ValueError, match=expected):
        split_videos(IDS_10, rule, meta)
    with pytest.raises(DatasetFormatError, match=expected):
        split_videos(IDS_10, rule, meta)


def test_dataset_splits_and_empty_requested_split(small):
    path, _ = small
    assert DanceDataset(path, split="test", split_rule="videos:001").video_ids == ["001"]
    assert DanceDataset(path, split="train", split_rule="videos:001").video_ids == ["000"]
    assert DanceDataset(path, split="train", split_rule="all").video_ids == ["000", "001"]
    with pytest.raises(ValueError, match="gives no test videos"):
        DanceDataset(path, split="test", split_rule="all")
    with pytest.raises(ValueError, match="gives no test videos"):
        DanceDataset(path, split="test", split_rule="original")  # no "047" or "049" here
    with pytest.raises(ValueError, match="gives no train videos"):
        DanceDataset(path, split="train", split_rule="videos:000,001")
    with pytest.raises(ValueError, match="the 'val' split needs val_videos > 0"):
        DanceDataset(path, split="val")
    with pytest.raises(ValueError, match="split 'valid'"):
        DanceDataset(path, split="valid")
    for kwargs in ({"split": "test", "split_rule": "all"}, {"split": "val"}, {"split_rule": "random"},
                   {"split_rule": "all", "val_videos": 2}):
        with pytest.raises(DatasetFormatError):  # user errors, reported in one line by entry points
            DanceDataset(path, **kwargs)


def test_validation_videos_leave_training_and_spread_over_it():
    train = ["%03d" % i for i in range(32)]
    val = validation_videos(train, 4)
    assert val == ["004", "012", "020", "028"]
    assert validation_videos(train, 0) == []
    for count in (-1, 32):
        with pytest.raises(ValueError, match="fewer than the 32 training videos"):
            validation_videos(train, count)


def test_val_split_is_disjoint_from_train_and_test(small):
    path, _ = small
    train = DanceDataset(path, split="train", split_rule="all", val_videos=1)
    val = DanceDataset(path, split="val", split_rule="all", val_videos=1)
    assert val.video_ids == ["001"] and train.video_ids == ["000"]
    assert len(train) + len(val) == len(DanceDataset(path, split="train", split_rule="all"))
    with pytest.raises(ValueError, match="1 training videos"):
        DanceDataset(path, split="train", split_rule="videos:001", val_videos=1)


def test_sidecar_meta_drives_auto_split_and_genres(tmp_path):
    data, _ = make_corpus({"000": ["005"], "001": ["005", "015"], "002": ["005"]})
    path = write_json(tmp_path / "corpus.json", data)
    assert load_meta(path) is None
    meta = {"genres": ["ballet", "hiphop"], "test_videos": ["001"],
            "videos": {v: {"genre": g, "genre_index": i, "bpm": 120.0, "clips": {}}
                       for v, g, i in [("000", "ballet", 0), ("001", "hiphop", 1), ("002", "hiphop", 1)]}}
    (tmp_path / "corpus_meta.json").write_text(json.dumps(meta))
    train = DanceDataset(path, split="train")
    test = DanceDataset(path, split="test")
    assert train.meta == meta and train.split_rule == "meta"
    assert train.video_ids == ["000", "002"] and test.video_ids == ["001"]
    assert train.genre_labels().tolist() == [0, 0, 1, 1]
    assert test.genre_labels().tolist() == [1, 1, 1, 1]
    assert train.genre_labels().dtype == torch.int64


def test_genre_labels_need_the_sidecar(small):
    with pytest.raises(DatasetFormatError, match="no sidecar"):
        DanceDataset(small[0], split="all").genre_labels()


# --- sidecar accessors -----------------------------------------------------------------------


@pytest.fixture
def with_sidecar(tmp_path):
    """Videos 000 (clips 005, 015) and 001 (clip 005) with a hand-made sidecar: (path, meta)."""
    data, _ = make_corpus({"000": ["005", "015"], "001": ["005"]})
    path = write_json(tmp_path / "corpus.json", data)
    meta = {"genres": ["ballet", "hiphop"], "test_videos": ["001"],
            "videos": {"000": {"genre": "ballet", "genre_index": 0, "bpm": 120,
                               "clips": {"005": {"beats": [0.25, 0.75, 1.25]}, "015": {"beats": []}}},
                       "001": {"genre": "hiphop", "genre_index": 1, "bpm": 95.5, "clips": {"005": {}}}}}
    (tmp_path / "corpus_meta.json").write_text(json.dumps(meta))
    return path, meta


def test_sidecar_accessors_give_known_answers(with_sidecar):
    ds = DanceDataset(with_sidecar[0], split="all")
    assert ds.clip_beats("000", "005") == [0.25, 0.75, 1.25]
    assert ds.clip_beats("000", "015") == []
    assert ds.clip_beats("001", "005") is None  # clip entry without beats
    assert ds.clip_beats("000", "999") is None and ds.clip_beats("404", "005") is None
    assert ds.video_bpm("000") == 120.0 and isinstance(ds.video_bpm("000"), float)
    assert ds.video_bpm("001") == 95.5 and ds.video_bpm("404") is None
    assert (ds.video_genre("000"), ds.video_genre("001"), ds.video_genre("404")) == ("ballet", "hiphop", None)
    assert ds.genre_labels().tolist() == [0, 0, 0, 0, 1, 1]
    assert not ds.has_beats()  # clip 001/005 has none
    train = DanceDataset(with_sidecar[0], split="train")
    assert train.video_ids == ["000"] and train.has_beats()


def test_sidecar_accessors_without_a_sidecar(small):
    ds = DanceDataset(small[0], split="all")
    assert ds.clip_beats("000", "045") is None and ds.video_bpm("000") is None
    assert ds.video_genre("000") is None and not ds.has_beats()


@pytest.mark.parametrize("change, call, expected", [
    (lambda m: m.update(videos=[1]), lambda ds: ds.video_bpm("000"), "'videos' is a list; expected an object"),
    (lambda m: m["videos"]["000"].update(bpm="fast"), lambda ds: ds.video_bpm("000"),
     "video '000': 'bpm' is 'fast'; expected a positive number"),
    (lambda m: m["videos"]["000"].update(genre=3), lambda ds: ds.video_genre("000"),
     "video '000': 'genre' is int; expected a string"),
    (lambda m: m["videos"]["000"]["clips"]["005"].update(beats=[0.5, None]),
     lambda ds: ds.clip_beats("000", "005"), "video '000' clip '005': 'beats' holds None"),
    (lambda m: m["videos"]["000"].update(clips=[]), lambda ds: ds.has_beats(),
     "video '000': 'clips' is a list; expected an object"),
    (lambda m: m["videos"]["001"].pop("genre_index"), lambda ds: ds.genre_labels(),
     "video '001' has no integer 'genre_index'"),
])
def test_malformed_sidecar_entries_raise_naming_the_sidecar(with_sidecar, change, call, expected):
    path, meta = with_sidecar
    change(meta)
    meta_file = path.with_name("corpus_meta.json")
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(DatasetFormatError, match=expected) as info:
        call(DanceDataset(path, split="all"))
    assert str(info.value).startswith(f"{meta_file}: ")
