"""Segments figures: the PCA (or one-feature strip) view, the k sweep, the heatmap, box plots."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from analytics.features import FEATURES
from dashboard.figures.common import (
    ACCENT,
    MAX_POINTS_2D,
    MAX_POINTS_3D,
    MODEBAR_BAND,
    PRIMARY,
    _layout,
    _sample_rows,
    segment_color,
)

#: pixels under a 2D chart's plot area taken by its tick labels and x-axis title
AXIS_TITLE_PX = 64
#: pixels per row of a horizontal legend, and legend items per row in the chart's column
LEGEND_ROW_PX = 24
LEGEND_ITEMS_PER_ROW = 4


def legend_under_axis_title(fig: go.Figure, plot_height: int, items: int) -> go.Figure:
    """Lay out a 2D chart with its legend below the x-axis title, never over it.

    Legend positions are fractions of the plot area, so a fixed ``y=-0.15`` landed on the axis
    title of a short chart. This reserves :data:`AXIS_TITLE_PX` plus one
    :data:`LEGEND_ROW_PX` per legend row under a plot area ``plot_height`` pixels tall.
    """
    rows = -(-items // LEGEND_ITEMS_PER_ROW)
    bottom = AXIS_TITLE_PX + LEGEND_ROW_PX * rows
    top = MODEBAR_BAND + 30
    fig = _layout(
        fig,
        plot_height + top + bottom,
        margin={"l": 10, "r": 10, "t": top, "b": bottom},
        legend={
            "orientation": "h",
            "yanchor": "top",
            "y": -AXIS_TITLE_PX / plot_height,
            "x": 0,
            "itemsizing": "constant",
        },
    )
    return fig


#: What a point's hover shows beside its id, when the features have it (a log's customers).
HOVER_KEY = ("recency_days", "frequency", "monetary")


def _hover_key(features: pl.DataFrame, rows: np.ndarray) -> np.ndarray | None:
    """Recency, orders and spend of the shown customers; None for a customer table (none)."""
    if not all(c in features.columns for c in HOVER_KEY):
        return None
    return features.select(*HOVER_KEY).to_numpy()[rows]


def _hover(currency: str, key: np.ndarray | None = ()) -> str:
    """Hover of a customer point: id as ``text``, recency/orders/spend as numeric ``customdata``
    (only the id and segment for a customer table, ``key`` None)."""
    if key is None:
        return "Customer %{text}<br>%{fullData.name}<extra></extra>"
    return (
        "Customer %{text}<br>%{fullData.name}<br>Last purchase %{customdata[0]:.0f} days ago"
        f"<br>%{{customdata[1]:,.0f}} orders, {currency}%{{customdata[2]:,.0f}} net<extra></extra>"
    )


def _strip_figure(result, features: pl.DataFrame, currency: str) -> tuple[go.Figure, str]:
    """One clustering feature: customers along its scaled value, one jittered row per segment."""
    # one feature's only component is that feature centred, up to sign: undo the sign
    sign = -1.0 if result.loadings["PC1"][0] < 0 else 1.0
    coords = result.coordinates * sign
    n = len(coords)
    rows = _sample_rows(n, MAX_POINTS_2D)
    assign = result.assignments
    labels = assign.get_column("segment").to_numpy()[rows]
    names = assign.get_column("segment_name").to_numpy()[rows]
    ids = assign.get_column("customer_id").to_numpy()[rows]
    key = _hover_key(features, rows)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, size=len(rows))
    segments = sorted(set(labels.tolist()))
    fig = go.Figure()
    for position, segment in enumerate(segments):
        mask = labels == segment
        fig.add_trace(
            go.Scattergl(
                x=coords[rows][mask, 0],
                y=position + jitter[mask],
                mode="markers",
                name=str(names[mask][0]),
                text=ids[mask].tolist(),
                customdata=None if key is None else key[mask].astype(np.float32),
                hovertemplate=_hover(currency, key),
                marker={"size": 5, "color": segment_color(int(segment)), "opacity": 0.6},
            )
        )
    feature = result.features[0]
    label = FEATURES.get(feature, feature)
    fig.update_xaxes(title_text=f"{label} (scaled, centred)")
    fig.update_yaxes(
        tickvals=list(range(len(segments))),
        ticktext=[str(names[labels == s][0]) for s in segments],
        automargin=True,
    )
    shown = len(rows)
    caption = (
        f"Clustered on one feature ({_short_label(feature)}), so there is nothing to project: each customer "
        "is placed at their scaled value, one row per segment (rows spread vertically to show "
        "density). Pick two or more features for a PCA view. "
        + (
            f"Showing all {n:,} customers."
            if shown == n
            else f"Showing a random sample of {shown:,} of {n:,} customers."
        )
    )
    return legend_under_axis_title(fig, max(180, 60 * len(segments)), len(segments)), caption


def _short_label(feature: str) -> str:
    """ "net spend" for a behavioural feature; a customer table's column as written."""
    return FEATURES[feature].split(" (")[0].lower() if feature in FEATURES else feature


