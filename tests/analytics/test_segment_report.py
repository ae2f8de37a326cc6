"""The segmentation report: validated settings, one composition for the CLI and the app."""

import numpy as np
import polars as pl
import pytest

from analytics.cleaning import clean_transactions
from analytics.errors import ParameterError
from analytics.features import customer_features
from analytics.io import to_canonical
from analytics.segment_report import SegmentParams, describe_segments, segment_report
from analytics.synthetic import synthetic_log


@pytest.fixture(scope="module")
def planted():
    raw, truth = synthetic_log(1_500, seed=3)
    canonical, _, _ = to_canonical(raw)
    cleaned, _ = clean_transactions(canonical)
    return customer_features(cleaned), truth


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"k": 1}, "The 'k' parameter must be an int in [2, 50]. Got 1 instead."),
        ({"k": 4.5}, "The 'k' parameter must be an int in [2, 50]. Got 4.5 instead."),
        ({"k": True}, "The 'k' parameter must be an int in [2, 50]. Got True instead."),
        ({"k": None}, "The 'k' parameter must be an int in [2, 50]. Got None instead."),
        ({"eps": 0}, "The 'eps' parameter must be a number in (0.0, 100.0]. Got 0.0 instead."),
        ({"scaling": "log"}, "The 'scaling' parameter must be one of 'log-standard', 'standard'"),
        ({"algorithm": "kmedoids"}, "The 'algorithm' parameter must be one of 'kmeans'"),
        ({"features": "monetary"}, "must be a list of feature names. Got 'monetary' instead."),
        ({"min_samples": 0}, "The 'min_samples' parameter must be an int in [1, 10000]"),
        (
            {"min_cluster_size": 1},
            "The 'min_cluster_size' parameter must be an int in [2, 1000000]",
        ),
    ],
)
def test_params_validate_themselves(values, message):
    with pytest.raises(ParameterError) as info:
        SegmentParams(**values)
    assert message in str(info.value)
    assert info.value.parameter == next(iter(values))


def test_params_survive_json_and_normalise_numbers():
    params = SegmentParams(features=["monetary", "frequency"], k=5.0, eps=2)
    assert params.k == 5 and isinstance(params.k, int) and params.eps == 2.0
    assert params.features == ("monetary", "frequency")
    again = SegmentParams.from_dict(params.to_dict())
    assert again == params and again.key() == params.key()
    assert SegmentParams(features=()).features is None
    with pytest.raises(ParameterError, match="Unknown segmentation settings: colour"):
        SegmentParams.from_dict({"k": 4, "colour": "red"})


def test_report_profiles_every_feature_and_names_every_customer(planted):
    features, _ = planted
    params = SegmentParams(features=("recency_days", "frequency", "monetary"), k=4)
    report = segment_report(features, params)
    assert report.features == ["recency_days", "frequency", "monetary"]
    # the profile describes every available feature, not only the clustered ones
    assert {"avg_order_value_mean", "tenure_days_mean"} <= set(report.profile.table.columns)
    assert report.assignments.height == features.height
    assert report.assignments["segment_name"].null_count() == 0
    assert report.coordinates.shape == (features.height, 3)
    assert report.tree is not None and report.tree.depth == 4
    assert sum(report.tree.importance.values()) == pytest.approx(1.0)
    assert set(report.tree.importance) == set(report.features)


def test_tree_accuracy_is_measured_on_customers_it_did_not_see(planted):
    features, truth = planted
    names = ["recency_days", "frequency", "monetary"]
    # segments defined by a threshold on one feature: a tree finds them exactly
    recency = features["recency_days"].to_numpy()
    labels = (recency > np.median(recency)).astype(np.int64)
    tree = describe_segments(features, labels, names)
    # (a customer right at the threshold may fall on either side of the learnt split)
    assert tree.accuracy >= 0.98 and tree.importance["recency_days"] == pytest.approx(1.0)
    assert tree.test_customers == features.height - int(0.75 * features.height)
    # random labels: the tree cannot do much better than chance on unseen customers
    noise = np.random.default_rng(0).integers(0, 2, features.height)
    assert describe_segments(features, noise, names).accuracy < 0.6


def test_one_segment_has_nothing_to_describe(planted):
    features, _ = planted
    labels = np.zeros(features.height, dtype=np.int64)
    labels[:5] = -1  # outliers are left out
    assert describe_segments(features, labels, ["monetary"]) is None


def test_report_does_not_modify_its_input(planted):
    features, _ = planted
    before = features.clone()
    segment_report(features, SegmentParams(k=3))
    assert features.equals(before)
    assert isinstance(before, pl.DataFrame)
