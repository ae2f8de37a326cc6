"""The Customer page's "Alive or gone" section: P(alive), next order, churn band and its history.

Kept in its own module (layout factory + callback) so the Customer page only places it. The page
calls :func:`register_alive_callbacks` when it is imported: Dash re-executes page modules for every
app it builds, but a component module is imported once per process, so a ``@callback`` here would
reach only the first app (a second app in the same process, as in the test suite, never updated
the section).
"""

from __future__ import annotations

import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, callback, dcc, html
from dash.exceptions import PreventUpdate

from analytics.alive import (
    HIGH_BELOW,
    LOW_FROM,
    band_thresholds,
    compare_risks,
    last_purchase_note,
)
from dashboard.app import service
from dashboard.components.shell import create_card
from dashboard.figures.common import GRAPH_CONFIG, empty_figure
from dashboard.figures.lifecycle import p_alive_figure
from dashboard.formatting import fmt_percent

#: the churn model horizon the Customer page shows (its profile cards use the same)
RISK_HORIZON = 90

BAND_COLORS = {"Low": "success", "Medium": "warning", "High": "danger"}


def create_alive_section() -> dbc.Card:
    """Card with the BG/NBD facts and the P(alive) curve (ids ``customer-alive-*``)."""
    return create_card(
        "Alive or gone",
        [
            html.Div(id="customer-alive-facts", className="mb-2"),
            dcc.Graph(
                id="customer-alive-curve",
                figure=empty_figure("Choose a customer", 300),
                config=GRAPH_CONFIG,
            ),
        ],
        subtitle="BG/NBD: the chance the customer is still active, what it was on each day of "
        f"their history, and when they should order next. {band_thresholds()}.",
    )


def _fact(label: str, value, id_: str) -> dbc.Col:
    return dbc.Col(
        [
            html.Div(label, className="small text-muted"),
            html.Div(value, id=id_, className="fw-bold"),
        ],
        xs=6,
        md=3,
    )


def register_alive_callbacks() -> None:
    """Register the section's callback with the app being built (call at page import)."""
    callback(
        Output("customer-alive-facts", "children"),
        Output("customer-alive-curve", "figure"),
        Input("customer-search", "value"),
        Input("dataset-id", "data"),
        # set when the explanation job trained the churn model the risk comparison needs
        Input("customer-models-trained", "data"),
    )(show_alive)


def show_alive(customer_id: str | None, dataset_id: str, _trained: str | None = None):
    if not customer_id:
        raise PreventUpdate
    svc = service()
    result = svc.alive(dataset_id)
    row = result.table.filter(pl.col("customer_id") == customer_id)
    if row.height == 0:
        return (
            html.P("No purchase on record, so no P(alive).", className="text-muted small"),
            empty_figure("No purchase on record", 300),
        )
    r = row.row(0, named=True)
    next_order = (
        f"{r['expected_next_order']:%d %b %Y}"
        if r["expected_next_order"] is not None
        else "not within 5 years"
    )
    note = last_purchase_note(r["x"], r["t_x"], r["T"], result.as_of)
    predictions = svc.cached_predictions(dataset_id, RISK_HORIZON)
    scored = (
        predictions.table.filter(pl.col("customer_id") == customer_id)
        if predictions is not None
        else None
    )
    agreement = (
        compare_risks(r["p_alive"], scored.row(0, named=True)["churn_probability"], RISK_HORIZON)
        if scored is not None and scored.height
        else f"The churn model's {RISK_HORIZON}-day risk appears above once it is trained."
    )
    facts = html.Div(
        [
            dbc.Row(
                [
                    _fact("P(alive)", fmt_percent(r["p_alive"], 0), "customer-alive-p"),
                    _fact(
                        "Dropout risk now (BG/NBD)",
                        dbc.Badge(r["churn_band"], color=BAND_COLORS[r["churn_band"]]),
                        "customer-alive-band",
                    ),
                    _fact("Expected next order", next_order, "customer-alive-next"),
                    _fact("As of", f"{result.as_of:%d %b %Y}", "customer-alive-as-of"),
                ],
                className="g-2",
            ),
            html.Div(
                note + " Next order: the day by which an active customer has a 50% chance of "
                "having ordered again.",
                className="small text-muted mt-1",
            ),
            html.Div(agreement, id="customer-risk-agreement", className="small mt-1"),
        ]
    )
    history = svc.p_alive_history(dataset_id, customer_id)
    return facts, p_alive_figure(history, LOW_FROM, HIGH_BELOW)
