"""Lifecycle: cohort retention, segment migration between two dates, and unusual customers."""

from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from analytics.anomalies import KINDS, kind_labels
from analytics.errors import ParameterError
from analytics.export import to_csv
from dashboard.app import service, settings
from dashboard.background import create_job_progress, job_callback
from dashboard.components.grid import LINK_RENDERER, create_grid
from dashboard.components.shell import create_card
from dashboard.components.tables import fixed, money, num, text
from dashboard.errors import create_alert, reports_to
from dashboard.figures.common import GRAPH_CONFIG, empty_figure
from dashboard.figures.lifecycle import cohort_heatmap, migration_sankey, segment_sizes_figure
from dashboard.formatting import fmt_percent
from dashboard.jobs import run_task
from dashboard.segment_settings import create_settings_store, params_from_saved

dash.register_page(
    __name__, path="/lifecycle", name="Lifecycle", title="Lifecycle · Segmenta", order=2.5
)

MOVERS_ROWS = 500


def _radio(id_: str, options: dict[str, str], value: str) -> dbc.RadioItems:
    return dbc.RadioItems(
        id=id_,
        options=[{"label": label, "value": v} for v, label in options.items()],
        value=value,
        inline=True,
        className="small",
    )


def _customer_column() -> dict:
    """A customer id that opens the Customer page in the app (escaped by the grid, not Markdown)."""
    return text(
        "Customer",
        "customer_id",
        min_width=110,
        cellRenderer=LINK_RENDERER,
        cellRendererParams={"href": "/customer?id={value}"},
    )


def layout(**_query) -> html.Div:
    return html.Div(
        [
            create_settings_store(),
            dcc.Store(id="lifecycle-migration-token"),
            dcc.Store(id="lifecycle-migration-request"),
            html.H3("Lifecycle", className="page-title mb-3"),
            create_card(
                "Cohort retention",
                [
                    create_alert("lifecycle-cohort-alert"),
                    html.Div(
                        [
                            _radio(
                                "lifecycle-cohort-period",
                                {"month": "Monthly cohorts", "quarter": "Quarterly cohorts"},
                                "month",
                            ),
                            _radio(
                                "lifecycle-cohort-value",
                                {
                                    "retention": "Share still buying",
                                    "revenue_per_customer": "Revenue per cohort customer",
                                },
                                "retention",
                            ),
                        ],
                        className="d-flex flex-wrap gap-4 mb-2",
                    ),
                    dcc.Loading(
                        dcc.Graph(id="lifecycle-cohort-heatmap", config=GRAPH_CONFIG),
                        type="dot",
                    ),
                ],
                subtitle="Customers grouped by the period of their first purchase (cohort size in "
                "brackets); each cell: the share of the cohort who bought in that later period, "
                "or their net spend divided by the cohort size",
            ),
            create_card(
                "Segment migration",
                [
                    html.Div(
                        [
                            _radio(
                                "lifecycle-migration-by",
                                {"rfm": "RFM segments", "segment": "Current clustering"},
                                "rfm",
                            ),
                            html.Div(
                                [
                                    html.Span("From ", className="small text-muted me-1"),
                                    dcc.DatePickerSingle(
                                        id="lifecycle-migration-from",
                                        display_format="D MMM YYYY",
                                        first_day_of_week=1,
                                    ),
                                    html.Span(" to ", className="small text-muted mx-1"),
                                    dcc.DatePickerSingle(
                                        id="lifecycle-migration-to",
                                        display_format="D MMM YYYY",
                                        first_day_of_week=1,
                                    ),
                                ],
                                className="d-flex align-items-center",
                            ),
                        ],
                        className="d-flex flex-wrap gap-4 align-items-center mb-2",
                    ),
                    html.Div(
                        [
                            create_job_progress("lifecycle-migration"),
                        ]
                    ),
                    create_alert("lifecycle-migration-alert"),
                    html.Div(id="lifecycle-migration-summary", className="small mb-2"),
                    dcc.Graph(
                        id="lifecycle-sankey",
                        figure=empty_figure("Comparing the segments at the two dates…"),
                        config=GRAPH_CONFIG,
                    ),
                    html.Div(
                        [
                            html.Strong("Transition matrix ", className="small me-3"),
                            _radio(
                                "lifecycle-matrix-value",
                                {"customers": "Customers", "revenue": "Revenue between the dates"},
                                "customers",
                            ),
                        ],
                        className="d-flex flex-wrap align-items-center mt-2 mb-1",
                    ),
                    html.Div(id="lifecycle-matrix"),
                    html.Div(
                        [
                            html.Strong("Movers", className="small me-3"),
                            dbc.Button(
                                "Download movers (CSV)",
                                id="lifecycle-movers-download-button",
                                size="sm",
                                color="secondary",
                                outline=True,
                            ),
                            dcc.Download(id="lifecycle-movers-download"),
                        ],
                        className="d-flex align-items-center mt-3 mb-1",
                    ),
                    html.Div(id="lifecycle-movers"),
                ],
                subtitle="Rows: segment at the first date (New = no purchase yet); columns: segment "
                "at the second. Segments are scored on purchases before each date.",
            ),
            create_card(
                "Segment sizes over time",
                dcc.Graph(
                    id="lifecycle-sizes",
                    figure=empty_figure("Scoring the monthly snapshots…"),
                    config=GRAPH_CONFIG,
                ),
                subtitle="Customers per segment on the first of each of the last 12 months, and today",
            ),
            create_card(
                "Unusual customers",
                [
                    dcc.Dropdown(
                        id="lifecycle-anomaly-kind",
                        options=[{"label": kind_labels()[k], "value": k} for k in KINDS],
                        placeholder="All kinds",
                        clearable=True,
                        className="mb-2",
                        style={"maxWidth": "320px"},
                    ),
                    create_alert("lifecycle-anomalies-alert"),
                    dcc.Loading(html.Div(id="lifecycle-anomalies"), type="dot"),
                ],
                subtitle="Spend or order rhythm in the last 90 days unlike the customer's own "
                "history, and customers unlike everyone else (Isolation Forest)",
            ),
        ]
    )


