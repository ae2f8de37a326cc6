"""The Spark engine: transaction-level work on a Spark cluster, for logs beyond one host.

Reading (a Parquet file or a directory of Parquet files), cleaning, customer features and basket
mining (Spark MLlib's FP-Growth) run as Spark jobs on the cluster named by
``SEGMENTA_SPARK_MASTER`` (default ``local[*]``). Only the per-customer table (one row per
customer) and the frequent itemsets come back to this process, through Arrow, as polars frames; the
same downstream code (RFM, segments, profiles, rules) then runs on them as with the polars engine.

Every rule reproduces the polars engine exactly (:mod:`analytics.cleaning`,
:mod:`analytics.features`, :mod:`analytics.baskets`); ``tests/analytics/test_spark_engine.py``
compares the two on the bundled data: the cleaning report's counts, the features to 1e-9, and the
same itemsets and rules.

This module imports pyspark (``pip install -r requirements-spark.txt``; Spark 4 needs Java 17+):
import it only when the Spark engine is chosen.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from analytics.baskets import (
    MAX_ITEMSETS,
    NON_PRODUCT_CODES,
    NON_PRODUCT_PATTERN,
    Rules,
    check_max_basket_size,
    check_mining_arguments,
    itemsets_table,
    min_count,
    rules_from_itemsets,
)
from analytics.cleaning import (
    MAX_ABS_AMOUNT,
    MAX_ABS_QUANTITY,
    MAX_ABS_UNIT_PRICE,
    MIN_DATE,
    CleaningReport,
    CleaningStep,
    no_purchases,
)
from analytics.errors import DataError, InsufficientDataError, ParameterError, SegmentaError
from analytics.features import (
    RECENT_WINDOW_DAYS,
    as_of_datetime,
    features_from_aggregates,
    no_buyers,
)
from analytics.schema import CANONICAL, NUMERIC, resolve_columns

try:
    from pyspark.sql import DataFrame, SparkSession, Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T
except ImportError as error:  # pragma: no cover - depends on the installation
    raise SegmentaError(
        "The Spark engine needs pyspark, which is not installed. Install it with "
        "`pip install -r requirements-spark.txt` (and Java 17 or later), or use the default "
        "polars engine."
    ) from error

DEFAULT_MASTER = "local[*]"
#: JVM options of the driver and executors: room for FP-Growth's deep trees.
JVM_OPTIONS = "-Xss64m"
#: Spark types of the canonical columns (dates are timestamps without a time zone, as polars').
_SPARK_TYPES = {
    pl.String(): T.StringType(),
    pl.Float64(): T.DoubleType(),
    pl.Datetime("us"): T.TimestampNTZType(),
}
_STRIP = r"(?U)^\s+|\s+$"  # polars' str.strip_chars(): Unicode white space at both ends


def spark_session(master: str | None = None, **conf: str) -> SparkSession:
    """The Spark session of this process, on ``master`` (default ``SEGMENTA_SPARK_MASTER``).

    Arrow carries results back to Python; the session time zone is UTC so timestamps (stored
    without a zone, as polars stores them) mean the same instant everywhere. ``conf`` adds
    Spark settings (e.g. ``{"spark.sql.shuffle.partitions": "4"}``).

    Raises
    ------
    SegmentaError
        When Spark cannot start (usually: no Java 17+ on this host).
    """
    master = master or os.environ.get("SEGMENTA_SPARK_MASTER") or DEFAULT_MASTER
    builder = (
        SparkSession.builder.master(master)
        .appName("segmenta")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.session.timeZone", "UTC")
        # MLlib's FP-Growth serialises its trees recursively: a basket of hundreds of items
        # overflows the JVM's default thread stack (StackOverflowError on the bundled data)
        .config("spark.driver.extraJavaOptions", JVM_OPTIONS)
        .config("spark.executor.extraJavaOptions", JVM_OPTIONS)
        .config("spark.ui.showConsoleProgress", "false")
    )
    for key, value in {**_local_defaults(master), **conf}.items():
        builder = builder.config(key, value)
    try:
        with _jvm_address_space():
            return builder.getOrCreate()
    except Exception as error:  # py4j/pyspark raise their own runtime errors when the JVM fails
        raise SegmentaError(
            f"Spark could not start on master {master!r}: {str(error).splitlines()[0]}. The Spark "
            "engine needs Java 17 or later (Debian: apt-get install openjdk-17-jre-headless, or "
            "set JAVA_HOME) and a reachable master (SEGMENTA_SPARK_MASTER)."
        ) from error


def _local_defaults(master: str) -> dict[str, str]:
    """Settings for local mode (one host): a few shuffle partitions per core.

    Spark's default of 200 shuffle partitions is sized for a cluster: on this 2-core machine
    the bundled data's customer features took 41 s in 200 tiny tasks. A cluster keeps its own
    settings (``spark-defaults.conf``); ``conf`` overrides these.
    """
    found = re.fullmatch(r"local\[(\d+|\*)(?:,\d+)?\]|local", master)
    if not found:
        return {}
    threads = found.group(1)
    if threads is None:  # "local": one thread
        cores = 1
    elif threads == "*":
        cores = os.cpu_count() or 1
    else:
        cores = int(threads)
    return {"spark.sql.shuffle.partitions": str(max(2, 2 * cores))}


@contextlib.contextmanager
def _jvm_address_space():
    """Lift this process's address-space cap (RLIMIT_AS, soft) while the JVM is launched.

    A web app's job process runs under ``SEGMENTA_JOB_MEMORY_MB`` of address space, which the
    JVM inherits at launch and cannot start under: it reserves gigabytes of virtual memory it
    never touches (heap, class space, 64 MB thread stacks). The JVM's memory is bounded by its
    own heap setting (``spark.driver.memory``) instead; this process keeps its cap.
    """
    try:
        import resource
    except ImportError:  # not Unix
        yield
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == hard:
        yield
        return
    resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


# -- reading ---------------------------------------------------------------------------------


def read_transactions(
    spark: SparkSession, path: str | Path, columns: dict[str, str] | None = None
) -> tuple[DataFrame, dict[str, str]]:
    """A Parquet file or directory as a canonical log (lazy Spark frame), and the column mapping.

    Columns are recognised and mapped as :func:`analytics.io.to_canonical` does; ids become
    text (whole floats lose their '.0'), empty ids are missing, numbers become floats and
    ``amount`` is ``quantity * unit_price`` when the source has none.

    Raises
    ------
    DataError
        When the path does not exist, is not Parquet, or the date column is not stored as a date
        (the Spark engine reads typed Parquet; convert text dates with ``python -m analytics
        clean``, which writes Parquet).
    SchemaError
        As for files: a mapped or required column is missing.
    """
    remote = "://" in str(path)  # hdfs://, s3a://, ...: the cluster checks it
    name = str(path).rstrip("/").rsplit("/", 1)[-1] if remote else Path(path).name
    if not remote and not Path(path).exists():
        raise DataError(f"File not found: {path}. Check the path and try again.")
    try:
        raw = spark.read.parquet(str(path))
    except Exception as error:  # Spark's AnalysisException: not Parquet, or empty directory
        raise DataError(
            f"Cannot read {name} as Parquet with the Spark engine: "
            f"{str(error).splitlines()[0]}. Give a Parquet file or a directory of Parquet files."
        ) from error
    where = name
    resolved = resolve_columns(raw.columns, columns, where=where)
    types = dict(raw.dtypes)
    out = {}
    for canonical in CANONICAL:
        source = resolved.get(canonical)
        if source is None:
            continue
        col = F.col(f"`{source}`")
        kind = types[source]
        if canonical == "invoice_date":
            if not (kind.startswith("timestamp") or kind == "date"):
                raise DataError(
                    f"Column {source!r} in {where} holds {kind} values; the Spark engine reads "
                    "dates stored as Parquet dates or timestamps. Write the log with `python -m "
                    "analytics clean --output FILE.parquet` (it parses text dates) and read that."
                )
            out[canonical] = col.cast(T.TimestampNTZType())
        elif canonical in NUMERIC:
            out[canonical] = _as_number(raw, source, kind, where)
        else:
            out[canonical] = _as_text(raw, source, kind)
    if "amount" not in out:
        out["amount"] = out["quantity"] * out["unit_price"]
    frame = raw.select(
        *[
            (out[name] if name in out else F.lit(None)).cast(_SPARK_TYPES[dtype]).alias(name)
            for name, dtype in CANONICAL.items()
        ]
    )
    return frame, resolved


def _as_text(raw: DataFrame, source: str, kind: str):
    col = F.col(f"`{source}`")
    if kind in ("float", "double"):
        # ids read by spreadsheets as 17850.0: text without '.0' when every value is whole
        fractional = raw.select(F.max(F.when(col != F.round(col, 0), 1)).alias("x")).first()["x"]
        if fractional is None:
            col = col.cast(T.LongType())
    text = col.cast(T.StringType())
    return F.when(text != "", text)


def _as_number(raw: DataFrame, source: str, kind: str, where: str):
    col = F.col(f"`{source}`")
    if kind != "string":
        return col.cast(T.DoubleType())
    text = F.trim(col)
    parsed = text.try_cast(T.DoubleType())
    comma = F.regexp_replace(text, r"^(-?\d+),(\d+)$", "$1.$2").try_cast(T.DoubleType())
    failed = lambda value: value.isNull() & text.isNotNull() & (text != "")  # noqa: E731
    counts = _row(
        raw,
        bad=F.sum(failed(parsed).cast("long")),
        bad_comma=F.sum(failed(comma).cast("long")),
        example=F.min(F.when(failed(parsed), text)),
    )
    if not counts["bad"]:
        return parsed
    if not counts["bad_comma"]:
        return comma  # European exports write 2,55 for 2.55
    raise DataError(
        f"Column {source!r} in {where} must hold numbers, but {counts['bad']:,} rows do not "
        f"(e.g. {counts['example']!r}). Fix those values in the file, or map the right column "
        "with --columns."
    )


@dataclass(frozen=True)
class SparkDataset:
    """A cleaned log on Spark (persisted), with its cleaning report: the Spark engine's
    :class:`analytics.datasets.Dataset`."""

    transactions: DataFrame
    report: CleaningReport
    source: str
    mapping: dict[str, str]


def open_dataset(
    path: str | Path | None = None,
    columns: dict[str, str] | None = None,
    *,
    spark: SparkSession | None = None,
) -> SparkDataset:
    """Read and clean a Parquet file or directory (default: the bundled data) on Spark.

    Raises
    ------
    SchemaError, DataError
        As :func:`analytics.datasets.open_dataset`.
    """
    from analytics.datasets import bundled_path

    path = path or bundled_path()
    spark = spark or spark_session()
    raw, resolved = read_transactions(spark, path, columns)
    name = str(path).rstrip("/").rsplit("/", 1)[-1]
    cleaned, report = clean_transactions(raw, source=name)
    return SparkDataset(cleaned, report, name, resolved)


# -- cleaning ----------------------------------------------------------------------------------


def _row(frame: DataFrame, **aggregates):
    """One row of named aggregates over ``frame`` (one Spark job)."""
    return frame.select(*[value.alias(name) for name, value in aggregates.items()]).first()


def _sum(condition) -> object:
    return F.sum(F.when(condition, 1).otherwise(0))


def clean_transactions(
    frame: DataFrame, *, source: str = "the file", today: dt.date | None = None
) -> tuple[DataFrame, CleaningReport]:
    """The rules of :func:`analytics.cleaning.clean_transactions`, run by Spark.

    Returns the cleaned log (a Spark frame, persisted: it is read by every later step) with
    ``is_return``, and the same :class:`CleaningReport` the polars engine gives.

    Raises
    ------
    DataError
        When no row is left for customer analytics after cleaning.
    """
    today = today or dt.datetime.now(dt.UTC).date()
    latest = dt.datetime.combine(today + dt.timedelta(days=2), dt.time())  # end of tomorrow
    date = F.col("invoice_date")
    dated = date.isNotNull()
    numbers = [F.col(c) for c in ("quantity", "unit_price", "amount")]
    out_of_range = (date < F.lit(MIN_DATE)) | (date >= F.lit(latest))
    non_finite = F.coalesce(
        _any([F.isnan(c) | (F.abs(c) == float("inf")) for c in numbers]), F.lit(False)
    )
    absurd = F.coalesce(
        (F.abs(F.col("quantity")) > MAX_ABS_QUANTITY)
        | (F.abs(F.col("unit_price")) > MAX_ABS_UNIT_PRICE)
        | (F.abs(F.col("amount")) > MAX_ABS_AMOUNT),
        F.lit(False),
    )
    implausible = out_of_range | non_finite | absurd
    first = _row(
        frame,
        rows_in=F.count(F.lit(1)),
        undated=_sum(~dated),
        dates=_sum(dated & out_of_range),
        non_finite=_sum(dated & non_finite),
        absurd=_sum(dated & absurd & ~non_finite),
        sane=_sum(dated & ~implausible),
        has_price=F.max(F.when(dated & ~implausible & F.col("unit_price").isNotNull(), 1)),
    )
    rows_in = int(first["rows_in"])
    steps = [
        CleaningStep(
            "missing or unreadable date",
            int(first["undated"]),
            "removed",
            "rows that cannot be placed in time",
        ),
        CleaningStep(
            "date out of range",
            int(first["dates"]),
            "removed",
            f"dated before {MIN_DATE:%d %b %Y} or after {today + dt.timedelta(days=1):%d %b %Y}",
        ),
        CleaningStep(
            "non-finite number",
            int(first["non_finite"]),
            "removed",
            "quantity, unit price or amount is NaN or infinite",
        ),
        CleaningStep(
            "implausible number",
            int(first["absurd"]),
            "removed",
            f"quantity or unit price beyond {MAX_ABS_QUANTITY:,.0f}, or amount beyond "
            f"{MAX_ABS_AMOUNT:,.0f}, in absolute value",
        ),
    ]
    sane = frame.filter(dated & ~implausible)
    unique = sane.dropDuplicates().persist()
    if first["has_price"]:
        bad_price = F.coalesce(F.col("unit_price"), F.lit(1.0)) <= 0
        detail = "unit price zero or negative (write-offs, samples, bad-debt adjustments)"
    else:
        bad_price = F.coalesce(F.col("amount"), F.lit(1.0)) == 0
        detail = "amount zero (the log has no prices)"
    second = _row(
        unique,
        rows=F.count(F.lit(1)),
        bad_price=_sum(bad_price),
        missing_amount=_sum(~bad_price & F.col("amount").isNull()),
    )
    steps.append(
        CleaningStep(
            "exact duplicate rows",
            int(first["sane"]) - int(second["rows"]),
            "removed",
            "identical to an earlier row in every column; the first copy is kept",
        )
    )
    steps.append(CleaningStep("non-positive price", int(second["bad_price"]), "removed", detail))
    steps.append(
        CleaningStep(
            "missing amount",
            int(second["missing_amount"]),
            "removed",
            "no amount, or no quantity or price to compute it from",
        )
    )
    is_return = (
        F.coalesce(F.col("invoice_id").startswith("C"), F.lit(False))
        | (F.coalesce(F.col("quantity"), F.lit(0.0)) < 0)
        | (F.col("amount") < 0)
    )
    cleaned = (
        unique.filter(~bad_price & F.col("amount").isNotNull())
        .withColumn("is_return", is_return)
        .persist()
    )
    customer = F.col("customer_id")
    last = _row(
        cleaned,
        rows=F.count(F.lit(1)),
        returns=_sum(F.col("is_return")),
        anonymous=_sum(customer.isNull()),
        customers=F.count_distinct(customer),
        buyers=F.count_distinct(F.when(~F.col("is_return"), customer)),
        first_date=F.min("invoice_date"),
        last_date=F.max("invoice_date"),
    )
    unique.unpersist()
    steps.append(
        CleaningStep(
            "returns and cancellations",
            int(last["returns"]),
            "flagged",
            "invoice id starting with C or negative quantity; kept and counted as returns",
        )
    )
    steps.append(
        CleaningStep(
            "no customer id",
            int(last["anonymous"]),
            "flagged",
            "kept for basket analysis, left out of customer analytics",
        )
    )
    if last["rows"] == 0 or last["customers"] == 0:
        cleaned.unpersist()
        raise DataError(
            f"No rows are left for customer analytics in {source} after cleaning "
            f"({rows_in:,} rows read: "
            + "; ".join(f"{s.name} {s.rows:,}" for s in steps if s.rows)
            + "). Check that the customer, date and amount columns are the right ones."
        )
    if last["buyers"] == 0:
        cleaned.unpersist()
        raise no_purchases(source, int(last["customers"]))
    report = CleaningReport(
        rows_in=rows_in,
        rows_out=int(last["rows"]),
        steps=steps,
        customers=int(last["customers"]),
        buyers=int(last["buyers"]),
        first_date=last["first_date"],
        last_date=last["last_date"],
    )
    return cleaned, report


def _any(conditions):
    out = conditions[0]
    for condition in conditions[1:]:
        out = out | condition
    return out


# -- customer features -----------------------------------------------------------------------


def default_as_of(transactions: DataFrame) -> dt.datetime:
    """The day after the last transaction, at midnight (:func:`analytics.features.default_as_of`)."""
    last = transactions.select(F.max("invoice_date").alias("last")).first()["last"]
    if last is None:
        raise InsufficientDataError("The log has no dated transactions.")
    return dt.datetime.combine(last.date() + dt.timedelta(days=1), dt.time())


def _to_polars(frame: DataFrame) -> pl.DataFrame:
    """A (small) Spark result as a polars frame, through Arrow."""
    return pl.from_arrow(frame.toArrow())


def customer_features(
    transactions: DataFrame, as_of: str | dt.date | dt.datetime | None = None
) -> pl.DataFrame:
    """:func:`analytics.features.customer_features` with the per-customer aggregation on Spark.

    Spark reduces the log to one row per customer (dates, order count, sums, distinct products,
    country); that table crosses to polars through Arrow, where the ratios and day counts are
    derived by the polars engine's own :func:`analytics.features.features_from_aggregates`.
    Same columns, order and types.

    Raises
    ------
    InsufficientDataError
        When no customer bought anything before ``as_of``.
    """
    cutoff = (
        default_as_of(transactions)
        if as_of is None
        else as_of_datetime(as_of, None)  # a given as-of needs no log
    )
    recent_from = cutoff - dt.timedelta(days=RECENT_WINDOW_DAYS)
    present = _row(
        transactions,
        orders=F.max(F.when(F.col("invoice_id").isNotNull(), 1)),
        products=F.max(F.when(F.col("product_id").isNotNull(), 1)),
    )
    has_orders, has_products = bool(present["orders"]), bool(present["products"])
    frame = transactions
    if not has_orders:
        frame = frame.withColumn("_row", F.monotonically_increasing_id())
    order_key = F.col("invoice_id") if has_orders else F.col("_row")
    purchase = ~F.col("is_return")
    amount = F.col("amount")
    date = F.col("invoice_date")
    mine = frame.filter(F.col("customer_id").isNotNull() & (date < F.lit(cutoff)))
    aggregates = mine.groupBy("customer_id").agg(
        F.min(F.when(purchase, date)).alias("first_purchase"),
        F.max(F.when(purchase, date)).alias("last_purchase"),
        # polars' n_unique counts a missing order id as one more value
        (
            F.count_distinct(F.when(purchase, order_key))
            + F.coalesce(F.max(F.when(purchase & order_key.isNull(), 1)), F.lit(0))
        )
        .cast("long")
        .alias("frequency"),
        F.coalesce(F.sum(amount), F.lit(0.0)).alias("monetary"),
        F.coalesce(F.sum(F.when(purchase, amount)), F.lit(0.0)).alias("gross"),
        (F.lit(0.0) - F.coalesce(F.sum(F.when(~purchase, amount)), F.lit(0.0))).alias("returned"),
        F.coalesce(
            F.sum(F.when(purchase & (date >= F.lit(recent_from)), amount)), F.lit(0.0)
        ).alias("recent"),
        F.count_distinct(F.when(purchase, F.col("product_id")))
        .cast("long")
        .alias("distinct_products"),
    )
    # the most frequent country, ties to the first in sort order (polars: mode().sort().first())
    country = (
        mine.filter(F.col("country").isNotNull())
        .groupBy("customer_id", "country")
        .count()
        .groupBy("customer_id")
        .agg(F.min(F.struct(-F.col("count"), F.col("country"))).alias("best"))
        .select("customer_id", F.col("best.country").alias("country"))
    )
    table = _to_polars(
        aggregates.filter(F.col("frequency") > 0).join(country, "customer_id", "left")
    )
    features = features_from_aggregates(
        table.with_columns(pl.col("first_purchase", "last_purchase").cast(pl.Datetime("us"))),
        cutoff,
        has_products,
    )
    if features.height == 0:
        first = transactions.select(F.min("invoice_date").alias("d")).first()["d"]
        raise no_buyers(cutoff, first)
    return features


# -- baskets and frequent itemsets ------------------------------------------------------------


@dataclass(frozen=True)
class SparkBaskets:
    """Baskets as a Spark frame (``basket``, ``items``: distinct item labels), with what building
    them did: the counts :class:`analytics.baskets.Baskets` reports."""

    frame: DataFrame
    items: list[str]
    n_baskets: int
    excluded_rows: int = 0
    capped_baskets: int = 0
    rare_items: int = 0


def _strip(col):
    return F.regexp_replace(col, _STRIP, "")


def baskets_from_transactions(
    tx: DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    country: str | None = None,
    customers: list[str] | None = None,
    min_item_baskets: int = 1,
    max_basket_size: int | None = None,
    exclude_non_products: bool = True,
) -> SparkBaskets:
    """:func:`analytics.baskets.baskets_from_transactions` on Spark: one basket per invoice
    (purchases only), items labelled by the product's most common description."""
    present = tx.select(
        F.max(F.when(F.col("product_id").isNotNull() | F.col("description").isNotNull(), 1))
    ).first()[0]
    if not present:
        raise InsufficientDataError(
            "This log has no product column, so there are no baskets to analyse. Map a product "
            "or description column."
        )
    frame = tx.filter(~F.col("is_return"))
    date = F.col("invoice_date")
    if start is not None:
        frame = frame.filter(date >= F.lit(dt.datetime.combine(start, dt.time())))
    if end is not None:
        frame = frame.filter(
            date < F.lit(dt.datetime.combine(end + dt.timedelta(days=1), dt.time()))
        )
    if country:
        frame = frame.filter(F.col("country") == country)
    if customers is not None:
        frame = frame.filter(F.col("customer_id").isin(list(customers)))
    excluded = 0
    if exclude_non_products:
        product = F.col("product_id")
        non_product = F.coalesce(
            product.isin(sorted(NON_PRODUCT_CODES)) | product.rlike(NON_PRODUCT_PATTERN.pattern),
            F.lit(False),
        )
        excluded = int(frame.select(_sum(non_product)).first()[0] or 0)
        frame = frame.filter(~non_product)
    frame = frame.withColumn(
        "product_id", F.coalesce(F.col("product_id"), _strip(F.col("description")))
    )
    labelled = (
        frame.join(_product_labels(frame), "product_id", "inner")
        .select(
            F.coalesce(
                F.col("invoice_id"),
                F.concat(F.col("customer_id"), F.lit("@"), date.cast("string")),
            ).alias("basket"),
            "item",
        )
        .distinct()
    )
    baskets = labelled.groupBy("basket").agg(F.collect_set("item").alias("items"))
    if baskets.isEmpty():
        raise InsufficientDataError(
            "No purchases match these filters. Widen the date range, scope or country."
        )
    capped = 0
    if max_basket_size is not None:
        check_max_basket_size(max_basket_size)
        size = F.size("items")
        capped = int(baskets.select(_sum(size > max_basket_size)).first()[0])
        baskets = baskets.filter(size <= max_basket_size)
    counts = baskets.select(F.explode("items").alias("item")).groupBy("item").count()
    kept = counts.filter(F.col("count") >= min_item_baskets)
    items = sorted(r["item"] for r in kept.select("item").collect())
    rare = int(counts.count()) - len(items)
    if rare:
        frequent = F.array(*[F.lit(i) for i in items]) if items else F.array()
        baskets = baskets.withColumn("items", F.array_intersect("items", frequent)).filter(
            F.size("items") > 0
        )
    baskets = baskets.persist()
    n_baskets = baskets.count()
    if n_baskets == 0 or not items:
        baskets.unpersist()
        raise InsufficientDataError(
            "No baskets are left after the filters. Widen the date range, scope or item frequency."
        )
    return SparkBaskets(baskets, items, n_baskets, excluded, capped, rare)


