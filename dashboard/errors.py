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
from dash.exceptions import BackgroundCallbackError, PreventUpdate

from analytics.errors import SegmentaError

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
    """App-wide ``on_error``: show the alert, keep every output as it was."""
    if isinstance(error, BackgroundCallbackError):
        log.error("Background job failed: %s", error)
    elif not isinstance(error, SegmentaError):
        log.exception("Callback failed", exc_info=error)
    set_props(ALERT_ID, alert_props(error))
    return None  # every output keeps its value


def job_errors(fn: Callable) -> Callable:
    """For background callbacks: a user error becomes the alert; outputs keep their values."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except SegmentaError as error:
            set_props(ALERT_ID, alert_props(error))
            raise PreventUpdate from error

    return wrapper
