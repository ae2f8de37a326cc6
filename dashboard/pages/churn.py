"""Churn & CLV: backtest against baselines, value x risk quadrants, the customers most at risk."""

from __future__ import annotations

import math

import dash
import dash_bootstrap_components as dbc
import numpy as np
import plotly.graph_objects as go
import polars as pl
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html
from dash.exceptions import PreventUpdate

from analytics.explain import SHAP_TARGETS
from analytics.export import to_csv
from analytics.predict import BGNBD, CHOICE_RULE, quadrant_summary, revenue_at_risk, with_threshold
from analytics.report import most_at_risk
from dashboard.app import service, settings
from dashboard.background import job_callback
from dashboard.components.grid import LINK_RENDERER, create_grid
from dashboard.components.shell import create_card, create_job_status
from dashboard.components.tables import fixed, money, num, percent, text
from dashboard.errors import create_alert, reports_to
from dashboard.figures.churn import (
    QUADRANT_COLORS,
    calibration_figure,
    lift_figure,
    value_risk_figure,
)
from dashboard.figures.common import GRAPH_CONFIG, explanation_figure
from dashboard.formatting import fmt_count, fmt_money, fmt_percent
from dashboard.jobs import run_task

dash.register_page(
    __name__, path="/churn", name="Churn & CLV", title="Churn & CLV · Segmenta", order=2
)

HORIZONS = [30, 60, 90, 180, 365]
AT_RISK_ROWS = 200


def _from_query(query: dict) -> tuple[int, float, list[str]]:
    """Horizon and threshold from a link (``?horizon=60&threshold=0.7``), and what was unusable."""
    horizon, threshold, problems = 90, 0.5, []
    if query.get("horizon"):
        try:
            horizon = int(query["horizon"])
            if horizon not in HORIZONS:
                raise ValueError
        except ValueError:
            horizon = 90
            problems.append(
                f"The link's horizon ({query['horizon']}) is not one of "
                f"{', '.join(map(str, HORIZONS))} days; showing 90 days."
            )
    if query.get("threshold"):
        try:
            threshold = float(query["threshold"])
            if not 0.1 <= threshold <= 0.9:
                raise ValueError
            threshold = round(round(threshold / 0.05) * 0.05, 2)
        except ValueError:
            threshold = 0.5
            problems.append(
                f"The link's at-risk threshold ({query['threshold']}) is not a number between "
                "0.1 and 0.9; showing 0.5."
            )
    return horizon, threshold, problems


