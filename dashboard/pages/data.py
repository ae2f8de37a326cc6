"""Data: see what the active dataset is and how it was cleaned; upload your own log."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
from dash import ALL, Input, Output, State, callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

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
                "Use your own transaction log",
                [
                    html.P(
                        "CSV (UTF-8, Windows-1252 or ISO-8859-1; comma, semicolon or tab separated; .gz allowed), "
                        f"Excel (.xlsx) or Parquet, up to {settings().max_upload_mb:,} MB. It needs a customer, "
                        "a date, and an amount or a quantity and a unit price. The file is stored as it is, "
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
            _report_table(svc.report(dataset_id)),
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
    prevent_initial_call=True,
)
@reports_to("data-upload-alert")
def receive_upload(result: dict | None):
    """The server stored the file (assets/upload.js posts it to /upload): ask which column is which."""
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
        raise DataError(result["error"])
    filename, columns = result["filename"], result["columns"]
    return (
        {"dataset_id": result["dataset_id"], "filename": filename, "columns": columns},
        html.Div(
            [
                html.P(
                    f"{filename}: {len(columns)} columns found.",
                    className="small text-muted mb-1",
                    id="data-upload-summary",
                ),
                mapping_form(columns, suggest_columns(columns)),
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
    fields={"columns": "Which column is which?", "date_format": "Date format"},
    viewer="upload",
)
def load_dataset(progress, n_clicks, pending, values, ids, date_format, session_id):
    """Read, map and clean the upload in a fresh process."""
    if not n_clicks or not pending:
        raise PreventUpdate
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
