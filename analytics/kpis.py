"""Executive KPIs for a period, compared with the period of equal length just before it
(or, when the data start later, with the longest equal earlier window they cover)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl

from analytics.errors import ParameterError
from analytics.features import customer_features
from analytics.rfm import SEGMENT_ORDER, rfm_table

#: The shortest pair of windows worth comparing when history is too short for a full period.
MIN_COMPARE_DAYS = 7


@dataclass(frozen=True)
class Kpi:
    """One headline number with its value in the previous period.

    When the data do not reach back a full period before ``start``, the change compares the
    period's last ``window_days`` days (``window_value``) with the ``window_days`` days before
    them (``previous``): two equal windows that the data cover.
    """

    key: str
    label: str
    value: float
    previous: float | None
    kind: str  # "count", "currency" or "percent"
    higher_is_better: bool = True
    definition: str = ""
    window_days: int | None = None
    window_value: float | None = None

    @property
    def compared(self) -> float:
        """The value the change is measured on (the whole period, or its last window)."""
        return self.value if self.window_days is None else self.window_value

    @property
    def change(self) -> float | None:
        """Relative change against the previous period (None when there is nothing to compare)."""
        if self.previous is None or self.previous == 0:
            return None
        return (self.compared - self.previous) / abs(self.previous)


def invoice_table(tx: pl.DataFrame) -> pl.DataFrame:
    """The log summed per invoice line group: every period number of this module, from far fewer
    rows (the bundled data: about 1.03M lines, 54k groups).

    One row per ``customer_id, invoice_id, invoice_date, is_return`` (and ``country`` when the log
    has one) with the summed ``amount``. Rows without an invoice id stay as they are (each counts
    as its own order), and rows without a customer stay too (the data's first and last day are
    read over every row), so :func:`period_overview` gives the same numbers on this table as on
    the log itself, faster. Customer features (RFM) still need the log.
    """
    keys = ["customer_id", "invoice_id", "invoice_date", "is_return", "country"]
    keys = [c for c in keys if c in tx.columns]
    with_id = pl.col("invoice_id").is_not_null()
    return pl.concat(
        [
            tx.lazy().filter(with_id).group_by(keys).agg(amount=pl.col("amount").sum()),
            tx.lazy().filter(~with_id).select(*keys, "amount"),
        ]
    ).collect()


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
    # one lazy pass per number, collected together: nothing of the million-row log is copied
    known = tx.lazy().filter(pl.col("customer_id").is_not_null())
    period = known.filter(pl.col("invoice_date").is_between(begin, stop, closed="left"))
    orders_key = pl.coalesce(pl.col("invoice_id"), pl.int_range(pl.len()).cast(pl.String))
    per_customer, totals, customers = pl.collect_all(
        [
            period.filter(~pl.col("is_return"))
            .with_columns(order=orders_key)
            .group_by("customer_id")
            .agg(orders=pl.col("order").n_unique()),
            period.select(
                gross=pl.col("amount").filter(~pl.col("is_return")).sum(),
                returned=-pl.col("amount").filter(pl.col("is_return")).sum(),
            ),
            known.filter((pl.col("invoice_date") < stop) & ~pl.col("is_return")).select(
                customers=pl.col("customer_id").n_unique()
            ),
        ]
    )
    active = per_customer.height
    orders = int(per_customer.get_column("orders").sum()) if active else 0
    gross, returned = float(totals.item(0, "gross")), float(totals.item(0, "returned"))
    revenue = gross - returned
    return {
        "customers": float(customers.item(0, "customers")),
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
        "Customers to date",
        "count",
        True,
        "all customers with a purchase up to the end of the period (a running total)",
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
        In the order of :data:`KPI_DEFINITIONS`. When the data do not reach back to the start
        of the previous period, the change compares the period's last ``window_days`` days with
        the ``window_days`` before them (the longest equal windows the data cover, at least
        :data:`MIN_COMPARE_DAYS`); with less history ``previous`` is None.
    """
    previous_start, begin, stop = period_bounds(start, end)
    now = _period_numbers(tx, begin, stop)
    first_day = dt.datetime.combine(tx.get_column("invoice_date").min().date(), dt.time())
    window_days, recent = None, None
    if first_day <= previous_start:
        before = _period_numbers(tx, previous_start, begin)
    else:
        days = min((stop - begin).days, (stop - first_day).days // 2)
        if days >= MIN_COMPARE_DAYS:
            window_days = days
            middle = stop - dt.timedelta(days=days)
            recent = _period_numbers(tx, middle, stop)
            before = _period_numbers(tx, middle - dt.timedelta(days=days), middle)
        else:
            before = None
    return [
        Kpi(
            key,
            label,
            now[key],
            before[key] if before else None,
            kind,
            higher,
            definition,
            window_days,
            recent[key] if recent else None,
        )
        for key, label, kind, higher, definition in KPI_DEFINITIONS
    ]


def monthly_trend(tx: pl.DataFrame, start: dt.date, end: dt.date) -> pl.DataFrame:
    """``month, revenue, active_customers, orders, days, days_in_month, partial`` per month.

    ``days`` counts the days of the month that both the period and the data cover (the data run
    from their first to their last transaction day); a month with fewer days than
    ``days_in_month`` is ``partial``, so a short month is not read as a collapse.
    """
    _, begin, stop = period_bounds(start, end)
    dates = tx.get_column("invoice_date")
    covered_from = max(begin.date(), dates.min().date())
    covered_to = min(stop.date(), dates.max().date() + dt.timedelta(days=1))  # exclusive
    month_end = pl.col("month").dt.offset_by("1mo").dt.date()
    month_start = pl.col("month").dt.date()
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
        .with_columns(
            days=(
                pl.min_horizontal(month_end, pl.lit(covered_to))
                - pl.max_horizontal(month_start, pl.lit(covered_from))
            ).dt.total_days(),
            days_in_month=(month_end - month_start).dt.total_days(),
        )
        .with_columns(partial=pl.col("days") < pl.col("days_in_month"))
        .sort("month")
    )


