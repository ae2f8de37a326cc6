import polars as pl
import pytest

from analytics.baskets import (
    baskets_from_lists,
    baskets_from_transactions,
    cross_sell,
    mine_rules,
    segment_rules,
    top_pairs,
)
from analytics.datasets import data_dir
from analytics.errors import ParameterError
from analytics.io import load_baskets
from tests.conftest import toy_log

# 10 baskets, counted by hand: bread 7, milk 6, butter 4, jam 2
# {bread, milk} 5, {bread, butter} 4, {milk, butter} 2, {bread, milk, butter} 2, {bread, jam} 2
HAND = [
    ["bread", "milk", "butter"],
    ["bread", "milk", "butter"],
    ["bread", "milk"],
    ["bread", "milk"],
    ["bread", "milk", "jam"],
    ["bread", "butter", "jam"],
    ["bread", "butter"],
    ["milk"],
    ["tea"],
    ["tea", "milk"],
]


def rule(rules, antecedents, consequents):
    row = rules.rules.filter(
        (pl.col("antecedents") == antecedents) & (pl.col("consequents") == consequents)
    )
    assert row.height == 1, (antecedents, consequents)
    return row.row(0, named=True)


def test_supports_and_rules_by_hand():
    result = mine_rules(baskets_from_lists(HAND), min_support=0.2, min_confidence=0.5, min_lift=0)
    supports = dict(zip(result.itemsets["itemset"], result.itemsets["support"], strict=True))
    assert supports == {
        "bread": 0.7,
        "milk": 0.7,
        "butter": 0.4,
        "jam": 0.2,
        "tea": 0.2,
        "bread|milk": 0.5,
        "bread|butter": 0.4,
        "butter|milk": 0.2,
        "bread|jam": 0.2,
        "bread|butter|milk": 0.2,
    }
    r = rule(result, "butter", "bread")
    assert r["support"] == pytest.approx(0.4)
    assert r["confidence"] == pytest.approx(1.0)
    assert r["lift"] == pytest.approx(1.0 / 0.7)
    assert r["leverage"] == pytest.approx(0.4 - 0.4 * 0.7)
    assert r["conviction"] == float("inf")
    r = rule(result, "bread", "milk")
    assert r["confidence"] == pytest.approx(5 / 7)
    assert r["lift"] == pytest.approx((5 / 7) / 0.7)
    assert r["conviction"] == pytest.approx((1 - 0.7) / (1 - 5 / 7))
    r = rule(result, "butter|milk", "bread")
    assert (r["support"], r["confidence"]) == (pytest.approx(0.2), pytest.approx(1.0))
    assert "milk|bread" not in set(result.rules["antecedents"])  # items are sorted
    pairs = top_pairs(result)
    assert pairs.row(0) == ("bread", "milk", 0.5, 5)


def test_algorithms_agree_and_min_lift_filters():
    base = baskets_from_lists(HAND)
    fp = mine_rules(base, 0.1, 0.2, 1.01, algorithm="fpgrowth")
    ap = mine_rules(base, 0.1, 0.2, 1.01, algorithm="apriori")
    assert fp.itemsets.equals(ap.itemsets)
    assert fp.rules.equals(ap.rules)
    assert (fp.rules["lift"] >= 1.01).all()


def test_groceries_matches_arules():
    """arules: apriori(Groceries, parameter = list(supp = 0.001, conf = 0.5)) gives 5,668 rules,
    the strongest {Instant food products, soda} => {hamburger meat} with lift 18.996."""
    baskets = baskets_from_lists(load_baskets(data_dir() / "groceries.csv.gz"))
    fp = mine_rules(baskets, 0.001, 0.5, 0, single_consequent=True)
    ap = mine_rules(baskets, 0.001, 0.5, 0, algorithm="apriori", single_consequent=True)
    assert fp.rules.height == 5_668
    assert fp.rules.equals(ap.rules) and fp.itemsets.equals(ap.itemsets)
    top = fp.rules.row(0, named=True)
    assert (top["antecedents"], top["consequents"]) == (
        "Instant food products|soda",
        "hamburger meat",
    )
    assert top["lift"] == pytest.approx(18.9957, abs=1e-4)
    assert top["support"] == pytest.approx(12 / 9835)