# -- cohorts ---------------------------------------------------------------------------------
@callback(
    Output("lifecycle-cohort-heatmap", "figure"),
    Input("lifecycle-cohort-period", "value"),
    Input("lifecycle-cohort-value", "value"),
    Input("dataset-id", "data"),
)
@reports_to("lifecycle-cohort-alert")
def show_cohorts(period: str, value: str, dataset_id: str):
    cohorts = service().cohorts(dataset_id, period or "month")
    return cohort_heatmap(cohorts, value or "retention", settings().currency, period or "month")


# -- migration -------------------------------------------------------------------------------
@callback(
    Output("lifecycle-migration-from", "date"),
    Output("lifecycle-migration-to", "date"),
    Output("lifecycle-migration-from", "min_date_allowed"),
    Output("lifecycle-migration-to", "max_date_allowed"),
    Input("dataset-id", "data"),
)
def init_dates(dataset_id: str):
    start, end = service().migration_dates(dataset_id)
    first, _ = service().date_range(dataset_id)
    return start, end, first + dt.timedelta(days=1), end


def _request(dataset_id, by, start, end, saved) -> dict:
    if not start or not end:
        raise PreventUpdate
    start, end = start[:10], end[:10]
    if start >= end:
        raise ParameterError(
            f"The 'from' date must be before the 'to' date. Got from {start} and to {end} instead."
        )
    params = params_from_saved(saved).to_dict() if by == "segment" else None
    return {"dataset_id": dataset_id, "by": by, "start": start, "end": end, "params": params}


def _cached(request: dict):
    from dashboard.service import SegmentParams

    params = SegmentParams.from_dict(request["params"]) if request["params"] else None
    svc = service()
    start, end = (dt.date.fromisoformat(request[k]) for k in ("start", "end"))
    migration = svc.cached_migration(request["dataset_id"], start, end, request["by"], params)
    sizes = svc.cached_segment_sizes(request["dataset_id"], request["by"], params)
    return migration, sizes


@callback(
    Output("lifecycle-migration-token", "data"),
    Output("lifecycle-migration-request", "data"),
    Input("dataset-id", "data"),
    Input("lifecycle-migration-by", "value"),
    Input("lifecycle-migration-from", "date"),
    Input("lifecycle-migration-to", "date"),
    State("segments-settings", "data"),
)
@reports_to("lifecycle-migration-alert", {"from": "From", "to": "To"})
def check_migration(dataset_id, by, start, end, saved):
    """Cached results show at once; otherwise a background job computes them."""
    request = _request(dataset_id, by or "rfm", start, end, saved)
    migration, sizes = _cached(request)
    if migration is not None and sizes is not None:
        return request, dash.no_update
    return dash.no_update, request


@job_callback(
    "lifecycle-migration",
    Output("lifecycle-migration-token", "data", allow_duplicate=True),
    Input("lifecycle-migration-request", "data"),
    State("session-id", "data"),
    button=False,
    disable=["lifecycle-migration-by", "lifecycle-migration-from", "lifecycle-migration-to"],
)
def compute_migration(progress, request, session_id):
    """Both segmentations and the monthly snapshots, in a fresh process."""
    if not request:
        raise PreventUpdate
    run_task(
        settings(),
        "migration",
        progress=progress,
        dataset_id=request["dataset_id"],
        start=request["start"],
        end=request["end"],
        by=request["by"],
        params=request["params"] or {},
    )
    return {**request, "session": session_id}


