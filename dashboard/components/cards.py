"""KPI cards and persona cards."""

from __future__ import annotations

import dash_bootstrap_components as dbc
from dash import html

from analytics.kpis import Kpi
from dashboard.formatting import fmt_change, fmt_money, fmt_percent, fmt_value


def _points(kpi: Kpi) -> float | None:
    """A rate's change in percentage points (None for counts and money)."""
    if kpi.kind != "percent" or kpi.previous is None:
        return None
    current = kpi.compared if kpi.window_days is not None else kpi.value
    return None if current is None else current - kpi.previous


def create_kpi_card(kpi: Kpi, currency: str) -> dbc.Card:
    """Value, and change against the previous period coloured by whether it is good news."""
    change = kpi.change
    if change is None or change == 0:
        tone = "text-muted"
    else:
        good = (change > 0) == kpi.higher_is_better
        tone = "text-success" if good else "text-danger"
    return dbc.Card(
        dbc.CardBody(
            [
                html.Div(kpi.label, className="kpi-label text-muted small text-uppercase"),
                html.Div(
                    fmt_value(kpi.value, kpi.kind, currency),
                    className="kpi-value fs-3 fw-bold",
                    id=f"overview-kpi-{kpi.key}",
                ),
                html.Div(
                    fmt_change(change, kpi.window_days, _points(kpi)),
                    className=f"small {tone}",
                    id=f"overview-kpi-{kpi.key}-change",
                ),
                html.Div(
                    f"previous: {fmt_value(kpi.previous, kpi.kind, currency)}"
                    if kpi.window_days is None
                    else f"last {kpi.window_days:,} days: {fmt_value(kpi.compared, kpi.kind, currency)}; "
                    f"the {kpi.window_days:,} before: {fmt_value(kpi.previous, kpi.kind, currency)}",
                    className="small text-muted",
                )
                if kpi.previous is not None
                else None,
                html.Div(kpi.definition, className="small text-muted fst-italic")
                if kpi.definition
                else None,
            ]
        ),
        className="shadow-sm h-100 kpi-card",
    )


def create_persona_card(persona, currency: str, color: str, revenue: float) -> dbc.Card:
    """Segment name, size, revenue share and the recommended action."""
    return dbc.Card(
        [
            dbc.CardHeader(
                [
                    html.Span("●", style={"color": color}, className="me-2"),
                    html.Span(persona.name, className="fw-semibold"),
                ],
                className="bg-white",
            ),
            dbc.CardBody(
                [
                    html.Div(
                        [
                            html.Span(f"{persona.customers:,} customers", className="me-3"),
                            html.Span(
                                f"{fmt_percent(persona.share)} of base", className="text-muted"
                            ),
                        ],
                        className="small",
                    ),
                    html.Div(
                        [
                            html.Span(f"{fmt_money(revenue, currency)} revenue", className="me-3"),
                            html.Span(
                                f"{fmt_percent(persona.revenue_share)} of revenue",
                                className="text-muted",
                            ),
                        ],
                        className="small mb-2",
                    )
                    # a customer table's segments have no spend to show
                    if persona.revenue_share is not None
                    else html.Div(className="mb-2"),
                    html.P(persona.description, className="small mb-2"),
                    html.Div(
                        [html.Strong("Action: "), persona.action], className="small persona-action"
                    ),
                ]
            ),
        ],
        className="shadow-sm h-100 persona-card",
    )
