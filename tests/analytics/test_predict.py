import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.cleaning import clean_transactions
from analytics.errors import InsufficientDataError, ParameterError
from analytics.io import to_canonical
from analytics.predict import (
    assign_quadrants,
    label_frame,
    lift_table,
    predict,
    quadrant_summary,
    training_cutoffs,
)
from analytics.synthetic import synthetic_log
from tests.conftest import toy_log


@pytest.fixture(scope="module")
def synthetic():
    tx, _ = synthetic_log(1_500, seed=11)
    return clean_transactions(to_canonical(tx)[0])[0]


def test_label_windows_by_hand():
    tx = toy_log(
        [
            ("A", "1", "2011-01-01 10:00", "P", 1, 10.0),
            ("A", "2", "2011-02-05 10:00", "P", 1, 25.0),  # inside [Feb 1, Mar 3)
            ("A", "C3", "2011-02-06 10:00", "P", -1, 5.0),
            ("B", "4", "2011-01-10 10:00", "P", 1, 30.0),
            ("B", "5", "2011-03-10 10:00", "P", 1, 30.0),  # after the window
            (
                "C",
                "6",
                "2011-02-10 10:00",
                "P",
                1,
                30.0,
            ),  # first purchase after the cutoff: not labelled
        ]
    )
    frame = label_frame(tx, dt.datetime(2011, 2, 1), 30).sort("customer_id")
    assert frame["customer_id"].to_list() == ["A", "B"]
    assert frame["churned"].to_list() == [False, True]
    assert frame["future_spend"].to_list() == [20.0, 0.0]
    assert frame["frequency"].to_list() == [1, 1]  # nothing after the cutoff leaks into features


def test_training_cutoffs_leave_room_for_history_and_labels():
    first, end = dt.datetime(2011, 1, 1), dt.datetime(2011, 12, 1)
    cutoffs = training_cutoffs(first, end, 90)
    assert cutoffs[0] == end - dt.timedelta(days=90)
    assert all(c + dt.timedelta(days=90) <= end and (c - first).days >= 60 for c in cutoffs)
    assert training_cutoffs(first, dt.datetime(2011, 5, 1), 90) == []


def test_bundled_models_beat_every_baseline(bundled):
    result = predict(bundled.transactions, horizon_days=90)
    assert result.table.height == 5_878
    assert result.backtest.beats_baselines() == {
        "churn": True,
        "clv_vs_previous_window": True,
        "clv_vs_bgnbd": True,
    }
    assert result.clv_method.startswith("LightGBM")
    assert "won the backtest against BG/NBD" in result.method
    bt = result.backtest
    assert bt.churn["LightGBM"]["roc_auc"] > 0.75
    assert bt.lift["lift"][0] > 1.4
    assert result.table["churn_probability"].is_between(0, 1).all()
    assert (result.table["predicted_clv"] >= 0).all()
    assert set(result.table["quadrant"]) <= {
        "Loyal Champions",
        "At-Risk Whales",
        "New & Promising",
        "Price-Sensitive / low value",
    }


def test_another_threshold_moves_quadrants_and_precision_recall_only(bundled):
    from analytics.predict import with_threshold

    result = predict(bundled.transactions, horizon_days=90)
    strict = with_threshold(result, 0.8)
    assert strict.table["churn_probability"].equals(result.table["churn_probability"])
    assert strict.table["predicted_clv"].equals(result.table["predicted_clv"])

    def at_risk(r):
        return r.table["quadrant"].is_in(["At-Risk Whales", "Price-Sensitive / low value"]).sum()  # noqa: E731

    assert at_risk(strict) < at_risk(result)
    model, before = strict.backtest.churn["LightGBM"], result.backtest.churn["LightGBM"]
    assert model["roc_auc"] == before["roc_auc"] and model["brier"] == before["brier"]
    assert model["precision"] > before["precision"] and model["recall"] < before["recall"]
    assert result.threshold == 0.5 and strict.threshold == 0.8


def test_cutoff_gives_the_same_predictions_as_the_cut_file(synthetic):
    cutoff = dt.datetime(2023, 7, 1)
    full = predict(synthetic, cutoff=cutoff, evaluate=False)
    cut = predict(synthetic.filter(pl.col("invoice_date") < cutoff), cutoff=cutoff, evaluate=False)
    assert full.table.equals(cut.table)
    assert full.cutoff == cutoff


def test_short_history_uses_bgnbd_and_says_so(synthetic):
    recent = synthetic.filter(pl.col("invoice_date") >= dt.datetime(2023, 4, 1))
    result = predict(recent, horizon_days=270)  # nine months of data, a nine-month CLV
    assert result.method.startswith("BG/NBD + Gamma-Gamma: the 274 days of history are too short")
    assert result.backtest is None and "No backtest" in result.backtest_note
    assert result.table["predicted_clv"].is_finite().all()


def test_minimal_log_customer_date_amount(synthetic):
    minimal = synthetic.filter(pl.col("customer_id").is_not_null()).select(
        "customer_id", pl.col("invoice_date").dt.date().cast(pl.String).alias("date"), "amount"
    )
    tx, _ = clean_transactions(to_canonical(minimal, {"invoice_date": "date"})[0])
    result = predict(tx, horizon_days=60)
    assert result.models is not None and "distinct_products" not in result.models.features
    assert result.table.height > 1_000


def test_errors(synthetic):
    with pytest.raises(
        ParameterError,
        match="The 'horizon_days' parameter must be an int in \\[7, 730\\]. Got 3 instead.",
    ):
        predict(synthetic, horizon_days=3)
    with pytest.raises(ParameterError, match="threshold"):
        predict(synthetic, threshold=1.5)
    tiny = synthetic.filter(
        pl.col("customer_id").is_in(
            synthetic["customer_id"].drop_nulls().unique().sort().head(20).implode()
        )
    )
    with pytest.raises(InsufficientDataError, match="predictions need at least 50"):
        predict(tiny)


def test_quadrants_and_lift_by_hand():
    table = pl.DataFrame(
        {
            "customer_id": list("abcd"),
            "churn_probability": [0.1, 0.9, 0.2, 0.8],
            "predicted_clv": [100.0, 90.0, 1.0, 2.0],
            "value_at_risk": [1.0, 2.0, 3.0, 4.0],
        }
    )
    out = assign_quadrants(table, 0.5)
    assert out["quadrant"].to_list() == [
        "Loyal Champions",
        "At-Risk Whales",
        "New & Promising",
        "Price-Sensitive / low value",
    ]
    summary = quadrant_summary(out)
    assert summary["customers"].to_list() == [1, 1, 1, 1]
    lift = lift_table(np.array([1] * 10 + [0] * 10), np.linspace(1, 0, 20))
    assert lift["churn_rate"].to_list()[:5] == [1.0] * 5 and lift["lift"][0] == 2.0
