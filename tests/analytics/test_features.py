import datetime as dt

import polars as pl
import pytest

from analytics import features
from analytics.errors import InsufficientDataError, ParameterError
from analytics.features import (
    FEATURES,
    customer_features,
    default_as_of,
    features_from_aggregates,
)
from tests.conftest import toy_log

ROWS = [
    # customer A: three orders (one with two lines), one return
    ("A", "1", "2011-01-01 10:00", "P1", 2, 10.0),
    ("A", "1", "2011-01-01 10:00", "P2", 1, 5.0),
    ("A", "2", "2011-01-11 10:00", "P1", 1, 10.0),
    ("A", "C3", "2011-01-12 10:00", "P1", -1, 10.0),
    ("A", "4", "2011-01-21 10:00", "P3", 3, 10.0),
    # customer B: one order
    ("B", "5", "2011-01-16 10:00", "P2", 4, 5.0),
    # customer C: two orders, second after the as-of date used below
    ("C", "6", "2011-01-05 10:00", "P1", 1, 100.0),
    ("C", "7", "2011-06-01 10:00", "P1", 1, 100.0),
]


def test_values_for_three_customers():
    tx = toy_log(ROWS)
    f = customer_features(tx, as_of="2011-01-31").sort("customer_id")
    a, b, c = f.iter_rows(named=True)
    assert a["frequency"] == 3
    assert a["monetary"] == pytest.approx(25 + 10 - 10 + 30)
    assert a["avg_order_value"] == pytest.approx(65 / 3)
    assert a["recency_days"] == pytest.approx(9 + 14 / 24)
    assert a["tenure_days"] == pytest.approx(29 + 14 / 24)
    assert a["days_between_purchases"] == pytest.approx(10.0)
    assert a["distinct_products"] == 3
    assert a["return_rate"] == pytest.approx(10 / 65)
    assert a["recent_spend_share"] == pytest.approx(1.0)
    assert a["country"] == "United Kingdom"
    assert b["frequency"] == 1 and b["monetary"] == 20
    assert b["days_between_purchases"] == pytest.approx(b["recency_days"])
    assert c["frequency"] == 1 and c["monetary"] == 100
    assert c["last_purchase"] == dt.datetime(2011, 1, 5, 10)


def test_no_look_ahead():
    tx = toy_log(ROWS)
    cut = dt.datetime(2011, 1, 15)
    full = customer_features(tx, as_of=cut)
    truncated = customer_features(tx.filter(pl.col("invoice_date") < cut), as_of=cut)
    assert full.equals(truncated)
    assert "B" not in full["customer_id"].to_list()


def test_no_look_ahead_on_bundled(bundled):
    tx = bundled.transactions
    cut = dt.datetime(2011, 3, 1)
    full = customer_features(tx, as_of=cut)
    truncated = customer_features(tx.filter(pl.col("invoice_date") < cut), as_of=cut)
    assert full.equals(truncated)
    assert full["last_purchase"].max() < cut


def test_default_as_of_is_day_after_last():
    tx = toy_log(ROWS)
    assert default_as_of(tx) == dt.datetime(2011, 6, 2)
    assert customer_features(tx)["recency_days"].min() == pytest.approx(14 / 24)


def test_minimal_log_counts_rows_as_orders():
    frame = pl.DataFrame(
        {
            "customer_id": ["A", "A", "B"],
            "invoice_date": ["2011-01-01", "2011-01-01", "2011-01-03"],
            "amount": [10.0, 5.0, 4.0],
        }
    )
    from analytics.cleaning import clean_transactions
    from analytics.io import to_canonical

    tx, _ = clean_transactions(to_canonical(frame)[0])
    f = customer_features(tx).sort("customer_id")
    assert f["frequency"].to_list() == [2, 1]
    assert f["distinct_products"].null_count() == 2