def layout(**query) -> html.Div:
    """The page; horizon and threshold come from the URL when it has them."""
    horizon, threshold, problems = _from_query(query)
    return html.Div(
        [
            dcc.Store(id="churn-token"),
            dcc.Store(id="churn-need-training"),
            dcc.Store(id="churn-url"),
            create_alert(
                "churn-link-alert",
                is_open=bool(problems),
                children=[html.Div(p) for p in problems] or None,
            ),
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
                                    value=horizon,
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
                                        value=threshold,
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
                                    className="ms-2 analyst-only",
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
            create_alert("churn-train-alert"),
            create_alert("churn-alert"),
            html.Div(id="churn-by-threshold"),
            dcc.Loading(html.Div(id="churn-content"), type="dot"),
            html.Div(id="churn-at-risk"),
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


@job_callback(
    "churn-train",
    Output("churn-token", "data", allow_duplicate=True),
    Input("churn-need-training", "data"),
    Input("churn-train-button", "n_clicks"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("churn-horizon", "value"),
    cancel="churn-cancel",
    disable=["churn-horizon"],
    viewer="train",
)
def train_models(progress, need, n_clicks, session_id, dataset_id, horizon):
    """Backtest, train and score in a fresh process (cached per dataset and horizon)."""
    if ctx.triggered_id == "churn-train-button" and not n_clicks:
        raise PreventUpdate
    run_task(settings(), "train", progress=progress, dataset_id=dataset_id, horizon_days=horizon)
    return {"dataset_id": dataset_id, "horizon": horizon, "session": session_id}


# Horizon and threshold go to the URL (no reload, no round trip): a link shows the same view.
clientside_callback(
    """
    function(horizon, threshold) {
        const q = new URLSearchParams({horizon: horizon, threshold: threshold});
        window.history.replaceState(window.history.state, "", "?" + q.toString());
        return window.dash_clientside.no_update;
    }
    """,
    Output("churn-url", "data"),
    Input("churn-horizon", "value"),
    Input("churn-threshold", "value"),
)


CLV_MODEL_COLORS = {
    "Two-stage x BG/NBD blend": "#16a085",
    "Two-stage LightGBM": "#2c3e50",
    "One-stage LightGBM": "#3498db",
    "BG/NBD + Gamma-Gamma": "#e67e22",
    "Pareto/NBD + Gamma-Gamma": "#9b59b6",
    "Previous window spend": "#95a5a6",
}
SHAP_CARDS = (
    ("churn", "What drives churn risk"),
    ("spend", "What drives spend per buyer (two-stage CLV)"),
    ("clv", "What drives one-stage CLV"),
)


def clv_calibration_figure(deciles: pl.DataFrame, chosen: str, currency: str) -> go.Figure:
    """Mean actual against mean predicted spend per decile of each model's prediction."""
    fig = go.Figure()
    top = float(max(deciles["mean_predicted"].max(), deciles["mean_actual"].max()) or 1.0)
    fig.add_trace(
        go.Scatter(
            x=[1, top],
            y=[1, top],
            mode="lines",
            line={"dash": "dash", "color": "#bdc3c7"},
            name="Perfect calibration",
        )
    )
    for (model,), part in deciles.sort("decile").group_by("model", maintain_order=True):
        fig.add_trace(
            go.Scatter(
                x=(part["mean_predicted"].clip(1, None)).to_list(),
                y=(part["mean_actual"].clip(1, None)).to_list(),
                mode="lines+markers",
                name=f"{model} (chosen)" if model == chosen else model,
                line={
                    "color": CLV_MODEL_COLORS.get(model, "#7b8a8b"),
                    "width": 4 if model == chosen else 1.5,
                },
                customdata=part["decile"].to_list(),
                hovertemplate=f"{model}<br>decile D%{{customdata}}<br>predicted {currency}%{{x:,.0f}}"
                f"<br>actual {currency}%{{y:,.0f}}<extra></extra>",
            )
        )
    fig.update_xaxes(title_text=f"Mean predicted spend per decile ({currency}, log)", type="log")
    fig.update_yaxes(title_text=f"Mean actual spend ({currency}, log)", type="log")
    fig.update_layout(
        template="plotly_white",
        height=400,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        font={"size": 12},
        legend={"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0},
    )
    return fig


def shap_beeswarm_figure(points: pl.DataFrame) -> go.Figure:
    """TreeSHAP per customer and feature: one row per feature (most important on top), each dot
    a customer, coloured by the feature's value (low blue, high red)."""
    fig = go.Figure()
    if points.height == 0:
        return fig
    features = points.group_by("rank").agg(pl.col("label").first()).sort("rank")
    n = features.height
    rng = np.random.default_rng(0)
    y = (n - points["rank"].to_numpy()) + rng.uniform(-0.3, 0.3, points.height)
    fig.add_trace(
        go.Scattergl(
            x=points["shap"].to_list(),
            y=y.tolist(),
            mode="markers",
            marker={
                "size": 4,
                "color": points["value_pct"].to_list(),
                "colorscale": "RdBu_r",
                "cmin": 0,
                "cmax": 1,
                "opacity": 0.7,
                "colorbar": {
                    "title": {"text": "feature value", "side": "right"},
                    "tickvals": [0, 1],
                    "ticktext": ["low", "high"],
                    "thickness": 10,
                    "len": 0.8,
                },
            },
            customdata=np.column_stack([points["label"].to_numpy(), points["value"].to_numpy()]),
            hovertemplate="%{customdata[0]} = %{customdata[1]:,.2f}<br>SHAP %{x:+.3f}<extra></extra>",
            showlegend=False,
        )
    )
    fig.add_vline(x=0, line_color="#2c3e50", line_width=1)
    fig.update_yaxes(
        tickvals=list(range(n)),
        ticktext=list(reversed(features["label"].to_list())),
        automargin=True,
        range=[-0.6, n - 0.4],
    )
    fig.update_xaxes(title_text="Contribution to the model score (TreeSHAP)")
    fig.update_layout(
        template="plotly_white",
        height=90 + 34 * n,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        font={"size": 12},
    )
    return fig


def _bgnbd_verdict(chosen: str, wins: bool) -> str:
    """The badge on BG/NBD: a chosen BG/NBD is not said to lose to itself."""
    if chosen == BGNBD:
        return "BG/NBD + Gamma-Gamma was chosen: no LightGBM CLV model beat it on this backtest"
    if wins:
        return "Chosen CLV beats BG/NBD on MAE, R² and Spearman"
    return "Chosen CLV does not beat BG/NBD on all of MAE, R², Spearman"


def _metrics_table(result) -> html.Div:
    bt = result.backtest
    if bt is None:
        return dbc.Alert(result.backtest_note or "No backtest for this horizon.", color="info")
    churn_rows = [
        {"model": name, **{k: round(v, 3) for k, v in m.items()}} for name, m in bt.churn.items()
    ]
    clv_rows = [
        {"model": f"{name} ✓ chosen" if name == bt.clv_winner else name, **m}
        for name, m in bt.clv.items()
    ]
    currency = settings().currency
    wins = bt.beats_baselines()
    verdict = [
        dbc.Badge(
            "Churn model beats recency" if wins["churn"] else "Churn model does not beat recency",
            color="success" if wins["churn"] else "danger",
            className="me-2",
        ),
        dbc.Badge(
            "Chosen CLV beats previous-window spend"
            if wins["clv_vs_previous_window"]
            else "Chosen CLV does not beat previous-window spend on all of MAE, R², Spearman",
            color="success" if wins["clv_vs_previous_window"] else "danger",
            className="me-2",
        ),
        dbc.Badge(
            _bgnbd_verdict(bt.clv_winner, wins["clv_vs_bgnbd"]),
            color="success" if wins["clv_vs_bgnbd"] else "warning",
        ),
    ]
    intervals = bt.intervals
    return html.Div(
        [
            html.P(
                f"Trained on data before {bt.holdout_cutoff:%d %b %Y}, scored on the following {bt.horizon_days} days "
                f"({bt.customers:,} customers, {bt.churn_rate:.1%} did not buy again). Threshold {bt.threshold:.0%}.",
                className="small",
            ),
            html.Div(verdict, className="mb-2"),
            create_grid(
                "churn-metrics-table",
                churn_rows,
                [text("Churn", "model", min_width=180)]
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
            ),
            html.Div(className="mb-3"),
            html.P(bt.clv_sentence(currency), className="small mb-2", id="churn-clv-verdict"),
            create_grid(
                "churn-clv-table",
                clv_rows,
                [
                    text(f"CLV, next {bt.horizon_days} days", "model", min_width=180),
                    num("MAE", "mae", money(currency)),
                    num("RMSE", "rmse", money(currency)),
                    num("R²", "r2", fixed(3)),
                    num("Spearman", "spearman", fixed(3)),
                    num("Gini (norm.)", "gini", fixed(3)),
                    num("Total vs actual", "aggregate_error", percent(1)),
                    num("Top 10% capture", "top10_capture", percent(1)),
                ],
            ),
            html.P(
                [
                    html.Strong("Choice rule: "),
                    f"{CHOICE_RULE[0].upper()}{CHOICE_RULE[1:]}. "
                    "“Total vs actual” is the forecast of the whole base's spend against what it spent. ",
                    html.Strong("Intervals: "),
                    f"{intervals.level:.0%} ranges per customer (split-conformal on these residuals); "
                    f"{intervals.coverage:.1%} of held-out backtest customers fell inside theirs "
                    f"(mean width {fmt_money(intervals.mean_width, currency)})."
                    if intervals
                    else "none (no backtest).",
                ],
                className="small text-muted mt-2 mb-0",
                id="churn-clv-rule",
            ),
        ]
    )


def _floor_percent(value: float) -> str:
    """Rounded down to 0.1%, so 49.96% never reads as the 50% it is below."""
    return f"{math.floor(value * 1000) / 10:.1f}%"


def _quadrant_cards(result, currency: str) -> dbc.Row:
    summary = quadrant_summary(result.table)
    cards = []
    for row in summary.iter_rows(named=True):
        key = row["quadrant_key"]
        churn_range = (
            f"Churn risk {_floor_percent(row['churn_min'])}–{_floor_percent(row['churn_max'])}"
            if row["customers"]
            else "No customers at this threshold"
        )
        cards.append(
            dbc.Col(
                dbc.Card(
                    [
                        dbc.CardHeader(
                            [
                                html.Span(
                                    "●",
                                    style={"color": QUADRANT_COLORS[key]},
                                    className="me-2",
                                ),
                                html.Span(
                                    row["quadrant"],
                                    className="fw-semibold",
                                    id=f"churn-quadrant-name-{key.replace('_', '-')}",
                                ),
                            ],
                            className="bg-white",
                        ),
                        dbc.CardBody(
                            [
                                html.Div(
                                    f"{fmt_count(row['customers'])} customers",
                                    className="fs-5 fw-bold",
                                    id=f"churn-quadrant-{key.replace('_', '-')}",
                                ),
                                html.Div(
                                    churn_range,
                                    className="small",
                                    id=f"churn-quadrant-range-{key.replace('_', '-')}",
                                ),
                                html.Div(
                                    f"Predicted CLV {fmt_money(row['predicted_clv'], currency)}",
                                    className="small",
                                ),
                                html.Div(
                                    f"Revenue at risk {fmt_money(row['revenue_at_risk'], currency)}",
                                    className="small text-danger",
                                    id=f"churn-quadrant-risk-{key.replace('_', '-')}",
                                ),
                                html.P(row["action"], className="small mt-2 mb-0 persona-action"),
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


def _at_risk_table(result, currency: str):
    top = most_at_risk(result.table, result.threshold, AT_RISK_ROWS)  # the report's order too
    return create_grid(
        "churn-at-risk-table",
        top.select(
            "customer_id",
            "churn_probability",
            "predicted_clv",
            "clv_low",
            "clv_high",
            "revenue_at_risk",
            "quadrant",
        ).to_dicts(),
        [
            text(
                "Customer",
                "customer_id",
                min_width=110,
                cellRenderer=LINK_RENDERER,
                cellRendererParams={"href": "/customer?id={value}"},
            ),
            num("Churn probability", "churn_probability", percent(0)),
            num(f"Predicted CLV ({result.horizon_days} d)", "predicted_clv", money(currency)),
            num("CLV low", "clv_low", money(currency)),
            num("CLV high", "clv_high", money(currency)),
            num("Revenue at risk", "revenue_at_risk", money(currency)),
            text("Quadrant", "quadrant"),
        ],
        page_size=15,
        filters=True,
        export_name="customers-at-risk.csv",
    )


def _kpi(label: str, value: str, id_: str, class_name: str = "fs-4 fw-bold") -> dbc.Col:
    return dbc.Col(
        html.Div(
            [
                html.Div(label, className="small text-muted"),
                html.Div(value, className=class_name, id=id_),
            ]
        ),
        md=3,
    )


def _lime_card(token: dict, result) -> html.Div:
    """LIME for the customer with the most revenue at stake (the first row of the at-risk list)."""
    if result.models is None:
        return html.P("No LightGBM model at this history length, so no LIME explanation.")
    customer_id = result.table.sort("value_at_risk", descending=True)["customer_id"][0]
    explanation = service().explanation(token["dataset_id"], customer_id, "churn", token["horizon"])
    return html.Div(
        [
            html.P(
                [
                    "Customer ",
                    dcc.Link(customer_id, href=f"/customer?id={customer_id}"),
                    f": {explanation.label}.",
                ],
                className="small mb-1",
                id="churn-lime-label",
            ),
            dcc.Graph(figure=explanation_figure(explanation), config={"displayModeBar": False}),
        ]
    )


def _by_threshold(result, currency: str) -> list:
    """What the at-risk threshold moves: KPIs, quadrants, the scatter, precision and recall."""
    table = result.table
    at_risk = table.filter(pl.col("churn_probability") >= result.threshold)
    return [
        dbc.Alert(
            [html.Strong("How these numbers were made: "), result.method],
            color="light",
            className="border small",
            id="churn-method",
        ),
        dbc.Row(
            [
                _kpi("Customers scored", fmt_count(table.height), "churn-scored"),
                _kpi(
                    f"Expected to churn (risk ≥ {result.threshold:.0%})",
                    f"{fmt_percent(at_risk.height / table.height)} ({fmt_count(at_risk.height)})",
                    "churn-share",
                ),
                _kpi(
                    f"Predicted CLV, next {result.horizon_days} days",
                    fmt_money(float(table["predicted_clv"].sum()), currency),
                    "churn-total-clv",
                ),
                _kpi(
                    "Revenue at risk",
                    fmt_money(revenue_at_risk(table, result.threshold), currency),
                    "churn-revenue-at-risk",
                    "fs-4 fw-bold text-danger",
                ),
            ],
            className="mb-1",
        ),
        html.P(
            f"Revenue at risk: what the customers expected to churn (risk ≥ {result.threshold:.0%}) "
            f"would spend over {result.horizon_days} days at their historical rate. It counts the "
            "same customers as “Expected to churn”, so both move with the threshold.",
            className="small text-muted mb-3",
            id="churn-revenue-definition",
        ),
        _quadrant_cards(result, currency),
        create_card(
            "Value × risk",
            dcc.Graph(
                id="churn-scatter",
                figure=value_risk_figure(table, result.threshold, currency),
                config=GRAPH_CONFIG,
            ),
            subtitle=f"Dashed lines: churn threshold {result.threshold:.0%} and median predicted CLV. "
            "High value = predicted CLV above zero and at or above the median. A quadrant is "
            "called “Loyal” or “Steady” only when all its customers are under 50% risk, "
            "“At-Risk” or “Lapsing” only when all are at 50% or more.",
        ),
        create_card(
            "Backtest against baselines",
            _metrics_table(result),
            subtitle="The models never saw the scored period",
        ),
    ]


def _at_risk_card(result, currency: str):
    return create_card(
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
        subtitle=f"Top {AT_RISK_ROWS} at or above the threshold; click an id for the customer's page",
    )


#: Shown when a finished training's models are not in the cache this server reads: the
#: server's code was updated while the job ran (results are keyed by code version), or the cache
#: was cleared. A blank page said nothing (seen when a deploy changed the code mid-job).
TRAINED_BUT_MISSING = (
    "The training finished, but its models are not in this server's cache: the app was "
    "updated or its cache cleared while it ran. Press Retrain to train them again."
)


@callback(
    Output("churn-content", "children"),
    Input("churn-token", "data"),
)
@reports_to("churn-alert")
def render(token: dict | None):
    """The trained models' charts that do not depend on the at-risk threshold.

    ``render_threshold`` fills the parts above and below them that do.
    """
    if not token:
        return dbc.Alert(
            "Training the churn and CLV models on this dataset (about 10 seconds on the bundled data)…",
            color="info",
        )
    result = service().cached_predictions(token["dataset_id"], token["horizon"])
    if result is None:  # the job said done, yet its models are not in this server's cache
        return dbc.Alert(
            TRAINED_BUT_MISSING,
            color="warning",
            id="churn-missing",
        )
    currency = settings().currency
    bt = result.backtest
    shap_cards = [
        dbc.Col(
            create_card(
                title,
                dcc.Graph(
                    id=f"churn-shap-{target}",
                    figure=shap_beeswarm_figure(result.shap[target]),
                    config={"displayModeBar": False},
                ),
                subtitle=SHAP_TARGETS[target],
            ),
            lg=6,
        )
        for target, title in SHAP_CARDS
        if target in result.shap
    ]
    lime = dbc.Col(
        create_card(
            "One customer, explained (LIME)",
            _lime_card(token, result),
            subtitle="Churn risk of the customer with the most revenue at stake; the summaries "
            "above say what drives the models across all customers",
        ),
        lg=12,
    )
    return html.Div(
        [
            dbc.Row(
                [
                    dbc.Col(
                        create_card(
                            "Churn calibration",
                            dcc.Graph(
                                figure=calibration_figure(bt.calibration),
                                config=GRAPH_CONFIG,
                            )
                            if bt
                            else html.P("No backtest."),
                        ),
                        lg=6,
                    ),
                    dbc.Col(
                        create_card(
                            "Lift by decile",
                            dcc.Graph(figure=lift_figure(bt.lift), config=GRAPH_CONFIG)
                            if bt
                            else html.P("No backtest."),
                        ),
                        lg=6,
                    ),
                ]
            ),
            create_card(
                "CLV calibration by decile",
                dcc.Graph(
                    id="churn-clv-calibration",
                    figure=clv_calibration_figure(bt.clv_calibration, bt.clv_winner, currency),
                    config=GRAPH_CONFIG,
                )
                if bt
                else html.P("No backtest."),
                subtitle="Each model's customers in tenths by its own prediction: on the dashed line, predicted = actual",
            ),
            dbc.Row([*shap_cards, lime]),
        ]
    )


@callback(
    Output("churn-by-threshold", "children"),
    Output("churn-at-risk", "children"),
    Input("churn-token", "data"),
    Input("churn-threshold", "value"),
)
@reports_to("churn-alert")
def render_threshold(token: dict | None, threshold: float | None):
    """KPIs, quadrants, scatter, backtest table and at-risk table at the chosen threshold.

    A threshold change redraws only these (no retraining, no SHAP or calibration charts).
    """
    if not token:
        raise PreventUpdate
    result = service().cached_predictions(token["dataset_id"], token["horizon"])
    if result is None:
        raise PreventUpdate
    result = with_threshold(result, float(threshold or result.threshold))
    currency = settings().currency
    return _by_threshold(result, currency), _at_risk_card(result, currency)


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
        "customer_id",
        "churn_probability",
        "predicted_clv",
        "clv_low",
        "clv_high",
        "quadrant",
        "action",
        "revenue_at_risk",
        "value_at_risk",
    )
    return {
        "content": to_csv(frame),
        "filename": f"predictions_{token['horizon']}d.csv",
        "type": "text/csv",
    }
