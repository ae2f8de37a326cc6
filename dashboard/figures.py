"""Plotly figures built from analytics results. Pure functions: results in, figure out."""

from __future__ import annotations

import textwrap

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import polars as pl
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from analytics.features import FEATURES
from analytics.segmentation import OUTLIER

PALETTE = qualitative.Bold + qualitative.Safe
OUTLIER_COLOR = "#9e9e9e"
PRIMARY = "#2c3e50"
ACCENT = "#18bc9c"
MAX_POINTS_3D = 10_000
MONTH_BAR_MS = 24 * 86_400_000
MAX_POINTS_2D = 50_000


_AXIS = {
    "gridcolor": "#EBF0F8",
    "linecolor": "#EBF0F8",
    "zerolinecolor": "#EBF0F8",
    "ticks": "",
    "automargin": True,
    "title": {"standoff": 15},
}
_SCENE_AXIS = {
    "backgroundcolor": "white",
    "gridcolor": "#DFE8F3",
    "linecolor": "#EBF0F8",
    "zerolinecolor": "#EBF0F8",
    "showbackground": True,
    "ticks": "",
}
#: plotly_white's look in the few properties our figures use. The full template is 7 KB per
#: figure on the wire and took 0.1-0.4 s per figure to copy and validate; this one is tiny.
TEMPLATE = go.layout.Template(
    layout={
        "font": {"color": "#2a3f5f"},
        "colorway": [
            "#636efa",
            "#EF553B",
            "#00cc96",
            "#ab63fa",
            "#FFA15A",
            "#19d3f3",
            "#FF6692",
            "#B6E880",
            "#FF97FF",
            "#FECB52",
        ],
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "hoverlabel": {"align": "left"},
        "xaxis": _AXIS,
        "yaxis": _AXIS,
        "scene": {"xaxis": _SCENE_AXIS, "yaxis": _SCENE_AXIS, "zaxis": _SCENE_AXIS},
        "coloraxis": {"colorbar": {"outlinewidth": 0, "ticks": ""}},
    }
)


def install_template() -> None:
    """Make :data:`TEMPLATE` plotly's default, so new figures do not copy the large built-in one.

    Called once by the app factory (plotly's template registry is process-wide).
    """
    pio.templates["segmenta"] = TEMPLATE
    pio.templates.default = "segmenta"


#: Every dcc.Graph's config: the mode bar shows on hover only, and figures keep its band free.
GRAPH_CONFIG = {"displaylogo": False, "displayModeBar": "hover"}
#: Height of the mode bar's band at the top of a figure, kept clear of legends and titles.
MODEBAR_BAND = 28
#: A legend under the x-axis title, for charts whose legend may wrap to several rows in a
#: narrow column (a wrapped legend on top would grow into the mode bar's band).
LEGEND_BELOW = {"orientation": "h", "yanchor": "top", "y": -0.22, "x": 0}


def segment_color(segment: int) -> str:
    return OUTLIER_COLOR if segment == OUTLIER else PALETTE[segment % len(PALETTE)]


def _layout(fig: go.Figure, height: int = 360, **kwargs) -> go.Figure:
    settings = {
        "template": TEMPLATE,
        "height": height,
        "margin": {"l": 10, "r": 10, "t": MODEBAR_BAND + 30, "b": 10},
        "font": {"size": 12},
        "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
    }
    fig.update_layout(**{**settings, **kwargs})
    return fig


