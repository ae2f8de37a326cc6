import datetime as dt

import polars as pl
import pytest

from analytics.errors import ParameterError
from analytics.migration import (
    NEW,
    default_dates,
    last_quarter_end,
    migrate,
    monthly_snapshots,
    segment_sizes,
)
from analytics.synthetic import synthetic_log
from tests.conftest import toy_log

# Five customers; RFM scores by hand at each date (5 customers: quintile = rank).
TOY = [
    # before 2011-04-01
    ("A", "1", "2011-03-30", "P", 1, 500.0),
    ("A", "2", "2011-03-31", "P", 1, 500.0),
    ("B", "3", "2011-01-02", "P", 1, 10.0),
    ("C", "4", "2011-02-01", "P", 1, 100.0),
    ("C", "5", "2011-03-01", "P", 1, 100.0),
    ("D", "6", "2011-03-15", "P", 1, 50.0),
    # between the dates
    ("B", "7", "2011-06-20", "P", 1, 2000.0),
    ("B", "8", "2011-06-25", "P", 1, 2000.0),
    ("B", "9", "2011-06-28", "P", 1, 2000.0),
    ("E", "10", "2011-06-29", "P", 1, 5.0),
]
FROM, TO = dt.datetime(2011, 4, 1), dt.datetime(2011, 7, 1)


def test_rfm_migration_by_hand():
    """Scores by hand: score = floor(5 * (rank - 0.5) / n) + 1, ties share their mean rank.

    At FROM (n=4): recency A 1d, D 17d, C 31d, B 89d -> R A5 D4 C2 B1. Orders A 2, C 2, B 1, D 1
    -> F A4 C4 B2 D2. Spend A 1000, C 200, D 50, B 10 -> M A5 C4 D2 B1. FM = (F + M + 1) // 2:
    A5 C4 D2 B2. So A Champions (R5 FM5), C At Risk (R2 FM4), D Potential Loyalists (R4 FM2),
    B Lost (R1 FM2); E had not bought yet: New.
    """
    m = migrate(toy_log(TOY), FROM, TO, "rfm")
    moves = {r["customer_id"]: r for r in m.moves.iter_rows(named=True)}
    assert {c: r["from_segment"] for c, r in moves.items()} == {
        "A": "Champions",
        "B": "Lost",
        "C": "At Risk",
        "D": "Potential Loyalists",
        "E": NEW,
    }
    # spend between the dates
    assert moves["B"]["revenue"] == 6000.0 and moves["A"]["revenue"] == 0.0
    assert moves["E"]["revenue"] == 5.0
    # At TO (n=5, score = rank): recency C 122d, D 108d, A 92d, B 3d, E 2d -> R C1 D2 A3 B4 E5;
    # orders B 4, A 2, C 2, D 1, E 1 -> F B5 A4 C4 D2 E2; spend B 6010, A 1000, C 200, D 50, E 5
    # -> M B5 A4 C3 D2 E1. B R4 FM5 Champions; E R5 FM2 Potential Loyalists; A, C and D did not
    # buy, their history at TO decides: A R3 FM4 Loyal Customers, C R1 FM4 At Risk,
    # D R2 FM2 Hibernating.
    assert {c: r["to_segment"] for c, r in moves.items()} == {
        "A": "Loyal Customers",
        "B": "Champions",
        "C": "At Risk",
        "D": "Hibernating",
        "E": "Potential Loyalists",
    }
    matrix = m.matrix()
    assert matrix.columns[0] == "from_segment"
    assert matrix["from_segment"].to_list()[0] == NEW
    assert matrix.select(pl.exclude("from_segment")).sum_horizontal().sum() == 5
    revenue = m.matrix("revenue")
    lost_row = revenue.filter(pl.col("from_segment") == "Lost").row(0, named=True)
    assert lost_row["Champions"] == 6000.0
    assert m.movers()["customer_id"].to_list()[0] == "B"
    assert NEW not in m.movers()["from_segment"].to_list()


def test_dates_are_checked():
    with pytest.raises(
        ParameterError,
        match="'from' date must be before the 'to' date. Got from 2011-07-01 and to 2011-04-01",
    ):
        migrate(toy_log(TOY), TO, FROM)
    with pytest.raises(ParameterError, match="'by' parameter must be rfm or segment. Got 'x'"):
        migrate(toy_log(TOY), FROM, TO, "x")
    with pytest.raises(ParameterError, match="'value' parameter must be customers or revenue"):
        migrate(toy_log(TOY), FROM, TO).matrix("orders")


@pytest.mark.parametrize(
    ("today", "quarter_end"),
    [
        (dt.datetime(2011, 12, 10), dt.datetime(2011, 10, 1)),
        (dt.datetime(2011, 10, 1), dt.datetime(2011, 7, 1)),  # day before is 30 Sep
        (dt.datetime(2011, 10, 2), dt.datetime(2011, 10, 1)),
        (dt.datetime(2011, 1, 1), dt.datetime(2010, 10, 1)),
    ],
)
def test_last_quarter_end(today, quarter_end):
    assert last_quarter_end(today) == quarter_end


def test_default_dates_and_snapshots():
    tx = toy_log(TOY)
    assert default_dates(tx) == (dt.datetime(2011, 4, 1), dt.datetime(2011, 6, 30))
    assert monthly_snapshots(tx, 3) == [
        dt.datetime(2011, 4, 1),
        dt.datetime(2011, 5, 1),
        dt.datetime(2011, 6, 1),
        dt.datetime(2011, 6, 30),
    ]
    sizes = segment_sizes(tx, [FROM, TO])
    assert sizes.filter(pl.col("date") == FROM.date())["customers"].sum() == 4
    assert sizes.filter(pl.col("date") == TO.date())["customers"].sum() == 5


def test_segment_migration_reuses_the_earlier_segments():
    tx, _ = synthetic_log(600, seed=3)
    from analytics.cleaning import clean_transactions
    from analytics.io import to_canonical

    canonical, _, _ = to_canonical(tx)
    clean, _ = clean_transactions(canonical)
    m = migrate(
        clean,
        dt.datetime(2023, 7, 1),
        dt.datetime(2024, 1, 1),
        "segment",
        segmentation={"n_clusters": 3},
    )
    assert 0.8 <= m.agreement <= 1.0
    earlier = set(m.moves.filter(pl.col("from_segment") != NEW)["from_segment"])
    assert set(m.moves["to_segment"]) <= earlier  # later customers land in earlier segments
    assert len(earlier) == 3
    assert m.order[0] == NEW and len(m.order) == 4
