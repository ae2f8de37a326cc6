import datetime as dt

import polars as pl
import pytest

from analytics.errors import ParameterError
from analytics.kpis import (
    monthly_trend,
    period_bounds,
    period_kpis,
    rfm_at_end,
    rfm_period_summary,
    top_countries,
)
from tests.conftest import toy_log

ROWS = [
    # previous period: 2011-01-01 .. 2011-01-10
    ("A", "1", "2011-01-01 10:00", "P1", 1, 100.0),
    ("B", "2", "2011-01-05 10:00", "P1", 1, 50.0),
    # current period: 2011-01-11 .. 2011-01-20
    ("A", "3", "2011-01-12 10:00", "P1", 2, 100.0),
    ("A", "4", "2011-01-15 10:00", "P2", 1, 40.0),
    ("A", "C5", "2011-01-16 10:00", "P2", -1, 40.0),
    ("C", "6", "2011-01-18 10:00", "P1", 1, 60.0),
    (None, "7", "2011-01-18 10:00", "P1", 1, 999.0),
]


def test_period_kpis_by_hand():
    kpis = {
        k.key: k for k in period_kpis(toy_log(ROWS), dt.date(2011, 1, 11), dt.date(2011, 1, 20))
    }
    assert kpis["customers"].value == 3 and kpis["customers"].previous == 2
    assert kpis["active_customers"].value == 2 and kpis["active_customers"].previous == 2
    assert kpis["revenue"].value == pytest.approx(200 + 40 - 40 + 60)
    assert kpis["revenue"].previous == pytest.approx(150)
    assert kpis["revenue"].change == pytest.approx(260 / 150 - 1)
    assert kpis["orders"].value == 3
    assert kpis["average_order_value"].value == pytest.approx(300 / 3)
    assert kpis["repeat_rate"].value == pytest.approx(0.5)
    assert kpis["revenue_per_customer"].value == pytest.approx(130)
    assert kpis["returns_rate"].value == pytest.approx(40 / 300)
    assert kpis["returns_rate"].higher_is_better is False


def test_no_previous_period_without_history():
    # 12 days of data: two equal windows would be shorter than MIN_COMPARE_DAYS
    kpis = period_kpis(toy_log(ROWS), dt.date(2011, 1, 1), dt.date(2011, 1, 12))
    assert all(k.previous is None and k.change is None and k.window_days is None for k in kpis)


def test_short_history_compares_equal_windows_it_covers():
    """Data from 1 Jan; period 2-20 Jan: no full previous period, so the last 10 days
    (11-20 Jan) are compared with the 10 days before (1-10 Jan), and the KPI says so."""
    kpis = {k.key: k for k in period_kpis(toy_log(ROWS), dt.date(2011, 1, 2), dt.date(2011, 1, 20))}
    revenue = kpis["revenue"]
    assert revenue.window_days == 10
    assert revenue.value == pytest.approx(310)  # the whole period (2-20 Jan, with B on 5 Jan)
    assert revenue.window_value == pytest.approx(260)  # 11-20 Jan
    assert revenue.previous == pytest.approx(150)  # 1-10 Jan
    assert revenue.change == pytest.approx(260 / 150 - 1)
    assert kpis["active_customers"].window_value == 2
    assert kpis["customers"].label == "Customers to date"


def test_partial_months_are_flagged():
    tx = toy_log(ROWS)
    trend = monthly_trend(tx, dt.date(2011, 1, 1), dt.date(2011, 1, 31))
    # the data run 1-18 Jan: January is covered for 18 of its 31 days
    assert trend.select("days", "days_in_month", "partial").row(0) == (18, 31, True)
    trend = monthly_trend(tx, dt.date(2011, 1, 5), dt.date(2011, 1, 16))
    assert trend.select("days", "partial").row(0) == (12, True)


def test_bundled_last_month_is_partial(bundled):
    trend = monthly_trend(bundled.transactions, dt.date(2010, 12, 10), dt.date(2011, 12, 9))
    december = trend.filter(pl.col("month") == dt.datetime(2011, 12, 1)).row(0, named=True)
    assert (december["days"], december["days_in_month"], december["partial"]) == (9, 31, True)
    assert trend.filter(pl.col("partial")).height == 2  # Dec 2010 from the 10th, Dec 2011
    november = trend.filter(pl.col("month") == dt.datetime(2011, 11, 1))
    assert november["partial"][0] is False


def test_no_country_is_no_country():
    tx = toy_log(ROWS).with_columns(country=pl.lit(None, dtype=pl.String))
    assert top_countries(tx, dt.date(2011, 1, 11), dt.date(2011, 1, 20)).height == 0


