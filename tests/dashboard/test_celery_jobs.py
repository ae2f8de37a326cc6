"""The Celery job manager against a real ``redis-server`` (tasks run eagerly here; the browser test
in tests/deploy/test_celery_gunicorn.py runs them on a real worker)."""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import time

import pytest
from dash import set_props

from analytics.datasets import BUNDLED_ID
from dashboard.job_manager import JOB_ENDED, JobManager, make_manager
from dashboard.jobs import JOB_KEY_ENV, JobStopped, heartbeat_key, run_task
from dashboard.settings import Settings
from tests.redis_server import needs_redis, redis_server

pytestmark = needs_redis
ENDED = {"background_callback_error": {"msg": JOB_ENDED, "tb": ""}}


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def celery_settings(tmp_path, redis_url):
    return Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(tmp_path / "cache"),
            "SEGMENTA_WARM_UP": "0",
            "SEGMENTA_JOBS": "celery",
            "SEGMENTA_REDIS_URL": redis_url,
        }
    )


@pytest.fixture
def manager(celery_settings):
    from dashboard.celery_jobs import CeleryJobManager

    manager = make_manager(celery_settings)
    assert isinstance(manager, CeleryJobManager)
    manager.redis.flushdb()
    return manager


def test_make_manager_keeps_the_embedded_default(settings):
    assert type(make_manager(settings)) is JobManager


def test_a_task_whose_pool_process_died_is_reported_as_the_default_manager_does(manager):
    from billiard.exceptions import WorkerLostError

    manager.handle.backend.mark_as_failure("job-1", WorkerLostError("signal 9 (SIGKILL)"))
    assert manager.get_result("key-1", "job-1") == ENDED
    # a result written before the end is the answer, not an error
    manager.handle.backend.mark_as_failure("job-2", WorkerLostError("signal 9 (SIGKILL)"))
    manager.handle.backend.set("key-2", '{"ok": 1}')
    assert manager.get_result("key-2", "job-2") == {"ok": 1}


def test_a_started_task_that_stopped_beating_lost_its_worker(manager):
    from dashboard.celery_jobs import ALIVE_PREFIX, STARTED_PREFIX

    # queued, not started yet (no worker free): keep polling
    assert manager.get_result("key-q", "job-q") is manager.UNDEFINED
    # running: its alive key is fresh; each poll records the page's heartbeat for the watchdog
    manager.redis.set(STARTED_PREFIX + "job-r", time.time())
    manager.redis.set(ALIVE_PREFIX + "job-r", time.time(), ex=5)
    assert manager.get_result("key-r", "job-r") is manager.UNDEFINED
    assert float(manager.redis.get(heartbeat_key("key-r"))) == pytest.approx(time.time(), abs=5)
    # started, then silent (its host died): ended
    manager.redis.delete(ALIVE_PREFIX + "job-r")
    assert manager.get_result("key-r", "job-r") == ENDED
    assert manager.redis.get(heartbeat_key("key-r")) is None


def test_a_cancelled_task_is_not_called_lost(manager):
    from billiard.exceptions import Terminated

    from dashboard.celery_jobs import STARTED_PREFIX

    manager.redis.set(STARTED_PREFIX + "job-c", time.time())
    manager.terminate_job("job-c")  # what Dash's Cancel does
    manager.handle.backend.mark_as_revoked("job-c", Terminated("SIGTERM"))
    assert manager.get_result("key-c", "job-c") is manager.UNDEFINED
    assert not manager.job_running("job-c")  # so Dash answers "no update", as without Celery


def _job(set_progress, value):
    set_progress((50, "Half way"))
    set_props("app-alert", {"children": "why", "is_open": True})
    set_props("churn-token", {"data": None})
    set_props("app-alert", {"color": "danger"})
    return {"value": value, "pid": os.getpid()}


