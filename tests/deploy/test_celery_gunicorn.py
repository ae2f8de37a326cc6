"""Jobs on Celery workers: Debian's ``redis-server``, a real ``celery -A dashboard.celery_app
worker`` and ``gunicorn -w 2`` with ``SEGMENTA_JOBS=celery``, driven by a real browser.

The worker runs in its own folder with its own environment (only the settings the README asks
every host to share), as a worker on another host would.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
from selenium.webdriver.common.by import By

from dashboard.job_manager import JOB_ENDED
from tests.browser.helpers import click, load_button, persona_cards, wait_until
from tests.browser.test_data import _write_log
from tests.deploy.test_gunicorn import ROOT, _browser, gunicorn
from tests.redis_server import needs_redis, redis_server

pytestmark = needs_redis


class Worker:
    """``celery -A dashboard.celery_app worker --concurrency 2`` in a folder of its own."""

    def __init__(self, folder: Path, env: dict[str, str]):
        self.folder, self.env = folder, env
        self.log_path = folder / "celery-worker.log"
        self.process: subprocess.Popen | None = None

    def start(self) -> Worker:
        self.folder.mkdir(exist_ok=True)
        env = {
            "PATH": os.environ["PATH"],
            "HOME": str(self.folder),
            "PYTHONPATH": str(ROOT),  # the installed app, as on a worker host
            **self.env,
        }
        log = open(self.log_path, "a")  # noqa: SIM115
        self.process = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "celery"),
                "-A",
                "dashboard.celery_app",
                "worker",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=self.folder,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        wait_until(lambda: self.log().count("ready.") > self.starts, timeout=120)
        self.starts += 1
        return self

    starts = 0

    def log(self) -> str:
        return self.log_path.read_text()

    def pool(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children()

    def job_processes(self) -> list[psutil.Process]:
        """The ``python -m dashboard.jobs`` processes this worker's pool started."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=True):
            try:
                if "dashboard.jobs" in " ".join(child.cmdline()):
                    found.append(child)
            except psutil.Error:
                continue
        return found

    def kill(self) -> None:
        """The whole worker and its pool, at once, as when its host dies."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()


def _web_job_processes(url: str) -> list[psutil.Process]:
    """Processes the gunicorn workers started (a diskcache job would fork one)."""
    port = url.rsplit(":", 1)[1]
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if "gunicorn" in cmdline and f":{port}" in cmdline:
            with contextlib.suppress(psutil.Error):
                found += [c for c in process.children(recursive=True) if "gunicorn" not in c.name()]
    return found


def _alert(driver) -> str:
    return "\n".join(a.text for a in driver.find_elements(By.CSS_SELECTOR, ".alert"))


def _sweep_button(driver):
    return driver.find_element(By.ID, "segments-sweep-button")


def _applied(driver) -> str:
    return driver.find_element(By.ID, "segments-sweep-apply").text


def test_cel001_browser_job_runs_on_the_celery_worker_with_progress_cancel_and_lost_workers(
    tmp_path,
):
    cache_dir = tmp_path / "cache"  # the folder every host mounts at the same path
    cache_dir.mkdir()
    with redis_server(tmp_path) as redis_url:
        shared = {
            "SEGMENTA_JOBS": "celery",
            "SEGMENTA_REDIS_URL": redis_url,
            "SEGMENTA_CACHE_DIR": str(cache_dir),
            "SEGMENTA_LOG_LEVEL": "WARNING",
        }
        worker = Worker(tmp_path / "worker-host", shared).start()
        try:
            with gunicorn(2, cache_dir, env={**shared, "SEGMENTA_WARM_UP": "0"}) as url:
                driver = _browser()
                try:
                    driver.get(url + "/segments")
                    wait_until(lambda: persona_cards(driver) == 4, 120)

                    # 1. the job runs in the worker's pool, with progress; the web forks nothing
                    click(driver, _sweep_button(driver))
                    jobs = wait_until(worker.job_processes, 60)
                    pool = [p.pid for p in worker.pool()]
                    assert jobs[0].parent().pid in pool
                    assert _web_job_processes(url) == []
                    progress = wait_until(
                        lambda: (lambda t: t if t.startswith("Tried") else None)(
                            driver.find_element(By.ID, "segments-sweep-progress-text").text
                        ),
                        240,  # the first value of k, on a loaded CI machine
                    )
                    assert "values of k" in progress
                    assert "Task background_callback_" in worker.log()

                    # 2. Cancel stops it on the worker
                    click(driver, driver.find_element(By.ID, "segments-sweep-cancel"))
                    wait_until(lambda: not worker.job_processes(), 10)
                    wait_until(lambda: _sweep_button(driver).is_enabled(), 10)
                    assert not _applied(driver).startswith("Use k =")
                    assert JOB_ENDED not in _alert(driver)

                    # 3. its pool process killed: reported as the default manager reports it
                    click(driver, _sweep_button(driver))
                    jobs = wait_until(worker.job_processes, 60)
                    time.sleep(1.0)
                    jobs[0].parent().send_signal(signal.SIGKILL)
                    killed = time.monotonic()
                    wait_until(lambda: JOB_ENDED in _alert(driver), 10)
                    assert time.monotonic() - killed < 10
                    wait_until(lambda: _sweep_button(driver).is_enabled(), 10)
                    assert not _applied(driver).startswith("Use k =")

                    # 4. the whole worker killed (its host died): reported too
                    driver.refresh()
                    wait_until(lambda: persona_cards(driver) == 4, 120)
                    click(driver, _sweep_button(driver))
                    wait_until(worker.job_processes, 60)
                    time.sleep(1.0)
                    worker.kill()
                    killed = time.monotonic()
                    wait_until(lambda: JOB_ENDED in _alert(driver), 15)
                    print(f"lost worker reported after {time.monotonic() - killed:.1f} s")
                    wait_until(lambda: _sweep_button(driver).is_enabled(), 10)

                    # 5. a worker again: the job runs again and completes
                    worker.start()
                    click(driver, _sweep_button(driver))
                    assert (
                        wait_until(
                            lambda: (lambda t: t if t.startswith("Use k =") else None)(
                                _applied(driver)
                            ),
                            240,
                        )
                        == "Use k = 4"
                    )
                    assert "succeeded" in worker.log()

                    # 6. an upload stored by the web server is loaded and cleaned by the worker,
                    # which has its own working folder: the registry and data are shared
                    upload = _write_log(tmp_path / "shop_orders.csv")
                    before = worker.log().count("succeeded")
                    driver.get(url + "/data")
                    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#data-upload input"))
                    driver.find_element(By.CSS_SELECTOR, "#data-upload input[type=file]").send_keys(
                        str(upload)
                    )
                    click(driver, load_button(driver, 60))
                    wait_until(
                        lambda: (
                            driver.find_element(By.ID, "topbar-dataset").text == "shop_orders.csv"
                        ),
                        120,
                    )
                    wait_until(
                        lambda: (
                            "customers" in driver.find_element(By.ID, "data-report-summary").text
                        ),
                        60,
                    )
                    assert worker.log().count("succeeded") > before  # the load ran there
                    assert list((cache_dir / "uploads").iterdir())
                    assert len(list((cache_dir / "datasets").glob("*.parquet"))) == 2
                finally:
                    driver.quit()
        finally:
            worker.kill()
