"""The Baskets page's figures, on hand-made rule tables."""

import polars as pl

from dashboard.figures.baskets import NETWORK_ROW_PX, rules_network


def _rules(edges: list[tuple[list[str], list[str], float]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "antecedent_items": [a for a, _, _ in edges],
            "consequent_items": [c for _, c, _ in edges],
            "lift": [lift for *_, lift in edges],
        },
        schema={
            "antecedent_items": pl.List(pl.String),
            "consequent_items": pl.List(pl.String),
            "lift": pl.Float64,
        },
    )


def test_busy_network_nodes_stay_inside_their_row():
    """A hub in 12 rules (like the playhouse family) drew a 32 px node on 20 px rows."""
    hub = "POPPY'S PLAYHOUSE BEDROOM"
    edges = [([hub], [f"ITEM {i}"], 40.0 - i) for i in range(12)]
    edges += [([f"ITEM {i}"], [hub], 30.0 - i) for i in range(12)]
    fig = rules_network(_rules(edges), top=25)
    rows = max(len(fig.data[0].y), len(fig.data[1].y))
    plot_px = fig.layout.height - fig.layout.margin.t - fig.layout.margin.b
    pitch_px = plot_px / (rows + 0.2)  # the y range is rows - 1 + 1.2
    sizes = [s for trace in fig.data for s in trace.marker.size]
    assert max(sizes) <= NETWORK_ROW_PX - 6 < pitch_px
    # the busiest item is still drawn biggest
    left = fig.data[0]
    assert left.marker.size[list(left.hovertext).index(hub)] == max(left.marker.size)


def test_network_labels_are_one_per_row():
    edges = [(["A"], ["B"], 3.0), (["C"], ["B"], 2.0), (["A"], ["D"], 1.5)]
    fig = rules_network(_rules(edges))
    assert list(fig.layout.yaxis.ticktext) == ["A", "C"]
    assert list(fig.layout.yaxis2.ticktext) == ["B", "D"]
    assert len(set(fig.layout.yaxis.tickvals)) == 2