def test_the_task_reports_progress_every_side_update_once_and_its_result(manager):
    from dashboard.celery_jobs import ALIVE_PREFIX, STARTED_PREFIX

    seen = {}

    def spy(set_progress, value):
        seen["env"] = os.environ.get(JOB_KEY_ENV)
        seen["alive"] = manager.redis.exists(ALIVE_PREFIX + "fixed-id")
        return _job(set_progress, value)

    job_fn = manager.make_job_fn(spy, progress=True, key="test-job")
    # run here (apply), through the same task body a worker runs
    job_fn.apply(args=("key-t", manager._make_progress_key("key-t"), [7], {}), task_id="fixed-id")
    assert seen == {"env": "key-t", "alive": 1}
    assert manager.get_progress("key-t") == [50, "Half way"]
    assert manager.get_updated_props("key-t") == {
        "app-alert": {"children": "why", "is_open": True, "color": "danger"},
        "churn-token": {"data": None},
    }
    assert manager.get_updated_props("key-t") == {}  # read once: a re-run never replays them
    assert manager.get_result("key-t", None) == {"value": 7, "pid": os.getpid()}
    # finished: nothing says it is still alive or started
    assert not manager.redis.exists(ALIVE_PREFIX + "fixed-id", STARTED_PREFIX + "fixed-id")


def test_the_watchdog_reads_the_page_heartbeat_from_redis(celery_settings, manager, monkeypatch):
    """A job on a worker host stops once its page stops polling, as on the web host."""
    quick = dataclasses.replace(celery_settings, job_abandon_s=2)
    manager.redis.set(heartbeat_key("k-celery"), time.time())
    monkeypatch.setenv(JOB_KEY_ENV, "k-celery")
    with pytest.raises(JobStopped, match="its page stopped asking for it for 2 seconds"):
        run_task(quick, "train", dataset_id=BUNDLED_ID, horizon_days=90)


def test_the_worker_entry_point_says_what_it_needs(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEGMENTA_")}
    env["SEGMENTA_CACHE_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-c", "import dashboard.celery_app"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    assert (
        "The Celery worker needs SEGMENTA_JOBS=celery and SEGMENTA_REDIS_URL (the Redis the web "
        "servers use), in the worker's environment as in the web servers'."
    ) in done.stderr


def test_caches_in_a_folder_shared_by_hosts_use_the_rollback_journal(celery_settings, settings):
    """SQLite's WAL needs one host's shared memory; Celery workers on other hosts share the
    folder, so there the result cache and the API's rate buckets use the rollback journal."""
    from dashboard.api_keys import RateLimiter
    from dashboard.cache import ResultCache

    def modes(s):
        disks = [ResultCache(s).disk, RateLimiter.for_settings(s).cache]
        try:
            return [d._sql("PRAGMA journal_mode").fetchone()[0] for d in disks]
        finally:
            for disk in disks:
                disk.close()

    assert modes(settings) == ["wal", "wal"]  # one host: diskcache's default
    shared = dataclasses.replace(celery_settings, cache_dir=celery_settings.cache_dir / "shared")
    assert modes(shared) == ["delete", "delete"]


def test_a_job_ending_between_the_two_questions_of_a_poll_is_seen_by_the_next(manager):
    """Dash asks get_result, then job_running: a job finishing in between is not a cancel."""
    from dashboard.celery_jobs import ALIVE_PREFIX, STARTED_PREFIX

    manager.redis.set(STARTED_PREFIX + "job-e", time.time())
    manager.redis.set(ALIVE_PREFIX + "job-e", time.time(), ex=5)
    assert manager.get_result("key-e", "job-e") is manager.UNDEFINED
    # the job writes its result and ends now, between the poll's two questions
    manager.handle.backend.set("key-e", '{"done": true}')
    manager.handle.backend.mark_as_done("job-e", None)
    manager.redis.delete(ALIVE_PREFIX + "job-e", STARTED_PREFIX + "job-e")
    assert manager.job_running("job-e")  # this poll: what get_result acted on, keep polling
    assert not manager.job_running("job-e")  # later questions ask Celery
    assert manager.get_result("key-e", "job-e") == {"done": True}  # the next poll
