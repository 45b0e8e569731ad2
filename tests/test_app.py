"""webapp/ and app.py: the dance page's API, its queue, its limits and its errors.

A random-weight generator stands in for a trained one: these tests are about the server (files,
lengths, states, queueing, refusals), not about the dance.
"""

import io
import json
import threading
import time
import zipfile

import cv2
import numpy as np
import pytest
import soundfile as sf
import torch
from fastapi.testclient import TestClient

import app
from dataset.errors import DanceSynthError
from dataset.format import SAMPLE_RATE
from model.generator import Generator
from render import probe_mp4
from webapp.dancer import Dancer
from webapp.jobs import JobQueue
from webapp.server import create_app

SONG_SECONDS = 6.0


def drum_wav(seconds=SONG_SECONDS, rate=SAMPLE_RATE):
    """A kick every 0.5 s over a quiet tone: WAV bytes (16-bit PCM)."""
    t = np.arange(round(seconds * rate)) / rate
    music = 0.6 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 20) + 0.1 * np.sin(2 * np.pi * 440 * t)
    out = io.BytesIO()
    sf.write(out, music.astype(np.float32), rate, format="WAV", subtype="PCM_16")
    return out.getvalue()


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / "generator.pth"
    torch.save({"generator": Generator().state_dict(), "config": {}}, path)
    return str(path)


@pytest.fixture
def served(model, tmp_path):
    """``(client, jobs, workdir)`` of an app over a fresh queue in ``tmp_path/work``."""
    workdir = tmp_path / "work"
    jobs = JobQueue(workdir, Dancer(model, torch.device("cpu")), keep=5)
    client = TestClient(create_app(jobs, max_seconds=30.0, max_bytes=2 * 2**20))
    return client, jobs, workdir


def post(client, data, name="song.wav", **form):
    return client.post("/api/dance", files={"song": (name, data, "application/octet-stream")}, data=form)


