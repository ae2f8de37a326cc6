"""The one place where errors become the page's alert.

Normal callbacks: the app's ``on_error`` handler receives any exception. Background callbacks:
jobs run in another process, so they catch :class:`analytics.errors.SegmentaError` with
:func:`show_job_error`. Either way the alert shows the analytics layer's own message for user
errors, and a short generic message (details in the server log) for anything else.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

import dash_bootstrap_components as dbc
from dash import set_props
from dash._callback_context import context_value
from dash.exceptions import BackgroundCallbackError, PreventUpdate

from analytics.errors import SegmentaError
from dashboard.background import JOB_ENDED

ALERT_ID = "app-alert"
log = logging.getLogger("segmenta")


def create_alert() -> dbc.Alert:
    """The dismissible alert every page shares (hidden until an error arrives)."""
    return dbc.Alert(
        id=ALERT_ID, is_open=False, dismissable=True, color="warning", className="mb-3"
    )


def alert_props(error: BaseException) -> dict:
    if isinstance(error, SegmentaError):
        return {"children": str(error), "color": "warning", "is_open": True}
    return {
        "children": "Something went wrong on the server while computing this view; it has been "
        "logged. Try again, or change the settings.",
        "color": "danger",
        "is_open": True,
    }


def handle_callback_error(error: Exception):
    """App-wide ``on_error``: show the alert; keep every output as it was, except for a job.

    A background job that failed or whose process died (see :mod:`dashboard.background`) has no
    result for the parameters now on the page, so its outputs (the page's result tokens) are
    cleared: the page never shows the previous parameters' results under the new ones.
    """
    if isinstance(error, BackgroundCallbackError):
        log.error("Background job failed: %s", error)
        clear_outputs()
        if JOB_ENDED in str(error):
            set_props(ALERT_ID, {"children": JOB_ENDED, "color": "danger", "is_open": True})
            return None
    elif not isinstance(error, SegmentaError):
        log.exception("Callback failed", exc_info=error)
    set_props(ALERT_ID, alert_props(error))
    return None  # every output keeps its value


def clear_outputs() -> None:
    """Set every output of the running callback to None (a job's result token: "no result")."""
    outputs = getattr(context_value.get(), "outputs_list", None) or []
    for output in outputs if isinstance(outputs, list) else [outputs]:
        for item in output if isinstance(output, list) else [output]:
            if isinstance(item, dict) and "id" in item and "property" in item:
                set_props(item["id"], {item["property"]: None})


def job_errors(fn: Callable) -> Callable:
    """For background callbacks: a user error becomes the alert; outputs keep their values."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SegmentaError as error:
            set_props(ALERT_ID, alert_props(error))
            clear_outputs()
            raise PreventUpdate from error

    return wrapper
