"""Customer page figures: the purchase history."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboard.figures.common import (
    ACCENT,
    MONTH_BAR_MS,
    PRIMARY,
    _layout,
    empty_figure,
    fit_date_axis,
)


def history_figure(monthly: pl.DataFrame, currency: str) -> go.Figure:
    """A customer's net spend and orders per month."""
    if monthly.height == 0:
        return empty_figure("No orders")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(
        go.Bar(
            x=monthly.get_column("month").to_list(),
            y=monthly.get_column("spend").to_list(),
            name="Net spend",
            marker_color=PRIMARY,
            # a month wide: Plotly sizes a lone bar on a date axis as a hairline
            width=MONTH_BAR_MS,
            hovertemplate=f"%{{x|%b %Y}}: {currency}%{{y:,.0f}}<extra></extra>",
        ),
        secondary_y=False,
    )
    fig.add_trace(
        go.Scatter(
            x=monthly.get_column("month").to_list(),
            y=monthly.get_column("orders").to_list(),
            name="Orders",
            mode="markers",
            marker={"color": ACCENT, "size": 9},
            hovertemplate="%{x|%b %Y}: %{y} orders<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text=f"Net spend ({currency})", tickformat="~s", secondary_y=False)
    fig.update_yaxes(
        title_text="Orders",
        secondary_y=True,
        showgrid=False,
        rangemode="tozero",
        dtick=1 if monthly.get_column("orders").max() <= 5 else None,
    )
    months = monthly.get_column("month")
    fit_date_axis(fig, months.min(), months.max(), monthly=True)
    return _layout(fig, 300)
