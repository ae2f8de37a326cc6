"""Background jobs on Celery workers, with Redis as broker and result store (``SEGMENTA_JOBS=celery``).

The embedded default (:class:`dashboard.job_manager.JobManager`) forks each job from the web
worker. With ``SEGMENTA_JOBS=celery`` the same page callbacks run as Celery tasks on the workers
started by ``celery -A dashboard.celery_app worker`` (see :mod:`dashboard.celery_app`), on this
host or others. Inside the task nothing changes: the page's job calls
:func:`dashboard.jobs.run_task`, which runs the analytics in a fresh interpreter (polars does not
survive ``fork``, and Celery's prefork pool forks).

:class:`CeleryJobManager` is Dash's :class:`~dash.CeleryManager` with what our default manager
adds, so progress, cancel and errors behave as they do without Celery:

- every ``set_props`` of a job reaches the page (Dash keeps only the last one), and a job's side
  updates are read once and atomically (Dash 4.4.1 never deletes them, so a re-run with the same
  inputs would replay the previous run's alert);
- within one poll, Dash's "is it running?" gets the answer the poll's result lookup acted on (as
  :class:`~dashboard.job_manager.JobManager` does), so a job ending between the two is seen by
  the next poll instead of being taken for a cancel;
- a job whose worker process died says so. Two signs, both kept in Redis: Celery marks the task
  ``FAILURE`` (``WorkerLostError``) when a pool process dies, and the task refreshes a short-lived
  *alive* key every second while it runs, which stops when its whole worker or host is gone.
  Either way the poll answers the same :data:`~dashboard.job_manager.JOB_ENDED` error as the
  default manager, so the page shows the same alert and the job can be run again;
- each poll records the page's heartbeat in Redis, which the job's watchdog reads to stop a job
  whose browser tab is gone (:func:`dashboard.jobs.run_task`).

Tasks are acknowledged when a worker starts them (Celery's default ``task_acks_late=False``): a
job whose worker died is reported, never silently re-run behind the user's back.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time

import redis
from celery import Celery
from dash import CeleryManager
from dash.background_callback.managers.celery_manager import _make_job_fn

from dashboard.job_manager import JOB_ENDED
from dashboard.jobs import JOB_KEY_ENV, heartbeat_key
from dashboard.settings import Settings

DAY = 24 * 3600
#: A running task refreshes ``alive:<task id>`` this often (seconds) ...
ALIVE_EVERY_S = 1.0
#: ... with this lifetime: a task silent for longer has lost its worker.
ALIVE_TTL_S = 5
ALIVE_PREFIX = "segmenta-alive:"
STARTED_PREFIX = "segmenta-started:"
CANCELLED_PREFIX = "segmenta-cancelled:"
#: Celery states of a task that will never write its result.
ENDED_STATES = ("FAILURE", "REVOKED")


def make_celery(settings: Settings) -> Celery:
    """The Celery application on ``settings.redis_url`` (broker and result store)."""
    app = Celery("segmenta", broker=settings.redis_url, backend=settings.redis_url)
    app.conf.update(
        task_acks_late=False,  # a job whose worker died is reported, not re-run unseen
        worker_prefetch_multiplier=1,  # a busy worker leaves waiting jobs to idle ones
        result_expires=DAY,
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],  # only JSON crosses Redis: no pickles
        broker_connection_retry_on_startup=True,
    )
    return app


class CeleryJobManager(CeleryManager):
    """:class:`~dash.CeleryManager` that merges side updates and reports dead jobs."""

    def __init__(self, celery_app: Celery, redis_url: str):
        self.redis = redis.Redis.from_url(redis_url)
        self._poll = threading.local()  # {job: running} as this request's get_result saw it
        super().__init__(celery_app)

    def job_running(self, job):
        # Dash asks after get_result, in the same poll: answer what get_result acted on. A job
        # that ended between the two (finished just after its result was looked for, or lost
        # its worker) would read "running, no result" then "not running, no result", which Dash
        # takes for a cancel: the page would stop polling and lose the result or the alert.
        seen = getattr(self._poll, "seen", {})
        if job is not None and str(job) in seen:
            return seen.pop(str(job))
        return super().job_running(job)

    def make_job_fn(self, fn, progress, key=None):
        # Dash's job body, built on our merging result store; registered below as our own task
        body = _make_job_fn(fn, _Registrar(self.handle.backend, self.redis), progress, key)
        client = self.redis

        @self.handle.task(name=f"background_callback_{key}", bind=True)
        def job_fn(task, result_key, progress_key, user_callback_args, context=None):
            os.environ[JOB_KEY_ENV] = result_key  # run_task's watchdog reads the page heartbeat
            client.set(heartbeat_key(result_key), time.time(), ex=DAY)
            with _alive(client, task.request.id):
                return body(result_key, progress_key, user_callback_args, context)

        return job_fn

    def get_result(self, key, job):
        self.redis.set(heartbeat_key(key), time.time(), ex=DAY)
        self._poll.seen = {}
        result = super().get_result(key, job)
        if result is not self.UNDEFINED or job is None:
            return result
        if not self.job_lost(job):
            if not self.redis.exists(CANCELLED_PREFIX + job):
                self._poll.seen = {str(job): True}  # Dash asks next, in this same poll
            return result
        # Lost. A result written just before the job ended is read now, after the check.
        result = super().get_result(key, None)
        if result is not self.UNDEFINED:
            return result
        self.redis.delete(heartbeat_key(key))
        return {"background_callback_error": {"msg": JOB_ENDED, "tb": ""}}

    def job_lost(self, job: str) -> bool:
        """Whether the task ``job`` ended, or lost its worker, without writing its result."""
        if self.redis.exists(CANCELLED_PREFIX + job):
            return False  # stopped on purpose (Cancel, or a newer run): Dash answers no update
        task = self.get_task(job)
        if task is not None and task.status in ENDED_STATES:
            return True  # Celery saw its pool process die (WorkerLostError), or it was revoked
        if self.redis.exists(ALIVE_PREFIX + job):
            return False
        # started once and silent since: its worker or host is gone (queued jobs never started)
        return bool(self.redis.exists(STARTED_PREFIX + job))

    def terminate_job(self, job):
        if job is not None:
            # a poll already on its way must not call a cancelled job lost: Celery revokes it
            # asynchronously, so the page may see REVOKED before the renderer stops polling
            self.redis.set(CANCELLED_PREFIX + job, time.time(), ex=DAY)
            self.redis.delete(ALIVE_PREFIX + job, STARTED_PREFIX + job)
        super().terminate_job(job)

    def get_updated_props(self, key):
        # Dash 4.4.1's CeleryManager deletes the *result* key here and keeps the side updates,
        # which a later run with the same inputs would then replay. Read them once, atomically:
        # the job appends each set_props to a list (_JobStore), read and deleted in one step.
        props_key = self._make_set_props_key(key)
        with self.redis.pipeline() as pipe:
            pipe.lrange(props_key, 0, -1)
            pipe.delete(props_key)
            entries, _ = pipe.execute()
        merged: dict = {}
        for entry in entries:
            for component, props in json.loads(entry).items():
                merged[component] = {**merged.get(component, {}), **props}
        return merged


@contextlib.contextmanager
def _alive(client: redis.Redis, job: str):
    """Keep ``alive:<job>`` fresh while the block runs; mark the job started for good."""
    client.set(ALIVE_PREFIX + job, time.time(), ex=ALIVE_TTL_S)
    client.set(STARTED_PREFIX + job, time.time(), ex=DAY)
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(ALIVE_EVERY_S):
            client.set(ALIVE_PREFIX + job, time.time(), ex=ALIVE_TTL_S)

    thread = threading.Thread(target=beat, name=f"segmenta-alive-{job}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
        # the result is written: a poll that now finds no alive key reads it on its second look
        client.delete(ALIVE_PREFIX + job, STARTED_PREFIX + job)


class _Registrar:
    """What Dash's ``_make_job_fn`` needs of a Celery app: a result store, and a ``task``
    decorator, which here returns the body unregistered (:meth:`CeleryJobManager.make_job_fn`
    registers its own task around it)."""

    def __init__(self, backend, client: redis.Redis):
        self.backend = _JobStore(backend, client)

    @staticmethod
    def task(**_options):
        return lambda body: body


class _JobStore:
    """The job's view of the result store: each ``set_props`` is appended to a list, so every
    one reaches the page (Dash 4.4.1 keeps only the last) and the poll reads them atomically."""

    def __init__(self, backend, client: redis.Redis):
        self._backend, self._client = backend, client

    def set(self, key, value, *args, **kwargs):
        if isinstance(key, str) and key.endswith("-set_props"):
            with self._client.pipeline() as pipe:
                pipe.rpush(key, value)
                pipe.expire(key, DAY)
                pipe.execute()
            return None
        return self._backend.set(key, value, *args, **kwargs)

    def __getattr__(self, name):
        return getattr(self._backend, name)


class RedisHeartbeats:
    """Page heartbeats in Redis, read by :func:`dashboard.jobs.run_task`'s watchdog."""

    def __init__(self, redis_url: str):
        self._client = redis.Redis.from_url(redis_url)

    def get(self, key: str) -> float | None:
        value = self._client.get(key)
        return None if value is None else float(value)

    def close(self) -> None:
        self._client.close()
