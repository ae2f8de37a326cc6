"""Running long analytics work in a fresh interpreter, with progress.

Dash's DiskcacheManager forks the web worker to run a background callback. A forked child must
not touch polars (its thread pool does not survive ``fork``: a group-by in a forked child hung
5 times out of 5 here) nor OpenMP code that already ran in the parent (FIELD-NOTES). So the forked
child only orchestrates: it starts ``python -m dashboard.jobs`` as a new process, which imports
the analytics afresh, runs the task against the shared disk cache and reports progress as JSON
lines on its stdout. Cancelling the background callback kills the forked child and its children,
this process included. Only JSON crosses the pipe: no pickles.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analytics import errors
from analytics.words import count_of
from dashboard.settings import Settings

Progress = Callable[[int, int, str], None]
ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger("segmenta")


class JobFailed(RuntimeError):
    """The job process crashed (not a user error); the traceback is in the server log."""


def _sweep(service, progress: Progress, dataset_id: str, params: dict) -> dict:
    from dashboard.service import SegmentParams

    sweep = service.sweep(
        dataset_id,
        SegmentParams.from_dict(params),
        progress=lambda done, total: progress(done, total, f"Tried {done} of {total} values of k"),
    )
    return {"recommended_k": sweep.recommended_k, "reason": sweep.reason}


def _segmentations(service, progress: Progress, dataset_id: str, params: list[dict]) -> dict:
    """Compute (or find cached) one segmentation per settings; the results stay in the cache."""
    from dashboard.service import SegmentParams

    for done, values in enumerate(params, start=1):
        service.segmentation(dataset_id, SegmentParams.from_dict(values))
        progress(done, len(params), f"Segmented {done} of {len(params)} settings")
    return {"segmentations": len(params)}


def _train(service, progress: Progress, dataset_id: str, horizon_days: int) -> dict:
    result = service.predictions(dataset_id, horizon_days, progress=progress)
    return {"method": result.method, "customers": result.table.height}


def _explain(
    service, progress: Progress, dataset_id: str, customer_id: str, horizon_days: int, params: dict
) -> dict:
    from dashboard.service import SegmentParams

    done = {}
    if service.cached_predictions(dataset_id, horizon_days) is None:
        progress(0, 4, "Training the churn and CLV models first (once per dataset)")
        service.predictions(dataset_id, horizon_days)
        done["trained"] = True  # the page redraws what waited for the models
    targets = {"churn": "churn risk", "clv": "CLV", "segment": "segment"}
    for i, (target, words) in enumerate(targets.items(), start=1):
        progress(i, 4, f"Explaining the {words}")
        try:
            service.explanation(
                dataset_id, customer_id, target, horizon_days, SegmentParams.from_dict(params)
            )
            done[target] = "ok"
        except errors.SegmentaError as error:
            done[target] = str(error)
    progress(4, 4, "Done")
    return done


def _rules(service, progress: Progress, dataset_id: str, params: dict) -> dict:
    from dashboard.service import BasketParams

    basket_params = BasketParams(**params)
    progress(0, 4, "Building baskets")
    service.baskets(dataset_id, basket_params)
    rules = service.rules(
        dataset_id,
        basket_params,
        progress=lambda done, total, text: progress(done + 1, total + 1, text),
    )
    if basket_params.scope == "segment":
        progress(3, 4, "Mining all baskets to compare the segment with")
        service.rules(dataset_id, basket_params.overall())
    return {"itemsets": rules.itemsets.height, "rules": rules.rules.height}


def _ingest(service, progress: Progress, dataset_id: str) -> dict:
    kind = service.kind(dataset_id)
    if kind != "transactions":  # a customer table: read, check and encode it (and join it)
        progress(0, 2, "Reading and checking the customer table")
        table = service.customer_table(dataset_id)
        customers = service.segment_features(dataset_id).height
        progress(2, 2, "Done")
        return {"kind": kind, "rows": table.frame.height, "customers": customers}
    progress(0, 2, "Reading, mapping and cleaning the file")
    report = service.report(dataset_id)
    progress(2, 2, "Done")
    return {"rows_in": report.rows_in, "rows_out": report.rows_out, "customers": report.customers}


def _migration(
    service, progress: Progress, dataset_id: str, start: str, end: str, by: str, params: dict
) -> dict:
    import datetime as dt

    from dashboard.service import SegmentParams

    segment_params = SegmentParams.from_dict(params) if by == "segment" else None
    progress(0, 2, "Comparing the segments at the two dates")
    result = service.migration(
        dataset_id, dt.date.fromisoformat(start), dt.date.fromisoformat(end), by, segment_params
    )
    progress(1, 2, "Segment sizes at monthly snapshots")
    service.segment_sizes(dataset_id, by, segment_params)
    progress(2, 2, "Done")
    return {"customers": result.moves.height}


def _report(service, progress: Progress, dataset_id: str, start: str, end: str, kind: str) -> dict:
    """Build the period's executive report and write it under ``cache_dir/reports``."""
    import datetime as dt
    import uuid

    from dashboard.report_render import find_chromium, report_title, write_report

    if kind == "pdf":
        find_chromium()  # say at once when there is no Chromium, before the work
    report = service.executive_report(
        dataset_id,
        dt.date.fromisoformat(start),
        dt.date.fromisoformat(end),
        progress=lambda done, total, text: progress(done, total + 1, text),
    )
    folder = service.settings.cache_dir / "reports"
    folder.mkdir(parents=True, exist_ok=True)
    stale = time.time() - 3600  # a report whose download never completed (tab closed)
    for old in folder.glob("*"):
        if old.stat().st_mtime < stale:
            old.unlink(missing_ok=True)
    path = folder / f"{uuid.uuid4().hex}.{kind}"
    progress(5, 6, "Printing the PDF" if kind == "pdf" else "Writing the HTML")
    write_report(report, path)
    progress(6, 6, "Done")
    return {
        "path": str(path),
        "filename": f"segmenta-report-{report.start}-to-{report.end}.{kind}",
        "title": report_title(report),
    }