def _summary(migration) -> html.Div:
    known = migration.moves.filter(pl.col("from_segment") != "New").height
    new = migration.moves.height - known
    parts = [
        html.Span(
            f"{migration.moves.height:,} customers: {known:,} known on "
            f"{migration.from_date:%d %b %Y}, of whom {fmt_percent(migration.stayed_share())} "
            f"are in the same segment on {migration.to_date:%d %b %Y}; {new:,} are new.",
            id="lifecycle-migration-stayed",
        )
    ]
    if migration.agreement is not None:
        parts += [
            html.Br(),
            html.Span(
                "The clustering was fitted on the customers as of the first date; on the second "
                "date each customer is assigned to those segments by a classifier trained on them, "
                f"which reproduces the first date's segments with {fmt_percent(migration.agreement)} "
                "cross-validated accuracy.",
                id="lifecycle-migration-agreement",
            ),
        ]
    return html.Div(parts)


def _matrix_table(migration, value: str, currency: str):
    matrix = migration.matrix(value)
    fmt = money(currency) if value == "revenue" else fixed(0, grouped=True)
    columns = [text("From \\ to", "from_segment", min_width=170, pinned="left")] + [
        num(name, name, fmt) for name in matrix.columns[1:]
    ]
    return create_grid("lifecycle-matrix-table", matrix.to_dicts(), columns)


def _movers_table(migration, currency: str):
    movers = migration.movers().head(MOVERS_ROWS)
    return create_grid(
        "lifecycle-movers-table",
        movers.select("customer_id", "from_segment", "to_segment", "revenue").to_dicts(),
        [
            _customer_column(),
            text("From", "from_segment"),
            text("To", "to_segment"),
            num("Spend between the dates", "revenue", money(currency)),
        ],
        page_size=10,
        filters=True,
    )


@callback(
    Output("lifecycle-migration-summary", "children"),
    Output("lifecycle-sankey", "figure"),
    Output("lifecycle-matrix", "children"),
    Output("lifecycle-movers", "children"),
    Output("lifecycle-sizes", "figure"),
    Input("lifecycle-migration-token", "data"),
    Input("lifecycle-matrix-value", "value"),
)
def show_migration(token: dict | None, value: str | None):
    if not token:
        raise PreventUpdate
    migration, sizes = _cached(token)
    if migration is None or sizes is None:
        raise PreventUpdate
    currency = settings().currency
    return (
        _summary(migration),
        migration_sankey(
            migration.flows(),
            migration.order,
            f"{migration.from_date:%d %b %Y}",
            f"{migration.to_date:%d %b %Y}",
        ),
        _matrix_table(migration, value or "customers", currency),
        _movers_table(migration, currency),
        segment_sizes_figure(sizes, migration.order[1:]),
    )


@callback(
    Output("lifecycle-movers-download", "data"),
    Input("lifecycle-movers-download-button", "n_clicks"),
    State("lifecycle-migration-token", "data"),
    prevent_initial_call=True,
)
def download_movers(n_clicks: int, token: dict | None):
    if not token or not n_clicks:
        raise PreventUpdate
    migration, _ = _cached(token)
    if migration is None:
        raise PreventUpdate
    return {
        "content": to_csv(migration.movers()),
        "filename": f"movers_{token['by']}_{token['start']}_{token['end']}.csv",
        "type": "text/csv",
    }


# -- anomalies -------------------------------------------------------------------------------
@callback(
    Output("lifecycle-anomalies", "children"),
    Input("lifecycle-anomaly-kind", "value"),
    Input("dataset-id", "data"),
)
@reports_to("lifecycle-anomalies-alert")
def show_anomalies(kind: str | None, dataset_id: str):
    found = service().anomalies(dataset_id)
    if kind:
        found = found.filter(pl.col("kind") == kind)
    labels = kind_labels()
    rows = found.with_columns(kind=pl.col("kind").replace_strict(labels, return_dtype=pl.String))
    counts = ", ".join(
        f"{labels[k]}: {n:,}"
        for k, n in service().anomalies(dataset_id).group_by("kind").len().sort("kind").iter_rows()
    )
    return html.Div(
        [
            html.P(counts, className="small text-muted mb-1", id="lifecycle-anomaly-counts"),
            create_grid(
                "lifecycle-anomalies-table",
                rows.select("customer_id", "kind", "score", "reason").to_dicts(),
                [
                    _customer_column(),
                    text("Kind", "kind", min_width=110),
                    num("Score", "score", fixed(2)),
                    text("Why", "reason", min_width=420),
                ],
                page_size=10,
                filters=True,
            ),
        ]
    )
