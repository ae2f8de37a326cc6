"""The Data page's "Read from PostgreSQL" form: a table or a query, read once like an upload.

The form's answer goes into the same ``data-upload-result`` store as a file upload
({dataset_id, filename, columns} or {error}), so the rest is the upload's path: the column
mapping form, the Load button, the cleaning job, per-session ownership.

The password is typed once and used for this one read: it travels in the callback's request to
the server, then on a job process's stdin (:func:`dashboard.jobs.run_task`), and nowhere else.
The callback empties the password field in its answer; no store, cache entry or file ever
holds it (tests/browser/test_postgres.py greps the cache folder and the page's stores).

The read runs inside the request, as an upload's transfer does (``POST /upload``), bounded by
``SEGMENTA_PG_MAX_ROWS`` / ``SEGMENTA_PG_MAX_MB``; only one PostgreSQL read runs per session at
a time (the button is disabled while it runs).
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import quote

import dash_bootstrap_components as dbc
from dash import Input, Output, State, callback, dcc, html, no_update, set_props
from dash.exceptions import PreventUpdate

from analytics.errors import ParameterError, SegmentaError
from dashboard.components.shell import create_card
from dashboard.errors import alert_props, create_alert

PREFIX = "data-pg"
FIELDS = {"query": "Query", "table": "Table", "input": "Host"}
log = logging.getLogger("segmenta")
_HOST = re.compile(r"^[A-Za-z0-9._:-]{1,253}$")


def create_postgres_card(settings) -> dbc.Card:
    """The form: host, port, database, user, password, and a table or a query."""

    def field(label: str, control, md: int = 6) -> dbc.Col:
        return dbc.Col([dbc.Label(label, className="small mb-0"), control], md=md)

    return create_card(
        "Read from PostgreSQL",
        [
            html.P(
                "Read a table or one SELECT from your database. Segmenta only reads (a read-only "
                f"transaction), at most {settings.pg_max_rows:,} rows and "
                f"{settings.pg_max_mb:,} MB. The rows are then kept privately like an upload; "
                "the password is used for this read only and is not stored.",
                className="small",
            ),
            dbc.Row(
                [
                    field("Host", dbc.Input(id=f"{PREFIX}-host", placeholder="db.example.com")),
                    field("Port", dbc.Input(id=f"{PREFIX}-port", value="5432", type="text"), 2),
                    field("Database", dbc.Input(id=f"{PREFIX}-database"), 4),
                ],
                className="mb-2",
            ),
            dbc.Row(
                [
                    field("User", dbc.Input(id=f"{PREFIX}-user")),
                    field(
                        "Password",
                        dbc.Input(
                            id=f"{PREFIX}-password", type="password", autocomplete="off", value=""
                        ),
                    ),
                ],
                className="mb-2",
            ),
            dbc.RadioItems(
                id=f"{PREFIX}-mode",
                options=[
                    {"label": "A table", "value": "table"},
                    {"label": "A query (one SELECT)", "value": "query"},
                ],
                value="table",
                inline=True,
                className="small mb-1",
            ),
            dbc.Input(
                id=f"{PREFIX}-table", placeholder="orders, or sales.orders", className="mb-2"
            ),
            dbc.Textarea(
                id=f"{PREFIX}-query",
                placeholder="select customer_id, ordered_at, total from orders where ...",
                className="mb-2",
                style={"display": "none"},
            ),
            dbc.Button(
                "Connect and read",
                id=f"{PREFIX}-button",
                color="primary",
                n_clicks=0,
                className="mb-2",
            ),
            dcc.Loading(html.Div(id=f"{PREFIX}-status", className="small text-muted")),
            create_alert(f"{PREFIX}-alert"),
        ],
        subtitle="A table or a query, read once, read-only",
        class_name="analyst-only",
    )


def show_table_or_query(mode: str):
    hidden = {"display": "none"}
    return (hidden, {}) if mode == "query" else ({}, hidden)


def postgres_url(host: str | None, port: str | None, database: str | None, user: str | None) -> str:
    """The ``postgresql://user@host:port/db`` URL of the form's fields (no password in it)."""
    host, database, user = (host or "").strip(), (database or "").strip(), (user or "").strip()
    named = (("Host", host), ("Database", database), ("User", user))
    missing = [name for name, value in named if not value]
    if missing:
        raise ParameterError(f"Fill in {', '.join(missing)} to connect to PostgreSQL.", "input")
    if not _HOST.match(host):
        raise ParameterError(
            f"{host!r} is not a host name or address: give e.g. db.example.com or 10.0.0.5.",
            "input",
        )
    text = (port or "").strip() or "5432"
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise ParameterError(
            f"Port must be a whole number from 1 to 65535 (PostgreSQL's is usually 5432). Got "
            f"{text!r} instead.",
            "input",
        )
    netloc = f"[{host}]" if ":" in host else host
    return f"postgresql://{quote(user, safe='')}@{netloc}:{int(text)}/{quote(database, safe='')}"


