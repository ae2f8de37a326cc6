"""Scoring an outside customer with a dataset's fitted results (analytics.scoring), on toy frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.predict import QUADRANT_NAMES, Predictions
from analytics.rfm import rfm_table
from analytics.scoring import (
    bought_items,
    nearest_segment,
    quadrant_key,
    quadrant_names,
    relative_rfm,
)


def _features(values: dict[str, list[float]]) -> pl.DataFrame:
    n = len(next(iter(values.values())))
    return pl.DataFrame({"customer_id": [f"c{i}" for i in range(n)], **values})


def test_nearest_segment_picks_the_nearest_centre_in_scaled_space():
    reference = _features({"monetary": [1.0, 2.0, 3.0, 100.0, 101.0, 102.0]})
    labels = np.array([0, 0, 0, 1, 1, 1])
    new = _features({"monetary": [5.0, 60.0, 90.0]})  # centres 2 and 101; 60 is nearer 101
    assigned = nearest_segment(reference, labels, ["monetary"], "standard", new)
    assert assigned.tolist() == [0, 1, 1]


def test_nearest_segment_never_assigns_noise():
    reference = _features({"monetary": [1.0, 2.0, 3.0, 100.0, 101.0, 102.0]})
    labels = np.array([0, 0, 0, -1, -1, -1])
    new = _features({"monetary": [101.0]})
    assert nearest_segment(reference, labels, ["monetary"], "standard", new).tolist() == [0]


def test_nearest_segment_log_scales_like_the_segmentation():
    # log1p: 1 -> 0.69, 10 -> 2.40, 30 -> 3.43, 100 -> 4.62: 10 is nearer 1, 30 nearer 100
    reference = _features({"monetary": [1.0, 1.0, 100.0, 100.0]})
    labels = np.array([0, 0, 1, 1])
    new = _features({"monetary": [10.0, 30.0]})
    assert nearest_segment(reference, labels, ["monetary"], "log-standard", new).tolist() == [0, 1]
    # with plain standard scaling both are nearer 1 than 100
    assert nearest_segment(reference, labels, ["monetary"], "standard", new).tolist() == [0, 0]


def test_relative_rfm_ranks_a_new_customer_among_the_dataset():
    reference = _features(
        {
            "recency_days": [float(v) for v in range(1, 10)],
            "frequency": [float(v) for v in range(1, 10)],
            "monetary": [float(v) for v in range(1, 10)],
        }
    )
    best = pl.DataFrame(
        {"customer_id": ["new"], "recency_days": [0.0], "frequency": [10.0], "monetary": [10.0]}
    )
    row = relative_rfm(reference, best).row(0, named=True)
    assert (row["customer_id"], row["rfm_score"]) == ("new", "555")
    # a customer already in the dataset, posted under their own id, keeps their own scores
    again = reference.filter(pl.col("customer_id") == "c4")
    expected = rfm_table(reference).filter(pl.col("customer_id") == "c4")
    assert relative_rfm(reference, again)["rfm_score"].to_list() == expected["rfm_score"].to_list()


def _predictions(table: pl.DataFrame, threshold: float = 0.5) -> Predictions:
    return Predictions(table, dt.datetime(2024, 1, 1), 90, threshold, "", "", None, None)


@pytest.mark.parametrize(
    ("clv", "churn", "key"),
    [
        (20.0, 0.6, "value_risk"),
        (20.0, 0.4, "value_safe"),
        (15.0, 0.2, "value_safe"),  # the median itself is high value
        (10.0, 0.6, "low_risk"),
        (0.0, 0.1, "low_safe"),
        (None, 0.1, None),
    ],
)
def test_quadrant_key_uses_the_datasets_median_clv_and_threshold(clv, churn, key):
    table = pl.DataFrame({"predicted_clv": [0.0, 10.0, 20.0, 30.0]})  # median 15
    row = {"predicted_clv": clv, "churn_probability": churn}
    assert quadrant_key(row, _predictions(table)) == key


def test_quadrant_names_are_the_datasets_own_with_plain_names_for_empty_quadrants():
    table = pl.DataFrame(
        {"predicted_clv": [1.0], "quadrant_key": ["value_risk"], "quadrant": ["At-Risk Whales"]}
    )
    names = quadrant_names(_predictions(table))
    assert names["value_risk"] == "At-Risk Whales"
    assert names["low_safe"] == QUADRANT_NAMES["low_safe"][1]


def test_bought_items_use_the_datasets_labels_and_skip_returns():
    tx = pl.DataFrame(
        {
            "product_id": ["P1", "P2", "P3", None, "P1"],
            "description": ["mug", "new thing ", None, "no id", "mug"],
            "is_return": [False, False, False, False, True],
        }
    )
    labels = {"P1": "WHITE MUG"}
    assert bought_items(tx, labels) == ["P3", "WHITE MUG", "new thing"]
