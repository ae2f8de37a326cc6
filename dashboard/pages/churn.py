"""Churn & CLV: backtest against baselines, value x risk quadrants, the customers most at risk."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html
from dash.exceptions import PreventUpdate

from analytics.export import to_csv
from analytics.predict import MODEL_LABELS, QUADRANTS, quadrant_summary, with_threshold
from dashboard.app import service, settings
from dashboard.components.shell import create_card, create_job_status
from dashboard.components.tables import FONT, HEADER_STYLE, fixed, money, num, percent
from dashboard.errors import job_errors
from dashboard.figures import (
    QUADRANT_COLORS,
    calibration_figure,
    importance_figure,
    lift_figure,
    value_risk_figure,
)
from dashboard.formatting import customer_link, fmt_count, fmt_money, fmt_percent
from dashboard.jobs import run_task

dash.register_page(
    __name__, path="/churn", name="Churn & CLV", title="Churn & CLV · Segmenta", order=2
)

HORIZONS = [30, 60, 90, 180, 365]
AT_RISK_ROWS = 200


def layout(**_query) -> html.Div:
    return html.Div(
        [
            dcc.Store(id="churn-token"),
            dcc.Store(id="churn-need-training"),
            dbc.Row(
                [
                    dbc.Col(
                        html.H3(
                            "Churn risk & customer lifetime value", className="page-title mb-0"
                        ),
                        lg=12,
                    ),
                    dbc.Col(
                        html.Div(
                            [
                                dbc.Label(
                                    "Horizon",
                                    html_for="churn-horizon",
                                    className="me-2 mb-0 small text-muted",
                                ),
                                dcc.Dropdown(
                                    id="churn-horizon",
                                    options=[{"label": f"{h} days", "value": h} for h in HORIZONS],
                                    value=90,
                                    clearable=False,
                                    style={"width": "140px"},
                                    persistence=True,
                                    persistence_type="session",
                                ),
                                dbc.Label(
                                    "At-risk threshold",
                                    html_for="churn-threshold",
                                    className="ms-3 me-2 mb-0 small text-muted",
                                ),
                                html.Div(
                                    dcc.Slider(
                                        id="churn-threshold",
                                        min=0.1,
                                        max=0.9,
                                        step=0.05,
                                        value=0.5,
                                        marks={0.1: "10%", 0.5: "50%", 0.9: "90%"},
                                        persistence=True,
                                        persistence_type="session",
                                    ),
                                    style={"width": "180px"},
                                ),
                                dbc.Button(
                                    "Retrain",
                                    id="churn-train-button",
                                    color="primary",
                                    className="ms-2",
                                    n_clicks=0,
                                ),
                                dbc.Button(
                                    "Cancel",
                                    id="churn-cancel",
                                    color="secondary",
                                    outline=True,
                                    className="ms-2",
                                    disabled=True,
                                    n_clicks=0,
                                ),
                            ],
                            className="d-flex align-items-center flex-wrap",
                        ),
                        lg=12,
                    ),
                ],
                className="mb-3 align-items-center g-2",
            ),
            create_job_status("churn-train"),
            dcc.Loading(html.Div(id="churn-content"), type="dot"),
        ]
    )


@callback(
    Output("churn-token", "data"),
    Output("churn-need-training", "data"),
    Input("dataset-id", "data"),
    Input("churn-horizon", "value"),
)
def check_cache(dataset_id: str, horizon: int):
    """Show cached models at once; otherwise ask the background job to train them."""
    request = {"dataset_id": dataset_id, "horizon": horizon}
    if service().cached_predictions(dataset_id, horizon) is not None:
        return request, dash.no_update
    return dash.no_update, request


@callback(
    Output("churn-token", "data", allow_duplicate=True),
    Input("churn-need-training", "data"),
    Input("churn-train-button", "n_clicks"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("churn-horizon", "value"),
    background=True,
    progress=[
        Output("churn-train-progress", "value"),
        Output("churn-train-progress-text", "children"),
    ],
    running=[
        (Output("churn-train-button", "disabled"), True, False),
        (Output("churn-cancel", "disabled"), False, True),
        (Output("churn-horizon", "disabled"), True, False),
        (Output("churn-train-status", "style"), {"display": "block"}, {"display": "none"}),
    ],
    cancel=[Input("churn-cancel", "n_clicks")],
    prevent_initial_call=True,
)
@job_errors
def train_models(set_progress, need, n_clicks, session_id, dataset_id, horizon):
    """Background job: backtest, train and score in a fresh process (cached per dataset, horizon)."""
    if ctx.triggered_id == "churn-train-button" and not n_clicks:
        raise PreventUpdate
    set_progress((0, "Starting…"))
    run_task(
        settings(),
        "train",
        progress=lambda done, total, text: set_progress((round(100 * done / total), text)),
        dataset_id=dataset_id,
        horizon_days=horizon,
    )
    return {"dataset_id": dataset_id, "horizon": horizon, "session": session_id}


def _metrics_table(result) -> html.Div:
    bt = result.backtest
    if bt is None:
        return dbc.Alert(result.backtest_note or "No backtest for this horizon.", color="info")
    churn_rows = [
        {"model": name, **{k: round(v, 3) for k, v in m.items()}} for name, m in bt.churn.items()
    ]
    clv_rows = [{"model": name, **m} for name, m in bt.clv.items()]
    currency = settings().currency
    style = {
        "style_cell": {
            "fontFamily": FONT,
            "fontSize": 13,
            "padding": "6px",
        },
        "style_header": HEADER_STYLE,
        "style_data_conditional": [{"if": {"row_index": 0}, "fontWeight": "600"}],
    }
    wins = bt.beats_baselines()
    verdict = [
        dbc.Badge(
            "Churn model beats recency" if wins["churn"] else "Churn model does not beat recency",
            color="success" if wins["churn"] else "danger",
            className="me-2",
        ),
        dbc.Badge(
            "CLV beats previous-window spend"
            if wins["clv_vs_previous_window"]
            else "CLV does not beat previous-window spend",
            color="success" if wins["clv_vs_previous_window"] else "danger",
            className="me-2",
        ),
        dbc.Badge(
            "LightGBM CLV beats BG/NBD"
            if wins["clv_vs_bgnbd"]
            else "BG/NBD CLV used: it won the backtest",
            color="success" if wins["clv_vs_bgnbd"] else "warning",
        ),
    ]
    return html.Div(
        [
            html.P(
                f"Trained on data before {bt.holdout_cutoff:%d %b %Y}, scored on the following {bt.horizon_days} days "
                f"({bt.customers:,} customers, {bt.churn_rate:.1%} did not buy again). Threshold {bt.threshold:.0%}.",
                className="small",
            ),
            html.Div(verdict, className="mb-2"),
            dash_table.DataTable(
                id="churn-metrics-table",
                data=churn_rows,
                columns=[{"name": "Churn", "id": "model"}]
                + [
                    num(n, k, fixed(3))
                    for k, n in (
                        ("roc_auc", "ROC-AUC"),
                        ("pr_auc", "PR-AUC"),
                        ("brier", "Brier (lower better)"),
                        ("precision", "Precision"),
                        ("recall", "Recall"),
                    )
                ],
                **style,
            ),
            html.Div(className="mb-3"),
            dash_table.DataTable(
                id="churn-clv-table",
                data=clv_rows,
                columns=[
                    {"name": "CLV", "id": "model"},
                    num("MAE", "mae", money(currency)),
                    num("RMSE", "rmse", money(currency)),
                    num("Spearman", "spearman", fixed(3)),
                    num("Top 10% capture", "top10_capture", percent(1)),
                    num("Top 20% capture", "top20_capture", percent(1)),
                ],
                **style,
            ),
        ]
    )


def _quadrant_cards(result, currency: str) -> dbc.Row:
    summary = quadrant_summary(result.table)
    cards = []
    for row in summary.iter_rows(named=True):
        cards.append(
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardHeader(
                            [
                                html.Span(
                                    "●",
                                    style={"color": QUADRANT_COLORS[row["quadrant"]]},
                                    className="me-2",
                                ),
                                html.Span(row["quadrant"], className="fw-semibold"),
                            ],
                            className="bg-white",
                        ),
                        dbc.CardBody(
                            [
                                html.Div(
                                    f"{fmt_count(row['customers'])} customers",
                                    className="fs-5 fw-bold",
                                    id=f"churn-quadrant-{row['quadrant'].split()[0].lower()}",
                                ),
                                html.Div(
                                    f"Predicted CLV {fmt_money(row['predicted_clv'], currency)}",
                                    className="small",
                                ),
                                html.Div(
                                    f"Revenue at risk {fmt_money(row['value_at_risk'], currency)}",
                                    className="small text-danger",
                                ),
                                html.P(
                                    QUADRANTS[row["quadrant"]].split(". ", 1)[1],
                                    className="small mt-2 mb-0 persona-action",
                                ),
                            ]
                        ),
                    ],
                    className="shadow-sm h-100",
                ),
                md=6,
                xl=3,
                className="mb-3",
            )
        )
    return dbc.Row(cards, className="g-3")


def _at_risk_table(result, currency: str) -> dash_table.DataTable:
    top = (
        result.table.sort("value_at_risk", descending=True)
        .head(AT_RISK_ROWS)
        .with_columns(
            customer=pl.col("customer_id").map_elements(customer_link, return_dtype=pl.String)
        )
    )
    return dash_table.DataTable(
        id="churn-at-risk-table",
        data=top.select(
            "customer", "churn_probability", "predicted_clv", "value_at_risk", "quadrant"
        ).to_dicts(),
        columns=[
            {"name": "Customer", "id": "customer", "presentation": "markdown"},
            num("Churn probability", "churn_probability", percent(0)),
            num(f"Predicted CLV ({result.horizon_days} d)", "predicted_clv", money(currency)),
            num("Revenue at risk", "value_at_risk", money(currency)),
            {"name": "Quadrant", "id": "quadrant"},
        ],
        sort_action="native",
        filter_action="native",
        page_size=15,
        style_cell={
            "fontFamily": FONT,
            "fontSize": 13,
            "padding": "6px",
        },
        style_header=HEADER_STYLE,
        markdown_options={"link_target": "_self"},
    )


@callback(
    Output("churn-content", "children"),
    Input("churn-token", "data"),
    Input("churn-threshold", "value"),
)
def render(token: dict | None, threshold: float | None):
    if not token:
        return dbc.Alert(
            "Training the churn and CLV models on this dataset (about 15 seconds on the bundled data)…",
            color="info",
        )
    result = service().cached_predictions(token["dataset_id"], token["horizon"])
    if result is None:
        raise PreventUpdate
    result = with_threshold(result, float(threshold or result.threshold))
    currency = settings().currency
    bt = result.backtest
    table = result.table
    return html.Div(
        [
            dbc.Alert(
                [html.Strong("How these numbers were made: "), result.method],
                color="light",
                className="border small",
                id="churn-method",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        html.Div(
                            [
                                html.Div("Customers scored", className="small text-muted"),
                                html.Div(fmt_count(table.height), className="fs-4 fw-bold"),
                            ]
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        html.Div(
                            [
                                html.Div("Expected to churn", className="small text-muted"),
                                html.Div(
                                    fmt_percent(
                                        float(
                                            (table["churn_probability"] >= result.threshold).mean()
                                        )
                                    ),
                                    className="fs-4 fw-bold",
                                    id="churn-share",
                                ),
                            ]
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        html.Div(
                            [
                                html.Div(
                                    f"Predicted CLV, next {result.horizon_days} days",
                                    className="small text-muted",
                                ),
                                html.Div(
                                    fmt_money(float(table["predicted_clv"].sum()), currency),
                                    className="fs-4 fw-bold",
                                ),
                            ]
                        ),
                        md=3,
                    ),
                    dbc.Col(
                        html.Div(
                            [
                                html.Div("Revenue at risk", className="small text-muted"),
                                html.Div(
                                    fmt_money(float(table["value_at_risk"].sum()), currency),
                                    className="fs-4 fw-bold text-danger",
                                ),
                            ]
                        ),
                        md=3,
                    ),
                ],
                className="mb-3",
            ),
            _quadrant_cards(result, currency),
            create_card(
                "Value × risk",
                dcc.Graph(
                    id="churn-scatter",
                    figure=value_risk_figure(table, result.threshold, currency),
                    config={"displaylogo": False},
                ),
                subtitle=f"Dashed lines: churn threshold {result.threshold:.0%} and median predicted CLV. Revenue at risk = churn probability × spend at the customer's historical rate over the horizon.",
            ),
            create_card(
                "Backtest against baselines",
                _metrics_table(result),
                subtitle="The models never saw the scored period",
            ),
            dbc.Row(
                [
                    dbc.Col(
                        create_card(
                            "Calibration",
                            dcc.Graph(
                                figure=calibration_figure(bt.calibration),
                                config={"displaylogo": False},
                            )
                            if bt
                            else html.P("No backtest."),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        create_card(
                            "Lift by decile",
                            dcc.Graph(figure=lift_figure(bt.lift), config={"displaylogo": False})
                            if bt
                            else html.P("No backtest."),
                        ),
                        lg=6,
                    ),
                ]
            ),
            dbc.Row(
                [
                    dbc.Col(
                        create_card(
                            "What drives churn risk",
                            dcc.Graph(
                                figure=importance_figure(
                                    result.importance.get("churn", {}), MODEL_LABELS
                                ),
                                config={"displaylogo": False},
                            ),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        create_card(
                            "What drives predicted CLV",
                            dcc.Graph(
                                figure=importance_figure(
                                    result.importance.get("clv", {}), MODEL_LABELS, "#18bc9c"
                                ),
                                config={"displaylogo": False},
                            ),
                        ),
                        lg=6,
                    ),
                ]
            ),
            create_card(
                "Customers most at risk, by revenue at risk",
                [
                    _at_risk_table(result, currency),
                    dbc.Button(
                        "Download all predictions (CSV)",
                        id="churn-download-button",
                        color="success",
                        outline=True,
                        className="mt-3",
                    ),
                    dcc.Download(id="churn-download"),
                ],
                subtitle=f"Top {AT_RISK_ROWS}; click an id for the customer's page",
            ),
        ]
    )


@callback(
    Output("churn-download", "data"),
    Input("churn-download-button", "n_clicks"),
    State("churn-token", "data"),
    State("churn-threshold", "value"),
    prevent_initial_call=True,
)
def download_predictions(n_clicks: int, token: dict | None, threshold: float | None):
    if not token:
        raise PreventUpdate
    result = service().cached_predictions(token["dataset_id"], token["horizon"])
    result = with_threshold(result, float(threshold or result.threshold))
    frame = result.table.select(
        "customer_id", "churn_probability", "predicted_clv", "quadrant", "action", "value_at_risk"
    )
    return {
        "content": to_csv(frame),
        "filename": f"predictions_{token['horizon']}d.csv",
        "type": "text/csv",
    }
