"""Tests of the one atomic writer: whole files or the previous ones, never a partial file."""

import os
import stat

import numpy as np
import pytest

from dataset.atomic import atomic_open, atomic_path, atomic_paths


def test_atomic_open_writes_the_file_and_creates_its_folder(tmp_path):
    path = tmp_path / "new" / "out.txt"
    with atomic_open(path) as f:
        f.write("hello")
        assert not path.exists()  # nothing at the target until the block ends
    assert path.read_text() == "hello"
    assert os.listdir(path.parent) == ["out.txt"]


def test_failing_block_keeps_the_previous_file_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="crash"):
        with atomic_open(path, "wb") as f:
            f.write(b"new, half written")
            raise RuntimeError("crash")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.bin"]


def test_failing_block_creates_nothing_when_there_was_no_file(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_path(tmp_path / "out.npy") as tmp:
            np.save(tmp, np.zeros(3))
            raise KeyboardInterrupt
    assert os.listdir(tmp_path) == []


def test_temp_path_is_hidden_beside_the_target_and_keeps_the_extension(tmp_path):
    with atomic_path(tmp_path / "dance.mp4") as tmp:
        name = os.path.basename(tmp)
        assert os.path.dirname(tmp) == str(tmp_path)
        assert name.startswith(".dance.") and name.endswith(".mp4")  # ffmpeg picks the format by it
        open(tmp, "w").close()
    with atomic_path(tmp_path / "poses.npy") as tmp:
        np.save(tmp, np.arange(4))  # np.save would append ".npy" to a name without it
    assert np.load(tmp_path / "poses.npy").tolist() == [0, 1, 2, 3]
    assert sorted(os.listdir(tmp_path)) == ["dance.mp4", "poses.npy"]
    with atomic_path(tmp_path / "README") as tmp:
        assert os.path.basename(tmp).endswith(".tmp")
        open(tmp, "w").close()


def test_permissions_of_an_existing_file_are_kept(tmp_path):
    path = tmp_path / "out.txt"
    path.write_text("old")
    path.chmod(0o640)
    with atomic_open(path) as f:
        f.write("new")
    assert path.read_text() == "new"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_atomic_paths_renames_all_or_none(tmp_path):
    paths = [tmp_path / "a.json", tmp_path / "sub" / "b.json"]
    with atomic_paths(paths) as temps:
        assert len(temps) == 2 and all(os.path.dirname(t) == str(p.parent) for t, p in zip(temps, paths))
        for temp, text in zip(temps, ("A", "B")):
            with open(temp, "w") as f:
                f.write(text)
        assert not any(p.exists() for p in paths)
    assert [p.read_text() for p in paths] == ["A", "B"]
    with pytest.raises(ValueError):
        with atomic_paths(paths) as temps:
            for temp in temps:
                with open(temp, "w") as f:
                    f.write("C")
            raise ValueError("second thoughts")
    assert [p.read_text() for p in paths] == ["A", "B"]
    assert os.listdir(tmp_path) == ["a.json", "sub"] and os.listdir(tmp_path / "sub") == ["b.json"]
