import re
from pathlib import Path

import polars as pl
import pytest

from analytics.baskets import (
    ALGORITHMS,
    ESTIMATE_SECONDS,
    MAX_ITEMSETS,
    MAX_RULE_CANDIDATES,
    baskets_from_lists,
    baskets_from_transactions,
    cross_sell,
    estimate_output,
    mine_rules,
    rederive_rules,
    rules_from_itemsets,
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
    # invoice 4 (3 items) is capped, and P3 with it (in no other basket); then P2 is in fewer
    # than 2 baskets (P3 was counted as "in fewer than 2 baskets" too, contradicting min 1)
    assert (
        capped.capped_baskets == 1
        and capped.capped_items == 1
        and capped.rare_items == 1
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


def test_basket_size_cap_message():
    with pytest.raises(ParameterError) as info:
        baskets_from_lists(HAND, max_basket_size=0)
    assert str(info.value) == "The 'max_basket_size' parameter must be an int >= 1. Got 0 instead."


def test_exploding_support_is_refused_with_a_safer_value(bundled):
    """At 0.2% the bundled baskets hold 197,573 itemsets (2,083,478 candidate rules): refused
    before mining, with a support and a max_len that fit the ceilings."""
    baskets = baskets_from_transactions(bundled.transactions)
    with pytest.raises(ParameterError) as info:
        mine_rules(baskets, 0.002, estimate_seconds=600)  # time-independent on a busy machine
    message = str(info.value)
    assert message.startswith(
        "A minimum support of 0.002 gives 197,573 frequent itemsets and 2,083,478 candidate "
        "rules in 39,516 baskets (ceilings: 200,000 itemsets, 1,000,000 candidate rules)."
    )
    assert re.search(r"use a minimum support of at least 0\.0\d+", message)
    assert "limit itemsets to max_len=3 items" in message


def test_estimate_counts_itemsets_of_every_length_by_hand():
    # support 0.1 = one basket: 5 items, 7 pairs, 3 triples (see HAND);
    # candidate rules 7 x 2 + 3 x 6 = 32, with one-item consequents 7 x 2 + 3 x 3 = 23
    estimate = estimate_output(baskets_from_lists(HAND), 0.1)
    assert estimate.complete and estimate.itemsets_by_size == {1: 5, 2: 7, 3: 3}
    assert (estimate.itemsets, estimate.rule_candidates(), estimate.rule_candidates(True)) == (
        15,
        32,
        23,
    )
    assert not estimate_output(baskets_from_lists(HAND), 0.1, seconds=0).complete


def test_an_estimate_out_of_time_is_refused():
    with pytest.raises(ParameterError) as info:
        mine_rules(baskets_from_lists(HAND), 0.1, estimate_seconds=0)
    assert str(info.value) == (
        "Counting the frequent itemsets at a minimum support of 0.1 in 10 baskets did not finish "
        "within 0 s, so mining them would take too long and too much memory. To mine safely, use "
        "a higher minimum support or a shorter max_len."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            # at 0.2: 10 itemsets (too many); at 0.4: bread, milk, butter + 2 pairs = 5
            {"max_itemsets": 9},
            "A minimum support of 0.1 gives 15 frequent itemsets and 32 candidate rules in 10 "
            "baskets (ceilings: 9 itemsets, 1,000,000 candidate rules). To mine safely, use a "
            "minimum support of at least 0.4.",
        ),
        (
            # at 0.2: 4 pairs x 2 + 1 triple x 6 = 14 candidates; max_len=2 at 0.1: 7 x 2 = 14
            {"max_rule_candidates": 15},
            "A minimum support of 0.1 gives 15 frequent itemsets and 32 candidate rules in 10 "
            "baskets (ceilings: 200,000 itemsets, 15 candidate rules). To mine safely, use a "
            "minimum support of at least 0.2, or keep the support and limit itemsets to "
            "max_len=2 items.",
        ),
    ],
)
def test_output_ceilings_refuse_with_advice(kwargs, message):
    with pytest.raises(ParameterError) as info:
        mine_rules(baskets_from_lists(HAND), 0.1, **kwargs)
    assert str(info.value) == message


def test_ceilings_are_settings():
    assert (MAX_ITEMSETS, MAX_RULE_CANDIDATES, ESTIMATE_SECONDS) == (200_000, 1_000_000, 10.0)


GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def test_bundled_itemsets_and_rules_unchanged(bundled):
    """Exactly what mlxtend 0.25 fpgrowth + association_rules gave (tests/golden/README.md)."""
    baskets = baskets_from_transactions(bundled.transactions)
    for algorithm in ALGORITHMS:
        result = mine_rules(baskets, 0.01, 0.3, 0.0, algorithm=algorithm)
        assert result.itemsets.height == 1_342
        assert result.itemsets.equals(pl.read_parquet(GOLDEN / "bundled_itemsets_s0.01.parquet"))
        assert result.rules.equals(pl.read_parquet(GOLDEN / "bundled_rules_s0.01_c0.3.parquet"))


def test_groceries_multi_consequent_rules_unchanged():
    baskets = baskets_from_lists(load_baskets(data_dir() / "groceries.csv.gz"))
    result = mine_rules(baskets, 0.001, 0.5, 0.0)
    assert (result.itemsets.height, result.rules.height) == (13_492, 5_829)
    assert result.itemsets.equals(pl.read_parquet(GOLDEN / "groceries_itemsets_s0.001.parquet"))
    assert result.rules.equals(pl.read_parquet(GOLDEN / "groceries_rules_s0.001_c0.5.parquet"))


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


@pytest.mark.parametrize(("confidence", "lift"), [(0.5, 0.0), (0.2, 1.5), (0.9, 3.0), (0.0, 0.0)])
def test_rules_rederived_from_mined_itemsets_equal_a_new_mining(confidence, lift):
    baskets = baskets_from_lists(load_baskets(data_dir() / "groceries.csv.gz"))
    mined = mine_rules(baskets, 0.002, 0.3, 1.0)
    again = rederive_rules(mined, confidence, lift)
    fresh = mine_rules(baskets, 0.002, confidence, lift)
    assert again.itemsets.equals(fresh.itemsets)
    assert again.rules.equals(fresh.rules)
    assert (again.min_confidence, again.min_lift) == (confidence, lift)


def test_rederive_checks_its_thresholds():
    mined = mine_rules(baskets_from_lists(HAND), 0.2, 0.3, 0)
    with pytest.raises(ParameterError, match="'min_confidence' parameter must be a float in"):
        rederive_rules(mined, 1.5, 1.0)


@pytest.mark.parametrize("single_consequent", [False, True])
def test_rules_from_another_engines_itemsets_equal_a_mining(single_consequent):
    """What the Spark engine does with the itemsets it brings back gives mine_rules' rules."""
    baskets = baskets_from_lists(load_baskets(data_dir() / "groceries.csv.gz"))
    mined = mine_rules(baskets, 0.005, 0.2, 1.1, single_consequent=single_consequent)
    again = rules_from_itemsets(
        mined.itemsets,
        baskets.n_baskets,
        0.005,
        0.2,
        1.1,
        "fpgrowth",
        single_consequent=single_consequent,
    )
    assert mined.rules.height > 100
    assert again.rules.equals(mined.rules)
    assert again.itemsets is mined.itemsets
    assert (again.n_baskets, again.min_support, again.min_confidence, again.min_lift) == (
        mined.n_baskets,
        0.005,
        0.2,
        1.1,
    )
    multi = mined.rules.filter(pl.col("consequent_items").list.len() > 1).height
    assert (multi == 0) if single_consequent else (multi > 0)
