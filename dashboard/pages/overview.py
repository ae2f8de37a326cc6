"""Executive overview: KPIs against the previous period, trend, RFM mix and top countries."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
from dash import (
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
    set_props,
)
from dash.exceptions import PreventUpdate

from analytics.errors import ParameterError
from analytics.periods import PRESETS, default_period, preset_period
from dashboard.app import service, settings
from dashboard.auth import request_service
from dashboard.background import job_callback
from dashboard.components.cards import create_kpi_card
from dashboard.components.shell import create_card, create_job_status
from dashboard.errors import create_alert, reports_to
from dashboard.figures.common import GRAPH_CONFIG
from dashboard.figures.overview import countries_figure, rfm_figure, trend_figure
from dashboard.jobs import run_task

dash.register_page(__name__, path="/", name="Overview", title="Overview · Segmenta", order=0)


def _query_dates(query: dict) -> tuple[str | None, str | None, list[str]]:
    """The period in a link (``?start=2011-01-01&end=2011-03-31``), and what could not be read."""
    dates, problems = [], []
    for name in ("start", "end"):
        raw = query.get(name)
        try:
            dates.append(dt.date.fromisoformat(raw).isoformat() if raw else None)
        except ValueError:
            dates.append(None)
            problems.append(
                f"The link's period {name} ({raw}) is not a date written YYYY-MM-DD; showing "
                "the last 12 months instead."
            )
    if None in dates:
        dates = [None, None]
    elif dates[1] < dates[0]:
        problems.append(
            f"The link's period ends ({dates[1]}) before it starts ({dates[0]}); showing the "
            "last 12 months instead."
        )
        dates = [None, None]
    return dates[0], dates[1], problems


def layout(**query) -> html.Div:
    """The page; its period comes from the URL (``start``/``end``), else the last 12 months."""
    start, end, problems = _query_dates(query)
    return html.Div(
        [
            dcc.Store(id="overview-url"),
            create_alert(
                "overview-link-alert",
                is_open=bool(problems),
                children=[html.Div(p) for p in problems] or None,
            ),
            create_alert("overview-alert"),
            dbc.Row(
                [
                    dbc.Col(html.H3("Executive overview", className="page-title mb-0"), md=6),
                    dbc.Col(
                        html.Div(
                            [
                                html.Span("Period ", className="me-2 small text-muted"),
                                dcc.DatePickerRange(
                                    id="overview-dates",
                                    display_format="D MMM YYYY",
                                    first_day_of_week=1,
                                    start_date=start,
                                    end_date=end,
                                ),
                            ],
                            className="d-flex align-items-center justify-content-md-end",
                        ),
                        md=6,
                    ),
                ],
                className="mb-2 align-items-center g-2",
            ),
            dbc.RadioItems(
                id="overview-preset",
                options=[{"label": label, "value": key} for key, label in PRESETS.items()],
                value=None,
                inline=True,
                className="btn-group flex-wrap mb-3",
                inputClassName="btn-check",
                labelClassName="btn btn-outline-primary btn-sm",
                labelCheckedClassName="active",
            ),
            _report_controls(),
            dcc.Loading(html.Div(id="overview-kpis", className="mb-3"), type="dot"),
            create_card(
                "Revenue and active customers by month",
                dcc.Graph(id="overview-trend", config=GRAPH_CONFIG),
                subtitle="Revenue is net of returns; active = bought in the month",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        create_card(
                            "RFM segments",
                            dcc.Graph(id="overview-rfm", config=GRAPH_CONFIG),
                            subtitle="Scored as of the end of the period; revenue earned in the period",
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        create_card(
                            "Top countries",
                            dcc.Graph(id="overview-countries", config=GRAPH_CONFIG),
                            subtitle="By revenue in the period",
                        ),
                        lg=5,
                    ),
                ]
            ),
        ]
    )


def _report_controls() -> html.Div:
    """Download the executive report of the period shown (HTML or PDF), built as a job."""
    return html.Div(
        [
            html.Div(
                [
                    dbc.RadioItems(
                        id="overview-report-kind",
                        options=[
                            {"label": "HTML", "value": "html"},
                            {"label": "PDF", "value": "pdf"},
                        ],
                        value="html",
                        inline=True,
                        className="me-3 small",
                    ),
                    dbc.ButtonGroup(
                        [
                            dbc.Button(
                                "Download report",
                                id="overview-report-button",
                                color="primary",
                                size="sm",
                                n_clicks=0,
                            ),
                            dbc.Button(
                                "Cancel",
                                id="overview-report-cancel",
                                color="secondary",
                                outline=True,
                                size="sm",
                                disabled=True,
                                n_clicks=0,
                            ),
                        ]
                    ),
                ],
                className="d-flex align-items-center justify-content-end",
            ),
            html.Div(
                "The executive report of the period shown: KPIs, trend, segments, customers at "
                "risk, migration, cohorts and basket rules, as one file to open offline.",
                className="small text-muted text-end mb-1",
            ),
            create_job_status("overview-report"),
            create_alert("overview-report-alert"),
            dcc.Download(id="overview-report-download"),
        ],
        className="mb-3",
    )


def _parse(value: str | None) -> dt.date | None:
    return dt.date.fromisoformat(value[:10]) if value else None


@callback(
    Output("overview-dates", "min_date_allowed"),
    Output("overview-dates", "max_date_allowed"),
    Output("overview-dates", "start_date"),
    Output("overview-dates", "end_date"),
    Output("overview-preset", "value"),
    Output("overview-kpis", "children"),
    Output("overview-trend", "figure"),
    Output("overview-rfm", "figure"),
    Output("overview-countries", "figure"),
    Input("dataset-id", "data"),
    Input("overview-dates", "start_date"),
    Input("overview-dates", "end_date"),
    Input("overview-preset", "value"),
)
@reports_to("overview-alert", {"preset": "Period"})
def update_overview(dataset_id: str, start_date: str | None, end_date: str | None, preset):
    """The period's KPIs and charts, in one round trip from any change.

    A preset sets the dates; editing the dates clears the preset; a new dataset (or a page
    opened without dates) shows the last 12 months.
    """
    svc = service()
    first, last = svc.date_range(dataset_id)
    start, end = _parse(start_date), _parse(end_date)
    trigger = ctx.triggered_id
    if trigger == "overview-preset" and preset:
        start, end = preset_period(preset, first, last, (start, end) if start and end else None)
    elif trigger == "dataset-id" and ctx.triggered and len(ctx.triggered) == 1:
        start, end = default_period(first, last)
    if not start or not end:
        start, end = default_period(first, last)
    if end < first or start > last:
        outside = (
            f"{start:%d %b %Y} – {end:%d %b %Y} has no data: this log runs from "
            f"{first:%d %b %Y} to {last:%d %b %Y}."
        )
        if trigger in (None, "dataset-id"):  # a link or a new dataset: say so, show the default
            start, end = default_period(first, last)
            set_props(
                "overview-link-alert",
                {"children": outside + " Showing the last 12 months.", "is_open": True},
            )
        else:
            raise ParameterError(outside + " Pick dates inside it.", parameter="preset")
    keep_preset = trigger == "overview-preset" or preset is None
    data = svc.overview(dataset_id, start, end)
    currency = settings().currency
    cards = dbc.Row(
        [
            dbc.Col(create_kpi_card(kpi, currency), xs=12, sm=6, xl=3, className="mb-3")
            for kpi in data.kpis
        ],
        className="g-3",
    )
    return (
        first,
        last,
        start.isoformat(),
        end.isoformat(),
        no_update if keep_preset else None,
        cards,
        trend_figure(data.trend, currency),
        rfm_figure(data.rfm, currency),
        countries_figure(data.countries, currency),
    )


# The period goes to the URL (no reload, no server round trip), so a link shows the same period.
clientside_callback(
    """
    function(start, end) {
        if (!start || !end) { return window.dash_clientside.no_update; }
        const q = new URLSearchParams({start: start.slice(0, 10), end: end.slice(0, 10)});
        window.history.replaceState(window.history.state, "", "?" + q.toString());
        return window.dash_clientside.no_update;
    }
    """,
    Output("overview-url", "data"),
    Input("overview-dates", "start_date"),
    Input("overview-dates", "end_date"),
    prevent_initial_call=True,
)


# -- the executive report (issue 11): built in a fresh process, sent as a download ---------------
def _viewer_may_report(values: dict) -> str | None:
    """Viewers make reports from trained models and mined rules only (the job would make them)."""
    from analytics import report as rp

    dataset_id = values.get("dataset-id.data")
    start, end = values.get("overview-dates.start_date"), values.get("overview-dates.end_date")
    if not isinstance(dataset_id, str) or not isinstance(start, str) or not isinstance(end, str):
        return None  # the job declines these inputs without working
    svc = request_service()
    if svc.cached_predictions(dataset_id, rp.HORIZON_DAYS) is None:
        return "train"
    try:
        params = rp.report_rule_params(
            dt.date.fromisoformat(start[:10]), dt.date.fromisoformat(end[:10])
        )
    except ValueError:
        return None  # the job refuses a bad date before any work
    return "mine" if svc.quick_rules(dataset_id, params) is None else None


@job_callback(
    "overview-report",
    Output("overview-report-download", "data"),
    Input("overview-report-button", "n_clicks"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("overview-dates", "start_date"),
    State("overview-dates", "end_date"),
    State("overview-report-kind", "value"),
    disable=["overview-report-kind"],
    viewer=_viewer_may_report,
)
def download_report(progress, n_clicks, session_id, dataset_id, start_date, end_date, kind):
    """The report of the period the page shows; the file is sent, then deleted from the server."""
    if not n_clicks or not start_date or not end_date:
        raise PreventUpdate
    kind = "pdf" if kind == "pdf" else "html"
    progress(0, 6, "Starting")
    made = run_task(
        settings(),
        "report",
        progress=progress,
        dataset_id=dataset_id,
        start=start_date[:10],
        end=end_date[:10],
        kind=kind,
    )
    path = Path(made["path"]).resolve()
    folder = (settings().cache_dir / "reports").resolve()
    if path.parent != folder:  # only files the report job wrote
        raise PreventUpdate
    try:
        return dcc.send_file(str(path), filename=made["filename"])
    finally:
        path.unlink(missing_ok=True)
