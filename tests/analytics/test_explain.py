import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score  # noqa: F401

from analytics.cleaning import clean_transactions
from analytics.errors import ParameterError
from analytics.explain import (
    SegmentSurrogate,
    describe_value,
    explain_prediction,
    raw_score,
    shap_summary,
    shap_values,
)
from analytics.features import customer_features
from analytics.io import to_canonical
from analytics.predict import predict
from analytics.segmentation import Segmenter
from analytics.synthetic import synthetic_log


@pytest.fixture(scope="module")
def tx():
    log, _ = synthetic_log(1_500, seed=5)
    return clean_transactions(to_canonical(log)[0])[0]


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("recency_days", 213.4, "Last purchase 213 days ago"),
        ("frequency", 1, "1 order so far"),
        ("monetary", 1234.5, "Net spend of £1,234"),
        ("return_rate", 0.125, "12% of spend returned"),
        ("bg_p_alive", 0.8, "80% chance of still being active (BG/NBD)"),
        ("unknown", 2.5, "unknown = 2.50"),
        ("return_rate", -1e-9, "0% of spend returned"),  # never "-0%"
        ("monetary", -0.3, "Net spend of £0"),
        ("monetary", -12.6, "Net spend of -£13"),
    ],
)
def test_business_words(feature, value, text):
    assert describe_value(feature, value) == text


def test_explanations_for_churn_and_clv(tx):
    result = predict(tx, evaluate=False)
    customer = result.scoring.filter(pl.col("customer_id") == result.scoring["customer_id"][0])
    churn = explain_prediction(result.models, customer, "churn")
    assert (
        0 <= churn.prediction <= 1
        and "probability of no purchase in the next 90 days" in churn.label
    )
    assert len(churn.contributions) == 6
    assert all((" raises churn risk" in c.sentence) == (c.weight > 0) for c in churn.contributions)
    expected = result.table.filter(pl.col("customer_id") == customer["customer_id"][0])[
        "churn_probability"
    ][0]
    assert churn.prediction == pytest.approx(expected)
    clv = explain_prediction(result.models, customer, "clv")
    assert clv.prediction == pytest.approx(result.table["predicted_clv"][0])
    assert all(c.sentence.endswith("expected spend") for c in clv.contributions)
    with pytest.raises(ParameterError, match="'target' parameter must be one of"):
        explain_prediction(result.models, customer, "loyalty")
    result.models.clv_choice = "BG/NBD + Gamma-Gamma"
    with pytest.raises(
        ParameterError,
        match="The CLV shown comes from BG/NBD \\+ Gamma-Gamma, which has no per-feature explanation",
    ):
        explain_prediction(result.models, customer, "clv")


def test_segment_surrogate_explains_planted_segments(tx):
    features = customer_features(tx)
    seg = Segmenter(n_clusters=4).fit(features)
    surrogate = SegmentSurrogate().fit(features, seg.labels_, seg.features_)
    assert surrogate.accuracy_ > 0.9
    importance = surrogate.importance()
    assert set(importance) == set(seg.features_) and sum(importance.values()) == pytest.approx(1)
    first = features.head(1)
    explanation = surrogate.explain(first, int(seg.labels_[0]), "Group")
    assert explanation.target == "segment" and len(explanation.contributions) == 6
    assert np.isfinite(explanation.score)


@pytest.mark.parametrize("target", ["churn", "spend", "clv"])
def test_shap_contributions_sum_to_the_model_output(tx, target):
    result = predict(tx, evaluate=False, shap_sample=0)
    models, frame = result.models, result.scoring
    contrib, bias = shap_values(models, frame, target)
    assert contrib.shape == (frame.height, len(models.features))
    raw = raw_score(models, frame, target)
    np.testing.assert_allclose(contrib.sum(axis=1) + bias, raw, rtol=1e-6, atol=1e-6)
    if target == "churn":
        # the calibration folds' boosters, averaged: each is a LightGBM log-odds score
        folds = [c.estimator for c in models.churn_model.calibrated_classifiers_]
        X = frame.select(models.features).to_pandas()
        np.testing.assert_allclose(
            raw, np.mean([f.predict(X, raw_score=True) for f in folds], axis=0), rtol=1e-9
        )
    elif target == "spend":
        offset = np.log(
            np.clip(frame["bg_expected_spend"].to_numpy(), 1, None)
            * np.maximum(1, frame["bg_expected_purchases"].to_numpy())
        )
        np.testing.assert_allclose(
            np.exp(contrib.sum(axis=1) + bias + offset),
            models.spend_given_purchase(frame),
            rtol=1e-6,
        )
    else:
        offset = np.log1p(np.clip(frame["bg_clv"].to_numpy(), 0, None))
        np.testing.assert_allclose(
            np.exp(contrib.sum(axis=1) + bias + offset), models.clv(frame), rtol=1e-6
        )
    summary = shap_summary(models, frame, target, sample=200, top=5)
    assert summary.height == 200 * 5
    ranks = summary.group_by("rank").agg(pl.col("importance").first()).sort("rank")
    assert ranks["importance"].is_sorted(descending=True)
    assert summary["value_pct"].is_between(0, 1).all()


@pytest.mark.parametrize(
    ("value", "orders", "text"),
    [
        (0.0, 1, "One order so far, 0 days ago: no gap between orders yet"),
        (45.0, 1, "One order so far, 45 days ago: no gap between orders yet"),
        (45.0, 3, "An order every 45 days on average"),
        (45.0, None, "An order every 45 days on average"),
    ],
)
def test_gap_between_orders_of_a_one_order_customer(value, orders, text):
    """A one-order customer read "An order every 0 days on average"."""
    assert describe_value("days_between_purchases", value, orders=orders) == text
