import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.anomalies import (
    behaviour_changes,
    drop_reason,
    feature_outliers,
    outlier_reason,
    overdue_reason,
    spike_reason,
)
from analytics.errors import InsufficientDataError
from analytics.features import customer_features
from tests.conftest import toy_log


def steady(customer: str, start: dt.date, every: int, count: int, price: float, tag: str):
    """``count`` orders of one item at ``price``, every ``every`` days from ``start``."""
    return [
        (customer, f"{tag}{i}", f"{start + dt.timedelta(days=every * i)} 00:00", "P", 1, price)
        for i in range(count)
    ]


AS_OF = dt.datetime(2011, 1, 1)  # the recent window is 2010-10-03 .. 2010-12-31


def toy():
    rows = []
    # D: 100 every 30 days from 2010-01-01 to 2010-09-28 (10 orders), then nothing
    rows += steady("D", dt.date(2010, 1, 1), 30, 10, 100.0, "d")
    # S: 10 every 30 days for the same 10 orders, then one order of 1,000 on 2010-12-01
    rows += steady("S", dt.date(2010, 1, 1), 30, 10, 10.0, "s")
    rows += [("S", "s-big", "2010-12-01 00:00", "P", 1, 1000.0)]
    # R: steady 50 every 30 days all year (no change)
    rows += steady("R", dt.date(2010, 1, 1), 30, 12, 50.0, "r")
    return toy_log(rows)


def test_drop_and_spike_counted_by_hand():
    found = behaviour_changes(toy(), AS_OF)
    rows = {(r["customer_id"], r["kind"]): r for r in found.iter_rows(named=True)}
    # history before 2010-10-03: D spent 1,000 over 275 days -> expected 1000/275*90 = 327.27
    d = rows[("D", "spend_drop")]
    assert d["score"] == 1.0
    assert d["reason"] == (
        "Spent nothing in the last 90 days against £327 expected from their own history "
        "(£1,327 a year since Jan 2010)."
    )
    # S: history 100 over 275 days -> expected 32.73; recent 1,000 -> 30.6 times
    s = rows[("S", "spend_spike")]
    assert s["score"] == pytest.approx(1000 / (100 / 275 * 90))
    assert s["reason"] == (
        "Spent £1,000 in the last 90 days, 30.6 times the £33 their own history predicts "
        "(£133 a year since Jan 2010)."
    )
    # R keeps its rhythm: 3 orders in the window against 2.9 expected
    assert not any(c == "R" for c, _ in rows)
    # D's last order was 95 days ago against a 30-day rhythm: 3.2 times, overdue
    o = rows[("D", "overdue")]
    assert o["score"] == pytest.approx(95 / 30)
    assert (
        o["reason"]
        == "No order for 95 days, 3.2 times their usual 30 days between orders (10 orders since Jan 2010)."
    )


@pytest.mark.parametrize(
    ("recent", "expected", "text"),
    [
        (
            100.0,
            400.0,
            "Spent £100 in the last 90 days against £400 expected from their own history (£1,622 a year since Mar 2010): 75% less.",
        ),
        (
            10.0,
            400.0,
            "Spent £10 in the last 90 days against £400 expected from their own history (£1,622 a year since Mar 2010): 98% less.",
        ),
        (
            0.0,
            400.0,
            "Spent nothing in the last 90 days against £400 expected from their own history (£1,622 a year since Mar 2010).",
        ),
        (
            -50.0,
            400.0,
            "Returned more than they bought in the last 90 days (net -£50) against £400 expected from their own history (£1,622 a year since Mar 2010).",
        ),
    ],
)
def test_drop_words_follow_the_numbers(recent, expected, text):
    assert drop_reason(recent, expected, dt.date(2010, 3, 1), 90, "£") == text


def test_spike_and_overdue_words_follow_the_numbers():
    assert spike_reason(900.0, 200.0, dt.date(2010, 3, 1), 90, "$") == (
        "Spent $900 in the last 90 days, 4.5 times the $200 their own history predicts ($811 a year since Mar 2010)."
    )
    assert overdue_reason(120.0, 20.0, 7, dt.date(2011, 2, 1)) == (
        "No order for 120 days, 6.0 times their usual 20 days between orders (7 orders since Feb 2011)."
    )


def test_outlier_words_follow_the_numbers():
    columns = {
        "frequency": np.array([1.0, 2.0, 3.0, 50.0]),
        "monetary": np.array([10.0, 20.0, 30.0, 25.0]),
    }
    row = {"frequency": 50.0, "monetary": 25.0}
    text = outlier_reason(row, columns, {"frequency": 3.0, "monetary": 0.5}, "£", n=2)
    assert text == (
        "Unlike other customers: 50 orders so far (the highest of all customers); "
        "Net spend of £25 (more than 50% of customers)."
    )
    low = outlier_reason(
        {"frequency": 1.0}, {"frequency": columns["frequency"]}, {"frequency": -2.0}, "£", n=1
    )
    assert low == "Unlike other customers: 1 order so far (the lowest of all customers)."


def test_isolation_forest_finds_the_planted_outlier():
    rng = np.random.default_rng(0)
    n = 300
    rows = []
    for i in range(n):
        orders = 2 + int(rng.integers(0, 3))
        rows += [
            (
                f"c{i:03d}",
                f"i{i}-{k}",
                f"2010-0{1 + k}-10 10:00",
                "P",
                1,
                float(rng.uniform(20, 40)),
            )
            for k in range(orders)
        ]
    rows += [
        ("whale", f"w{k}", f"2010-{1 + k % 9:02d}-{1 + k % 27:02d} 10:00", "P", 500, 90.0)
        for k in range(40)
    ]
    features = customer_features(toy_log(rows), dt.datetime(2010, 12, 1))
    found = feature_outliers(features, share=0.01)
    assert found.height == 3
    top = found.row(0, named=True)
    assert top["customer_id"] == "whale" and top["kind"] == "outlier"
    assert "the highest of all customers" in top["reason"]
    with pytest.raises(InsufficientDataError, match="Only 5 customers; outliers need at least 20"):
        feature_outliers(features.head(5))


def test_bundled_anomalies_have_reasons(bundled):
    from analytics.anomalies import find_anomalies

    found = find_anomalies(bundled.transactions)
    assert found.columns == ["customer_id", "kind", "score", "reason"]
    assert set(found["kind"]) == {"spend_drop", "spend_spike", "overdue", "outlier"}
    assert found.filter(pl.col("reason").str.len_chars() < 20).height == 0
