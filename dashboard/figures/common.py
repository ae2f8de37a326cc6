"""What every page's figures share: the compact template, colours, layout, empty states,
the mode-bar config, and the explanation charts two pages use. Pure functions: results in,
figure out."""

from __future__ import annotations

import datetime as dt
import textwrap

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
from plotly.colors import qualitative

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
    # two short lines: the title is centred on the plot area, which the long labels on the
    # left leave narrow in a third-width card ("Effect on the prediction" was cut on the right)
    fig.update_xaxes(title_text="Effect<br>(LIME weight)", automargin=True)
    lines = sum(wrap(c.sentence, 34).count("<br>") + 1 for c in items)
    return _layout(fig, 100 + 18 * lines + 14 * len(items), showlegend=False)


def _sample_rows(n: int, cap: int, seed: int = 0) -> np.ndarray:
    if n <= cap:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=cap, replace=False))


#: a date axis never spans fewer days than this, so a one-day history shows days, not hours
MIN_DATE_SPAN_DAYS = 14


def fit_date_axis(fig: go.Figure, first, last, *, monthly: bool = False) -> go.Figure:
    """Give a date x-axis a sensible range and whole-date ticks, however short the data.

    Plotly zooms a single date (or a few days) down to hours and repeats date labels. This
    pads the range to at least :data:`MIN_DATE_SPAN_DAYS` days (half a month each side for
    monthly bars) around ``first``..``last`` and ticks whole days or months.
    """
    day = dt.timedelta(days=1)
    if monthly:
        months = (last.year - first.year) * 12 + last.month - first.month
        if months < 6:
            fig.update_xaxes(
                range=[first - 16 * day, last + 16 * day], dtick="M1", tickformat="%b %Y"
            )
        return fig
    span = (last - first).days
    if span >= MIN_DATE_SPAN_DAYS:
        return fig
    start = dt.datetime.combine(first, dt.time()) if not isinstance(first, dt.datetime) else first
    end = dt.datetime.combine(last, dt.time()) if not isinstance(last, dt.datetime) else last
    pad = (MIN_DATE_SPAN_DAYS - span) / 2 * day
    fig.update_xaxes(range=[start - pad, end + pad], dtick=2 * 86_400_000, tickformat="%d %b %Y")
    return fig
