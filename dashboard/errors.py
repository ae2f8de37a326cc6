"""The one place where errors become alerts, and alerts belong to what raised them.

Each page places its own alerts next to the controls they speak about (``create_alert(id)``), so
an alert never follows the user to another page. A callback wrapped in :func:`reports_to` opens
its alert with the analytics layer's message when it fails (its outputs keep their values) and
closes it when it next succeeds: an alert lives exactly as long as its cause. A parameter error
names the field the user sees (``fields`` maps parameter names to field labels), not a CLI flag.

Anything not wrapped falls back to the app's ``on_error`` handler and the shell's alert, which
is closed on every page change. Unexpected errors show a short generic message; the details go to
the server log.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping

import dash_bootstrap_components as dbc
from dash import no_update, set_props
from dash._callback_context import context_value
from dash.exceptions import BackgroundCallbackError, PreventUpdate

from analytics.errors import ParameterError, SegmentaError
from dashboard.job_manager import JOB_ENDED

ALERT_ID = "app-alert"
log = logging.getLogger("segmenta")
GENERIC = (
    "Something went wrong on the server while computing this view; it has been logged. "
    "Try again, or change the settings."
)


def create_alert(alert_id: str = ALERT_ID, **kwargs) -> dbc.Alert:
    """A dismissible alert, hidden until an error arrives."""
    return dbc.Alert(
        id=alert_id,
        is_open=kwargs.pop("is_open", False),
        dismissable=True,
        color=kwargs.pop("color", "warning"),
        className=kwargs.pop("className", "mb-3"),
        **kwargs,
    )


def message_for(error: BaseException, fields: Mapping[str, str] | None = None) -> str:
    """What the user reads: the analytics message, led by the field's label when we know it."""
    if not isinstance(error, SegmentaError):
        return GENERIC
    text = str(error)
    parameter = getattr(error, "parameter", None)
    if isinstance(error, ParameterError) and fields and parameter in fields:
        return f"Check “{fields[parameter]}”: {text}"
    return text


def alert_props(error: BaseException, fields: Mapping[str, str] | None = None) -> dict:
    return {
        "children": message_for(error, fields),
        "color": "warning" if isinstance(error, SegmentaError) else "danger",
        "is_open": True,
    }


def handle_callback_error(error: Exception):
    """App-wide ``on_error``: show the alert; keep every output as it was, except for a job.

    A background job that failed or whose process died (see :mod:`dashboard.job_manager`) has no
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


def reports_to(alert_id: str, fields: Mapping[str, str] | None = None) -> Callable:
    """Decorate a callback so its errors open ``alert_id`` and its next success closes it.

    On an error the callback answers ``no_update`` (not PreventUpdate, which would drop the
    alert too), so its outputs keep the last good result.
    """

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                result = fn(*args, **kwargs)
            except PreventUpdate:
                raise
            except SegmentaError as error:
                set_props(alert_id, alert_props(error, fields))
                return no_update  # every output keeps its value; the alert still goes out
            except Exception as error:
                log.exception("Callback %s failed", fn.__name__, exc_info=error)
                set_props(alert_id, alert_props(error, fields))
                return no_update
            set_props(alert_id, {"is_open": False})
            return result

        return wrapper

    return decorate


def clear_outputs() -> None:
    """Set every output of the running callback to None (a job's result token: "no result")."""
    outputs = getattr(context_value.get(), "outputs_list", None) or []
    for output in outputs if isinstance(outputs, list) else [outputs]:
        for item in output if isinstance(output, list) else [output]:
            if isinstance(item, dict) and "id" in item and "property" in item:
                set_props(item["id"], {item["property"]: None})
