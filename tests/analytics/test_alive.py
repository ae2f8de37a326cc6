import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.alive import (
    HIGH_BELOW,
    LOW_FROM,
    alive_table,
    band_summary,
    band_thresholds,
    churn_band,
    churn_model_band,
    compare_risks,
    last_purchase_note,
    median_wait_days,
    p_alive_history,
)
from analytics.btyd import BetaGeo, btyd_summary
from analytics.errors import DataError, InsufficientDataError
from analytics.features import customer_features
from tests.conftest import toy_log


def fixed_model(r=1.0, alpha=10.0, a=1.0, b=3.0) -> BetaGeo:
    model = BetaGeo()
    model.params_ = {"r": r, "alpha": alpha, "a": a, "b": b}
    return model


TOY = [
    ("A", "1", "2011-01-01 10:00", "P", 1, 10.0),
    ("A", "2", "2011-01-11 10:00", "P", 1, 10.0),
    ("A", "3", "2011-01-21 10:00", "P", 1, 10.0),
    ("B", "4", "2011-01-05 10:00", "P", 1, 30.0),
    ("C", "5", "2011-01-01 10:00", "P", 1, 30.0),
    ("C", "C6", "2011-01-20 10:00", "P", -1, 30.0),  # a return is not a purchase
]


def test_next_order_dates_by_hand():
    """As of 2011-02-01 with r=1, alpha=10: A has x=2, T=31; B x=0, T=27; C x=0, T=31.

    A: (10 + 31) * (2 ** (1/3) - 1) = 10.657 days -> 11 days -> 2011-02-12.
    B: (10 + 27) * (2 ** 1 - 1) = 37 days -> 2011-03-10.  C: 41 days -> 2011-03-14.
    """
    tx = toy_log(TOY)
    result = alive_table(tx, dt.datetime(2011, 2, 1), bgnbd=fixed_model())
    rows = {r["customer_id"]: r for r in result.table.iter_rows(named=True)}
    assert (rows["A"]["x"], rows["A"]["t_x"], rows["A"]["T"]) == (2.0, 20.0, 31.0)
    assert rows["A"]["expected_next_order"] == dt.date(2011, 2, 12)
    assert rows["B"]["expected_next_order"] == dt.date(2011, 3, 10)
    assert rows["C"]["expected_next_order"] == dt.date(2011, 3, 14)
    # P(alive) of A by hand: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x)) ** (r+x))
    expected = 1 / (1 + 1 / (3 + 2 - 1) * (41 / 30) ** 3)
    assert rows["A"]["p_alive"] == pytest.approx(expected, abs=1e-12)
    assert rows["B"]["p_alive"] == 1.0
    assert rows["A"]["churn_band"] == churn_band(expected) == "Medium"
    assert median_wait_days(fixed_model(), [2.0], [31.0])[0] == pytest.approx(
        41 * (2 ** (1 / 3) - 1)
    )


def test_next_order_far_away_is_null():
    tx = toy_log(TOY)
    result = alive_table(tx, dt.datetime(2011, 2, 1), bgnbd=fixed_model(r=0.01, alpha=10.0))
    # one-purchase customers (r + x = 0.01) would wait (alpha + T) * (2 ** 100 - 1) days
    assert result.table["expected_next_order"].to_list() == [dt.date(2011, 2, 18), None, None]


@pytest.mark.parametrize(
    ("p", "band"),
    [
        (0.0, "High"),
        (HIGH_BELOW - 1e-9, "High"),
        (HIGH_BELOW, "Medium"),
        (LOW_FROM - 1e-9, "Medium"),
        (LOW_FROM, "Low"),
        (1.0, "Low"),
    ],
)
def test_bands_follow_thresholds(p, band):
    assert churn_band(p) == band


def test_threshold_words_follow_the_numbers():
    assert band_thresholds() == (
        f"Dropout risk (churn band): High when P(alive) < {round(HIGH_BELOW * 100)}%, Medium from "
        f"{round(HIGH_BELOW * 100)}% to {round(LOW_FROM * 100)}%, Low from {round(LOW_FROM * 100)}%"
    )


def test_p_alive_matches_lifetimes_on_the_bundled_data(bundled):
    import lifetimes

    cutoff = dt.datetime(2011, 6, 1)
    tx = bundled.transactions
    result = alive_table(tx, cutoff)  # unpenalised, as lifetimes with penalizer_coef=0
    summary = btyd_summary(tx, cutoff).to_pandas()
    ref = lifetimes.BetaGeoFitter(penalizer_coef=0.0).fit(
        summary["x"], summary["t_x"], summary["T"]
    )
    theirs = ref.conditional_probability_alive(
        summary["x"].to_numpy(), summary["t_x"].to_numpy(), summary["T"].to_numpy()
    )
    ours = result.table["p_alive"].to_numpy()
    assert np.max(np.abs(ours - np.asarray(theirs))) < 1e-4
    # and with lifetimes' own parameters the formula agrees to rounding
    same = alive_table(tx, cutoff, bgnbd=fixed_model(**ref.params_.to_dict()))
    assert np.max(np.abs(same.table["p_alive"].to_numpy() - np.asarray(theirs))) < 1e-10


