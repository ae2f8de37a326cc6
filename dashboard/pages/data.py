"""Data: see what the active dataset is and how it was cleaned; upload your own log."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html, set_props
from dash.exceptions import PreventUpdate

from analytics.customer_table import find_id_column
from analytics.datasets import BUNDLED_ID
from analytics.errors import DataError
from analytics.schema import CANONICAL, suggest_columns
from dashboard.app import service, settings
from dashboard.background import create_job_progress, job_callback
from dashboard.components.grid import create_grid
from dashboard.components.postgres import create_postgres_card, register_postgres_callbacks
from dashboard.components.shell import create_card
from dashboard.components.tables import count, num, text
from dashboard.errors import create_alert, reports_to
from dashboard.jobs import run_task

dash.register_page(__name__, path="/data", name="Data", title="Data · Segmenta", order=5)

LABELS = {
    "customer_id": "Customer id (required)",
    "invoice_date": "Date (required)",
    "amount": "Amount (or quantity and unit price)",
    "quantity": "Quantity",
    "unit_price": "Unit price",
    "invoice_id": "Invoice / order id",
    "product_id": "Product id",
    "description": "Product description",
    "country": "Country",
}


HIDDEN = {"display": "none"}
register_postgres_callbacks()


def layout(**_query) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="data-pending"),
            dcc.Store(id="data-upload-result"),
            dcc.Store(id="data-token"),
            html.H3("Data", className="page-title mb-3"),
            create_card(
                "Active dataset",
                html.Div(id="data-current"),
                subtitle="Every page analyses this dataset",
            ),
            create_card(
                "Use your own data",
                [
                    create_kind_choice(),
                    html.P(
                        "CSV (UTF-8, Windows-1252 or ISO-8859-1; comma, semicolon or tab separated; .gz allowed), "
                        f"Excel (.xlsx) or Parquet, up to {settings().max_upload_mb:,} MB. A log needs a customer, "
                        "a date, and an amount or a quantity and a unit price; a customer table a customer id "
                        "and any numeric or categorical columns. The file is stored as it is, "
                        "privately, in this app's cache folder; only you (without logins: this browser session) "
                        "can open it. Viewers cannot upload.",
                        className="small",
                    ),
                    dcc.Upload(
                        id="data-upload",
                        children=html.Div(
                            ["Drag a file here or ", html.A("choose one", className="text-primary")]
                        ),
                        className="border border-2 rounded text-center p-4 mb-3 bg-light analyst-only",
                        style={"borderStyle": "dashed"},
                    ),
                    create_alert("data-upload-alert"),
                    html.Div(id="data-mapping"),
                    # In the page from the start, shown once a file's columns are known: a button
                    # inserted with the mapping form fired the load job (n_clicks=0) on insertion,
                    # and that job raced the user's own click, which was then lost.
                    dbc.Button(
                        "Load this dataset",
                        id="data-load-button",
                        color="primary",
                        n_clicks=0,
                        className="mb-3",
                        style=HIDDEN,
                    ),
                    html.Div(
                        [
                            create_job_progress("data-load"),
                        ]
                    ),
                    create_alert("data-load-alert"),
                ],
            ),
            # issue 13: a table or query from PostgreSQL, then the same mapping form and Load
            create_postgres_card(settings()),
        ]
    )


def _report_table(report) -> html.Div:
    rows = [
        {"step": s.name, "rows": s.rows, "action": s.action, "detail": s.detail}
        for s in report.steps
    ]
    return html.Div(
        [
            html.P(
                f"{report.rows_in:,} rows read; {report.rows_out:,} kept; {report.customers_sentence()}; "
                f"{report.first_date:%d %b %Y} to {report.last_date:%d %b %Y}.",
                className="mb-2",
                id="data-report-summary",
            ),
            create_grid(
                "data-report",
                rows,
                [
                    text("Cleaning step", "step", min_width=180),
                    num("Rows", "rows", count(), maxWidth=150),
                    text("Action", "action", min_width=100, maxWidth=120),
                    text("Why", "detail", min_width=260, flex=3),
                ],
            ),
        ]
    )


@callback(Output("data-current", "children"), Input("dataset-id", "data"))
def show_current(dataset_id: str):
    svc = service()
    source = svc.source(dataset_id)
    if source.kind == "customers":
        details = _table_summary(svc.customer_table(dataset_id), None)
    elif source.kind == "joined":
        details = html.Div(
            [
                _table_summary(
                    svc.customer_table(dataset_id), svc.segment_features(dataset_id).height
                ),
                _report_table(svc.report(dataset_id)),
            ]
        )
    else:
        details = _report_table(svc.report(dataset_id))
    return html.Div(
        [
            html.Div(
                [
                    html.Strong(source.label, id="data-current-label"),
                    dbc.Button(
                        "Use the bundled data",
                        id="data-use-bundled",
                        color="secondary",
                        outline=True,
                        size="sm",
                        className="ms-3",
                    )
                    if dataset_id != BUNDLED_ID
                    else None,
                ],
                className="mb-2 d-flex align-items-center",
            ),
            details,
        ]
    )


@callback(
    Output("dataset-id", "data", allow_duplicate=True),
    Input("data-use-bundled", "n_clicks"),
    prevent_initial_call=True,
)
def use_bundled(n_clicks: int | None):
    if not n_clicks:
        raise PreventUpdate
    return BUNDLED_ID


def mapping_form(columns: list[str], suggested: dict[str, str]) -> html.Div:
    """One dropdown per canonical column, pre-filled with the columns recognised by name."""
    options = [{"label": c, "value": c} for c in columns]
    rows = [
        dbc.Row(
            [
                dbc.Col(dbc.Label(LABELS[name], className="small mb-0"), md=4),
                dbc.Col(
                    dcc.Dropdown(
                        id={"type": "data-map", "column": name},
                        options=options,
                        value=suggested.get(name),
                        placeholder="(not in this file)",
                    ),
                    md=8,
                ),
            ],
            className="mb-2 align-items-center",
        )
        for name in CANONICAL
    ]
    return html.Div(
        [
            html.H6("Which column is which?", className="mt-2"),
            *rows,
            dbc.Row(
                [
                    dbc.Col(
                        dbc.Label(
                            "Date format (only if dates are ambiguous)", className="small mb-0"
                        ),
                        md=4,
                    ),
                    dbc.Col(
                        dbc.Input(
                            id="data-date-format", placeholder="e.g. %d/%m/%Y %H:%M", type="text"
                        ),
                        md=8,
                    ),
                ],
                className="mb-3 align-items-center",
            ),
        ]
    )


@callback(
    Output("data-pending", "data"),
    Output("data-mapping", "children"),
    Output("data-load-button", "style"),
    Input("data-upload-result", "data"),
    Input("data-kind", "value"),
    prevent_initial_call=True,
)
@reports_to("data-upload-alert")
def receive_upload(result: dict | None, kind: str = "transactions"):
    """The server stored the file (assets/upload.js posts it to /upload): ask which column is
    which (a log) or which column is the customer id (a customer table)."""
    if not result:
        raise PreventUpdate
    if "uploading" in result:
        return (
            None,
            html.P(
                f"Uploading {result['uploading']}…",
                className="small text-muted",
                id="data-uploading",
            ),
            HIDDEN,
        )
    if "error" in result:
        set_props("data-mapping", {"children": None})  # not "Uploading…" under the reason
        raise DataError(result["error"])
    filename, columns = result["filename"], result["columns"]
    suggested = suggest_columns(columns)
    form = (
        table_form(columns)
        if kind in TABLE_KINDS
        else html.Div([_looks_like_table_hint(suggested), mapping_form(columns, suggested)])
    )
    return (
        {"dataset_id": result["dataset_id"], "filename": filename, "columns": columns},
        html.Div(
            [
                html.P(
                    f"{filename}: {len(columns)} columns found.",
                    className="small text-muted mb-1",
                    id="data-upload-summary",
                ),
                form,
            ]
        ),
        {},
    )


@job_callback(
    "data-load",
    Output("data-token", "data"),
    Input("data-load-button", "n_clicks"),
    State("data-pending", "data"),
    State({"type": "data-map", "column": ALL}, "value"),
    State({"type": "data-map", "column": ALL}, "id"),
    State("data-date-format", "value"),
    State("session-id", "data"),
    State("data-kind", "value"),
    State({"type": "data-table-id", "role": ALL}, "value"),
    State("dataset-id", "data"),
    fields={"columns": "Which column is which?", "date_format": "Date format"},
    viewer="upload",
)
def load_dataset(
    progress,
    n_clicks,
    pending,
    values,
    ids,
    date_format,
    session_id,
    kind="transactions",
    id_columns=(),
    active_id=None,
):
    """Read, map and clean the upload in a fresh process (a customer table: read and check
    it, and join it to the active log when asked)."""
    if not n_clicks or not pending:
        raise PreventUpdate
    if kind in TABLE_KINDS:
        id_column = next(iter(id_columns), None)
        log_id = active_id if kind == "joined" else None
        service().configure_table(pending["dataset_id"], id_column, log_id)
        progress(1, 10, "Reading and checking the customer table…")
        result = run_task(settings(), "ingest", progress=progress, dataset_id=pending["dataset_id"])
        return {"dataset_id": pending["dataset_id"], "session": session_id, **result}
    mapping = {i["column"]: v for i, v in zip(ids, values, strict=True) if v}
    service().configure_upload(pending["dataset_id"], mapping, (date_format or "").strip() or None)
    progress(1, 10, "Reading, mapping and cleaning the file…")
    result = run_task(
        settings(),
        "ingest",
        progress=progress,
        dataset_id=pending["dataset_id"],
    )
    return {"dataset_id": pending["dataset_id"], "session": session_id, **result}


@callback(
    Output("dataset-id", "data", allow_duplicate=True),
    Input("data-token", "data"),
    prevent_initial_call=True,
)
def activate(token: dict | None):
    """A loaded upload becomes this session's dataset on every page."""
    if not token or ctx.triggered_id != "data-token":
        raise PreventUpdate
    return token["dataset_id"]


