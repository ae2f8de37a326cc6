import polars as pl
import pytest

from analytics.cohorts import cohort_retention, retention_matrix
from analytics.errors import ParameterError
from analytics.features import customer_features
from tests.conftest import toy_log

# A: Jan, Feb.  B: Jan, then only a return in Mar.  C: Feb, Mar (two lines on one Mar invoice).
TOY = [
    ("A", "1", "2021-01-05", "P", 1, 10.0),
    ("A", "2", "2021-02-10", "P", 2, 10.0),
    ("B", "3", "2021-01-20", "P", 1, 5.0),
    ("B", "C4", "2021-03-02", "P", -1, 5.0),
    ("C", "5", "2021-02-01", "P", 3, 1.0),
    ("C", "6", "2021-03-15", "P", 1, 1.0),
    ("C", "6", "2021-03-15", "Q", 1, 4.0),
]


def test_monthly_cells_counted_by_hand():
    cells = cohort_retention(toy_log(TOY), "month")
    assert cells.columns[:5] == ["cohort", "period_index", "customers", "retention", "revenue"]
    assert cells.select("cohort", "period_index", "customers", "retention", "revenue").rows() == [
        ("2021-01", 0, 2, 1.0, 15.0),  # A 10 + B 5
        ("2021-01", 1, 1, 0.5, 20.0),  # A in February
        ("2021-01", 2, 0, 0.0, 0.0),  # B's return is no purchase
        ("2021-02", 0, 1, 1.0, 3.0),
        ("2021-02", 1, 1, 1.0, 5.0),  # C's two March lines
    ]


def test_quarterly_cells_net_returns_in_the_period():
    cells = cohort_retention(toy_log(TOY), "quarter")
    # A 30, B 5 - 5, C 3 + 5
    assert cells.select("cohort", "period_index", "customers", "retention", "revenue").rows() == [
        ("2021-Q1", 0, 3, 1.0, 38.0)
    ]


def test_matrix_is_a_triangle():
    matrix = retention_matrix(cohort_retention(toy_log(TOY)))
    assert matrix.columns == ["cohort", "cohort_size", "0", "1", "2"]
    assert matrix.row(1) == ("2021-02", 1, 1.0, 1.0, None)
    per_customer = retention_matrix(cohort_retention(toy_log(TOY)), "revenue_per_customer")
    assert per_customer.row(0)[2:] == (7.5, 10.0, 0.0)


def test_bad_period():
    with pytest.raises(
        ParameterError, match="'period' parameter must be one of month, quarter. Got 'week'"
    ):
        cohort_retention(toy_log(TOY), "week")


def test_bundled_first_cohort(bundled):
    cells = cohort_retention(bundled.transactions)
    first = cells.filter(pl.col("cohort") == "2009-12")
    assert first["period_index"].to_list() == list(range(25))  # Dec 2009 .. Dec 2011
    assert first["retention"][0] == 1.0
    assert (cells["customers"] <= cells["cohort_size"]).all()
    buyers = customer_features(bundled.transactions).height
    assert cells.filter(pl.col("period_index") == 0)["customers"].sum() == buyers
