import numpy as np
import polars as pl
import pytest

from analytics.cleaning import clean_transactions
from analytics.features import customer_features
from analytics.io import to_canonical
from analytics.profiles import difference_tests, profile_segments
from analytics.segmentation import Segmenter
from analytics.synthetic import synthetic_log

TOY = pl.DataFrame(
    {
        "customer_id": ["a", "b", "c", "d"],
        "recency_days": [10.0, 20.0, 300.0, 400.0],
        "frequency": [10, 20, 1, 1],
        "monetary": [100.0, 300.0, 50.0, 50.0],
    }
)


def test_profile_table_by_hand():
    profile = profile_segments(TOY, [0, 0, 1, 1], ["recency_days", "frequency", "monetary"])
    t = profile.table.sort("segment")
    assert t["customers"].to_list() == [2, 2]
    assert t["share"].to_list() == [0.5, 0.5]
    assert t["revenue"].to_list() == [400.0, 100.0]
    assert t["revenue_share"].to_list() == [0.8, 0.2]
    assert t["monetary_mean"].to_list() == [200.0, 50.0]
    assert t["monetary_ratio"].to_list() == pytest.approx([200 / 125, 50 / 125])
    assert t["frequency_median"].to_list() == [15.0, 1.0]
    assert len(profile.personas) == 2


def test_kruskal_wallis_by_hand():
    frame = pl.DataFrame(
        {"segment": [0, 0, 0, 1, 1, 1], "x": [1.0, 2, 3, 4, 5, 6], "y": [1.0, 2, 1, 2, 1, 2]}
    )
    tests = difference_tests(frame, ["x", "y"]).sort("feature")
    x = tests.row(0, named=True)
    # ranks 1..6, H = 12/(6*7) * (6^2/3 + 15^2/3) - 3*7 = 3.857...
    assert x["h_statistic"] == pytest.approx(27 / 7)
    assert x["epsilon_squared"] == pytest.approx(27 / 7 * 7 / 35)
    assert x["effect"] == "large"
    assert tests.row(1, named=True)["differs"] is False


def test_names_follow_the_data_not_the_label_number():
    tx, truth = synthetic_log(1_500, seed=3)
    features = customer_features(clean_transactions(to_canonical(tx)[0])[0])
    labels = Segmenter(n_clusters=4).fit(features).labels_
    swapped = np.select([labels == 0, labels == 1], [1, 0], labels)
    names = profile_segments(features, labels).names()
    names_swapped = profile_segments(features, swapped).names()
    assert names[0] == names_swapped[1] and names[1] == names_swapped[0]
    by_group = (
        features.select("customer_id")
        .with_columns(name=pl.Series([names[label] for label in labels]))
        .join(truth, on="customer_id")
        .group_by("group")
        .agg(pl.col("name").mode().first())
    )
    majority = dict(by_group.iter_rows())
    assert majority["champions"] == "VIP champions"
    assert majority["newcomers"] == "New customers"
    assert majority["lapsed"] == "Lapsed low spenders"
    assert len(set(names.values())) == 4


def test_outliers_and_unique_names():
    profile = profile_segments(TOY, [-1, 0, 1, 1], ["recency_days", "frequency", "monetary"])
    names = profile.names()
    assert names[-1] == "Outliers"
    assert len(set(names.values())) == len(names)
