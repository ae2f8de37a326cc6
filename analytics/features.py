"""Customer features as of a date, computed from a cleaned log with polars expressions.

Only transactions strictly before the as-of instant are used, so features for a past date are what
an analyst would have seen that day (no look-ahead).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import polars as pl

from analytics.errors import InsufficientDataError, ParameterError

#: Numeric customer features, with the business wording used in tables and explanations.
FEATURES: dict[str, str] = {
    "recency_days": "Days since last purchase",
    "frequency": "Orders",
    "monetary": "Net spend (after returns)",
    "avg_order_value": "Average order value",
    "tenure_days": "Days since first purchase",
    "days_between_purchases": "Mean days between orders",
    "distinct_products": "Distinct products bought",
    "return_rate": "Returned share of spend",
    "recent_spend_share": "Share of spend in the last 90 days",
}
PRODUCT_FEATURES = ("distinct_products",)
RECENT_WINDOW_DAYS = 90
_DAY_US = 86_400 * 1_000_000


def _microseconds_to_days(micros: pl.Series) -> pl.Series:
    """Microseconds as days, each correctly rounded (numpy's division): polars 2.1 divides a
    column by a constant with varying rounding (one ulp apart from run to run), and features
    must be the same bit for bit every run."""
    values = micros.cast(pl.Float64).to_numpy() / _DAY_US
    return pl.Series(micros.name, values, dtype=pl.Float64).fill_nan(None)


#: Amounts are summed as decimals with 9 places (exact and independent of the order of addition).
_EXACT = pl.Decimal(38, 9)
#: Rows per part of the per-customer group-by (setting). A log with more rows is split into
#: parts by a hash of the customer id and each part is grouped on its own: a customer's rows are
#: all in one part, so the features are the same, and the group-by's working memory (its
#: per-group distinct counts) is that of one part. Measured with ``benchmarks/bench_pipeline.py``
#: on the 10.2M-row synthetic log: one part peaked 1.8 GB above the log, five parts 0.7 GB, and
#: took less time (4.3 s against 5.8 s).
ROWS_PER_PART = 2_000_000


def default_as_of(transactions: pl.DataFrame) -> dt.datetime:
    """The day after the last transaction, at midnight."""
    last = transactions.get_column("invoice_date").max()
    if last is None:
        raise InsufficientDataError("The log has no dated transactions.")
    return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())


def as_of_datetime(
    value: str | dt.date | dt.datetime | None, transactions: pl.DataFrame
) -> dt.datetime:
    """Turn an as-of argument (ISO text, date or datetime) into a datetime; None means the default."""
    if value is None:
        return default_as_of(transactions)
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    try:
        return dt.datetime.fromisoformat(str(value).strip())
    except ValueError as exc:
        raise ParameterError(
            f"The as-of date must be written YYYY-MM-DD (e.g. 2011-06-30). Got {value!r} instead."
        ) from exc


def customer_features(
    transactions: pl.DataFrame, as_of: str | dt.date | dt.datetime | None = None
) -> pl.DataFrame:
    """One row per customer with the features in :data:`FEATURES` plus dates and country.

    Parameters
    ----------
    transactions
        A cleaned log (:func:`analytics.cleaning.clean_transactions`).
    as_of
        Features describe the customer at this instant; only earlier transactions are used.
        Default: midnight after the last transaction.

    Returns
    -------
    polars.DataFrame
        ``customer_id, recency_days, frequency, monetary, avg_order_value, tenure_days,
        days_between_purchases, distinct_products, return_rate, recent_spend_share,
        first_purchase, last_purchase, country``, sorted by ``customer_id``. Customers whose only
        rows before ``as_of`` are returns are left out (they have no purchase to describe).

        ``days_between_purchases`` is the mean gap between orders; for a one-order customer it is
        the days since that order (the gap so far, a lower bound).
        ``distinct_products`` is null when the log has no product column.

    Raises
    ------
    InsufficientDataError
        When no customer bought anything before ``as_of``.
    """
    cutoff = as_of_datetime(as_of, transactions)
    has_orders, has_products, first = transactions.select(
        pl.col("invoice_id").is_not_null().any(),
        pl.col("product_id").is_not_null().any(),
        pl.col("invoice_date").min(),
    ).row(0)
    countries = transactions.get_column("country").drop_nulls().unique().sort()
    codes = pl.int_range(countries.len(), dtype=pl.UInt32, eager=True)
    before = pl.col("customer_id").is_not_null() & (pl.col("invoice_date") < cutoff)
    rows = transactions.lazy().filter(before)
    per_customer = _in_parts(
        transactions, before, lambda part: _per_customer(part, cutoff, has_orders, countries, codes)
    )
    # the most frequent country, ties broken alphabetically; most customers have one, so the
    # count runs only for those with several
    several = per_customer.filter(pl.col("_country_low") != pl.col("_country_high"))
    modes = (
        rows.filter(pl.col("customer_id").is_in(several.get_column("customer_id").implode()))
        .group_by("customer_id")
        .agg(_mode=pl.col("country").drop_nulls().mode().sort().first())
        .collect()
    )
    features = _finish(per_customer, modes, cutoff, has_products, countries, codes)
    if features.height == 0:
        raise no_buyers(cutoff, first)
    return features


def _in_parts(
    transactions: pl.DataFrame,
    keep: pl.Expr,
    per_customer: Callable[[pl.LazyFrame], pl.LazyFrame],
) -> pl.DataFrame:
    """``per_customer`` of the rows of ``transactions`` where ``keep`` holds, collected in parts
    of about :data:`ROWS_PER_PART` rows; every row of a customer is in the same part (split by a
    hash of the id), so the parts' results are disjoint and together the whole result."""
    parts = -(-transactions.height // ROWS_PER_PART)
    if parts <= 1:
        return per_customer(transactions.lazy().filter(keep)).collect()
    split = transactions.with_columns(
        _part=(pl.col("customer_id").hash(seed=0) % parts).cast(pl.UInt16)
    ).lazy()
    return pl.concat(
        [per_customer(split.filter(keep & (pl.col("_part") == i))).collect() for i in range(parts)]
    )


def _per_customer(
    rows: pl.LazyFrame,
    cutoff: dt.datetime,
    has_orders: bool,
    countries: pl.Series,
    codes: pl.Series,
) -> pl.LazyFrame:
    """One group-by per customer computing every feature's ingredients.

    Purchases-only figures aggregate values masked to null outside purchases (polars aggregates
    those without per-group work); countries are grouped as their position in the sorted list of
    the log's countries (cheaper than comparing text).
    """
    recent_from = cutoff - dt.timedelta(days=RECENT_WINDOW_DAYS)
    order_key = pl.col("invoice_id") if has_orders else pl.col("_row")
    if not has_orders:
        rows = rows.with_row_index("_row")
    purchase = ~pl.col("is_return")
    on_purchase = lambda expr: pl.when(purchase).then(expr)  # noqa: E731
    # Sums are exact decimal sums (of amounts to 1e-9): polars adds floats per group in an order
    # that changes from run to run in its fast group-by, and features must be reproducible.
    exact = lambda expr: expr.cast(_EXACT).sum()  # noqa: E731
    amount = pl.col("amount")
    country = pl.col("country").replace_strict(countries, codes, default=None)
    return (
        rows.group_by("customer_id")
        .agg(
            first_purchase=on_purchase(pl.col("invoice_date")).min(),
            last_purchase=on_purchase(pl.col("invoice_date")).max(),
            frequency=order_key.filter(purchase).n_unique().cast(pl.Int64),
            _gross=exact(on_purchase(amount)),
            _returns=exact(pl.when(~purchase).then(amount)),
            _recent=exact(pl.when(purchase & (pl.col("invoice_date") >= recent_from)).then(amount)),
            distinct_products=pl.col("product_id").filter(purchase).drop_nulls().n_unique(),
            _country_low=country.min(),
            _country_high=country.max(),
        )
        .filter(pl.col("frequency") > 0)
    )


def _finish(
    per_customer: pl.DataFrame,
    modes: pl.DataFrame,
    cutoff: dt.datetime,
    has_products: bool,
    countries: pl.Series,
    codes: pl.Series,
) -> pl.DataFrame:
    """The exact sums as floats and each customer's country, then the features."""
    aggregates = (
        per_customer.lazy()
        .join(modes.lazy(), on="customer_id", how="left")
        .with_columns(
            monetary=(pl.col("_gross") + pl.col("_returns")).cast(pl.Float64),
            gross=pl.col("_gross").cast(pl.Float64),
            returned=(-pl.col("_returns")).cast(pl.Float64),
            recent=pl.col("_recent").cast(pl.Float64),
            country=pl.coalesce(
                "_mode", pl.col("_country_low").replace_strict(codes, countries, default=None)
            ),
        )
    )
    return features_from_aggregates(aggregates, cutoff, has_products)


def features_from_aggregates(
    aggregates: pl.DataFrame | pl.LazyFrame, cutoff: dt.datetime, has_products: bool
) -> pl.DataFrame:
    """The features of :func:`customer_features` from one row of aggregates per customer.

    Every engine reduces the log to this table its own way (polars here, Spark in
    :mod:`analytics.engines.spark`); the ratios and day counts are derived from it here only.

    Parameters
    ----------
    aggregates
        One row per customer who bought before ``cutoff``: ``customer_id``,
        ``first_purchase`` and ``last_purchase`` (``Datetime("us")``, purchases only),
        ``frequency`` (orders), ``monetary`` (net spend), ``gross`` (spend on purchases),
        ``returned`` (returned spend, positive), ``recent`` (purchases in the
        :data:`RECENT_WINDOW_DAYS` before ``cutoff``), ``distinct_products`` and ``country``.
        Other columns are ignored.
    cutoff
        The as-of instant the day counts are measured to.
    has_products
        Whether the log has a product column (else ``distinct_products`` is null).

    Returns
    -------
    polars.DataFrame
        The columns of :func:`customer_features`, sorted by ``customer_id``.
    """

    def days(expr: pl.Expr) -> pl.Expr:
        return expr.dt.total_microseconds().map_batches(_microseconds_to_days, pl.Float64)

    return (
        aggregates.lazy()
        .with_columns(
            recency_days=days(pl.lit(cutoff) - pl.col("last_purchase")),
            tenure_days=days(pl.lit(cutoff) - pl.col("first_purchase")),
        )
        .with_columns(
            avg_order_value=pl.col("gross") / pl.col("frequency"),
            days_between_purchases=pl.when(pl.col("frequency") > 1)
            .then(
                days(pl.col("last_purchase") - pl.col("first_purchase")) / (pl.col("frequency") - 1)
            )
            .otherwise(pl.col("recency_days")),
            return_rate=pl.when(pl.col("gross") > 0)
            .then(pl.col("returned") / pl.col("gross"))
            .otherwise(0.0),
            recent_spend_share=pl.when(pl.col("gross") > 0)
            .then(pl.col("recent") / pl.col("gross"))
            .otherwise(0.0),
            distinct_products=pl.when(pl.lit(has_products)).then(
                pl.col("distinct_products").cast(pl.Int64)
            ),
        )
        .select("customer_id", *FEATURES, "first_purchase", "last_purchase", "country")
        .sort("customer_id")
        .collect()
    )


def no_buyers(cutoff: dt.datetime, first: dt.datetime | None) -> InsufficientDataError:
    """The error for an as-of date before every purchase (``first``: the log's first date)."""
    since = f"the data's first purchase is {first:%Y-%m-%d}" if first else "the log is empty"
    return InsufficientDataError(
        f"No customer bought anything before {cutoff:%Y-%m-%d}. Choose a later date ({since})."
    )


def numeric_feature_names(features: pl.DataFrame) -> list[str]:
    """Names of the numeric features present (non-null) in a features frame."""
    return [
        name
        for name in FEATURES
        if name in features.columns and features.get_column(name).null_count() < features.height
    ]