def read_postgres(n_clicks, host, port, database, user, password, mode, table, query):
    """Read the table or query in a job process; hand its columns to the upload's mapping form.

    Success or not, the answer empties the password field: the browser keeps it nowhere.
    """
    if not n_clicks:
        raise PreventUpdate
    try:
        result = _read(host, port, database, user, password, mode, table, query)
    except Exception as error:  # noqa: BLE001 - every failure becomes the form's alert
        if not isinstance(error, SegmentaError):
            log.error("Reading from PostgreSQL failed: %s", type(error).__name__)
        set_props(f"{PREFIX}-alert", alert_props(error, FIELDS))
        return no_update, "", ""
    set_props(f"{PREFIX}-alert", {"is_open": False})
    return (
        result,
        "",
        f"Read the {result['filename']}: {len(result['columns'])} columns. Choose which column is which above, then press Load this dataset.",
    )


read_postgres.segmenta_viewer = "upload"  # viewers cannot add data (dashboard/auth.py)


def register_postgres_callbacks() -> None:
    """Register the form's callbacks with the app being built (call at the Data page's import:
    a page module runs again for each app, this module only once)."""
    callback(
        Output(f"{PREFIX}-table", "style"),
        Output(f"{PREFIX}-query", "style"),
        Input(f"{PREFIX}-mode", "value"),
    )(show_table_or_query)
    callback(
        Output("data-upload-result", "data", allow_duplicate=True),
        Output(f"{PREFIX}-password", "value"),
        Output(f"{PREFIX}-status", "children"),
        Input(f"{PREFIX}-button", "n_clicks"),
        State(f"{PREFIX}-host", "value"),
        State(f"{PREFIX}-port", "value"),
        State(f"{PREFIX}-database", "value"),
        State(f"{PREFIX}-user", "value"),
        State(f"{PREFIX}-password", "value"),
        State(f"{PREFIX}-mode", "value"),
        State(f"{PREFIX}-table", "value"),
        State(f"{PREFIX}-query", "value"),
        running=[(Output(f"{PREFIX}-button", "disabled"), True, False)],
        prevent_initial_call=True,
    )(read_postgres)


def check_host(host: str, settings) -> None:
    """Refuse a host outside ``SEGMENTA_PG_HOSTS`` (when set): the server connects nowhere else."""
    allowed = settings.pg_hosts
    if allowed and (host or "").strip().lower() not in allowed:
        raise ParameterError(
            f"This app may read only from the PostgreSQL server{'s' if len(allowed) > 1 else ''} "
            f"{', '.join(allowed)}. Choose one of them, or ask the administrator to add "
            f"{host.strip()!r} to SEGMENTA_PG_HOSTS.",
            "input",
        )


def _read(host, port, database, user, password, mode, table, query) -> dict:
    from dashboard.app import settings
    from dashboard.jobs import run_task
    from dashboard.uploads import owner_id

    url = postgres_url(host, port, database, user)
    check_host(host, settings())
    table = (table or "").strip() if mode != "query" else ""
    query = (query or "").strip() if mode == "query" else ""
    if not (table or query):
        raise ParameterError(
            "Give the table to read (e.g. orders), or choose “A query” and write one SELECT.",
            "table",
        )
    result = run_task(
        settings(),
        "postgres",
        url=url,
        table=table or None,
        query=query or None,
        password=password or "",
        owner=owner_id(),
    )
    return {**result, "at": time.time()}
