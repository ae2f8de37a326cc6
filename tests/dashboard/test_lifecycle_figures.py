import datetime as dt

import polars as pl

from analytics.cohorts import cohort_retention
from analytics.migration import migrate
from dashboard.figures.lifecycle import (
    cohort_heatmap,
    migration_sankey,
    p_alive_figure,
    segment_sizes_figure,
)
from tests.conftest import toy_log

TOY = [
    ("A", "1", "2021-01-05", "P", 1, 10.0),
    ("A", "2", "2021-02-10", "P", 2, 10.0),
    ("B", "3", "2021-01-20", "P", 1, 5.0),
    ("C", "5", "2021-02-01", "P", 3, 1.0),
    ("C", "6", "2021-03-15", "P", 1, 1.0),
]


def test_heatmap_cells_and_labels_follow_the_cohorts():
    fig = cohort_heatmap(cohort_retention(toy_log(TOY)), "retention", "£", "month")
    heat = fig.data[0]
    assert list(heat.y) == ["2021-01 (2)", "2021-02 (1)"]
    assert list(heat.z[0]) == [1.0, 0.5, 0.0]
    assert list(heat.z[1])[:2] == [1.0, 1.0] and list(heat.z[1])[2] is None
    assert heat.text[0][1] == "50%"
    money = cohort_heatmap(cohort_retention(toy_log(TOY)), "revenue_per_customer", "£", "month")
    assert money.data[0].text[0][1] == "£10"  # A's 20 over a cohort of 2


def test_sankey_links_are_the_flows():
    m = migrate(toy_log(TOY), dt.datetime(2021, 2, 1), dt.datetime(2021, 4, 1))
    fig = migration_sankey(m.flows(), m.order, "1 Feb", "1 Apr")
    sankey = fig.data[0]
    assert sum(sankey.link.value) == m.moves.height == 3
    assert sankey.node.label[0] == "New"


def test_sankey_date_labels_sit_below_the_mode_bar_band():
    """The mode bar (top right, MODEBAR_BAND px) covered the later date with a 40 px margin."""
    from dashboard.figures.common import MODEBAR_BAND

    m = migrate(toy_log(TOY), dt.datetime(2021, 2, 1), dt.datetime(2021, 4, 1))
    fig = migration_sankey(m.flows(), m.order, "1 Feb", "1 Apr")
    label_px = 20  # one line of bold 12 px text
    for note in fig.layout.annotations:
        assert note.yanchor == "bottom" and note.y <= 1.0  # drawn upward from the plot's top
        assert fig.layout.margin.t >= MODEBAR_BAND + label_px


def test_sizes_and_p_alive_figures():
    sizes = pl.DataFrame(
        {
            "date": [dt.date(2021, 1, 1)] * 2 + [dt.date(2021, 2, 1)] * 2,
            "segment": ["Champions", "Lost"] * 2,
            "customers": [3, 1, 2, 2],
            "share": [0.75, 0.25, 0.5, 0.5],
        }
    )
    fig = segment_sizes_figure(sizes, ["Champions", "Lost"])
    assert [t.name for t in fig.data] == ["Champions", "Lost"]
    history = pl.DataFrame(
        {
            "date": [dt.date(2021, 1, 2), dt.date(2021, 1, 3)],
            "p_alive": [1.0, 0.9],
            "purchase": [False, True],
        }
    )
    fig = p_alive_figure(history, 0.7, 0.3)
    assert list(fig.data[1].y) == [0.9]
    assert [a.text for a in fig.layout.annotations] == ["Low risk above 70%", "High risk below 30%"]


def _span_days(axis) -> float:
    start, end = (dt.datetime.fromisoformat(str(v)) for v in axis.range)
    return (end - start).total_seconds() / 86_400


def test_p_alive_curve_of_a_one_day_history_shows_whole_days_around_it():
    """One purchase day gave one point: Plotly zoomed to hours and repeated the date."""
    history = pl.DataFrame(
        {"date": [dt.date(2011, 12, 9)], "p_alive": [1.0], "purchase": [True]},
        schema_overrides={"date": pl.Date},
    )
    axis = p_alive_figure(history, 0.7, 0.3).layout.xaxis
    assert _span_days(axis) >= 14
    start, end = (dt.datetime.fromisoformat(str(v)) for v in axis.range)
    assert start < dt.datetime(2011, 12, 9) < end
    assert axis.dtick % 86_400_000 == 0 and "%H" not in axis.tickformat
    assert "%d" in axis.tickformat and "%Y" in axis.tickformat
    # and the lone day is drawn (a "lines" trace with one point draws nothing)
    assert "markers" in p_alive_figure(history, 0.7, 0.3).data[0].mode


def test_p_alive_curve_of_a_long_history_keeps_plotly_s_own_axis():
    dates = pl.date_range(dt.date(2011, 1, 1), dt.date(2011, 6, 1), eager=True)
    history = pl.DataFrame(
        {"date": dates, "p_alive": [0.5] * len(dates), "purchase": [False] * len(dates)}
    )
    axis = p_alive_figure(history, 0.7, 0.3).layout.xaxis
    assert axis.range is None and axis.dtick is None


def test_order_history_of_a_one_month_customer_ticks_months_not_hours():
    from dashboard.figures.customer import history_figure

    monthly = pl.DataFrame({"month": [dt.datetime(2011, 12, 1)], "spend": [120.0], "orders": [1]})
    axis = history_figure(monthly, "£").layout.xaxis
    assert axis.dtick == "M1" and axis.tickformat == "%b %Y"
    bars = history_figure(monthly, "£").data[0]
    assert bars.width >= 20 * 86_400_000  # a lone bar was drawn as a hairline
    assert _span_days(axis) >= 30