def wait(client, job, timeout=120.0):
    """Poll a job until it is done or failed; returns its last status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job}").json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job} still {status} after {timeout} s")


def test_a_song_is_danced_rendered_plotted_and_packed(served, tmp_path):
    client, _, _ = served
    reply = post(client, drum_wav(), seed="3")
    assert reply.status_code == 202
    status = wait(client, reply.json()["job"])
    assert status["state"] == "done" and status["progress"] == 1.0 and status["error"] == ""
    files = status["files"]
    assert set(files) == {"video", "plot", "poses", "zip"}

    video = tmp_path / "dance.mp4"
    video.write_bytes(client.get(files["video"]).content)
    probe = probe_mp4(str(video))
    assert abs(probe["duration"] - SONG_SECONDS) <= 0.2
    assert probe["audio_duration"] == pytest.approx(SONG_SECONDS, abs=0.2)
    plot = cv2.imdecode(np.frombuffer(client.get(files["plot"]).content, np.uint8), cv2.IMREAD_COLOR)
    assert plot is not None and plot.shape[1] >= 700
    poses = np.load(io.BytesIO(client.get(files["poses"]).content))
    assert poses.shape == (60, 18, 2) and np.isfinite(poses).all()
    download = client.get(files["zip"] + "?download")
    assert "attachment" in download.headers["content-disposition"]
    with zipfile.ZipFile(io.BytesIO(download.content)) as archive:
        names = archive.namelist()
        frame = json.loads(archive.read("json/dance_000000000000_keypoints.json"))
    assert "poses.npy" in names and sum(n.startswith("json/") for n in names) == 60
    assert len(frame["people"][0]["pose_keypoints_2d"]) == 18 * 3


def test_a_seed_fixes_the_dance_and_another_seed_changes_it(served):
    client, _, _ = served
    dances = []
    for seed in ("1", "1", "2"):
        status = wait(client, post(client, drum_wav(), seed=seed).json()["job"])
        dances.append(np.load(io.BytesIO(client.get(status["files"]["poses"]).content)))
    assert np.array_equal(dances[0], dances[1])
    assert np.abs(dances[0] - dances[2]).mean() > 0.1


def wav_of(samples):
    """Float WAV bytes of ``samples`` (any values, NaN included) at 16 kHz."""
    out = io.BytesIO()
    sf.write(out, samples, SAMPLE_RATE, format="WAV", subtype="FLOAT")
    return out.getvalue()


@pytest.mark.parametrize("data, name, form, words", [
    (b"this is a shopping list, not a song\n" * 20, "notes.txt", {}, "cannot decode audio file notes.txt"),
    (b"", "empty.wav", {}, "empty"),
    (drum_wav(0.05), "blip.wav", {}, "too short"),
    (wav_of(np.zeros(SAMPLE_RATE, dtype=np.float32)), "silence.wav", {}, "silent"),
    (wav_of(np.full(SAMPLE_RATE, np.nan, dtype=np.float32)), "nan.wav", {}, "non-finite"),
    (drum_wav(1.0), "song.wav", {"seed": "abc"}, "seed must be a whole number"),
    (drum_wav(1.0), "song.wav", {"seed": "-4"}, "seed must be between"),
    (drum_wav(1.0), "song.wav", {"genre": "1"}, "no genre input"),
])
def test_bad_input_gets_a_4xx_with_one_line_and_the_server_goes_on(served, data, name, form, words):
    client, _, workdir = served
    reply = post(client, data, name, **form)
    assert 400 <= reply.status_code < 500
    error = reply.json()["error"]
    assert words in error and "\n" not in error and str(workdir) not in error
    assert list(workdir.iterdir()) == []  # the refused upload is gone
    assert client.get("/api/info").status_code == 200


def test_with_a_person_the_video_shows_it_beside_the_skeleton(model, tmp_path):
    from conftest import swaying, write_subject
    from pose2vid import train

    subject = write_subject(tmp_path / "subject", swaying())
    person = tmp_path / "person.pth"
    assert train.main(["--subject", str(subject), "--out", str(person), "--work", str(tmp_path / "work"),
                       "--size", "32", "--width", "8", "--blocks", "1", "--iterations", "1",
                       "--max_minutes", "0", "--device", "cpu", "--threads", "1"]) == 0
    jobs = JobQueue(tmp_path / "jobs", Dancer(model, torch.device("cpu"), str(person)))
    client = TestClient(create_app(jobs))
    status = wait(client, post(client, drum_wav(1.0)).json()["job"])
    video = tmp_path / "dance.mp4"
    video.write_bytes(client.get(status["files"]["video"]).content)
    probe = probe_mp4(str(video))
    assert (probe["width"], probe["height"]) == (1000, 360) and probe["video_frames"] == 10


def test_too_long_and_too_large_are_refused_before_dancing(model, tmp_path):
    jobs = JobQueue(tmp_path / "work", Dancer(model, torch.device("cpu")))
    client = TestClient(create_app(jobs, max_seconds=2.0, max_bytes=100_000))
    long = post(client, drum_wav(2.5))
    assert long.status_code == 413 and "lasts 2 s; the limit is 2 s" in long.json()["error"]
    large = post(client, drum_wav(2.6, rate=44100))
    assert large.status_code == 413 and "larger than the limit" in large.json()["error"]
    assert list((tmp_path / "work").iterdir()) == []


def test_unknown_jobs_and_files_are_404(served):
    client, _, _ = served
    job = post(client, drum_wav(1.0)).json()["job"]
    wait(client, job)
    for url in ("/api/jobs/0123", f"/api/jobs/{'0' * 32}", f"/api/jobs/{job}/song.wav",
                f"/api/jobs/{job}/..%2F..%2Fapp.py", f"/api/jobs/{job}/upload"):
        reply = client.get(url)
        assert reply.status_code == 404 and reply.json()["error"], url


def test_three_songs_posted_at_once_all_finish(served):
    client, _, _ = served
    replies = [None] * 3

    def send(i):
        replies[i] = post(client, drum_wav(2.0 + i), seed=str(i))

    threads = [threading.Thread(target=send, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [reply.status_code for reply in replies] == [202] * 3
    statuses = [wait(client, reply.json()["job"]) for reply in replies]
    assert [status["state"] for status in statuses] == ["done"] * 3


def test_the_queue_runs_one_job_at_a_time_and_reports_positions(tmp_path):
    release, started = threading.Event(), threading.Event()

    def work(job, report):
        report(0.5)
        started.set()
        release.wait(10)
        return {}

    jobs = JobQueue(tmp_path, work)
    ids = []
    for _ in range(3):
        job_id, folder = jobs.new_folder()
        jobs.submit(job_id, folder)
        ids.append(job_id)
    assert started.wait(10)
    states = [jobs.status(job_id) for job_id in ids]
    assert [(s["state"], s["position"]) for s in states] == [("running", 0), ("queued", 1), ("queued", 2)]
    assert states[0]["progress"] == 0.5
    release.set()
    deadline = time.monotonic() + 10
    while jobs.status(ids[-1])["state"] != "done" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [jobs.status(job_id)["state"] for job_id in ids] == ["done"] * 3


def test_a_failing_job_reports_a_clear_line_or_a_generic_one_and_the_worker_goes_on(tmp_path):
    outcomes = iter([DanceSynthError("generator.pth: the generator produced non-finite poses\nmore"),
                     RuntimeError("/secret/path exploded"), None])

    def work(job, report):
        outcome = next(outcomes)
        if outcome is not None:
            raise outcome
        return {}

    jobs = JobQueue(tmp_path, work)
    ids = [jobs.submit(*jobs.new_folder()).id for _ in range(3)]
    deadline = time.monotonic() + 10
    while jobs.status(ids[-1])["state"] not in ("done", "failed") and time.monotonic() < deadline:
        time.sleep(0.01)
    statuses = [jobs.status(job_id) for job_id in ids]
    assert statuses[0] == {"state": "failed", "progress": 0.0, "position": 0,
                           "error": "generator.pth: the generator produced non-finite poses"}
    assert statuses[1]["state"] == "failed" and "/secret" not in statuses[1]["error"]
    assert statuses[2]["state"] == "done"


def test_only_the_newest_finished_jobs_keep_their_files(tmp_path):
    jobs = JobQueue(tmp_path, lambda job, report: {}, keep=2)
    folders = []
    for _ in range(4):
        job = jobs.submit(*jobs.new_folder())
        folders.append(job.folder)
        deadline = time.monotonic() + 10
        while jobs.status(job.id)["state"] != "done" and time.monotonic() < deadline:
            time.sleep(0.01)
    assert [folder.exists() for folder in folders] == [False, False, True, True]
    assert jobs.status(folders[0].name) is None


def test_the_page_and_its_script_are_served(served):
    client, _, _ = served
    page = client.get("/")
    assert page.status_code == 200 and 'id="song"' in page.text and "/static/app.js" in page.text
    assert "/api/dance" in client.get("/static/app.js").text
    assert client.get("/api/info").json() == {"max_seconds": 30.0, "max_mb": 2.0, "genres": 0,
                                              "max_seed": 2**31 - 1}


def test_app_help_and_a_bad_model_fail_in_one_line(tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        app.main(["--help"])
    assert done.value.code == 0 and "--max_seconds" in capsys.readouterr().out
    assert app.main(["--model", str(tmp_path / "missing.pth")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "missing.pth" in err
