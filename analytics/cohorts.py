"""Cohort retention: customers grouped by the period of their first purchase, followed over time.

A customer's cohort is the month (``YYYY-MM``) or quarter (``YYYY-Qn``) of their first purchase
(returns do not count as purchases). For every later period up to the end of the data, a cell
counts the cohort's customers who bought in that period, their share of the cohort, and their net
spend in that period (returns in the period are netted in).
"""

from __future__ import annotations

import polars as pl

from analytics.errors import InsufficientDataError, ParameterError

PERIODS = ("month", "quarter")


def _period_number(period: str) -> pl.Expr:
    """Periods counted from year 0, so a difference of two numbers is a period index."""
    date = pl.col("invoice_date")
    if period == "month":
        return date.dt.year().cast(pl.Int64) * 12 + date.dt.month().cast(pl.Int64) - 1
    return date.dt.year().cast(pl.Int64) * 4 + date.dt.quarter().cast(pl.Int64) - 1


def _period_label(period: str, number: pl.Expr) -> pl.Expr:
    if period == "month":
        return pl.format(
            "{}-{}",
            (number // 12).cast(pl.String),
            (number % 12 + 1).cast(pl.String).str.zfill(2),
        )
    return pl.format("{}-Q{}", (number // 4).cast(pl.String), (number % 4 + 1).cast(pl.String))


def cohort_retention(transactions: pl.DataFrame, period: str = "month") -> pl.DataFrame:
    """The cohort triangle as a long table.

    Parameters
    ----------
    transactions
        A cleaned log (:func:`analytics.cleaning.clean_transactions`).
    period : {"month", "quarter"}
        Length of a cohort and of a step along its life.

    Returns
    -------
    polars.DataFrame
        ``cohort, period_index, customers, retention, revenue, cohort_size``, one row per cohort
        and period index from 0 (the first period) up to the last period of the data, sorted by
        cohort and index. ``customers`` counts distinct cohort customers with a purchase in that
        period, ``retention = customers / cohort_size`` (1.0 at index 0), ``revenue`` is those
        customers' net spend in that period. Cells with no buyer have 0 customers and 0 revenue.

    Raises
    ------
    ParameterError
        ``period`` is not ``"month"`` or ``"quarter"``.
    InsufficientDataError
        No identified customer bought anything.
    """
    if period not in PERIODS:
        raise ParameterError(
            f"The 'period' parameter must be one of {', '.join(PERIODS)}. Got {period!r} instead."
        )
    rows = (
        transactions.lazy()
        .filter(pl.col("customer_id").is_not_null())
        .select("customer_id", "amount", "is_return", number=_period_number(period))
    )
    per_period = (
        rows.group_by("customer_id", "number")
        .agg(bought=(~pl.col("is_return")).any(), spend=pl.col("amount").sum())
        .filter(pl.col("bought"))
        .collect()
    )
    if per_period.height == 0:
        raise InsufficientDataError(
            "No identified customer bought anything, so there are no cohorts."
        )
    last = int(transactions.select(_period_number(period).max()).item())
    firsts = per_period.group_by("customer_id").agg(first=pl.col("number").min())
    cells = (
        per_period.join(firsts, on="customer_id")
        .group_by("first", "number")
        .agg(customers=pl.len().cast(pl.Int64), revenue=pl.col("spend").sum())
    )
    sizes = firsts.group_by("first").agg(cohort_size=pl.len().cast(pl.Int64))
    grid = (
        sizes.with_columns(number=pl.int_ranges(pl.col("first"), last + 1))
        .explode("number")
        .join(cells, on=["first", "number"], how="left")
        .with_columns(pl.col("customers").fill_null(0), pl.col("revenue").fill_null(0.0))
    )
    return grid.sort("first", "number").select(
        cohort=_period_label(period, pl.col("first")),
        period_index=(pl.col("number") - pl.col("first")).cast(pl.Int64),
        customers="customers",
        retention=pl.col("customers") / pl.col("cohort_size"),
        revenue="revenue",
        cohort_size="cohort_size",
    )


def retention_matrix(cohorts: pl.DataFrame, value: str = "retention") -> pl.DataFrame:
    """Cohorts as rows and period indexes as columns (``"0", "1", ...``), for a heatmap.

    ``value`` is any numeric column of :func:`cohort_retention`, or ``"revenue_per_customer"``
    (revenue divided by the cohort size).
    """
    frame = cohorts.with_columns(revenue_per_customer=pl.col("revenue") / pl.col("cohort_size"))
    return frame.pivot(
        on="period_index", index=["cohort", "cohort_size"], values=value, sort_columns=True
    ).sort("cohort")
