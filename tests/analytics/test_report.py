"""The executive report's pieces on hand-checkable frames, and the sentences made from numbers."""

import datetime as dt

import polars as pl
import pytest

from analytics.errors import ParameterError
from analytics.kpis import Kpi
from analytics.migration import NEW, Migration
from analytics.report import (
    CohortHighlights,
    check_period,
    cohort_highlights,
    cohort_sentence,
    kpi_sentence,
    migration_highlights,
    migration_sentence,
    money,
    most_at_risk,
    risk_sentence,
    rule_sentence,
)

D = dt.date


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (1100.0, 1000.0, "Revenue: £1,100, up 10.0% on the previous period."),
        (900.0, 1000.0, "Revenue: £900, down 10.0% on the previous period."),
        (1000.0, 1000.0, "Revenue: £1,000, level with the previous period."),
        (1000.0, None, "Revenue: £1,000; there is no earlier period to compare with."),
    ],
)
def test_kpi_sentence_follows_the_numbers(value, previous, expected):
    assert kpi_sentence(Kpi("revenue", "Revenue", value, previous, "currency"), "£") == expected


@pytest.mark.parametrize(
    ("value", "previous", "expected"),
    [
        (0.30, 0.25, "Repeat-customer rate: 30.0%, up 5.0 points on the previous period."),
        (0.20, 0.25, "Repeat-customer rate: 20.0%, down 5.0 points on the previous period."),
    ],
)
def test_rate_changes_in_points(value, previous, expected):
    kpi = Kpi("repeat_rate", "Repeat-customer rate", value, previous, "percent")
    assert kpi_sentence(kpi, "£") == expected


def test_kpi_sentence_names_the_shorter_windows():
    kpi = Kpi("orders", "Orders", 50.0, 40.0, "count", window_days=30, window_value=60.0)
    assert kpi_sentence(kpi, "£") == (
        "Orders: 50, up 50.0% on the 30 days before the period's last 30."
    )


def test_money_rounds_and_signs():
    assert money(1234.4, "$") == "$1,234"
    assert money(-0.2, "£") == "£0"
    assert money(-1500, "£") == "-£1,500"


def test_risk_sentence():
    assert risk_sentence(3, 10, 1234.0, 0.5, 90, "£") == (
        "3 of 10 customers (30.0%) are at or above 50% churn risk; at their past rate they "
        "would spend £1,234 over the next 90 days."
    )
    assert risk_sentence(0, 10, 0.0, 0.6, 90, "£").startswith("No customer is at or above 60%")


def _scores() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "churn_probability": [0.9, 0.4, 0.5, 0.7],
            "revenue_at_risk": [10.0, 0.0, 50.0, 50.0],
            "value_at_risk": [1.0, 0.0, 2.0, 3.0],
        }
    )


def test_most_at_risk_is_the_churn_pages_order():
    top = most_at_risk(_scores(), 0.5, n=3)
    # b is under the threshold; c and d tie on revenue at risk, d has more value at risk
    assert top["customer_id"].to_list() == ["d", "c", "a"]
    assert most_at_risk(_scores(), 0.8, n=None)["customer_id"].to_list() == ["a"]


def _cohorts() -> pl.DataFrame:
    rows = [
        # cohort, index, customers, size
        ("2011-01", 0, 10, 10),
        ("2011-01", 1, 5, 10),
        ("2011-01", 3, 2, 10),
        ("2011-02", 0, 30, 30),
        ("2011-02", 1, 3, 30),
        ("2011-03", 0, 20, 20),  # the data end before its month 1
    ]
    return pl.DataFrame(
        {
            "cohort": [r[0] for r in rows],
            "period_index": [r[1] for r in rows],
            "customers": [r[2] for r in rows],
            "retention": [r[2] / r[3] for r in rows],
            "revenue": [0.0] * len(rows),
            "cohort_size": [r[3] for r in rows],
        }
    )


def test_cohort_highlights_keep_the_periods_cohorts_and_weigh_by_size():
    c = cohort_highlights(_cohorts(), D(2011, 2, 10), D(2011, 3, 31))
    assert c.table["cohort"].to_list() == ["2011-02", "2011-03"]
    assert c.new_customers == 50
    assert c.mean_month_1 == pytest.approx(3 / 30)  # 2011-03 has no month 1 yet
    assert c.all_month_1 == pytest.approx((5 + 3) / (10 + 30))
    assert c.table.filter(pl.col("cohort") == "2011-03")["month_1"][0] is None
    assert cohort_sentence(c) == (
        "50 customers made their first purchase in the period (2 monthly cohorts); 10.0% bought "
        "again in their second month (all cohorts: 20.0%)."
    )


def test_cohort_sentence_without_cohorts():
    empty = CohortHighlights(pl.DataFrame({"cohort": []}), 0, None, None)
    assert cohort_sentence(empty) == "No monthly cohort started in the period."


def test_migration_highlights_count_stayed_moved_and_new():
    moves = pl.DataFrame(
        {
            "customer_id": ["a", "b", "c", "d"],
            "from_segment": ["Champions", "Champions", "Lost", NEW],
            "to_segment": ["Champions", "At Risk", "Lost", "Promising"],
            "revenue": [1.0, 2.0, 0.0, 3.0],
        }
    )
    m = migration_highlights(
        Migration(
            dt.datetime(2011, 1, 1),
            dt.datetime(2011, 4, 1),
            "rfm",
            moves,
            [NEW, "Champions", "At Risk", "Promising", "Lost"],
        )
    )
    assert (m.movers, m.new_customers) == (1, 1)
    assert m.stayed_share == pytest.approx(2 / 3)
    assert migration_sentence(m) == (
        "66.7% of the customers known on 01 Jan 2011 kept their RFM segment to 01 Apr 2011; "
        "1 moved and 1 were new."
    )


def test_rule_sentence():
    rules = pl.DataFrame(
        {
            "antecedents": ["TEA|MUG"],
            "consequents": ["SAUCER"],
            "support": [0.02],
            "confidence": [0.61],
            "lift": [12.34],
        }
    )
    assert rule_sentence(rules) == (
        "Strongest basket rule: customers who buy TEA + MUG also buy SAUCER in 61% of baskets "
        "(12.3× the usual rate)."
    )
    assert rule_sentence(rules.clear()).startswith("No basket rule")


FIRST, LAST = D(2010, 1, 4), D(2011, 12, 9)


def test_check_period_defaults_to_the_overviews_last_12_months():
    assert check_period(FIRST, LAST, None, None) == (D(2010, 12, 10), D(2011, 12, 9))
    assert check_period(FIRST, LAST, D(2011, 1, 1), D(2011, 3, 31)) == (
        D(2011, 1, 1),
        D(2011, 3, 31),
    )


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (D(2011, 1, 1), None, "Give both --start and --end"),
        (D(2011, 3, 1), D(2011, 1, 1), "ends (2011-01-01) before it starts (2011-03-01)"),
        (
            D(2012, 1, 1),
            D(2012, 3, 1),
            "has no data: this log runs from 04 Jan 2010 to 09 Dec 2011",
        ),
    ],
)
def test_check_period_refuses_bad_periods(start, end, message):
    with pytest.raises(ParameterError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_period(FIRST, LAST, start, end)
