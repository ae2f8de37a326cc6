"""Hostile uploads and killed jobs against the real ``gunicorn -w 2`` (see test_gunicorn.py)."""

from __future__ import annotations

import gzip
import http.client
import signal
import threading
import time
import urllib.parse

import psutil
import pytest
from selenium.webdriver.common.by import By

from dashboard.job_manager import JOB_ENDED
from tests.browser.helpers import click, load_button, persona_cards, wait_until
from tests.deploy.test_gunicorn import _browser, _status, gunicorn

#: The stated bound: no gunicorn worker may pass this resident size while under attack.
WORKER_PEAK_BOUND_MB = 1536


class PeakMemory:
    """Samples the resident size of every gunicorn worker every 50 ms (job processes excluded)."""

    def __init__(self, url: str):
        bind = f"127.0.0.1:{urllib.parse.urlsplit(url).port}"
        self.master = next(
            p
            for p in psutil.process_iter(["cmdline"])
            if bind in " ".join(p.info["cmdline"] or [])
            and bind not in " ".join(p.parent().cmdline())
        )
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def workers(self) -> list[psutil.Process]:
        return self.master.children()

    def _sample(self):
        while not self._stop.wait(0.05):
            for worker in self.workers():
                try:
                    rss = worker.memory_info().rss / 2**20
                except psutil.NoSuchProcess:
                    continue
                self.peak_mb = max(self.peak_mb, rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def _post_streaming(url: str, path: str, total: int, headers: dict) -> tuple[int, bytes, float]:
    """POST ``total`` bytes in 1 MB chunks; stop sending when the server answers early."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    started = time.monotonic()
    conn.putrequest("POST", path)
    for name, value in headers.items():
        conn.putheader(name, value)
    conn.endheaders()
    chunk = b"c1,2011-01-01,1\n" * (2**20 // 16)
    sent = 0
    try:
        while sent < total:
            conn.send(chunk)
            sent += len(chunk)
    except OSError:  # the server refused and closed: what we want
        pass
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body, time.monotonic() - started


def _bomb(path, expanded_mb: int = 1024):
    """A .csv.gz that expands to ``expanded_mb`` MB: one 16 MB gzip member repeated."""
    member = gzip.compress(b"c1,2011-01-01,1\n" * (2**20), compresslevel=9)
    with open(path, "wb") as handle:
        handle.write(gzip.compress(b"Customer,Date,Total\n"))
        for _ in range(expanded_mb // 16):
            handle.write(member)
    return path


@pytest.fixture
def cache_dir(tmp_path):
    path = tmp_path / "cache"
    path.mkdir()
    return path


def test_hos101_bomb_and_oversize_bodies_keep_workers_small_and_serving(cache_dir, tmp_path):
    bomb = _bomb(tmp_path / "bomb.csv.gz")
    with gunicorn(2, cache_dir) as url, PeakMemory(url) as memory:
        # 1. an oversize body announced by Content-Length: refused before it is read
        status, body, seconds = _post_streaming(
            url,
            "/upload",
            400 * 2**20,
            {"Content-Length": str(400 * 2**20), "X-Filename": "big.csv"},
        )
        assert status == 413 and b"upload limit of 300 MB" in body
        # 2. the same without a length (chunked): refused as soon as it passes the limit
        parts = urllib.parse.urlsplit(url)
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
        chunk = b"c1,2011-01-01,1\n" * (2**20 // 16)

        def chunks():
            for _ in range(400):
                yield chunk

        try:
            conn.request(
                "POST",
                "/upload",
                body=chunks(),
                headers={"X-Filename": "big.csv"},
                encode_chunked=True,
            )
        except OSError:
            pass
        assert conn.getresponse().status == 413
        conn.close()
        # 3. a callback body far over its limit
        status, _, _ = _post_streaming(
            url,
            "/_dash-update-component",
            64 * 2**20,
            {"Content-Length": str(64 * 2**20), "Content-Type": "application/json"},
        )
        assert status == 413
        # 4. a gzip bomb through the Data page: stored, then refused by the load job
        driver = _browser()
        try:
            driver.get(url + "/data")
            wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#data-upload input"), 60)
            driver.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(
                str(bomb)
            )
            click(driver, load_button(driver, 60))
            alert = wait_until(
                lambda: "expands to more than" in _alert(driver) and _alert(driver), 240
            )
            assert "bomb.csv.gz expands to more than 100 times its compressed size" in alert
            assert "--" not in alert
        finally:
            driver.quit()
        # the app keeps serving on both workers
        for _ in range(6):
            assert _status(url + "/") == 200
        assert _status(url + "/_dash-layout") == 200
    assert not list((cache_dir / "uploads").glob("*/big*"))
    print(f"peak worker RSS under attack: {memory.peak_mb:,.0f} MB")
    assert memory.peak_mb < WORKER_PEAK_BOUND_MB


def _job_processes(url: str) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """(Dash's forked job processes, their ``python -m dashboard.jobs`` children)."""
    memory = PeakMemory(url)
    forked, analytics = [], []

    def is_task(process: psutil.Process) -> bool:
        try:
            return "dashboard.jobs" in " ".join(process.cmdline())
        except psutil.Error:  # ended meanwhile (or a zombie not yet reaped)
            return False

    for worker in memory.workers():
        for child in worker.children():
            try:
                if is_task(child) or child.status() == psutil.STATUS_ZOMBIE:
                    continue  # the warm-up's own task process, or an ended job: not a page's
                children = child.children()
            except psutil.Error:
                continue
            forked.append(child)
            analytics += [c for c in children if is_task(c)]
    return forked, analytics


def _alert(driver) -> str:
    """Every open alert's text: a job's own alert (a stopped job) or the shell's (a dead one)."""
    return "\n".join(a.text for a in driver.find_elements(By.CSS_SELECTOR, ".alert"))


def test_hos102_killed_job_is_reported_within_10_s_and_runs_again(cache_dir):
    with gunicorn(2, cache_dir) as url:
        driver = _browser()
        try:
            driver.get(url + "/segments")
            wait_until(lambda: persona_cards(driver) == 4, timeout=120)
            for victim, expected in (
                ("analytics", "ended without a result: its process was killed (SIGKILL)"),
                ("forked", JOB_ENDED),
            ):
                click(driver, driver.find_element(By.ID, "segments-sweep-button"))
                forked, analytics = wait_until(
                    lambda: (lambda f, a: (f, a) if a else None)(*_job_processes(url)), 60
                )
                time.sleep(1.0)
                target = analytics[0] if victim == "analytics" else forked[0]
                target.send_signal(signal.SIGKILL)
                killed = time.monotonic()
                wait_until(lambda e=expected: e in _alert(driver), timeout=10)
                assert time.monotonic() - killed < 10
                wait_until(
                    lambda: driver.find_element(By.ID, "segments-sweep-button").is_enabled(), 10
                )
                assert not driver.find_element(By.ID, "segments-sweep-apply").text.startswith(
                    "Use k ="
                )
            # run it again: it completes
            click(driver, driver.find_element(By.ID, "segments-sweep-button"))

            def done():
                text = driver.find_element(By.ID, "segments-sweep-apply").text
                return text if text.startswith("Use k =") else None

            assert wait_until(done, timeout=240) == "Use k = 4"
        finally:
            driver.quit()


def _start(port: int, cache_dir):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "SEGMENTA_CACHE_DIR": str(cache_dir), "SEGMENTA_LOG_LEVEL": "WARNING"}
    log = open(cache_dir.parent / f"gunicorn-{port}-{time.time():.0f}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--timeout",
            "180",
            "--graceful-timeout",
            "5",
            "wsgi:server",
        ],
        cwd=root,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: _status(url + "/") == 200, timeout=60)
    return process, url


