import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score  # noqa: F401

from analytics.cleaning import clean_transactions
from analytics.errors import ParameterError
from analytics.explain import SegmentSurrogate, describe_value, explain_prediction
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
