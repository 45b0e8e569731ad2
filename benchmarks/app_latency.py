"""Benchmark: the dance page's API end to end, as a browser uses it.

    python benchmarks/app_latency.py [--model CKPT] [--seconds 30] [--songs 3]

Starts ``app.py``'s server (uvicorn, a free loopback port, one torch thread as ``app.py``), then
over HTTP: one synthesized house song posted and followed until its MP4, plot, poses and zip
are ready (timed, the MP4's length against the song's); ``--songs`` songs posted at once (all
must finish; time until the last); a text file, an empty file and a 0.05 s WAV (each must get a
4xx with a one-line error) and the server still serving after them.
Goal: a 30 s song ready in at most 20 s on 2 CPU cores.
"""

import io
import socket
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import app_bench_parser  # noqa: E402
from dataset.format import SAMPLE_RATE  # noqa: E402
from dataset.synthetic_music import STYLE_NAMES, sample_song, synthesize_song  # noqa: E402
from render import probe_mp4  # noqa: E402
from runtime import set_threads  # noqa: E402
from webapp.dancer import Dancer  # noqa: E402
from webapp.jobs import JobQueue  # noqa: E402
from webapp.server import create_app  # noqa: E402


def wav_bytes(samples):
    out = io.BytesIO()
    sf.write(out, np.asarray(samples, dtype=np.float32) / 32768.0, SAMPLE_RATE, format="WAV", subtype="PCM_16")
    return out.getvalue()


def serve(model, workdir):
    """The app in a uvicorn thread; returns its base URL."""
    import uvicorn

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    jobs = JobQueue(workdir, Dancer(model, torch.device("cpu")))
    server = uvicorn.Server(uvicorn.Config(create_app(jobs), host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}"


def dance(client, url, data, name="song.wav"):
    """Post a song and follow its job; returns (seconds until done, final status)."""
    start = time.perf_counter()
    job = client.post(f"{url}/api/dance", files={"song": (name, data)}).json()["job"]
    while True:
        status = client.get(f"{url}/api/jobs/{job}").json()
        if status["state"] in ("done", "failed"):
            return time.perf_counter() - start, status
        time.sleep(0.1)


def main(argv=None):
    import httpx

    args = app_bench_parser(__doc__.splitlines()[0]).parse_args(argv)
    set_threads(1)
    song = sample_song(STYLE_NAMES.index("house"), np.random.default_rng(1))
    data = wav_bytes(synthesize_song(song, 0.0, int(round(args.seconds * SAMPLE_RATE))))
    with tempfile.TemporaryDirectory() as work, httpx.Client(timeout=600) as client:
        url = serve(args.model, work)
        seconds, status = dance(client, url, data)
        video = Path(work) / "dance.mp4"
        video.write_bytes(client.get(url + status["files"]["video"]).content)
        length = probe_mp4(str(video))["duration"]
        print(f"{args.seconds:.0f} s song: {status['state']} in {seconds:.1f} s "
              f"(goal 20 s); MP4 {length:.2f} s long ({length - args.seconds:+.2f} s)")

        start = time.perf_counter()
        with ThreadPoolExecutor(args.songs) as pool:
            results = list(pool.map(lambda _: dance(client, url, data), range(args.songs)))
        states = [status["state"] for _, status in results]
        print(f"{args.songs} songs posted at once: {states}, the last ready after "
              f"{time.perf_counter() - start:.1f} s")

        blip = wav_bytes(np.sin(np.arange(800) / 3.0) * 8000)
        for name, bad in (("notes.txt", b"a shopping list\n" * 20), ("empty.wav", b""), ("blip.wav", blip)):
            reply = client.post(f"{url}/api/dance", files={"song": (name, bad)})
            print(f"{name}: {reply.status_code} {reply.json()['error']}")
        print(f"still serving: GET /api/info -> {client.get(url + '/api/info').status_code}")


if __name__ == "__main__":
    main()