def _stop_all(process) -> None:
    """Stop the server and everything it started (its process group), as a host restart does."""
    import os

    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()


def test_hos103_server_restarted_mid_job_is_reported_and_runs_again(cache_dir):
    from tests.deploy.test_gunicorn import _free_port

    port = _free_port()
    process, url = _start(port, cache_dir)
    driver = _browser()
    try:
        driver.get(url + "/segments")
        wait_until(lambda: persona_cards(driver) == 4, timeout=120)
        click(driver, driver.find_element(By.ID, "segments-sweep-button"))
        wait_until(lambda: _job_processes(url)[1], 60)
        time.sleep(1.0)
        _stop_all(process)
        process, _ = _start(port, cache_dir)
        restarted = time.monotonic()
        wait_until(lambda: JOB_ENDED in _alert(driver), timeout=30)
        print(f"alert {time.monotonic() - restarted:.1f} s after the server was back")
        assert time.monotonic() - restarted < 10
        wait_until(lambda: driver.find_element(By.ID, "segments-sweep-button").is_enabled(), 10)
        click(driver, driver.find_element(By.ID, "segments-sweep-button"))

        def done():
            text = driver.find_element(By.ID, "segments-sweep-apply").text
            return text if text.startswith("Use k =") else None

        assert wait_until(done, timeout=240) == "Use k = 4"
    finally:
        driver.quit()
        _stop_all(process)