def _product_labels(tx: DataFrame) -> DataFrame:
    """``product_id -> item``, as :func:`analytics.baskets.product_labels`."""
    described = tx.filter(F.col("product_id").isNotNull()).withColumn(
        "label",
        F.coalesce(
            F.when(_strip(F.col("description")) != "", _strip(F.col("description"))),
            F.col("product_id"),
        ),
    )
    best = (
        described.groupBy("product_id", "label")
        .count()
        .groupBy("product_id")
        .agg(F.min(F.struct(-F.col("count"), F.col("label"))).alias("best"))
        .select("product_id", F.col("best.label").alias("label"))
    )
    same = Window.partitionBy("label")
    return best.select(
        "product_id",
        F.when(
            F.count(F.lit(1)).over(same) > 1,
            F.concat(F.col("label"), F.lit(" ("), F.col("product_id"), F.lit(")")),
        )
        .otherwise(F.col("label"))
        .alias("item"),
    )


def mine_rules(
    baskets: SparkBaskets,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    min_lift: float = 1.0,
    *,
    algorithm: str = "fpgrowth",
    max_len: int | None = None,
    single_consequent: bool = False,
    max_itemsets: int = MAX_ITEMSETS,
) -> Rules:
    """Frequent itemsets by Spark MLlib's FP-Growth, rules derived as the polars engine derives
    them (:func:`analytics.baskets.rules_from_itemsets`): the same :class:`~analytics.baskets.Rules`.

    Only the itemsets come back to this process. Spark's FP-Growth has no length limit, so
    ``max_len`` is applied to its output; a result over ``max_itemsets`` is refused (the cluster
    has paid for it, this host is spared the rules).

    Raises
    ------
    ParameterError
        For out-of-range thresholds, an algorithm other than FP-Growth, or too many itemsets.
    """
    from pyspark.ml.fpm import FPGrowth

    check_mining_arguments(
        min_support,
        min_confidence,
        min_lift,
        algorithm=algorithm,
        max_len=max_len,
        algorithms=("fpgrowth",),
        refuse_algorithm=_fpgrowth_only,
    )
    n = baskets.n_baskets
    threshold = min_count(min_support, n)
    # Spark keeps itemsets in at least ceil(minSupport * n) baskets: ask for our whole-basket
    # threshold exactly, then test count / n >= min_support in floating point as mlxtend did.
    # FP-Growth sends each basket to up to numPartitions groups: one group per core, not one
    # per shuffle partition (200 by default), or the work grows with the partitions
    groups = max(2, baskets.frame.sparkSession.sparkContext.defaultParallelism)
    model = FPGrowth(itemsCol="items", minSupport=(threshold - 0.5) / n, numPartitions=groups).fit(
        baskets.frame
    )
    found = model.freqItemsets
    if max_len is not None:
        found = found.filter(F.size("items") <= max_len)
    found = found.filter(F.col("freq") / F.lit(float(n)) >= F.lit(min_support))
    size = found.count()
    if size > max_itemsets:
        raise ParameterError(
            f"Support {min_support:g} gives {size:,} frequent itemsets, more than the "
            f"{max_itemsets:,} this app can turn into rules. Raise the support or set a "
            "smaller max_len.",
            parameter="min_support",
        )
    table = _to_polars(found.select("items", "freq"))
    # each itemset's items in polars' text order, as the polars engine lists them (Spark's own
    # sort compares UTF-16 code units, another order beyond the Basic Multilingual Plane)
    items = table.get_column("items").cast(pl.List(pl.String)).list.sort()
    itemsets = itemsets_table(items, table.get_column("freq").to_numpy(), n)
    return rules_from_itemsets(
        itemsets,
        n,
        min_support,
        min_confidence,
        min_lift,
        "fpgrowth",
        single_consequent=single_consequent,
    )


def _fpgrowth_only(algorithm: object) -> ParameterError:
    return ParameterError(
        "The Spark engine mines with FP-Growth only (Spark MLlib has no Apriori). "
        f"Got algorithm {algorithm!r}: use 'fpgrowth', or the polars engine for Apriori.",
        parameter="algorithm",
    )


__all__ = [
    "DEFAULT_MASTER",
    "SparkBaskets",
    "SparkDataset",
    "baskets_from_transactions",
    "clean_transactions",
    "customer_features",
    "default_as_of",
    "mine_rules",
    "open_dataset",
    "read_transactions",
    "spark_session",
]
