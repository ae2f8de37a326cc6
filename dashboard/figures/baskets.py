"""Baskets figures: rules scatter, the rules network and the top pairs."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import polars as pl

from dashboard.figures.common import (
    ACCENT,
    PRIMARY,
    _layout,
    empty_figure,
)


def rules_scatter(rules: pl.DataFrame, cap: int = 5_000) -> go.Figure:
    """Support against confidence, coloured by lift (the strongest ``cap`` rules by lift)."""
    if rules.height == 0:
        return empty_figure(
            "No rules at these thresholds: lower the minimum support, confidence or lift"
        )
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


#: vertical pixels per item in the rule network (a label line plus room between nodes)
NETWORK_ROW_PX = 24


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
                    # bigger for busier items, but never taller than a row: the busiest nodes
                    # (degree 10+) were 28 px on 20 px rows and covered their neighbours
                    "size": [min(8 + 2 * degree[n], NETWORK_ROW_PX - 6) for n in names],
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
    return _layout(fig, max(360, 90 + NETWORK_ROW_PX * rows), showlegend=False)


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