def pca_figure(
    result, features: pl.DataFrame, currency: str, dims: int = 3
) -> tuple[go.Figure, str]:
    """Customers in PCA space coloured by segment; returns the figure and a caption.

    Above 10,000 (3D) or 50,000 (2D) customers a fixed random sample is drawn; the caption says so.
    """
    coords = result.coordinates
    n = len(coords)
    dims = min(dims, coords.shape[1])
    if dims < 2:
        return _strip_figure(result, features, currency)
    rows = _sample_rows(n, MAX_POINTS_3D if dims == 3 else MAX_POINTS_2D)
    assign = result.assignments
    labels = assign.get_column("segment").to_numpy()[rows]
    names = assign.get_column("segment_name").to_numpy()[rows]
    ids = assign.get_column("customer_id").to_numpy()[rows]
    key = _hover_key(features, rows)
    axis_titles = []
    for i in range(dims):
        top = sorted(
            zip(result.loadings["feature"], result.loadings[f"PC{i + 1}"], strict=True),
            key=lambda t: -abs(t[1]),
        )[:2]
        drivers = ", ".join(_short_label(f) for f, _ in top)
        axis_titles.append((f"PC{i + 1} ({result.explained_variance[i]:.0%})", drivers))
    fig = go.Figure()
    # Numbers travel as typed arrays (compact); the id as text; the segment name is the trace's.
    hover = _hover(currency, key)
    points = coords[rows]
    for segment in sorted(set(labels.tolist())):
        mask = labels == segment
        trace = go.Scatter3d if dims == 3 else go.Scattergl
        xyz = {"x": points[mask, 0], "y": points[mask, 1]}
        if dims == 3:
            xyz["z"] = points[mask, 2]
        fig.add_trace(
            trace(
                **xyz,
                mode="markers",
                name=str(names[mask][0]),
                text=ids[mask].tolist(),
                customdata=None if key is None else key[mask].astype(np.float32),
                hovertemplate=hover,
                marker={
                    "size": 3 if dims == 3 else 5,
                    "color": segment_color(int(segment)),
                    "opacity": 0.75,
                },
            )
        )
    if dims == 3:
        fig.update_layout(
            scene={
                "xaxis_title": axis_titles[0][0],
                "yaxis_title": axis_titles[1][0],
                "zaxis_title": axis_titles[2][0],
            }
        )
    else:
        fig.update_xaxes(title_text=axis_titles[0][0])
        fig.update_yaxes(title_text=axis_titles[1][0])
    shown = len(rows)
    total_var = sum(result.explained_variance[:dims])
    caption = (
        f"{'3D' if dims == 3 else '2D'} PCA of the scaled features; the axes explain {total_var:.0%} of the variance "
        f"({'; '.join(f'{title} mostly {drivers}' for title, drivers in axis_titles)}). "
        + (
            f"Showing all {n:,} customers."
            if shown == n
            else f"Showing a random sample of {shown:,} of {n:,} customers."
        )
    )
    if dims == 3:
        fig.update_layout(
            scene={"aspectmode": "cube", "camera": {"eye": {"x": 1.6, "y": 1.6, "z": 0.9}}}
        )
    if dims == 2:
        # a flat chart has tick labels and an axis title under it: the legend goes below them
        return legend_under_axis_title(fig, 580, len(fig.data)), caption
    fig = _layout(
        fig,
        580,
        legend={"orientation": "h", "yanchor": "top", "y": -0.02, "x": 0, "itemsizing": "constant"},
    )
    return fig, caption


