"""Overview figures: the monthly trend, the RFM mix and the top countries."""

from __future__ import annotations

import datetime as dt

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from dashboard.figures.common import (
    ACCENT,
    MODEBAR_BAND,
    MONTH_BAR_MS,
    PRIMARY,
    _layout,
    empty_figure,
)


def month_tick_labels(months: list, partial: list[bool]) -> list[str]:
    """ "Dec<br>2010" on the first, last and every January tick, "Feb" between; partial months
    get a trailing "*" (the legend's "partial month")."""
    labels = []
    for i, (month, is_partial) in enumerate(zip(months, partial, strict=True)):
        text = f"{month:%b}"
        if i in (0, len(months) - 1) or month.month == 1:
            text += f"<br>{month:%Y}"
        labels.append(text + ("*" if is_partial else ""))
    return labels


def trend_figure(trend: pl.DataFrame, currency: str) -> go.Figure:
    """Revenue (bars) and active customers (line, right axis) per month.

    Months the period or the data only partly cover are hatched and labelled "n of m days", so a
    short month does not read as a collapse.
    """
    if trend.height == 0:
        return empty_figure("No transactions in this period")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    partial = trend.get_column("partial").to_list()
    for is_partial, name in ((False, "Revenue"), (True, "Revenue, partial month (*)")):
        part = trend.filter(pl.col("partial") == is_partial)
        if part.height == 0:
            continue
        fig.add_trace(
            go.Bar(
                x=part.get_column("month").to_list(),
                y=part.get_column("revenue").to_list(),
                name=name,
                marker={
                    "color": PRIMARY if not is_partial else "rgba(44,62,80,0.35)",
                    "pattern": {"shape": "/" if is_partial else ""},
                    "line": {"color": PRIMARY, "width": 1 if is_partial else 0},
                },
                # a month wide (bars on a date axis are sized in ms): a trace of two far-apart
                # partial months would otherwise be drawn a year wide
                width=MONTH_BAR_MS,
                customdata=np.column_stack([part["days"], part["days_in_month"]]),
                hovertemplate=f"%{{x|%b %Y}}<br>Revenue {currency}%{{y:,.0f}}"
                + ("<br>partial: %{customdata[0]} of %{customdata[1]} days" if is_partial else "")
                + "<extra></extra>",
            ),
            secondary_y=False,
        )
    fig.add_trace(
        go.Scatter(
            x=trend.get_column("month").to_list(),
            y=trend.get_column("active_customers").to_list(),
            name="Active customers",
            mode="lines+markers",
            line={"color": ACCENT, "width": 3},
            marker={
                "symbol": ["circle-open" if p else "circle" for p in partial],
                "size": [11 if p else 7 for p in partial],
            },
            hovertemplate="%{x|%b %Y}<br>%{y:,} active customers<extra></extra>",
        ),
        secondary_y=True,
    )
    fig.update_yaxes(title_text=f"Revenue ({currency})", tickformat=",.0f", secondary_y=False)
    fig.update_yaxes(
        title_text="Active customers", tickformat=",.0f", secondary_y=True, showgrid=False
    )
    months = trend.get_column("month").to_list()
    # "n of m days" over each partial month, as annotations: drawn above every bar (a bar's own
    # text was hidden by its wider neighbour's), kept inside the plot at either end (over the
    # right axis's ticks, the last month's read "of 31 days")
    for row in trend.filter(pl.col("partial")).iter_rows(named=True):
        at = months.index(row["month"])
        fig.add_annotation(
            x=row["month"],
            y=row["revenue"],
            yref="y",
            text=f"{row['days']} of {row['days_in_month']} days",
            showarrow=False,
            yshift=10,
            font={"size": 11},
            bgcolor="rgba(255,255,255,0.85)",
            xanchor="right" if at == len(months) - 1 and at else "left" if at == 0 else "center",
        )
    half_month = dt.timedelta(days=16)
    fig.update_xaxes(
        # the data's months and half a month either side: no empty months, no label cut in half
        range=[months[0] - half_month, months[-1] + half_month],
        tickmode="array",
        tickvals=months,
        ticktext=month_tick_labels(months, partial),
    )
    fig.update_layout(barmode="overlay")
    return _layout(fig, 340)


def rfm_figure(summary: pl.DataFrame, currency: str) -> go.Figure:
    """Revenue in the period and share of customers, per RFM segment (side by side)."""
    if summary.height == 0:
        return empty_figure("No customers before the end of this period")
    names = summary.get_column("rfm_segment").to_list()[::-1]
    fig = make_subplots(
        rows=1,
        cols=2,
        shared_yaxes=True,
        horizontal_spacing=0.06,
        subplot_titles=(f"Revenue in period ({currency})", "Share of customers"),
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=summary.get_column("revenue").to_list()[::-1],
            orientation="h",
            marker_color=PRIMARY,
            customdata=summary.get_column("revenue_share").to_list()[::-1],
            hovertemplate=f"%{{y}}<br>{currency}%{{x:,.0f}} (%{{customdata:.1%}} of revenue)<extra></extra>",
            name="Revenue",
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Bar(
            y=names,
            x=summary.get_column("share").to_list()[::-1],
            orientation="h",
            marker_color=ACCENT,
            text=[f"{c:,}" for c in summary.get_column("customers").to_list()[::-1]],
            textposition="auto",
            hovertemplate="%{y}<br>%{x:.1%} of customers<extra></extra>",
            name="Customers",
        ),
        row=1,
        col=2,
    )
    fig.update_xaxes(tickformat="~s", nticks=4, row=1, col=1)
    fig.update_xaxes(tickformat=".0%", nticks=4, row=1, col=2)
    fig = _layout(fig, 400, showlegend=False)
    fig.update_layout(margin={"t": MODEBAR_BAND + 40})
    return fig


def countries_figure(countries: pl.DataFrame, currency: str) -> go.Figure:
    """Top countries by revenue in the period."""
    if countries.height == 0:
        return empty_figure(
            "No country on this period's rows: map a country column on the Data page to see this chart"
        )
    rows = countries.reverse()
    fig = go.Figure(
        go.Bar(
            y=rows.get_column("country").to_list(),
            x=rows.get_column("revenue").to_list(),
            orientation="h",
            marker_color=PRIMARY,
            customdata=np.column_stack(
                [
                    rows.get_column("customers").to_numpy(),
                    rows.get_column("revenue_share").to_numpy(),
                ]
            ),
            hovertemplate=f"%{{y}}<br>{currency}%{{x:,.0f}} (%{{customdata[1]:.1%}})<br>%{{customdata[0]:,}} customers<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat="~s", title_text=f"Revenue ({currency})")
    return _layout(fig, 400)
