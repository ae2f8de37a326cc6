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

import dataclasses
import json
import os
import subprocess
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from analytics import errors
from dashboard.settings import Settings

Progress = Callable[[int, int, str], None]
ROOT = Path(__file__).resolve().parent.parent


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


TASKS: dict[str, Callable[..., Any]] = {
    "migration": _migration,
    "sweep": _sweep,
    "train": _train,
    "explain": _explain,
    "rules": _rules,
    "ingest": _ingest,
}


def run_task(settings: Settings, task: str, progress: Progress | None = None, **kwargs) -> Any:
    """Run ``TASKS[task](service, progress, **kwargs)`` in a new interpreter and return its result.

    ``kwargs`` and the result must be JSON-serialisable. Raises the task's own
    :class:`analytics.errors.SegmentaError` (same class, same message) for user errors and
    :class:`JobFailed` when the process crashes.
    """
    if task not in TASKS:
        raise ValueError(f"Unknown task {task!r}.")
    request = json.dumps(
        {
            "settings": {k: str(v) for k, v in dataclasses.asdict(settings).items()},
            "task": task,
            "kwargs": kwargs,
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
                error_class = getattr(errors, message["error"], errors.SegmentaError)
                raise error_class(message["message"])
            else:
                raise JobFailed(f"The {task} job failed:\n{message['traceback']}")
        process.wait()
        raise JobFailed(
            f"The {task} job stopped unexpectedly (exit code {process.returncode}): "
            f"{process.stderr.read()[-2000:]}"
        )
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def _main() -> None:
    from dashboard.service import Service

    request = json.loads(sys.stdin.read())
    raw = request["settings"]
    settings = Settings(
        data_dir=Path(raw["data_dir"]),
        cache_dir=Path(raw["cache_dir"]),
        default_dataset=raw["default_dataset"],
        log_level=raw["log_level"],
        secret_key=raw["secret_key"],
        currency=raw["currency"],
    )
    out = sys.stdout

    def send(**message) -> None:
        out.write(json.dumps(message) + "\n")
        out.flush()

    sys.stdout = sys.stderr  # anything the libraries print must not corrupt the channel
    try:
        result = TASKS[request["task"]](
            Service(settings),
            lambda done, total, text: send(kind="progress", done=done, total=total, text=text),
            **request["kwargs"],
        )
    except errors.SegmentaError as error:
        send(kind="user-error", error=type(error).__name__, message=str(error))
    except Exception:  # noqa: BLE001 - the parent turns this into JobFailed with the traceback
        send(kind="crash", traceback=traceback.format_exc())
    else:
        send(kind="done", result=result)


if __name__ == "__main__":
    _main()