def sweep_figure(table: pl.DataFrame, recommended: int, elbow: int) -> go.Figure:
    """Silhouette, Davies-Bouldin and inertia against k, with the recommended k marked."""
    ks = table.get_column("k").to_list()
    fig = make_subplots(
        rows=1,
        cols=3,
        horizontal_spacing=0.08,
        subplot_titles=(
            "Silhouette (higher is better)",
            "Davies-Bouldin (lower is better)",
            "Inertia (elbow)",
        ),
    )
    for col, (metric, color) in enumerate(
        (("silhouette", PRIMARY), ("davies_bouldin", "#e74c3c"), ("inertia", ACCENT)), start=1
    ):
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=table.get_column(metric).to_list(),
                mode="lines+markers",
                line={"color": color},
                name=metric,
                hovertemplate="k=%{x}: %{y:,.3f}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.add_vline(x=recommended, line_dash="dash", line_color="#f39c12", row=1, col=col)
    fig.add_annotation(
        x=recommended,
        y=1.0,
        yref="paper",
        text=f"recommended k={recommended}",
        showarrow=False,
        xref="x",
        yshift=-18,
        font={"color": "#f39c12"},
    )
    if elbow != recommended:
        fig.add_vline(x=elbow, line_dash="dot", line_color="#95a5a6", row=1, col=3)
    fig.update_xaxes(dtick=1, title_text="k")
    fig = _layout(fig, 300, showlegend=False)
    fig.update_layout(margin={"t": MODEBAR_BAND + 40})
    return fig


def ratio_text(value: float) -> str:
    """A ratio to the average as the heatmap prints it ("n/a" when there is none)."""
    return "n/a" if not np.isfinite(value) else f"{value:.2f}×"


#: heatmap height besides its rows: mode bar band, title and the slanted feature names
HEATMAP_BASE_PX = 200


def heatmap_figure(profile_table: pl.DataFrame, features: list[str]) -> go.Figure:
    """Each segment's mean of each feature relative to the average customer (ratio, log colour)."""
    table = profile_table.sort("segment")
    # a missing ratio (the average is zero) is "n/a"; a zero ratio is a real 0.00×
    ratios = np.array(
        [
            [np.nan if (v := table.get_column(f"{f}_ratio")[i]) is None else v for f in features]
            for i in range(table.height)
        ],
        dtype=float,
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        colour = np.log2(np.clip(ratios, 1 / 8, 8))
    labels = [FEATURES.get(f, f) for f in features]
    fig = go.Figure(
        go.Heatmap(
            z=colour,
            x=labels,
            y=table.get_column("name").to_list(),
            text=[[ratio_text(v) for v in row] for row in ratios],
            texttemplate="%{text}",
            colorscale="RdBu",
            reversescale=True,
            zmid=0,
            zmin=-3,
            zmax=3,
            colorbar={
                "title": {"text": "vs avg", "side": "right"},
                "tickvals": [-3, -1, 0, 1, 3],
                "ticktext": ["⅛×", "½×", "1×", "2×", "8×"],
            },
            hovertemplate="%{y}<br>%{x}: %{text} the average<extra></extra>",
        )
    )
    fig.update_xaxes(tickangle=-30)
    # the slanted feature names take ~110 px under the plot: with 120 + 48 px a row, 2-3
    # segments left a ~90 px colour bar whose five labels ran into each other, and the bar's
    # title was cut at the right edge
    return _layout(
        fig,
        HEATMAP_BASE_PX + 48 * max(table.height, 3),
        margin={"l": 10, "r": 40, "t": MODEBAR_BAND + 30, "b": 10},
    )


def _wrap(name: str, width: int = 24) -> str:
    """A long segment name on several lines, broken after its commas (long names from a
    customer table's columns laid the axis labels diagonally and squeezed the boxes flat)."""
    lines: list[str] = []
    for part in name.split(", "):
        if lines and len(lines[-1]) + len(part) + 2 <= width:
            lines[-1] += ", " + part
        else:
            if lines:
                lines[-1] += ","
            lines.append(part)
    return "<br>".join(lines)


def box_figure(stats: pl.DataFrame, label: str) -> go.Figure:
    """Box plots from precomputed per-segment statistics (:func:`analytics.profiles.box_stats`)."""
    fig = go.Figure()
    for row in stats.iter_rows(named=True):
        fig.add_trace(
            go.Box(
                name=row["segment_name"],
                x=[_wrap(row["segment_name"])],
                q1=[row["q1"]],
                median=[row["median"]],
                q3=[row["q3"]],
                lowerfence=[row["lower_fence"]],
                upperfence=[row["upper_fence"]],
                mean=[row["mean"]],
                marker_color=segment_color(row["segment"]),
                boxpoints=False,
                hovertemplate=None,
            )
        )
    fig.update_yaxes(title_text=label, tickformat="~s")
    return _layout(fig, 360, showlegend=False)