def _inspect(service, progress: Progress, dataset_id: str) -> dict:
    return {"columns": service.upload_columns(dataset_id)}


def _postgres(
    service,
    progress: Progress,
    url: str,
    table: str | None,
    query: str | None,
    password: str,
    owner: str,
) -> dict:
    """Read a PostgreSQL table or query into a new upload of ``owner`` (the Data page's form).

    The password arrives on this process's stdin (never its argv or environment) and is used
    for this one read.
    """
    from analytics.postgres import PostgresSource

    source = PostgresSource(url, table=table, query=query, password=password or None)
    progress(0, 1, f"Reading the {source.label}")
    return service.store_postgres(source, owner)


TASKS: dict[str, Callable[..., Any]] = {
    "postgres": _postgres,
    "migration": _migration,
    "inspect": _inspect,
    "sweep": _sweep,
    "segmentations": _segmentations,
    "train": _train,
    "explain": _explain,
    "rules": _rules,
    "ingest": _ingest,
    "report": _report,
}


class JobStopped(errors.SegmentaError):
    """The job was stopped by a ceiling or died: its message says why and what to do."""


#: The background-callback cache key of the job this process runs (set by
#: :class:`dashboard.background.JobManager` in the forked job process); lets :func:`run_task`
#: see whether the page still polls for the result.
JOB_KEY_ENV = "SEGMENTA_JOB_KEY"
HEARTBEAT_PREFIX = "segmenta-heartbeat:"


def heartbeat_key(job_key: str) -> str:
    return HEARTBEAT_PREFIX + job_key


class _Watchdog:
    """Kills the job process at its wall-clock ceiling, or once its page stops polling."""

    def __init__(self, settings: Settings, process: subprocess.Popen, task: str):
        self.settings, self.process, self.task = settings, process, task
        self.reason: str | None = None
        self.started = time.monotonic()
        self._stop = threading.Event()
        self._job_key = os.environ.get(JOB_KEY_ENV)
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _abandoned(self, cache) -> bool:
        beat = cache.get(heartbeat_key(self._job_key))
        now = time.time()
        last = beat if beat is not None else now - (time.monotonic() - self.started)
        return now - last > self.settings.job_abandon_s

    def _watch(self) -> None:
        cache = _heartbeats(self.settings) if self._job_key else None
        try:
            while not self._stop.wait(1.0):
                if self.process.poll() is not None:
                    return
                elapsed = time.monotonic() - self.started
                if elapsed > self.settings.job_timeout_s:
                    self.reason = (
                        f"The {TASK_WORDS.get(self.task, self.task)} was stopped after "
                        f"{_seconds(self.settings.job_timeout_s)}, this server's time limit for "
                        "one job. Choose settings that ask for less work (fewer values, a higher "
                        "minimum support, a shorter date range) and run it again."
                    )
                elif cache is not None and self._abandoned(cache):
                    self.reason = (
                        f"The {TASK_WORDS.get(self.task, self.task)} was stopped because its page "
                        f"stopped asking for it for {_seconds(self.settings.job_abandon_s)} "
                        "(the browser tab was closed). Run it again."
                    )
                else:
                    continue
                log.warning(
                    "Stopping job %s (pid %s): %s", self.task, self.process.pid, self.reason
                )
                self.process.kill()
                return
        finally:
            if cache is not None:
                cache.close()


def _heartbeats(settings: Settings):
    """Where the job manager records its page's polls: Redis with Celery workers, which may run
    on other hosts (:mod:`dashboard.celery_jobs`), else the shared diskcache folder."""
    if settings.jobs == "celery":
        from dashboard.celery_jobs import RedisHeartbeats

        return RedisHeartbeats(settings.redis_url)
    import diskcache

    return diskcache.Cache(str(settings.cache_dir / "jobs"))


def _seconds(n: int) -> str:
    return count_of(n, "second")


TASK_WORDS = {
    "sweep": "search for the best number of segments",
    "segmentations": "precomputation of segmentations",
    "train": "churn and CLV training",
    "explain": "explanation",
    "rules": "basket analysis",
    "ingest": "loading of the file",
    "inspect": "reading of the file's columns",
    "postgres": "reading from PostgreSQL",
    "report": "executive report",
}


