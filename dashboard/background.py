"""One way to run a long job from a page: progress, cancel, running state and errors.

A page lays out :func:`create_job_controls` (or its own button plus :func:`create_job_status`)
under one id prefix and registers the job with :func:`job_callback`::

    @job_callback("segments-sweep", Output("segments-sweep-token", "data"),
                  Input("segments-sweep-button", "n_clicks"), State("dataset-id", "data"),
                  disable=["segments-k"], fields=FIELDS)
    def find_best_k(progress, n_clicks, dataset_id):
        progress(0, 1, "Starting")
        return run_task(...)

The callback runs in Dash's background manager; ``progress(done, total, text)`` moves the bar;
the Cancel button (``{prefix}-cancel``) stops it; the button (``{prefix}-button``), the cancel
button and the controls in ``disable`` switch state while it runs; a user error opens the job's
own alert (``{prefix}-alert``) and a later success closes it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence

import dash_bootstrap_components as dbc
from dash import Input, Output, callback, html

from dashboard.components.shell import create_job_status
from dashboard.errors import create_alert, reports_to

Progress = Callable[[int, int, str], None]


def create_job_controls(prefix: str, label: str, *, color: str = "primary") -> html.Div:
    """The job's button with a Cancel beside it, its progress block and its alert."""
    return html.Div(
        [
            dbc.ButtonGroup(
                [
                    dbc.Button(label, id=f"{prefix}-button", color=color, n_clicks=0),
                    dbc.Button(
                        "Cancel",
                        id=f"{prefix}-cancel",
                        color="secondary",
                        outline=True,
                        disabled=True,
                        n_clicks=0,
                    ),
                ],
                className="w-100 mb-2",
            ),
            create_job_status(prefix),
            create_alert(f"{prefix}-alert"),
        ]
    )


def create_job_progress(prefix: str) -> html.Div:
    """The progress block of a job that starts by itself (no button), with its Cancel button
    inside: both are shown only while the job runs (an idle, greyed Cancel read as broken)."""
    return html.Div(
        create_job_status(
            prefix,
            html.Div(
                dbc.Button(
                    "Cancel",
                    id=f"{prefix}-cancel",
                    color="secondary",
                    outline=True,
                    size="sm",
                    disabled=True,
                    n_clicks=0,
                ),
                className="mt-1",
            ),
        )
    )


def job_callback(
    prefix: str,
    *dependencies,
    disable: Sequence[str] = (),
    fields: Mapping[str, str] | None = None,
    button: str | None | bool = None,
    cancel: str | None = None,
    viewer: bool | str | Callable[[dict], str | None] = True,
    **callback_kwargs,
) -> Callable:
    """Register ``fn(progress, *values)`` as the background job of the block ``prefix``.

    ``button=False`` for a job that starts by itself (no button to disable while it runs).
    ``viewer``: whether a viewer may start the job. ``True`` (default) yes; a key of
    :data:`dashboard.auth.JOB_WORDS` (``"train"``, ``"mine"``, ``"upload"``) no, saying why; or a
    function of the request's input and state values (``{"dataset-id.data": ...}``) returning
    such a key to refuse, or None to allow. The server enforces it (:mod:`dashboard.auth`).
    """
    if button is None:
        button = f"{prefix}-button"
    cancel = cancel or f"{prefix}-cancel"
    button_state = [(Output(button, "disabled"), True, False)] if button else []

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(set_progress, *args):
            def progress(done: int, total: int, text: str) -> None:
                set_progress((round(100 * done / max(total, 1)), text))

            # no progress before ``fn`` decides to work: a job that declines (PreventUpdate)
            # after reporting progress left the page waiting on it forever
            return fn(progress, *args)

        run.segmenta_viewer = viewer
        return callback(
            *dependencies,
            background=True,
            progress=[
                Output(f"{prefix}-progress", "value"),
                Output(f"{prefix}-progress-text", "children"),
            ],
            running=[
                *button_state,
                (Output(cancel, "disabled"), False, True),
                (Output(f"{prefix}-status", "style"), {"display": "block"}, {"display": "none"}),
                *[(Output(control, "disabled"), True, False) for control in disable],
            ],
            cancel=[Input(cancel, "n_clicks")],
            prevent_initial_call=callback_kwargs.pop("prevent_initial_call", True),
            **callback_kwargs,
        )(reports_to(f"{prefix}-alert", fields)(run))

    return decorate