def test_features_from_aggregates_by_hand():
    """The derivation both engines share, from one row per customer (given out of order, with a
    column it ignores): the ratios and day counts are checked by hand."""
    aggregates = pl.DataFrame(
        {
            "customer_id": ["B", "A"],
            "first_purchase": [dt.datetime(2011, 1, 16), dt.datetime(2011, 1, 1)],
            "last_purchase": [dt.datetime(2011, 1, 16), dt.datetime(2011, 1, 21)],
            "frequency": [1, 3],
            "monetary": [0.0, 54.0],
            "gross": [0.0, 60.0],
            "returned": [0.0, 6.0],
            "recent": [0.0, 30.0],
            "distinct_products": [1, 2],
            "country": ["France", "Spain"],
            "ignored": [1, 2],
        },
        schema_overrides={"first_purchase": pl.Datetime("us"), "last_purchase": pl.Datetime("us")},
    )
    cutoff = dt.datetime(2011, 1, 31)
    a, b = features_from_aggregates(aggregates, cutoff, True).iter_rows(named=True)
    assert (a["customer_id"], b["customer_id"]) == ("A", "B")
    assert (a["recency_days"], a["tenure_days"]) == (10.0, 30.0)
    assert a["days_between_purchases"] == 10.0  # 20 days over two gaps
    assert (a["avg_order_value"], a["monetary"]) == (20.0, 54.0)
    assert (a["return_rate"], a["recent_spend_share"]) == (0.1, 0.5)
    assert (a["distinct_products"], a["country"]) == (2, "Spain")
    # one order: the gap so far; nothing spent: no share rather than a division by zero
    assert b["days_between_purchases"] == b["recency_days"] == 15.0
    assert (b["return_rate"], b["recent_spend_share"]) == (0.0, 0.0)
    without = features_from_aggregates(aggregates.lazy(), cutoff, False)
    assert without["distinct_products"].null_count() == 2
    assert without.columns == [
        "customer_id",
        *FEATURES,
        "first_purchase",
        "last_purchase",
        "country",
    ]


def test_errors():
    tx = toy_log(ROWS)
    with pytest.raises(
        InsufficientDataError, match="No customer bought anything before 2010-01-01"
    ):
        customer_features(tx, as_of="2010-01-01")
    with pytest.raises(ParameterError, match="as-of date must be written YYYY-MM-DD"):
        customer_features(tx, as_of="31/12/2011")


def test_bundled_features(bundled):
    f = customer_features(bundled.transactions)
    assert f.height == 5_878
    assert f["customer_id"].n_unique() == f.height
    assert f["frequency"].min() >= 1
    assert f.select(pl.col("recent_spend_share").is_between(0, 1).all()).item()


def test_features_are_the_same_every_run(bundled):
    # polars adds floats per group in an order that can change from run to run; the sums are
    # exact decimal sums so the same log always gives the same features, bit for bit
    first = customer_features(bundled.transactions)
    for _ in range(5):
        assert customer_features(bundled.transactions).equals(first)


@pytest.mark.parametrize("rows_per_part", [50_000, 120_000])
def test_features_in_parts_are_the_features_in_one_part(bundled, monkeypatch, rows_per_part):
    # a large log is grouped in parts split by customer (less working memory); every customer's
    # rows are in one part, so the features are the same bit for bit, and so at a past as-of date
    whole = customer_features(bundled.transactions)
    past = customer_features(bundled.transactions, as_of="2011-06-30")
    monkeypatch.setattr(features, "ROWS_PER_PART", rows_per_part)
    assert bundled.transactions.height > 3 * rows_per_part  # several parts
    assert customer_features(bundled.transactions).equals(whole)
    assert customer_features(bundled.transactions, as_of="2011-06-30").equals(past)


def test_features_in_parts_of_a_log_without_invoices(monkeypatch):
    # orders are rows when the log has no invoice ids (numbered within each part)
    tx = toy_log(ROWS).with_columns(invoice_id=pl.lit(None, pl.String))
    whole = customer_features(tx)
    monkeypatch.setattr(features, "ROWS_PER_PART", 2)
    assert customer_features(tx).equals(whole)
    assert whole.sort("customer_id")["frequency"].to_list() == [4, 1, 2]  # A: 4 purchase rows
