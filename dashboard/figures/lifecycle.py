"""Figures of the Lifecycle page and the Customer page's P(alive) curve. Results in, figure out."""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from dashboard.figures.common import (
    ACCENT,
    PALETTE,
    PRIMARY,
    _layout,
    empty_figure,
    fit_date_axis,
)

NEW_COLOR = "#9e9e9e"


def cohort_heatmap(cohorts: pl.DataFrame, value: str, currency: str, period: str) -> go.Figure:
    """The cohort triangle: one row per cohort (oldest on top), one column per period index.

    ``value`` is ``"retention"`` (share still buying) or ``"revenue_per_customer"``.
    """
    if cohorts.height == 0:
        return empty_figure("No cohorts")
    frame = cohorts.with_columns(revenue_per_customer=pl.col("revenue") / pl.col("cohort_size"))
    names = frame["cohort"].unique(maintain_order=True).to_list()
    width = int(frame["period_index"].max()) + 1
    grid = [[None] * width for _ in names]
    counts = [[None] * width for _ in names]
    row_of = {n: i for i, n in enumerate(names)}
    for cohort, index, v, customers in frame.select(
        "cohort", "period_index", value, "customers"
    ).iter_rows():
        grid[row_of[cohort]][index] = v
        counts[row_of[cohort]][index] = customers
    sizes = frame.group_by("cohort", maintain_order=True).agg(pl.col("cohort_size").first())
    labels = [f"{c} ({n:,})" for c, n in sizes.iter_rows()]
    if value == "retention":
        text = [[f"{v:.0%}" if v is not None else "" for v in row] for row in grid]
        hover = "%{y}<br>" + period + " %{x}: %{z:.1%} still buying (%{customdata:,} customers)"
        colorbar = {"title": "Retention", "tickformat": ".0%"}
        zmax = max((v for row in grid for v in row[1:] if v is not None), default=1.0)
    else:
        text = [[f"{currency}{v:,.0f}" if v is not None else "" for v in row] for row in grid]
        hover = (
            "%{y}<br>" + period + f" %{{x}}: {currency}%{{z:,.0f}} per cohort customer"
            " (%{customdata:,} buyers)"
        )
        colorbar = {"title": f"{currency} per customer"}
        zmax = max((v for row in grid for v in row[1:] if v is not None), default=1.0)
    fig = go.Figure(
        go.Heatmap(
            z=grid,
            x=list(range(width)),
            y=labels,
            text=text if width <= 26 else None,
            texttemplate="%{text}" if width <= 26 else None,
            textfont={"size": 9},
            customdata=counts,
            hovertemplate=hover + "<extra></extra>",
            colorscale="Blues",
            zmin=0,
            zmax=zmax or 1.0,  # period 0 is 100 %: scale on the later periods so they show
            colorbar=colorbar,
            xgap=1,
            ygap=1,
        )
    )
    fig.update_yaxes(autorange="reversed", type="category", tickfont={"size": 10})
    fig.update_xaxes(title=f"{period.capitalize()}s since the first purchase", dtick=1, side="top")
    return _layout(
        fig, max(320, 22 * len(names) + 120), margin={"l": 10, "r": 10, "t": 60, "b": 10}
    )


