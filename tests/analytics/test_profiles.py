import numpy as np
import polars as pl
import pytest

from analytics.cleaning import clean_transactions
from analytics.features import FEATURES, customer_features
from analytics.io import to_canonical
from analytics.profiles import (
    MIXED,
    RETURNER_RATIO,
    RULES,
    VIP_MAX_SHARE,
    difference_tests,
    profile_segments,
)
from analytics.segmentation import OUTLIER, Segmenter
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


def _rule(name: str):
    base = name.split(" (")[0]
    return next(r for r in (*RULES, MIXED) if r.name == base)


def _assert_names_match_numbers(profile) -> None:
    """Every claim a persona's name makes holds on the ratios the profile table shows."""
    for persona in profile.personas:
        if persona.segment == OUTLIER:
            continue
        row = profile.table.filter(pl.col("segment") == persona.segment).row(0, named=True)
        ratios = {f: row[f"{f}_ratio"] for f in FEATURES if row.get(f"{f}_ratio") is not None}
        rule = _rule(persona.name)
        for claim in rule.claims:
            assert claim.holds(ratios), (persona.name, claim, ratios.get(claim.feature))
        assert persona.share <= rule.max_share, (persona.name, persona.share)
        if "(frequent returners)" in persona.name:
            assert ratios["return_rate"] >= RETURNER_RATIO
        if "VIP" in persona.name:
            assert persona.share <= VIP_MAX_SHARE


@pytest.mark.parametrize(
    ("algorithm", "k"),
    [("kmeans", k) for k in (2, 4, 6, 8)] + [("gmm", 4), ("hdbscan", 4)],
)
def test_bundled_persona_names_agree_with_their_numbers(bundled, algorithm, k):
    features = customer_features(bundled.transactions)
    labels = Segmenter(algorithm=algorithm, n_clusters=k).fit(features).labels_
    _assert_names_match_numbers(profile_segments(features, labels))


def _segment_frame(groups: list[tuple[int, dict]]) -> tuple[pl.DataFrame, list[int]]:
    """Customers built from (count, feature values) per segment, labelled 0, 1, ..."""
    rows, labels = [], []
    for segment, (count, values) in enumerate(groups):
        for i in range(count):
            rows.append({"customer_id": f"{segment}-{i}", **values})
            labels.append(segment)
    return pl.DataFrame(rows), labels


VIP = {"recency_days": 5.0, "frequency": 30, "monetary": 3000.0, "avg_order_value": 100.0}
LAPSED = {"recency_days": 300.0, "frequency": 1, "monetary": 40.0, "avg_order_value": 40.0}
MIDDLE = {"recency_days": 60.0, "frequency": 5, "monetary": 400.0, "avg_order_value": 80.0}


def test_swapping_the_data_swaps_the_names():
    frame, labels = _segment_frame([(10, VIP), (40, LAPSED), (50, MIDDLE)])
    names = profile_segments(frame, labels).names()
    assert names[0] == "VIP champions" and names[1] == "Lapsed low spenders"
    swapped, _ = _segment_frame([(10, LAPSED), (40, VIP), (50, MIDDLE)])
    names = profile_segments(swapped, labels).names()
    assert names[0] != "VIP champions" and "VIP" not in names[1]  # 40% is no elite
    assert names[0] == "Lapsed low spenders"


def test_vip_cannot_be_most_customers():
    frame, labels = _segment_frame([(40, VIP), (60, LAPSED)])
    profile = profile_segments(frame, labels)
    assert not any("VIP" in p.name for p in profile.personas)
    _assert_names_match_numbers(profile)


def test_big_average_order_is_not_called_low_spending():
    """The defect: "Lapsed low spenders" whose average order was 5.9x the average."""
    returners = {**LAPSED, "avg_order_value": 2000.0}
    frame, labels = _segment_frame([(2, returners), (49, LAPSED), (49, MIDDLE)])
    profile = profile_segments(frame, labels)
    assert profile.names()[0] != "Lapsed low spenders"
    _assert_names_match_numbers(profile)


def test_recent_big_orders_are_not_called_low_spenders():
    """Recent customers with little net spend but orders far above average are no "low spenders"."""
    recent = {"recency_days": 5.0, "frequency": 1, "monetary": 30.0, "avg_order_value": 30.0}
    frame, labels = _segment_frame([(30, recent), (40, LAPSED), (30, MIDDLE)])
    assert profile_segments(frame, labels).names()[0] == "Recent low spenders"
    big_orders = {**recent, "avg_order_value": 85.0}  # 1.3x the average order
    frame, labels = _segment_frame([(30, big_orders), (40, LAPSED), (30, MIDDLE)])
    profile = profile_segments(frame, labels)
    assert "low spenders" not in profile.names()[0]
    _assert_names_match_numbers(profile)


def test_description_carries_the_ratios_behind_the_name():
    frame, labels = _segment_frame([(10, VIP), (40, LAPSED), (50, MIDDLE)])
    profile = profile_segments(frame, labels)
    vip = next(p for p in profile.personas if p.segment == 0)
    ratio = profile.table.filter(pl.col("segment") == 0)["monetary_ratio"][0]
    assert f"net spend (after returns) {ratio:.2f}×" in vip.description
