"""Executive overview: KPIs against the previous period, trend, RFM mix and top countries."""

from __future__ import annotations

import datetime as dt

import dash
import dash_bootstrap_components as dbc
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard.app import service, settings
from dashboard.components.cards import create_kpi_card
from dashboard.components.shell import create_card
from dashboard.figures import GRAPH_CONFIG, countries_figure, rfm_figure, trend_figure

dash.register_page(__name__, path="/", name="Overview", title="Overview · Segmenta", order=0)


def layout(**_query) -> html.Div:
    return html.Div(
        [
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
                                ),
                            ],
                            className="d-flex align-items-center justify-content-md-end",
                        ),
                        md=6,
                    ),
                ],
                className="mb-3 align-items-center g-2",
            ),
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


def default_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The last 12 months of data (or all of it when shorter)."""
    start = max(first, last - dt.timedelta(days=364))
    return start, last


@callback(
    Output("overview-dates", "min_date_allowed"),
    Output("overview-dates", "max_date_allowed"),
    Output("overview-dates", "start_date"),
    Output("overview-dates", "end_date"),
    Input("dataset-id", "data"),
)
def init_dates(dataset_id: str):
    first, last = service().date_range(dataset_id)
    start, end = default_period(first, last)
    return first, last, start, end


@callback(
    Output("overview-kpis", "children"),
    Output("overview-trend", "figure"),
    Output("overview-rfm", "figure"),
    Output("overview-countries", "figure"),
    Input("overview-dates", "start_date"),
    Input("overview-dates", "end_date"),
    Input("dataset-id", "data"),
)
def update_overview(start_date: str | None, end_date: str | None, dataset_id: str):
    if not start_date or not end_date:
        raise PreventUpdate
    start, end = dt.date.fromisoformat(start_date[:10]), dt.date.fromisoformat(end_date[:10])
    data = service().overview(dataset_id, start, end)
    currency = settings().currency
    cards = dbc.Row(
        [
            dbc.Col(create_kpi_card(kpi, currency), xs=12, sm=6, xl=3, className="mb-3")
            for kpi in data.kpis
        ],
        className="g-3",
    )
    return (
        cards,
        trend_figure(data.trend, currency),
        rfm_figure(data.rfm, currency),
        countries_figure(data.countries, currency),
    )
