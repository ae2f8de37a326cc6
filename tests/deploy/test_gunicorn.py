"""Deployment: the real ``gunicorn wsgi:server`` on a loopback port, driven by real browsers."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
from selenium import webdriver

from tests.browser.helpers import persona_cards, set_slider, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def gunicorn(workers: int, cache_dir: Path, env: dict[str, str] | None = None, ready: str = "/"):
    """``gunicorn -w workers wsgi:server`` on a free port; yields its URL once ``ready`` answers 200.

    ``env``: more settings (e.g. ``SEGMENTA_WARM_UP``); ``ready``: a path that answers 200 without
    signing in (``/login`` when logins are on).
    """
    port = _free_port()
    env = {
        **os.environ,
        "SEGMENTA_CACHE_DIR": str(cache_dir),
        "SEGMENTA_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = open(cache_dir.parent / f"gunicorn-{workers}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            str(workers),
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "180",
            "wsgi:server",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _status(url + ready) == 200, timeout=60)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _status(url: str) -> int | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status
    except OSError:
        return None


def _browser() -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--window-size=1400,1000",
    ):
        options.add_argument(flag)
    return webdriver.Chrome(options=options)


def _open_segments(driver, url: str) -> None:
    driver.get(url + "/segments")
    wait_until(lambda: persona_cards(driver) == 4, timeout=120)


def _sweep_result(driver) -> str:
    def done():
        text = driver.find_element("id", "segments-sweep-apply").text
        return text if text.startswith("Use k =") else None

    return wait_until(done, timeout=180)


@pytest.fixture
def cache_dir(tmp_path):
    path = tmp_path / "cache"
    path.mkdir()
    return path


def test_dep001_pages_and_assets_are_served(cache_dir):
    with gunicorn(2, cache_dir) as url:
        for path in (
            "/",
            "/segments",
            "/no-such-page",
            "/_dash-layout",
            "/_dash-dependencies",
            "/assets/app.css",
        ):
            assert _status(url + path) == 200, path


def test_dep002_two_sessions_same_background_callback_both_get_results(cache_dir):
    """Two users press "Find best k" with identical inputs at the same moment under -w 2."""
    with gunicorn(2, cache_dir) as url:
        drivers = [_browser(), _browser()]
        try:
            for driver in drivers:
                _open_segments(driver, url)
            # clustering in normal callbacks on both workers before the jobs fork from them
            for driver in drivers:
                set_slider(driver, "segments-k", 5)
                wait_until(lambda d=driver: persona_cards(d) == 5, timeout=60)
                set_slider(driver, "segments-k", 4)
                wait_until(lambda d=driver: persona_cards(d) == 4, timeout=60)
            buttons = [d.find_element("id", "segments-sweep-button") for d in drivers]
            start = threading.Barrier(2)

            def press(button):
                start.wait()
                button.click()

            threads = [threading.Thread(target=press, args=(b,)) for b in buttons]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            results = [_sweep_result(d) for d in drivers]
            assert results == ["Use k = 4", "Use k = 4"]
        finally:
            for driver in drivers:
                driver.quit()


def test_dep003_clustering_then_background_job_in_one_worker_does_not_hang(cache_dir):
    """-w 1: the worker that ran K-Means (OpenMP) and polars forks the job; the job must finish."""
    with gunicorn(1, cache_dir) as url:
        driver = _browser()
        try:
            _open_segments(driver, url)
            set_slider(driver, "segments-k", 6)
            wait_until(lambda: persona_cards(driver) == 6, timeout=60)
            started = time.time()
            driver.find_element("id", "segments-sweep-button").click()
            assert _sweep_result(driver) == "Use k = 4"
            assert time.time() - started < 120
        finally:
            driver.quit()