def empty_figure(message: str, height: int = 360) -> go.Figure:
    """A blank figure that says why it is blank."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, font={"size": 14, "color": "#7b8a8b"})
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return _layout(fig, height)


def trend_figure(trend: pl.DataFrame, currency: str) -> go.Figure:
    """Revenue (bars) and active customers (line, right axis) per month.

    Months the period or the data only partly cover are hatched and labelled "n of m days", so a
    short month does not read as a collapse.
    """
    if trend.height == 0:
        return empty_figure("No transactions in this period")
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    partial = trend.get_column("partial").to_list()
    for is_partial, name in ((False, "Revenue"), (True, "Revenue, partial month")):
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
                text=[
                    f"{d} of {m} days"
                    for d, m in zip(part["days"], part["days_in_month"], strict=True)
                ]
                if is_partial
                else None,
                textposition="outside",
                textfont={"size": 11},
                constraintext="none",
                cliponaxis=False,
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
    fig.update_xaxes(tickformat="%b\n%Y", dtick="M1")
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


def _sample_rows(n: int, cap: int, seed: int = 0) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


def _hover(currency: str) -> str:
    """Hover of a customer point: id as ``text``, recency/orders/spend as numeric ``customdata``."""
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
    key = features.select("recency_days", "frequency", "monetary").to_numpy()[rows]
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
                customdata=key[mask].astype(np.float32),
                hovertemplate=_hover(currency),
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
        f"Clustered on one feature ({label.lower()}), so there is nothing to project: each customer "
        "is placed at their scaled value, one row per segment (rows spread vertically to show "
        "density). Pick two or more features for a PCA view. "
        + (
            f"Showing all {n:,} customers."
            if shown == n
            else f"Showing a random sample of {shown:,} of {n:,} customers."
        )
    )
    fig = _layout(
        fig,
        max(300, 120 + 60 * len(segments)),
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0, "itemsizing": "constant"},
    )
    return fig, caption


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
    key = features.select("recency_days", "frequency", "monetary").to_numpy()[rows]
    axis_titles = []
    for i in range(dims):
        top = sorted(
            zip(result.loadings["feature"], result.loadings[f"PC{i + 1}"], strict=True),
            key=lambda t: -abs(t[1]),
        )[:2]
        drivers = ", ".join(FEATURES.get(f, f).split(" (")[0].lower() for f, _ in top)
        axis_titles.append((f"PC{i + 1} ({result.explained_variance[i]:.0%})", drivers))
    fig = go.Figure()
    # Numbers travel as typed arrays (compact); the id as text; the segment name is the trace's.
    hover = _hover(currency)
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
                customdata=key[mask].astype(np.float32),
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
    return _layout(fig, 120 + 48 * table.height)


def box_figure(stats: pl.DataFrame, label: str) -> go.Figure:
    """Box plots from precomputed per-segment statistics (:func:`analytics.profiles.box_stats`)."""
    fig = go.Figure()
    for row in stats.iter_rows(named=True):
        fig.add_trace(
            go.Box(
                name=row["segment_name"],
                x=[row["segment_name"]],
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


def importance_figure(
    importance: dict[str, float], labels: dict[str, str], color: str = PRIMARY, top: int = 10
) -> go.Figure:
    """Share of model gain per feature, largest on top."""
    if not importance:
        return empty_figure("No importances for this model")
    items = sorted(importance.items(), key=lambda kv: kv[1])[-top:]
    fig = go.Figure(
        go.Bar(
            y=[labels.get(k, k) for k, _ in items],
            x=[v for _, v in items],
            orientation="h",
            marker_color=color,
            hovertemplate="%{y}: %{x:.1%} of gain<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".0%", title_text="Share of gain")
    return _layout(fig, 300)


def wrap(text: str, width: int) -> str:
    """Break a sentence into lines of at most ``width`` characters (plotly's ``<br>``)."""
    return "<br>".join(textwrap.wrap(text, width)) or text


def explanation_figure(explanation) -> go.Figure:
    """LIME weights as signed bars, labelled with the business sentence."""
    items = list(reversed(explanation.contributions))
    fig = go.Figure(
        go.Bar(
            y=[wrap(c.sentence, 34) for c in items],
            x=[c.weight for c in items],
            orientation="h",
            marker_color=["#e74c3c" if c.weight > 0 else "#18bc9c" for c in items]
            if explanation.target == "churn"
            else ["#18bc9c" if c.weight > 0 else "#e74c3c" for c in items],
            customdata=[c.condition for c in items],
            hovertemplate="%{y}<br>rule: %{customdata}<br>weight %{x:+.3g}<extra></extra>",
        )
    )
    fig.add_vline(x=0, line_color="#2c3e50")
    fig.update_yaxes(automargin=True)
    fig.update_xaxes(title_text="Effect on the prediction (LIME weight)")
    lines = sum(wrap(c.sentence, 34).count("<br>") + 1 for c in items)
    return _layout(fig, 100 + 18 * lines + 14 * len(items), showlegend=False)


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
    return _layout(fig, 300)


def rules_scatter(rules: pl.DataFrame, cap: int = 5_000) -> go.Figure:
    """Support against confidence, coloured by lift (the strongest ``cap`` rules by lift)."""
    if rules.height == 0:
        return empty_figure("No rules at these thresholds: lower the minimum support or confidence")
    shown = rules.head(cap)
    fig = go.Figure(
        go.Scattergl(
            x=shown.get_column("support").to_list(),
            y=shown.get_column("confidence").to_list(),
            mode="markers",
            marker={
                "color": shown.get_column("lift").to_list(),
                "colorscale": "Viridis",
                "showscale": True,
                "size": 7,
                "colorbar": {"title": {"text": "lift", "side": "right"}},
                "opacity": 0.8,
            },
            customdata=np.column_stack(
                [
                    shown.get_column("antecedents").to_numpy(),
                    shown.get_column("consequents").to_numpy(),
                    shown.get_column("lift").to_numpy(),
                ]
            ),
            hovertemplate="%{customdata[0]} → %{customdata[1]}<br>support %{x:.2%}<br>confidence %{y:.0%}<br>lift %{customdata[2]:.1f}<extra></extra>",
        )
    )
    fig.update_xaxes(title_text="Support", tickformat=".1%")
    fig.update_yaxes(title_text="Confidence", tickformat=".0%")
    return _layout(fig, 380)


def short_label(label: str, width: int = 28) -> str:
    """Shorten a product label at a word boundary, never cutting its trailing "(id)"."""
    if len(label) <= width:
        return label
    head, tail = label, ""
    if label.endswith(")") and " (" in label:
        head, tail = label[: label.rindex(" (")], label[label.rindex(" (") :]
    room = max(width - len(tail) - 1, 8)
    cut = head[:room].rsplit(" ", 1)[0] if " " in head[:room] else head[:room]
    return cut.rstrip(" ,.-") + "…" + tail


def rules_network(rules: pl.DataFrame, top: int = 25) -> go.Figure:
    """The ``top`` rules by lift as a two-column graph: what was bought (left) to what comes with
    it (right). Names are axis labels, one row each, so they never overlap or leave the figure."""
    if rules.height == 0:
        return empty_figure("No rules to draw")
    strongest = rules.head(top)
    edges = [
        (a, c, lift)
        for ants, cons, lift in zip(
            strongest["antecedent_items"],
            strongest["consequent_items"],
            strongest["lift"],
            strict=True,
        )
        for a in ants
        for c in cons
    ]
    left = sorted({a for a, _, _ in edges})
    right = sorted({c for _, c, _ in edges})
    rows = max(len(left), len(right))

    def place(names: list[str]) -> dict[str, float]:
        # spread each column over the same height, top to bottom
        step = (rows - 1) / max(len(names) - 1, 1)
        offset = 0 if len(names) > 1 else (rows - 1) / 2
        return {n: rows - 1 - (offset + i * step) for i, n in enumerate(names)}

    y_left, y_right = place(left), place(right)
    max_lift = max(lift for *_, lift in edges)
    fig = go.Figure()
    for a, c, lift in edges:
        fig.add_annotation(
            x=1,
            y=y_right[c],
            ax=0,
            ay=y_left[a],
            xref="x",
            yref="y",
            axref="x",
            ayref="y",
            showarrow=True,
            arrowhead=2,
            arrowsize=1,
            arrowwidth=1 + 3 * lift / max_lift,
            arrowcolor="rgba(44,62,80,0.35)",
            standoff=6,
            startstandoff=6,
            hovertext=f"{a} → {c}: lift {lift:.1f}",
        )
    degree = {n: sum(n in (a, c) for a, c, _ in edges) for n in {*left, *right}}
    for x, names, where in ((0, left, y_left), (1, right, y_right)):
        fig.add_trace(
            go.Scatter(
                x=[x] * len(names),
                y=[where[n] for n in names],
                mode="markers",
                marker={
                    "size": [8 + 2 * degree[n] for n in names],
                    "color": ACCENT if x == 0 else PRIMARY,
                    "line": {"color": PRIMARY, "width": 1},
                },
                hovertext=names,
                hoverinfo="text",
                yaxis="y" if x == 0 else "y2",
            )
        )
    span = [-0.6, rows - 0.4]
    fig.update_xaxes(visible=False, range=[-0.05, 1.05])
    fig.update_layout(
        yaxis={
            "range": span,
            "tickvals": [y_left[n] for n in left],
            "ticktext": [short_label(n, 34) for n in left],
            "showgrid": False,
            "zeroline": False,
            "automargin": True,
            "tickfont": {"size": 11},
        },
        yaxis2={
            "range": span,
            "overlaying": "y",
            "side": "right",
            "tickvals": [y_right[n] for n in right],
            "ticktext": [short_label(n, 34) for n in right],
            "showgrid": False,
            "zeroline": False,
            "automargin": True,
            "tickfont": {"size": 11},
        },
    )
    fig.add_annotation(
        x=0, y=1, xref="x", yref="paper", yanchor="bottom", text="<b>If bought</b>", showarrow=False
    )
    fig.add_annotation(
        x=1, y=1, xref="x", yref="paper", yanchor="bottom", text="<b>Then also</b>", showarrow=False
    )
    return _layout(fig, max(360, 90 + 20 * rows), showlegend=False)


def pairs_figure(pairs: pl.DataFrame) -> go.Figure:
    """The most frequent product pairs by support."""
    if pairs.height == 0:
        return empty_figure("No frequent pairs at this support")
    rows = pairs.reverse()
    labels = [
        f"{short_label(a, 34)} + {short_label(b, 34)}"
        for a, b in zip(rows["item_a"], rows["item_b"], strict=True)
    ]
    fig = go.Figure(
        go.Bar(
            y=labels,
            x=rows.get_column("support").to_list(),
            orientation="h",
            marker_color=PRIMARY,
            customdata=rows.get_column("count").to_list(),
            hovertemplate="%{y}<br>%{x:.2%} of baskets (%{customdata:,})<extra></extra>",
        )
    )
    fig.update_xaxes(tickformat=".1%", title_text="Support")
    fig.update_yaxes(automargin=True)
    return _layout(fig, 120 + 26 * pairs.height)