def test_history_by_hand():
    tx = toy_log(TOY)
    result = alive_table(tx, dt.datetime(2011, 2, 1), bgnbd=fixed_model())
    history = p_alive_history(tx, "A", result)
    assert history["date"][0] == dt.date(2011, 1, 2)
    assert history["date"][-1] == dt.date(2011, 2, 1)
    on = dict(zip(history["date"].to_list(), history["p_alive"].to_list(), strict=True))
    assert on[dt.date(2011, 1, 11)] == 1.0  # only one purchase day before it
    # on 2011-01-15: x=1, t_x=10, T=14
    assert on[dt.date(2011, 1, 15)] == pytest.approx(1 / (1 + 1 / 3 * (24 / 20) ** 2))
    assert on[dt.date(2011, 2, 1)] == pytest.approx(
        result.table.filter(pl.col("customer_id") == "A")["p_alive"][0]
    )
    assert history.filter("purchase")["date"].to_list() == [
        dt.date(2011, 1, 11),
        dt.date(2011, 1, 21),
    ]
    with pytest.raises(DataError, match="Customer 'Z' bought nothing before 2011-02-01"):
        p_alive_history(tx, "Z", result)


def test_band_summary_and_too_few_customers():
    tx = toy_log(TOY)
    result = alive_table(tx, dt.datetime(2011, 2, 1), bgnbd=fixed_model())
    summary = band_summary(result.table)
    assert summary["customers"].sum() == 3
    with pytest.raises(InsufficientDataError, match="Only 3 customers bought before 2011-02-01"):
        alive_table(tx, dt.datetime(2011, 2, 1))


@pytest.mark.parametrize(
    ("p_alive", "churn", "expected"),
    [
        (
            0.95,
            0.20,
            "The two models agree: BG/NBD puts P(alive) at 95% (Low risk of having dropped "
            "out); the churn model gives a 20% chance of no order in the next 90 days (Low risk).",
        ),
        (
            0.95,
            0.64,
            "The two models disagree: BG/NBD puts P(alive) at 95% (Low risk of having dropped "
            "out); the churn model gives a 64% chance of no order in the next 90 days (Medium "
            "risk). A customer who is still active but buys rarely can go more than 90 days "
            "without an order, so both can be true: expect the next order late rather than never.",
        ),
        (
            0.20,
            0.10,
            "The two models disagree: BG/NBD puts P(alive) at 20% (High risk of having dropped "
            "out); the churn model gives a 10% chance of no order in the next 90 days (Low risk). "
            "BG/NBD reads only the rhythm of purchase days; the churn model also weighs spend, "
            "returns and recent activity, and on those this customer looks likelier to order "
            "again than their rhythm alone suggests.",
        ),
    ],
)
def test_compare_risks_sentence_follows_the_numbers(p_alive, churn, expected):
    assert compare_risks(p_alive, churn, 90) == expected


def test_compare_risks_changes_when_only_the_churn_model_moves():
    agree = compare_risks(0.9, 0.25, 90)
    disagree = compare_risks(0.9, 0.75, 90)
    assert agree.startswith("The two models agree") and "25%" in agree
    assert disagree.startswith("The two models disagree") and "75%" in disagree
    assert "(High risk)" in disagree


@pytest.mark.parametrize(
    ("churn", "band"),
    [(0.0, "Low"), (0.3, "Low"), (0.31, "Medium"), (0.7, "Medium"), (0.71, "High")],
)
def test_churn_model_band_uses_the_bgnbd_cutoffs_on_the_chance_to_order(churn, band):
    assert churn_model_band(churn) == band


def test_last_purchase_note_names_the_same_day_as_the_features():
    """The note's last day is the features' last purchase date, whatever the time of day."""
    tx = toy_log(TOY)
    as_of = dt.datetime(2011, 2, 1)
    alive = alive_table(tx, as_of, bgnbd=fixed_model()).table
    features = customer_features(tx, as_of)
    for cid in ("A", "B"):
        r = alive.filter(pl.col("customer_id") == cid).row(0, named=True)
        last = features.filter(pl.col("customer_id") == cid)["last_purchase"][0]
        note = last_purchase_note(r["x"], r["t_x"], r["T"], as_of)
        assert f"{last:%d %b %Y}" in note, note
    a = alive.filter(pl.col("customer_id") == "A").row(0, named=True)
    assert last_purchase_note(a["x"], a["t_x"], a["T"], as_of) == (
        "3 purchase days, the last on 21 Jan 2011."
    )
    # an as-of instant inside a day (cutoff rounds up to the next day) names the same date
    late = dt.datetime(2011, 1, 31, 15, 0)
    a = alive_table(tx, late, bgnbd=fixed_model()).table.row(0, named=True)
    assert last_purchase_note(a["x"], a["t_x"], a["T"], late).endswith("the last on 21 Jan 2011.")
