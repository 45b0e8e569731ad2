"""pose2vid/train.py, person_model.py and get_demo.py --person: a tiny subject trains, resumes,
exports a float16 person that dances any dance, and bad person files stop in one line."""

import numpy as np
import pytest
import soundfile as sf
import torch

import get_demo
from model.generator import Generator
from pose2vid import train
from pose2vid.person_model import SHOWN, Person
from pose2vid.subject import load_subject
from render import probe_mp4
from conftest import swaying, write_subject

SIZE = 32
TINY = ["--size", str(SIZE), "--width", "8", "--blocks", "1", "--batch_size", "2", "--threads", "1",
        "--device", "cpu", "--max_minutes", "0"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A subject of 12 frames, trained for 2 iterations then resumed for 1 more."""
    folder = tmp_path_factory.mktemp("person")
    subject = write_subject(folder / "subject", swaying())
    out, work = folder / "person.pth", folder / "work"
    common = ["--subject", str(subject), "--out", str(out), "--work", str(work), *TINY]
    assert train.main([*common, "--iterations", "2"]) == 0
    first = torch.load(work / "last.pth", weights_only=True)
    assert train.main([*common, "--iterations", "3", "--resume"]) == 0
    return {"subject": subject, "out": out, "work": work, "first": first}


def test_training_writes_a_float16_person_and_a_resumable_state(trained):
    state = torch.load(trained["work"] / "last.pth", weights_only=True)
    assert trained["first"]["step"] == 2 and state["step"] == 3
    assert set(state["nets"]) == {"generator", "frame_discriminator", "temporal_discriminator"}
    person = torch.load(trained["out"], weights_only=True)
    assert person["format"] == "dance-synth person" and person["size"] == SIZE
    assert all(v.dtype == torch.float16 for v in person["generator"].values() if v.is_floating_point())
    assert set(person["subject"]) == {"crop", "stats", "fps"}


def test_training_pairs_leave_out_the_held_out_tail_and_frames_without_the_person(trained):
    subject = load_subject(trained["subject"], SIZE)
    subject.poses[5] = 0.0  # nobody in frame 5: pairs (4, 5) and (5, 6) go
    pairs = train.training_pairs(subject, held_out=0.25)
    assert pairs.tolist() == [1, 2, 3, 4, 7, 8]


def test_a_person_dances_any_dance_frame_by_frame(trained):
    person = Person(trained["out"])
    dance = swaying(7) * 0.8 + [60, 40]  # a smaller dancer elsewhere on the canvas
    on_subject = person.on_subject(dance)
    assert np.allclose(np.median(on_subject[:, :, 1].max(axis=1)), np.median(swaying()[:, :, 1].max(axis=1)), atol=2)
    frames = list(person.frames(on_subject))
    assert len(frames) == 7 and frames[0].shape == (SIZE, SIZE, 3) and frames[0].dtype == np.uint8
    beside = next(person.video_frames(dance, side_by_side=True))
    assert beside.shape == (SHOWN, 640 + SHOWN, 3)
    assert next(person.video_frames(dance)).shape == (SHOWN, SHOWN, 3)


def test_the_demo_makes_a_person_video_of_a_song(trained, tmp_path):
    song = tmp_path / "song.wav"
    sf.write(song, np.sin(np.arange(32000) / 5.0).astype(np.float32) * 0.5, 16000, subtype="PCM_16")
    model = tmp_path / "generator.pth"
    torch.manual_seed(0)
    torch.save({"generator": Generator().state_dict(), "config": {}}, model)
    out = tmp_path / "out"
    assert get_demo.main(["--model", str(model), "--audio", str(song), "--person", str(trained["out"]),
                          "--video", "--side-by-side", "--output", str(out), "--device", "cpu"]) == 0
    probe = probe_mp4(str(out / "song.mp4"))
    assert (probe["width"], probe["height"]) == (640 + SHOWN, SHOWN) and probe["video_frames"] == 20


@pytest.mark.parametrize("content, words", [(b"garbage", "not a readable torch checkpoint"),
                                            (None, "not a person model")])
def test_a_bad_person_file_stops_in_one_line(tmp_path, capsys, content, words):
    path = tmp_path / "person.pth"
    if content is None:
        torch.save({"generator": {}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(Exception, match=words):
        Person(path)
    assert get_demo.main(["--audio", str(path), "--person", str(path), "--video", "--output",
                          str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_person_needs_a_song_and_a_video(tmp_path, capsys):
    assert get_demo.main(["--person", "p.pth", "--output", str(tmp_path)]) == 1
    assert "--person makes the video of a song" in capsys.readouterr().err


def test_the_measures_score_held_out_frames_and_a_dance(trained, tmp_path):
    import json

    from pose2vid import measure

    dance = tmp_path / "dance.npy"
    np.save(dance, swaying(6) + [30, 0])
    report = tmp_path / "person.json"
    assert measure.main(["--person", str(trained["out"]), "--subject", str(trained["subject"]),
                         "--held_out", "0.25", "--dance", str(dance), "--json", str(report),
                         "--device", "cpu", "--threads", "1"]) == 0
    rows = json.loads(report.read_text())["rows"]
    assert rows["held_out"]["frames"] == 3 and rows["dance"]["frames"] == 6
    for row in rows.values():
        assert 0 < row["psnr_db"] < 60 and -1 <= row["ssim"] <= 1 and row["seconds_per_frame"] > 0
        assert row["difference_ratio"] == pytest.approx(row["frame_difference"] / row["true_frame_difference"])