def test_baskets_from_transactions():
    tx = toy_log(
        [
            ("A", "1", "2011-01-01 10:00", "P1", 1, 1.0),
            ("A", "1", "2011-01-01 10:00", "P2", 1, 1.0),
            ("A", "1", "2011-01-01 10:00", "POST", 1, 5.0),
            ("B", "2", "2011-01-02 10:00", "P1", 2, 1.0),
            ("B", "C3", "2011-01-03 10:00", "P1", -1, 1.0),
            (None, "4", "2011-01-04 10:00", "P1", 1, 1.0),
            (None, "4", "2011-01-04 10:00", "P2", 1, 1.0),
            (None, "4", "2011-01-04 10:00", "P3", 1, 1.0),
        ]
    )
    baskets = baskets_from_transactions(tx)
    assert baskets.n_baskets == 3 and baskets.excluded_rows == 1
    assert baskets.items == ["P1", "P2", "P3"]
    capped = baskets_from_transactions(tx, max_basket_size=2, min_item_baskets=2)
    # invoice 4 (3 items) is capped; then P2 and P3 are in fewer than 2 baskets
    assert (
        capped.capped_baskets == 1
        and capped.rare_items == 2
        and capped.items == ["P1"]
        and capped.n_baskets == 2
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"min_support": 0},
            "The 'min_support' parameter must be a float in (0, 1]. Got 0 instead.",
        ),
        (
            {"min_support": 1.5},
            "The 'min_support' parameter must be a float in (0, 1]. Got 1.5 instead.",
        ),
        (
            {"min_confidence": -0.1},
            "The 'min_confidence' parameter must be a float in [0, 1]. Got -0.1 instead.",
        ),
        ({"min_lift": -1}, "The 'min_lift' parameter must be a number >= 0. Got -1 instead."),
        (
            {"algorithm": "eclat"},
            "The 'algorithm' parameter must be one of 'fpgrowth', 'apriori'. Got 'eclat' instead.",
        ),
        ({"max_len": 0}, "The 'max_len' parameter must be an int >= 1. Got 0 instead."),
    ],
)
def test_threshold_messages(kwargs, message):
    with pytest.raises(ParameterError) as info:
        mine_rules(baskets_from_lists(HAND), **kwargs)
    assert str(info.value) == message


def test_exploding_support_is_refused_with_a_safer_value(bundled):
    baskets = baskets_from_transactions(bundled.transactions)
    with pytest.raises(
        ParameterError,
        match=r"gives [\d,]+ frequent item pairs in 39,516 baskets.*Use a minimum support of at least 0\.\d+",
    ):
        mine_rules(baskets, 0.0001)


def test_cross_sell_and_segment_rules():
    result = mine_rules(baskets_from_lists(HAND), 0.2, 0.3, 0)
    offers = cross_sell(result, {"butter"})
    assert offers["item"].to_list()[:2] == ["bread", "milk"]
    assert offers.row(0, named=True)["because"] == "butter"
    assert "butter" not in offers["item"].to_list()
    assert cross_sell(result, {"bread", "milk", "butter", "jam"})["item"].to_list() == []
    segment = mine_rules(
        baskets_from_lists([["milk", "bread"], ["milk", "bread"], ["tea"], ["jam"]]), 0.2, 0.3, 0
    )
    stronger = segment_rules(result, segment)
    row = stronger.filter(
        (pl.col("antecedents") == "milk") & (pl.col("consequents") == "bread")
    ).row(0, named=True)
    assert row["lift"] == pytest.approx(2.0)
    assert row["lift_ratio"] == pytest.approx(2.0 / ((5 / 7) / 0.7))
