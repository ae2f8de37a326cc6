"""Executive KPIs for a period, compared with the period of equal length just before it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from analytics.errors import ParameterError
from analytics.features import customer_features
from analytics.rfm import SEGMENT_ORDER, rfm_table


@dataclass(frozen=True)
class Kpi:
    """One headline number with its value in the previous period."""

    key: str
    label: str
    value: float
    previous: float | None
    kind: str  # "count", "currency" or "percent"
    higher_is_better: bool = True

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (None when there is nothing to compare)."""
        if self.previous is None or self.previous == 0:
            return None
        return (self.value - self.previous) / abs(self.previous)


def period_bounds(start: dt.date, end: dt.date) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """``(previous_start, start, end_exclusive)`` for the inclusive date range ``start..end``."""
    if end < start:
        raise ParameterError(
            f"The period ends ({end:%Y-%m-%d}) before it starts ({start:%Y-%m-%d}). Pick an end "
            "date on or after the start date."
        )
    begin = dt.datetime.combine(start, dt.time())
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    return begin - (stop - begin), begin, stop


def _period_numbers(tx: pl.DataFrame, begin: dt.datetime, stop: dt.datetime) -> dict[str, float]:
    known = tx.filter(pl.col("customer_id").is_not_null())
    period = known.filter(pl.col("invoice_date").is_between(begin, stop, closed="left"))
    purchases = period.filter(~pl.col("is_return"))
    orders_key = pl.coalesce(pl.col("invoice_id"), pl.int_range(pl.len()).cast(pl.String))
    per_customer = (
        purchases.with_columns(order=orders_key)
        .group_by("customer_id")
        .agg(orders=pl.col("order").n_unique())
    )
    active = per_customer.height
    orders = int(per_customer.get_column("orders").sum()) if active else 0
    gross = float(purchases.get_column("amount").sum())
    returned = -float(period.filter(pl.col("is_return")).get_column("amount").sum())
    revenue = gross - returned
    customers = known.filter(pl.col("invoice_date") < stop).filter(~pl.col("is_return"))
    return {
        "customers": float(customers.get_column("customer_id").n_unique()),
        "active_customers": float(active),
        "revenue": revenue,
        "orders": float(orders),
        "average_order_value": gross / orders if orders else 0.0,
        "repeat_rate": float((per_customer.get_column("orders") >= 2).sum()) / active
        if active
        else 0.0,
        "revenue_per_customer": revenue / active if active else 0.0,
        "returns_rate": returned / gross if gross else 0.0,
    }


KPI_DEFINITIONS = (
    (
        "customers",
        "Customers",
        "count",
        True,
        "customers with a purchase up to the end of the period",
    ),
    ("active_customers", "Active customers", "count", True, "customers who bought in the period"),
    ("revenue", "Revenue", "currency", True, "net of returns and cancellations"),
    ("orders", "Orders", "count", True, "distinct invoices"),
    ("average_order_value", "Average order value", "currency", True, "gross sales / orders"),
    ("repeat_rate", "Repeat-customer rate", "percent", True, "active customers with 2+ orders"),
    (
        "revenue_per_customer",
        "Revenue per customer",
        "currency",
        True,
        "revenue / active customers",
    ),
    ("returns_rate", "Returns rate", "percent", False, "returned value / gross sales"),
)


def period_kpis(tx: pl.DataFrame, start: dt.date, end: dt.date) -> list[Kpi]:
    """The eight headline KPIs for ``start..end`` (inclusive) and the period before it.

    Parameters
    ----------
    tx
        A cleaned log (``is_return`` flagged). Rows without a customer id are left out.
    start, end
        Inclusive dates.

    Returns
    -------
    list of Kpi
        In the order of :data:`KPI_DEFINITIONS`. ``previous`` is None when the data do not
        reach back to the start of the previous period.
    """
    previous_start, begin, stop = period_bounds(start, end)
    now = _period_numbers(tx, begin, stop)
    covered = tx.get_column("invoice_date").min().date() <= previous_start.date()
    before = _period_numbers(tx, previous_start, begin) if covered else None
    return [
        Kpi(key, label, now[key], before[key] if before else None, kind, higher)
        for key, label, kind, higher, _ in KPI_DEFINITIONS
    ]


def monthly_trend(tx: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """``month, revenue, active_customers, orders`` per calendar month of the period."""
    _, begin, stop = period_bounds(start, end)
    return (
        tx.filter(
            pl.col("customer_id").is_not_null()
            & pl.col("invoice_date").is_between(begin, stop, closed="left")
        )
        .with_columns(month=pl.col("invoice_date").dt.truncate("1mo"))
        .group_by("month")
        .agg(
            revenue=pl.col("amount").sum(),
            active_customers=pl.col("customer_id").filter(~pl.col("is_return")).n_unique(),
            orders=pl.col("invoice_id").filter(~pl.col("is_return")).n_unique(),
        )
        .sort("month")
    )


def top_countries(tx: pl.DataFrame, start: dt.date, end: dt.date, n: int = 10) -> pl.DataFrame:
    """``country, revenue, customers, revenue_share`` for the ``n`` countries with most revenue."""
    _, begin, stop = period_bounds(start, end)
    period = tx.filter(
        pl.col("customer_id").is_not_null()
        & pl.col("invoice_date").is_between(begin, stop, closed="left")
    )
    total = period.get_column("amount").sum()
    return (
        period.group_by("country")
        .agg(revenue=pl.col("amount").sum(), customers=pl.col("customer_id").n_unique())
        .with_columns(revenue_share=pl.col("revenue") / total if total else pl.lit(0.0))
        .sort("revenue", descending=True)
        .head(n)
    )


def rfm_period_summary(tx: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """Customers per RFM segment (scored as of the end of the period) and their revenue in it.

    Returns ``rfm_segment, customers, share, revenue, revenue_share`` in the standard segment order,
    for every customer who bought before the end of the period.
    """
    _, begin, stop = period_bounds(start, end)
    rfm = rfm_table(customer_features(tx.filter(pl.col("invoice_date") < stop), stop))
    revenue = (
        tx.filter(
            pl.col("customer_id").is_not_null()
            & pl.col("invoice_date").is_between(begin, stop, closed="left")
        )
        .group_by("customer_id")
        .agg(revenue=pl.col("amount").sum())
    )
    order = pl.DataFrame({"rfm_segment": SEGMENT_ORDER, "_order": range(len(SEGMENT_ORDER))})
    summary = (
        rfm.join(revenue, on="customer_id", how="left")
        .group_by("rfm_segment")
        .agg(customers=pl.len(), revenue=pl.col("revenue").fill_null(0).sum())
        .join(order, on="rfm_segment")
        .sort("_order")
        .drop("_order")
    )
    total_revenue = summary.get_column("revenue").sum()
    return summary.with_columns(
        share=pl.col("customers") / summary.get_column("customers").sum(),
        revenue_share=pl.col("revenue") / total_revenue if total_revenue else pl.lit(0.0),
    )
