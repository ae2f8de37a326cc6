"""Churn & CLV figures: calibration, lift and the value x risk quadrants."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from dashboard.figures.common import (
    LEGEND_BELOW,
    PRIMARY,
    _layout,
    _sample_rows,
)

#: Colour per value x risk quadrant key (the names shown come from the data: analytics.predict).
QUADRANT_COLORS = {
    "value_safe": "#18bc9c",
    "value_risk": "#e74c3c",
    "low_safe": "#3498db",
    "low_risk": "#95a5a6",
}


def calibration_figure(calibration: pl.DataFrame) -> go.Figure:
    """Observed churn rate against predicted probability (10 quantile bins) and the diagonal."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1],
            y=[0, 1],
            mode="lines",
            line={"dash": "dash", "color": "#95a5a6"},
            name="Perfect calibration",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=calibration.get_column("mean_predicted").to_list(),
            y=calibration.get_column("observed_rate").to_list(),
            mode="lines+markers",
            line={"color": PRIMARY, "width": 3},
            name="Model",
            hovertemplate="predicted %{x:.0%}<br>observed %{y:.0%}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Predicted churn probability", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title_text="Observed churn rate", tickformat=".0%", range=[0, 1])
    return _layout(fig, 340, legend=LEGEND_BELOW)


def lift_figure(lift: pl.DataFrame) -> go.Figure:
    """Churn rate per decile of predicted risk, with the lift over the base rate as text."""
    fig = go.Figure(
        go.Bar(
            x=[f"D{d}" for d in lift.get_column("decile").to_list()],
            y=lift.get_column("churn_rate").to_list(),
            text=[f"{v:.2f}×" for v in lift.get_column("lift").to_list()],
            textposition="outside",
            marker_color=PRIMARY,
            hovertemplate="%{x}: %{y:.0%} churned (lift %{text})<extra></extra>",
            cliponaxis=False,
        )
    )
    fig.update_yaxes(title_text="Churn rate", tickformat=".0%", range=[0, 1.15])
    fig.update_xaxes(title_text="Decile of predicted risk (D1 = riskiest 10%)")
    return _layout(fig, 320)


def value_risk_figure(
    table: pl.DataFrame, threshold: float, currency: str, cap: int = 20_000
) -> go.Figure:
    """Predicted CLV (log scale) against churn probability, coloured by quadrant, with the cut lines."""
    rows = _sample_rows(table.height, cap)
    sample = table[rows]
    value_cut = table.get_column("predicted_clv").median()
    fig = go.Figure()
    for key, color in QUADRANT_COLORS.items():
        part = sample.filter(pl.col("quadrant_key") == key)
        if part.height == 0:
            continue
        quadrant = part.get_column("quadrant")[0]
        fig.add_trace(
            go.Scattergl(
                x=part.get_column("churn_probability").to_list(),
                y=(part.get_column("predicted_clv") + 1).to_list(),
                mode="markers",
                name=quadrant,
                marker={"color": color, "size": 5, "opacity": 0.6},
                customdata=np.column_stack(
                    [
                        part.get_column("customer_id").to_numpy(),
                        part.get_column("predicted_clv").to_numpy(),
                    ]
                ),
                hovertemplate=f"Customer %{{customdata[0]}}<br>churn %{{x:.0%}}<br>CLV {currency}%{{customdata[1]:,.0f}}<extra>{quadrant}</extra>",
            )
        )
    fig.add_vline(x=threshold, line_dash="dash", line_color="#7b8a8b")
    fig.add_hline(y=value_cut + 1, line_dash="dash", line_color="#7b8a8b")
    fig.update_xaxes(title_text="Churn probability", tickformat=".0%", range=[0, 1])
    fig.update_yaxes(title_text=f"Predicted CLV ({currency}, log scale)", type="log", dtick=1)
    return _layout(fig, 440, legend={**LEGEND_BELOW, "itemsizing": "constant"})