def migration_sankey(flows: pl.DataFrame, order: list[str], start: str, end: str) -> go.Figure:
    """Segments at the earlier date (left) flowing into segments at the later date (right)."""
    if flows.height == 0:
        return empty_figure("No customers at these dates")
    left = [n for n in order if n in set(flows["from_segment"])]
    right = [n for n in order if n in set(flows["to_segment"])]
    color = {
        n: (NEW_COLOR if i == 0 else PALETTE[(i - 1) % len(PALETTE)]) for i, n in enumerate(order)
    }
    nodes = left + right
    source = [left.index(f) for f in flows["from_segment"]]
    target = [len(left) + right.index(t) for t in flows["to_segment"]]
    fig = go.Figure(
        go.Sankey(
            arrangement="snap",
            node={
                "label": nodes,
                "color": [color[n] for n in left] + [color[n] for n in right],
                "pad": 12,
                "thickness": 14,
            },
            link={
                "source": source,
                "target": target,
                "value": flows["customers"].to_list(),
                "color": [_fade(color[f]) for f in flows["from_segment"]],
                "hovertemplate": "%{source.label} → %{target.label}: %{value:,} customers"
                "<extra></extra>",
            },
        )
    )
    for x, text, anchor in ((0, start, "left"), (1, end, "right")):
        fig.add_annotation(
            x=x,
            y=1.0,
            xref="paper",
            yref="paper",
            text=f"<b>{text}</b>",
            showarrow=False,
            xanchor=anchor,
            yanchor="bottom",
        )
    # the default top margin keeps the mode bar's band clear: with 40 px the mode bar (shown
    # on hover) covered the later date's label
    return _layout(fig, 520)


def _fade(color: str) -> str:
    """A colour at 35 % opacity (hex or rgb())."""
    if color.startswith("#"):
        r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    else:
        r, g, b = (int(float(v)) for v in color[color.index("(") + 1 : -1].split(",")[:3])
    return f"rgba({r},{g},{b},0.35)"


def segment_sizes_figure(sizes: pl.DataFrame, order: list[str]) -> go.Figure:
    """Stacked areas: customers per segment at each monthly snapshot."""
    if sizes.height == 0:
        return empty_figure("No snapshots")
    present = [n for n in order if n in set(sizes["segment"])]
    present += sorted(set(sizes["segment"]) - set(present))
    fig = go.Figure()
    for i, name in enumerate(present):
        part = sizes.filter(pl.col("segment") == name).sort("date")
        fig.add_trace(
            go.Scatter(
                x=part["date"].to_list(),
                y=part["customers"].to_list(),
                name=name,
                stackgroup="one",
                mode="lines",
                line={"width": 0.5, "color": PALETTE[i % len(PALETTE)]},
                hovertemplate=f"{name}<br>%{{x|%d %b %Y}}: %{{y:,}} customers<extra></extra>",
            )
        )
    fig.update_yaxes(title="Customers")
    return _layout(fig, 380, legend={"orientation": "h", "yanchor": "top", "y": -0.12, "x": 0})


def p_alive_figure(history: pl.DataFrame, low_from: float, high_below: float) -> go.Figure:
    """P(alive) by day, purchases marked, with the churn-band thresholds as lines."""
    if history.height == 0:
        return empty_figure("No history")
    fig = go.Figure(
        go.Scatter(
            x=history["date"].to_list(),
            y=history["p_alive"].to_list(),
            # a one-day history is a single point: a line alone would draw nothing
            mode="lines" if history.height > 1 else "markers",
            line={"color": PRIMARY, "width": 2},
            marker={"color": PRIMARY, "size": 8},
            name="P(alive)",
            hovertemplate="%{x|%d %b %Y}: %{y:.0%}<extra></extra>",
        )
    )
    bought = history.filter("purchase")
    fig.add_trace(
        go.Scatter(
            x=bought["date"].to_list(),
            y=bought["p_alive"].to_list(),
            mode="markers",
            marker={"color": ACCENT, "size": 8},
            name="Purchase",
            hovertemplate="Purchase on %{x|%d %b %Y}<extra></extra>",
        )
    )
    for y, label in ((low_from, "Low risk above"), (high_below, "High risk below")):
        fig.add_hline(
            y=y,
            line={"dash": "dot", "color": "#7b8a8b", "width": 1},
            annotation_text=f"{label} {y:.0%}",
            annotation_position="bottom right",
            annotation_font={"size": 10, "color": "#7b8a8b"},
        )
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", title="P(alive)")
    dates = history["date"]
    fit_date_axis(fig, dates.min(), dates.max())
    return _layout(fig, 300)
