"""The background-job manager: Dash's DiskcacheManager, plus dead-job detection.

Dash 4.4.1's :class:`~dash.DiskcacheManager` runs a background callback in a forked process and
the page polls for its result. When that process dies without writing a result (killed, out of
memory, the server restarted), ``dash._callback._handle_rest_background_callback`` sees "not
running and no result" and answers ``NoUpdate``: the progress bar disappears, no alert shows,
and the page keeps the previous parameters' results under the new label.

:class:`JobManager` changes exactly that case, for every page at once: a poll that finds the job's
process gone *and then* still no result (checked in this order, so a job that finishes between
the two reads is never called dead) returns a background-callback error, which Dash hands to the
app's ``on_error`` handler (:func:`dashboard.errors.handle_callback_error`): the alert says the
job ended and why, and the callback's outputs are cleared. Each poll also records a heartbeat,
which :func:`dashboard.jobs.run_task` reads to stop jobs whose page is gone.

One poll asks twice whether the job runs: :meth:`JobManager.get_result`, then Dash itself. A job
that ended between the two (killed, or finished just after its result was looked for) read as
"running, no result yet" and then as "not running, no result": Dash took that for a cancel and
ended the page's polling silently, losing the alert (or the result). So Dash's question gets the
answer this poll's :meth:`~JobManager.get_result` acted on, and the next poll sees the change.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

import psutil
from dash import DiskcacheManager
from dash.background_callback.managers.diskcache_manager import _make_job_fn

from dashboard.jobs import JOB_KEY_ENV, heartbeat_key

log = logging.getLogger("segmenta")

#: Recognised by :func:`dashboard.errors.handle_callback_error` inside Dash's error text.
JOB_ENDED = (
    "The job ended without a result: its process is gone (it was killed, ran out of memory, or "
    "the server restarted while it ran). Nothing was saved; run it again."
)


class JobManager(DiskcacheManager):
    """:class:`~dash.DiskcacheManager` that reports dead jobs and records page heartbeats."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._poll = threading.local()  # {job: running} as this request's get_result saw it
        _started_folder(self.handle).mkdir(exist_ok=True)

    def job_running(self, job):
        seen = getattr(self._poll, "seen", {})
        if job is not None and str(job) in seen:
            return seen.pop(str(job))
        try:
            return super().job_running(job)
        except psutil.Error:  # ended (and was reaped) between Dash's existence and status checks
            return False

    def terminate_job(self, job):
        # Stopped on purpose: the Cancel button, or the page asked again with new inputs (Dash
        # then stops the old job). A poll of it still in flight (another worker, say) must not
        # call it dead: that showed "The job ended without a result" on the Customer page
        # after one lookup followed another (7 times in 8 lookups of the browser benchmark).
        if job is not None:
            self.handle.set(_cancelled_key(job), True, expire=CANCELLED_MEMORY_S)
        super().terminate_job(job)

    def get_updated_props(self, key):
        # one transaction, like _MergingCache's read-merge-write: a set_props the job writes
        # between this read and the delete would otherwise be deleted unread
        with self.handle.transact():
            return super().get_updated_props(key)

    def call_job_fn(self, key, job_fn, args, context):
        # fork only while no thread is inside an SQLite call (dashboard.forksafe)
        from dashboard.forksafe import GATE

        with GATE.fork():
            return super().call_job_fn(key, job_fn, args, context)

    def make_job_fn(self, fn, progress, key=None):
        # Dash 4.4.1's job stores each set_props call under one key, replacing the previous one:
        # only the last call of a job would reach the page. _MergingCache keeps them all.
        inner = _make_job_fn(fn, _MergingCache(self.handle), progress)
        handle = self.handle

        def job_fn(result_key, progress_key, user_callback_args, context):
            # runs in the forked job process. First, before any SQLite call, say it started: a
            # fork taken while another thread of a threaded server was inside SQLite inherits
            # its lock, and the job then blocks on its first cache write (see get_result)
            _started_marker(handle, result_key).touch()
            # tell run_task which page heartbeat to watch
            os.environ[JOB_KEY_ENV] = result_key
            handle.set(heartbeat_key(result_key), time.time(), expire=24 * 3600)
            return inner(result_key, progress_key, user_callback_args, context)

        return job_fn

    def get_result(self, key, job):
        self.handle.set(heartbeat_key(key), time.time(), expire=24 * 3600)
        self._poll.seen = {}
        result = super().get_result(key, job)
        if result is not self.UNDEFINED:
            _started_marker(self.handle, key).unlink(missing_ok=True)
            return result
        if job is None:
            return result
        if self.job_running(job) and not self._stuck_at_start(key, job):
            self._poll.seen = {str(job): True}  # Dash asks next, in this same poll
            return result
        # Gone. A result written just before it exited is read now, after the running check.
        result = super().get_result(key, None)
        if result is not self.UNDEFINED:
            return result
        self.handle.delete(heartbeat_key(key))
        _started_marker(self.handle, key).unlink(missing_ok=True)
        if self.handle.get(_cancelled_key(job)):
            # stopped on purpose: Dash's own answer for a cancelled job (nothing to update)
            self._poll.seen = {str(job): False}
            return result
        return {"background_callback_error": {"msg": JOB_ENDED, "tb": ""}}

    def _stuck_at_start(self, key, job) -> bool:
        """A job process alive for :data:`START_TIMEOUT_S` that never reached its first line (it
        inherited a lock held at fork time, see ``make_job_fn``) is killed: it would never end."""
        if _started_marker(self.handle, key).exists():
            return False
        try:
            age = time.time() - psutil.Process(int(job)).create_time()
        except (psutil.Error, ValueError):
            return False
        if age < START_TIMEOUT_S:
            return False
        log.error("Job process %s never started its work in %.0f s: stopping it", job, age)
        super().terminate_job(job)  # not a cancel: the page is told it ended
        return True


#: seconds a forked job process may take to reach its first line before it is called stuck
START_TIMEOUT_S = 20
#: seconds a stopped job's pid is remembered as cancelled (its last polls arrive within 1-2 s)
CANCELLED_MEMORY_S = 300


def _cancelled_key(job) -> str:
    return f"segmenta-cancelled:{job}"


def _started_folder(handle) -> Path:
    return Path(handle.directory) / "started"


def _started_marker(handle, key: str) -> Path:
    """The file a job process creates first thing (no SQLite involved): it started. Its folder
    is made once, with the manager."""
    return _started_folder(handle) / str(key)


class _MergingCache:
    """The job's view of the cache: ``set_props`` entries merge instead of replacing."""

    def __init__(self, handle):
        self._handle = handle

    def set(self, key, value, *args, **kwargs):
        if not (isinstance(key, str) and key.endswith("-set_props") and isinstance(value, dict)):
            return self._handle.set(key, value, *args, **kwargs)
        with self._handle.transact():  # the page's poll reads and deletes this key likewise
            merged = dict(self._handle.get(key) or {})
            for component, props in value.items():
                merged[component] = {**merged.get(component, {}), **props}
            return self._handle.set(key, merged, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._handle, name)


def make_manager(settings):
    """The background-callback manager ``settings.jobs`` names: :class:`JobManager` on this
    host's diskcache folder (the default), or Celery workers through Redis
    (:class:`dashboard.celery_jobs.CeleryJobManager`)."""
    if settings.jobs == "celery":
        from dashboard.celery_jobs import CeleryJobManager, make_celery

        return CeleryJobManager(make_celery(settings), settings.redis_url)
    from dashboard.forksafe import ForkSafeCache

    return JobManager(ForkSafeCache(str(settings.cache_dir / "jobs")))
