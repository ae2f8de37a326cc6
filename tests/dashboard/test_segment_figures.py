"""Segments figures: legends never sit on an axis title."""

import plotly.graph_objects as go
import pytest

from dashboard.figures.segments import (
    AXIS_TITLE_PX,
    LEGEND_ITEMS_PER_ROW,
    LEGEND_ROW_PX,
    legend_under_axis_title,
)


@pytest.mark.parametrize(("plot_px", "items"), [(180, 3), (240, 4), (500, 6), (500, 12)])
def test_legend_starts_below_the_axis_title_and_fits_the_margin(plot_px, items):
    """A fixed y=-0.15 put the legend 27 px under a 180 px plot: on the x-axis title."""
    fig = go.Figure([go.Scatter(x=[0], y=[0], name=f"s{i}") for i in range(items)])
    fig.update_xaxes(title_text="Days since last purchase")
    fig = legend_under_axis_title(fig, plot_px, items)
    margin = fig.layout.margin
    assert fig.layout.height - margin.t - margin.b == plot_px
    legend_top = -fig.layout.legend.y * plot_px  # pixels below the plot area
    assert legend_top == pytest.approx(AXIS_TITLE_PX)
    rows = -(-items // LEGEND_ITEMS_PER_ROW)
    assert margin.b >= legend_top + rows * LEGEND_ROW_PX
    assert fig.layout.legend.yanchor == "top"


def test_heatmap_of_few_segments_leaves_room_for_its_colour_bar():
    """2-3 segments gave a ~90 px colour bar: its five labels overlapped, its title was cut."""
    import polars as pl

    from dashboard.figures.segments import heatmap_figure

    table = pl.DataFrame(
        {
            "segment": [0, 1],
            "name": ["Small", "Big"],
            "monetary_ratio": [0.5, 2.0],
            "frequency_ratio": [0.8, 1.6],
        }
    )
    fig = heatmap_figure(table, ["monetary", "frequency"])
    slanted_labels_px = 110
    margin = fig.layout.margin
    bar_px = fig.layout.height - margin.t - margin.b - slanted_labels_px
    ticks = len(fig.data[0].colorbar.tickvals)
    # ticks sit at -3, -1, 0, 1, 3 on a -3..3 bar: the closest pair is 1/6 of it apart
    assert bar_px / 6 >= 20, f"{bar_px} px bar for {ticks} labels"
    assert margin.r >= 40  # the bar's rotated title
    assert list(fig.data[0].text[0]) == ["0.50×", "0.80×"]


def test_long_segment_names_wrap_under_their_box():
    from dashboard.figures.segments import _wrap

    name = "Low Spending Score (1-100), high Annual Income (k$), mostly Genre Male"
    assert _wrap(name) == (
        "Low Spending Score (1-100),<br>high Annual Income (k$),<br>mostly Genre Male"
    )
    assert _wrap("Champions") == "Champions"
