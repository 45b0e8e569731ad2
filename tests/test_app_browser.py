"""The dance page in a real browser: headless Chromium (Debian's chromium and chromium-driver)
driven by selenium against ``app.py``'s server on a free loopback port, with the shipped
generator.

Skipped when the browser is not installed, unless ``DANCE_SYNTH_REQUIRE_BROWSER=1`` (set by
``.ci/run``, which installs it): then a missing browser fails. ``DANCE_SYNTH_SCREENSHOT=FILE``
saves the page with its dance (the README's picture).
"""

import os
import socket
import tempfile
import threading
import time

import numpy as np
import pytest
import soundfile as sf
import torch

from dataset.format import SAMPLE_RATE
from webapp.dancer import Dancer
from webapp.jobs import JobQueue
from webapp.server import create_app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SONG_SECONDS = 8.0
TIMEOUT_S = 120
CHROMIUM_FLAGS = ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--mute-audio",
                  "--autoplay-policy=no-user-gesture-required", "--window-size=1100,1500")

webdriver = pytest.importorskip("selenium.webdriver")
if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    if os.environ.get("DANCE_SYNTH_REQUIRE_BROWSER") == "1":
        raise RuntimeError(f"browser test required but {CHROMIUM} or {CHROMEDRIVER} is missing "
                           f"(apt-get install chromium chromium-driver)")
    pytest.skip("headless Chromium is not installed (apt-get install chromium chromium-driver)",
                allow_module_level=True)

from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """``app.py``'s app served by uvicorn in a thread; yields its URL."""
    import uvicorn

    jobs = JobQueue(tmp_path_factory.mktemp("work"),
                    Dancer(os.path.join(ROOT, "pretrain_model", "generator.pth"), torch.device("cpu")))
    port = free_port()
    uvicorn_server = uvicorn.Server(uvicorn.Config(create_app(jobs, genres=0), host="127.0.0.1", port=port,
                                                   log_level="warning"))
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert uvicorn_server.started, "the server did not start"
    yield f"http://127.0.0.1:{port}/"
    uvicorn_server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """A synthesised 8 s song (a kick every 0.5 s over a chord) and a text file."""
    folder = tmp_path_factory.mktemp("inputs")
    t = np.arange(round(SONG_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    music = 0.6 * np.sin(2 * np.pi * 60 * t) * np.exp(-(t % 0.5) * 20)
    music += 0.05 * sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6))
    sf.write(folder / "song.wav", music.astype(np.float32), SAMPLE_RATE, subtype="PCM_16")
    (folder / "notes.txt").write_text("a shopping list, not a song\n" * 10)
    return folder


def browser():
    """A fresh headless Chromium with an empty profile of its own."""
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tempfile.mkdtemp(prefix='dance-synth-chromium-')}")
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


@pytest.fixture
def page(server):
    driver = browser()
    driver.get(server)
    WebDriverWait(driver, 30).until(lambda d: "minutes" in d.find_element(By.ID, "limits").text)
    yield driver
    driver.quit()


def dance(driver, path):
    driver.find_element(By.ID, "song").send_keys(str(path))
    driver.find_element(By.ID, "dance").click()


def wait_for_video(driver):
    WebDriverWait(driver, TIMEOUT_S).until(lambda d: d.find_element(By.ID, "result").is_displayed()
                                           or d.find_element(By.ID, "error").is_displayed())
    assert not driver.find_element(By.ID, "error").is_displayed(), driver.find_element(By.ID, "error").text


def test_a_song_is_danced_and_played_with_its_music_and_beat_plot(page, inputs):
    dance(page, inputs / "song.wav")
    wait_for_video(page)
    duration = WebDriverWait(page, 30).until(lambda d: d.execute_script(
        "const v = document.getElementById('video'); return v.readyState >= 1 ? v.duration : null;"))
    assert abs(duration - SONG_SECONDS) <= 0.2
    WebDriverWait(page, 30).until(lambda d: d.execute_script(
        "const v = document.getElementById('video'); return !v.paused && v.currentTime > 0.3;"))
    assert page.execute_script("const v = document.getElementById('video');"
                               "return v.mozHasAudio || v.webkitAudioDecodedByteCount > 0 || "
                               "(v.audioTracks && v.audioTracks.length > 0);")
    WebDriverWait(page, 30).until(lambda d: d.execute_script(
        "const p = document.getElementById('plot'); return p.complete && p.naturalWidth > 0;"))
    links = [page.find_element(By.ID, name).get_attribute("href") for name in ("get-video", "get-poses", "get-zip")]
    assert all(link and "download" in link for link in links)
    if os.environ.get("DANCE_SYNTH_SCREENSHOT"):
        page.execute_script("document.getElementById('video').pause();"
                            "document.getElementById('video').currentTime = 4.0;")
        time.sleep(1.0)
        page.save_screenshot(os.environ["DANCE_SYNTH_SCREENSHOT"])


def test_a_text_file_gets_a_message_on_the_page(page, inputs):
    dance(page, inputs / "notes.txt")
    WebDriverWait(page, 30).until(lambda d: d.find_element(By.ID, "error").is_displayed())
    assert "cannot decode audio file notes.txt" in page.find_element(By.ID, "error").text
    assert not page.find_element(By.ID, "result").is_displayed()


def test_two_uploads_at_once_both_finish(server, inputs):
    drivers = [browser(), browser()]
    try:
        for driver in drivers:
            driver.get(server)
            WebDriverWait(driver, 30).until(lambda d: "minutes" in d.find_element(By.ID, "limits").text)
        for driver in drivers:
            dance(driver, inputs / "song.wav")
        for driver in drivers:
            wait_for_video(driver)
    finally:
        for driver in drivers:
            driver.quit()