def run_task(
    settings: Settings,
    task: str,
    progress: Progress | None = None,
    *,
    background: bool = False,
    **kwargs,
) -> Any:
    """Run ``TASKS[task](service, progress, **kwargs)`` in a new interpreter and return its result.

    The process runs under ``settings.job_memory_mb`` of address space and is killed after
    ``settings.job_timeout_s`` seconds, or once the page that started it has not polled for
    ``settings.job_abandon_s`` seconds; it dies with the process that started it.

    ``background=True`` runs it at the lowest CPU priority (``nice`` 19): work nobody waits for,
    such as the start-up warm-up, then yields the cores to the requests and jobs people wait on.

    ``kwargs`` and the result must be JSON-serialisable. Raises the task's own
    :class:`analytics.errors.SegmentaError` (same class, same message) for user errors,
    :class:`JobStopped` (a user-safe message saying why) when a ceiling stopped it or its process
    was killed, and :class:`JobFailed` when it crashed with a traceback.
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}.")
    request = json.dumps(
        {
            "settings": settings.to_json(),
            "task": task,
            "kwargs": kwargs,
            "parent": os.getpid(),
            "nice": background,
        }
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "dashboard.jobs"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=ROOT,
    )
    watchdog = _Watchdog(settings, process, task)
    stderr: list[str] = []
    drain = threading.Thread(target=lambda: stderr.append(process.stderr.read()), daemon=True)
    drain.start()
    try:
        process.stdin.write(request)
        process.stdin.close()
        for line in process.stdout:
            message = json.loads(line)
            if message["kind"] == "progress":
                if progress is not None:
                    progress(message["done"], message["total"], message["text"])
            elif message["kind"] == "done":
                return message["result"]
            elif message["kind"] == "user-error":
                error_class = getattr(errors, message["error"], None)
                if message["error"] == "JobStopped":
                    error_class = JobStopped
                raise (error_class or errors.SegmentaError)(message["message"])
            else:
                raise JobFailed(f"The {task} job failed:\n{message['traceback']}")
        process.wait()
        drain.join(timeout=5)
        if watchdog.reason:
            raise JobStopped(watchdog.reason)
        log.error(
            "Job %s ended without a result (exit code %s): %s",
            task,
            process.returncode,
            "".join(stderr)[-2000:],
        )
        raise JobStopped(_ended_message(task, process.returncode, "".join(stderr), settings))
    finally:
        watchdog.stop()
        if process.poll() is None:
            process.kill()
        process.wait()


def _memory_message(words: str, settings: Settings) -> str:
    return (
        f"The {words} needed more than {settings.job_memory_mb:,} MB of memory, this server's "
        "limit for one job, and was stopped. Choose settings that ask for less work (a higher "
        "minimum support, fewer rows, a shorter date range) and run it again."
    )


def _ended_message(task: str, returncode: int | None, stderr: str, settings: Settings) -> str:
    words = TASK_WORDS.get(task, task)
    if "memory allocation of" in stderr or "MemoryError" in stderr:
        return _memory_message(words, settings)  # polars aborts when an allocation fails
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name
        how = f"its process was killed ({name})"
        if -returncode == signal.SIGKILL:
            how += ", usually because the server ran short of memory or was restarted"
    else:
        how = f"its process stopped unexpectedly (exit code {returncode})"
    return f"The {words} ended without a result: {how}. Nothing was saved; run it again."


def _limit_memory(megabytes: int) -> None:
    """Cap this process's address space; allocations beyond it fail with MemoryError."""
    limit = megabytes * 2**20
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def _die_with_parent(parent: int) -> None:
    """Ask Linux to kill this process when the process that started it dies (PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except OSError:  # not Linux: the watchdog and Dash's cancel still stop it
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _main() -> None:
    from dashboard.service import Service

    request = json.loads(sys.stdin.read())
    if request.get("parent"):
        _die_with_parent(request["parent"])
    if request.get("nice"):
        os.nice(19)  # background work: the cores go to what people wait for first
    settings = Settings.from_json(request["settings"])
    errors.set_audience("web")
    # The channel to the parent is a private copy of stdout; file descriptor 1 itself becomes
    # stderr, so nothing else can write into the channel: not Python code printing, and not a
    # child process such as Spark's JVM, which inherits descriptor 1 (its messages corrupted it).
    sys.stdout.flush()
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)

    def send(**message) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    sys.stdout = sys.stderr
    _limit_memory(settings.job_memory_mb)
    try:
        result = TASKS[request["task"]](
            Service(settings),
            lambda done, total, text: send(kind="progress", done=done, total=total, text=text),
            **request["kwargs"],
        )
    except errors.SegmentaError as error:
        send(kind="user-error", error=type(error).__name__, message=str(error))
    except MemoryError:
        words = TASK_WORDS.get(request["task"], request["task"])
        send(kind="user-error", error="JobStopped", message=_memory_message(words, settings))
    except Exception:  # noqa: BLE001 - the parent turns this into JobFailed with the traceback
        send(kind="crash", traceback=traceback.format_exc())
    else:
        send(kind="done", result=result)


if __name__ == "__main__":
    _main()