def top_countries(tx: pl.DataFrame, start: dt.date, end: dt.date, n: int = 10) -> pl.DataFrame:
    """``country, revenue, customers, revenue_share`` for the ``n`` countries with most revenue."""
    _, begin, stop = period_bounds(start, end)
    period = tx.filter(
        pl.col("customer_id").is_not_null()
        & pl.col("invoice_date").is_between(begin, stop, closed="left")
    )
    # rows without a country (or a log without a country column) are not a country
    period = period.filter(pl.col("country").is_not_null())
    total = period.get_column("amount").sum()
    return (
        period.group_by("country")
        .agg(revenue=pl.col("amount").sum(), customers=pl.col("customer_id").n_unique())
        .with_columns(revenue_share=pl.col("revenue") / total if total else pl.lit(0.0))
        .sort("revenue", descending=True)
        .head(n)
    )


def rfm_at_end(tx: pl.DataFrame, end: dt.date) -> pl.DataFrame:
    """Every customer's RFM scores as of midnight after ``end`` (:func:`analytics.rfm.rfm_table`).

    It depends on the end date only, so a caller that changes the start of a period can keep it.
    """
    stop = dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
    return rfm_table(customer_features(tx.filter(pl.col("invoice_date") < stop), stop))


def rfm_period_summary(
    tx: pl.DataFrame, start: dt.date, end: dt.date, rfm: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Customers per RFM segment (scored as of the end of the period) and their revenue in it.

    Returns ``rfm_segment, customers, share, revenue, revenue_share`` in the standard segment order,
    for every customer who bought before the end of the period. ``rfm``: the scores of
    :func:`rfm_at_end` for this ``end``, when the caller has them (computed otherwise).
    """
    _, begin, stop = period_bounds(start, end)
    if rfm is None:
        rfm = rfm_at_end(tx, end)
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


@dataclass(frozen=True)
class Overview:
    """The executive page's numbers for one period (and the report's, once there is one)."""

    kpis: list[Kpi]
    trend: pl.DataFrame
    countries: pl.DataFrame
    rfm: pl.DataFrame


def period_overview(
    tx: pl.DataFrame, start: dt.date, end: dt.date, rfm: pl.DataFrame | None = None
) -> Overview:
    """KPIs against the previous period, the monthly trend, top countries and the RFM mix.

    ``rfm``: :func:`rfm_at_end` for ``end`` when the caller keeps it (a new start date then
    skips the slowest part, the customer features as of the end).
    """
    return Overview(
        kpis=period_kpis(tx, start, end),
        trend=monthly_trend(tx, start, end),
        countries=top_countries(tx, start, end),
        rfm=rfm_period_summary(tx, start, end, rfm),
    )