# -- customer tables (issue 10): what the file is, its id column, what was loaded -------------
TABLE_KINDS = ("customers", "joined")
KIND_LABELS = {
    "transactions": "A transaction log: one row per purchase (customer, date, amount)",
    "customers": "A customer table instead of a log: one row per customer (id, age, region, "
    "loyalty score ...); only Segments works on it",
    "joined": "A customer table to join to the active log by customer id: its columns are "
    "clustered with the log's features",
}


def create_kind_choice() -> html.Div:
    """The "What is this file?" choice above the upload area."""
    return html.Div(
        [
            dbc.Label("What is this file?", html_for="data-kind", className="fw-semibold mb-1"),
            dbc.RadioItems(
                id="data-kind",
                options=[{"label": label, "value": kind} for kind, label in KIND_LABELS.items()],
                value="transactions",
                className="small mb-3",
            ),
        ],
        className="analyst-only",
    )


def table_form(columns: list[str]) -> html.Div:
    """The customer table's id column, pre-filled with the one recognised by name."""
    return html.Div(
        [
            html.H6("Which column is the customer id?", className="mt-2"),
            html.P(
                "Every other column is kept under its name as written: columns of numbers are "
                "numeric, any other column is categorical (at most 30 values, one-hot encoded).",
                className="small text-muted mb-2",
            ),
            dcc.Dropdown(
                id={"type": "data-table-id", "role": "id"},
                options=[{"label": c, "value": c} for c in columns],
                value=find_id_column(columns),
                placeholder="Choose the customer id column",
                className="mb-3",
            ),
            # the load job reads the log's date format; a table has none
            dbc.Input(id="data-date-format", type="hidden", value=""),
        ],
        id="data-table-form",
    )


def _looks_like_table_hint(suggested: dict[str, str]) -> html.P | None:
    """A file without a recognisable date column is probably a customer table: say so."""
    if "invoice_date" in suggested:
        return None
    return html.P(
        "No date column was recognised in this file. If it has one row per customer, choose "
        "“A customer table” above.",
        className="small text-warning mb-2",
        id="data-table-hint",
    )


def _table_summary(table, matched: int | None) -> html.Div:
    """What a loaded customer table holds (and, joined, how many of the log's customers)."""
    numeric = ", ".join(table.numeric) or "none"
    categorical = ", ".join(table.categorical) or "none"
    lines = [
        f"Customer table: {table.frame.height:,} "
        f"{'customer' if table.frame.height == 1 else 'customers'}; numeric columns: {numeric}; "
        f"categorical columns: {categorical}."
    ]
    if matched is not None:
        lines.append(
            f"Joined to the log by customer id: {matched:,} of the log's customers are in the "
            "table; the Segments page clusters them on the log's features and the table's columns."
        )
    else:
        lines.append(
            "Segments works on this table; churn, CLV, baskets, cohorts and customer histories "
            "need a transaction log."
        )
    return html.Div([html.P(line, className="mb-1") for line in lines], id="data-table-summary")