def test_period_bounds_and_error():
    assert period_bounds(dt.date(2011, 1, 11), dt.date(2011, 1, 20)) == (
        dt.datetime(2011, 1, 1),
        dt.datetime(2011, 1, 11),
        dt.datetime(2011, 1, 21),
    )
    with pytest.raises(
        ParameterError, match=r"The period ends \(2011-01-01\) before it starts \(2011-01-05\)"
    ):
        period_bounds(dt.date(2011, 1, 5), dt.date(2011, 1, 1))


def test_trend_countries_and_rfm():
    tx = toy_log(ROWS)
    trend = monthly_trend(tx, dt.date(2011, 1, 1), dt.date(2011, 1, 31))
    assert trend.height == 1 and trend["revenue"][0] == pytest.approx(410)
    assert trend["active_customers"][0] == 3
    countries = top_countries(tx, dt.date(2011, 1, 11), dt.date(2011, 1, 20))
    assert countries.row(0, named=True) == {
        "country": "United Kingdom",
        "revenue": 260.0,
        "customers": 2,
        "revenue_share": 1.0,
    }
    rfm = rfm_period_summary(tx, dt.date(2011, 1, 11), dt.date(2011, 1, 20))
    assert rfm["customers"].sum() == 3
    assert rfm["revenue"].sum() == pytest.approx(260)
    # scores kept from an earlier period with the same end give the same summary
    kept = rfm_at_end(tx, dt.date(2011, 1, 20))
    assert rfm_period_summary(tx, dt.date(2011, 1, 15), dt.date(2011, 1, 20), kept).equals(
        rfm_period_summary(tx, dt.date(2011, 1, 15), dt.date(2011, 1, 20))
    )


def test_bundled_last_year(bundled):
    kpis = {
        k.key: k
        for k in period_kpis(bundled.transactions, dt.date(2010, 12, 10), dt.date(2011, 12, 9))
    }
    assert kpis["active_customers"].value == 4_264
    assert kpis["revenue"].value == pytest.approx(7_975_117.70, rel=1e-6)
    assert kpis["revenue"].previous is not None


def test_the_invoice_table_gives_the_log_s_numbers():
    """Every period number of the Overview, from the log summed per invoice (how the app reads a
    period) equals the numbers from the log's lines: returns, a customer's two orders, lines
    without a customer (they still set the data's first day) and lines without an invoice id
    (each its own order)."""
    from polars.testing import assert_frame_equal

    from analytics.kpis import invoice_table, period_overview, rfm_at_end

    day = dt.datetime
    tx = pl.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b", "b", None, "c", "c", "a"],
            "invoice_id": ["1", "1", "2", "3", "R3", "4", None, None, "5"],
            "invoice_date": [
                day(2024, 1, 5),
                day(2024, 1, 5),
                day(2024, 2, 1),
                day(2024, 2, 10),
                day(2024, 2, 12),
                day(2023, 12, 1),
                day(2024, 3, 1),
                day(2024, 3, 1),
                day(2024, 3, 20),
            ],
            "product_id": ["p", "q", "p", "q", "q", "p", "p", "q", "p"],
            "quantity": [1.0, 2.0, 1.0, 3.0, -1.0, 1.0, 1.0, 1.0, 2.0],
            "unit_price": [10.0, 5.0, 10.0, 5.0, 5.0, 10.0, 10.0, 5.0, 10.0],
            "amount": [10.0, 10.0, 10.0, 15.0, -5.0, 10.0, 10.0, 5.0, 20.0],
            "country": ["UK", "UK", "UK", "FR", "FR", "UK", "DE", "DE", "UK"],
            "is_return": [False, False, False, False, True, False, False, False, False],
        }
    )
    invoices = invoice_table(tx)
    assert invoices.height == 8  # invoice 1's two lines are one row; the two id-less lines stay
    start, end = dt.date(2024, 2, 1), dt.date(2024, 3, 31)
    rfm = rfm_at_end(tx, end)
    lines, summed = period_overview(tx, start, end, rfm), period_overview(invoices, start, end, rfm)
    for a, b in zip(lines.kpis, summed.kpis, strict=True):
        assert (a.key, a.value, a.previous) == pytest.approx((b.key, b.value, b.previous))
    got = {k.key: k.value for k in summed.kpis}
    assert got["orders"] == 5  # invoices 2, 3, 5 and the two lines without an id
    assert got["revenue"] == 55.0
    assert_frame_equal(lines.trend, summed.trend)
    assert_frame_equal(lines.countries, summed.countries)
    assert_frame_equal(lines.rfm, summed.rfm)
