"""Customer tables: one row per customer (a CRM export) instead of a transaction log.

The id column is recognised by name (``customer_id``, ``CustomerID``, ``user_id``, ``client`` ...)
or named with ``id_column``. Every other column is kept under its name as written (spaces and
parentheses included): a column whose every value reads as a number is numeric; any other column
is categorical and is one-hot encoded into ``<column>=<value>`` 0/1 columns for clustering, and
profiled as shares per segment.

Only segmentation works on such a table; churn, CLV, cohorts and migration need dated
transactions (:func:`needs_transactions` says so).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analytics.errors import DataError, InsufficientDataError, ParameterError, SchemaError, fix
from analytics.io import read_table
from analytics.segmentation import K_ALGORITHMS, SCALINGS, fit_labels, scale

ID_NAMES = ("customerid", "customer", "userid", "user", "clientid", "client", "id", "customerno")
MAX_CATEGORIES = 30


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


@dataclass(frozen=True)
class CustomerTable:
    """A customer table ready to segment.

    ``frame`` has ``customer_id`` then the original columns; ``matrix_columns`` are the numeric
    columns and the one-hot columns, in the order of ``matrix``.
    """

    frame: pl.DataFrame
    numeric: list[str]
    categorical: list[str]
    matrix_columns: list[str]
    matrix: np.ndarray


def needs_transactions(analysis: str) -> SchemaError:
    """The error for an analysis that cannot run on a customer table."""
    return SchemaError(
        f"{analysis} needs a transaction log (customer, date and amount per purchase); a customer "
        "table has one row per customer and no dates. Use --format transactions with a log, or "
        "segment the table with 'segment --format customers'."
    )


def find_id_column(columns: list[str]) -> str | None:
    """The customer id column recognised by name (``customer_id``, ``CustomerID``, ``user``,
    ``client`` ... in that order of preference), or None."""
    by_norm = {_norm(c): c for c in columns}
    return next((by_norm[n] for n in ID_NAMES if n in by_norm), None)


def _date_column(frame: pl.DataFrame) -> str | None:
    """The first column that holds dates (a typed date, or text most of whose values parse)."""
    for column, dtype in frame.schema.items():
        if column == "customer_id":
            continue
        if dtype.is_temporal():
            return column
        if dtype == pl.String:
            sample = frame.get_column(column).drop_nulls().head(200)
            if sample.len() == 0:
                continue
            if sample.cast(pl.Float64, strict=False).null_count() == 0:
                continue  # numbers, not dates
            try:
                parsed = sample.str.to_datetime(strict=False)
            except pl.exceptions.ComputeError:  # no date format fits its first values
                continue
            if parsed.null_count() <= sample.len() // 5:
                return column
    return None


def load_customer_table(path: str | Path, id_column: str | None = None) -> CustomerTable:
    """Read a one-row-per-customer file and prepare its columns for clustering.

    Raises
    ------
    SchemaError
        No id column can be found, or the named one does not exist.
    DataError
        Ids repeat, or a numeric column has missing values.
    """
    raw, _ = read_table(path)
    name = Path(path).name
    if id_column is not None:
        if id_column not in raw.columns:
            raise SchemaError(
                f"{name} has no column {id_column!r}. Its columns are: {', '.join(raw.columns)}."
            )
    else:
        id_column = find_id_column(raw.columns)
        if id_column is None:
            raise SchemaError(
                f"{name} has no customer id column (looked for customer_id, CustomerID, user_id, "
                f"client ...). Its columns are: {', '.join(raw.columns)}. "
                + fix(
                    "Name it with --id-column.",
                    "Choose it under “Which column is the customer id?”.",
                )
            )
    frame = raw.rename({id_column: "customer_id"}).with_columns(
        pl.col("customer_id").cast(pl.String).str.strip_chars()
    )
    duplicated = frame.filter(pl.col("customer_id").is_duplicated())
    if duplicated.height:
        first = duplicated["customer_id"][0]
        times = duplicated.filter(pl.col("customer_id") == first).height
        dated = _date_column(frame)
        if dated is not None:
            raise DataError(
                f"{name} looks like a transaction log, not a customer table: customer "
                f"{first!r} appears {times} times and column {dated!r} holds dates. "
                + fix(
                    "Segment it with --format transactions",
                    "Load it as “A transaction log” (under “What is this file?”)",
                )
                + ", or give a file with one row per customer."
            )
        raise DataError(
            f"{name} is not one row per customer: id {first!r} appears {times} times. Keep one "
            "row per customer (or name the right id column)."
        )
    numeric, categorical = [], []
    for column in frame.columns[1:]:
        values = frame.get_column(column).cast(pl.String).str.strip_chars()
        parsed = values.cast(pl.Float64, strict=False)
        non_empty = values.is_not_null() & (values != "")
        if non_empty.sum() and (parsed.is_not_null() == non_empty).all():
            if parsed.null_count():
                empty = parsed.null_count()
                raise DataError(
                    f"Column {column!r} of {name} has {empty} empty "
                    f"{'value' if empty == 1 else 'values'}; fill "
                    f"{'it' if empty == 1 else 'them'} or remove the column."
                )
            frame = frame.with_columns(parsed.alias(column))
            numeric.append(column)
        else:
            frame = frame.with_columns(values.fill_null("(missing)").alias(column))
            categorical.append(column)
    matrix_columns = list(numeric)
    parts = [frame.select(numeric).to_numpy().astype(float)] if numeric else []
    for column in categorical:
        levels = sorted(frame.get_column(column).unique().to_list())
        if len(levels) > MAX_CATEGORIES:
            raise DataError(
                f"Column {column!r} of {name} has {len(levels)} different values, too many to "
                f"encode (at most {MAX_CATEGORIES}); remove it or group its values."
            )
        values = frame.get_column(column).to_numpy()
        parts.append(np.column_stack([(values == level).astype(float) for level in levels]))
        matrix_columns += [f"{column}={level}" for level in levels]
    if not parts:
        raise SchemaError(
            f"{name} has no column besides the id to segment on: add columns such as age, "
            "region or loyalty score."
        )
    return CustomerTable(frame, numeric, categorical, matrix_columns, np.hstack(parts))


@dataclass(frozen=True)
class TableSegments:
    """Segments of a customer table and their profile."""

    assignments: pl.DataFrame  # customer_id, segment, segment_name
    profile: pl.DataFrame  # segment, name, customers, share, <numeric>_mean, <col>=<value> shares


def signed_spread(frame: pl.DataFrame, numeric: list[str]) -> dict[str, float]:
    """The standard deviation of each numeric column that takes negative values or averages
    zero or less (a balance, a score change, a z-score). A ratio to the average means nothing
    there ("-12.84×"), so such a column is compared by its distance from the average in standard
    deviations instead. Columns of amounts, counts and ages (never negative) are not listed."""
    spread = {}
    for c in numeric:
        column = frame.get_column(c)
        if column.min() < 0 or not column.mean() > 0:
            spread[c] = float(column.std() or 0.0)
    return spread


#: how far from the average a signed column's segment mean must be to name it (standard deviations)
SIGNED_NAMING_SD = 0.5


def _describe(
    row: dict,
    overall: dict,
    numeric: list[str],
    categorical_shares: dict,
    spread: dict[str, float] | None = None,
) -> str:
    """``High Annual Income (k$), low Age`` from the ratios of segment to overall means.

    A column of ``spread`` (:func:`signed_spread`) is compared by its difference from the average
    in standard deviations: named when at least :data:`SIGNED_NAMING_SD` away, ranked with the
    others by that distance (a ratio's by the size of its logarithm)."""
    spread = spread or {}
    distance, high = {}, {}
    for c in numeric:
        mean = row[f"{c}_mean"]
        if c in spread:
            if spread[c] > 0:
                z = (mean - overall[c]) / spread[c]
                distance[c], high[c] = abs(z), z >= 0
                distance[c] = distance[c] if abs(z) >= SIGNED_NAMING_SD else 0.0
        elif overall[c]:
            ratio = mean / overall[c]
            far = abs(ratio - 1) >= 0.15
            distance[c], high[c] = (abs(np.log(max(ratio, 1e-9))) if far else 0.0), ratio >= 1
    ordered = sorted(distance, key=lambda c: -distance[c])
    words = [f"{'high' if high[c] else 'low'} {c}" for c in ordered[:2] if distance[c] > 0]
    for column, share in categorical_shares.items():
        if share[1] >= 0.6:
            words.append(f"mostly {column} {share[0]}")
            break
    text = ", ".join(words)
    return text[:1].upper() + text[1:] if words else "Close to average"


def segment_table(
    table: CustomerTable,
    n_clusters: int = 4,
    *,
    scaling: str = "standard",
    algorithm: str = "kmeans",
    random_state: int = 0,
) -> TableSegments:
    """Cluster a customer table on all its columns (categoricals one-hot) and name the segments.

    A segment's name comes from its numbers: the (at most two) numeric columns whose segment mean
    is furthest from the overall mean (at least 15 % away), "high" or "low", and a category held by
    at least 60 % of the segment. Names shared by two segments get their segment number.
    """
    if scaling not in SCALINGS:
        raise ParameterError(
            f"The 'scaling' parameter must be one of {', '.join(SCALINGS)}. Got {scaling!r} instead."
        )
    if algorithm not in K_ALGORITHMS:
        raise ParameterError(
            f"The 'algorithm' parameter must be one of {', '.join(K_ALGORITHMS)} for a customer "
            f"table. Got {algorithm!r} instead."
        )
    if table.frame.height < 2 * n_clusters:
        n = table.frame.height
        raise InsufficientDataError(
            f"{n:,} {'customer is' if n == 1 else 'customers are'} too few for {n_clusters} "
            f"segments: each segment needs at least two. Use at most {max(n // 2, 1)} segments "
            "or a table with more customers."
        )
    labels, _ = fit_labels(
        scale(table.matrix, scaling), algorithm, n_clusters, random_state=random_state
    )
    # segment 0 = largest, as everywhere else
    sizes = np.bincount(labels)
    rank = {old: new for new, old in enumerate(np.argsort(-sizes, kind="stable"))}
    labels = np.array([rank[label] for label in labels])
    frame = table.frame.with_columns(segment=pl.Series(labels, dtype=pl.Int64))
    overall = {c: frame.get_column(c).mean() for c in table.numeric}
    spread = signed_spread(frame, table.numeric)
    aggs = [pl.len().alias("customers")] + [
        pl.col(c).mean().alias(f"{c}_mean") for c in table.numeric
    ]
    for column in table.categorical:
        for level in sorted(frame.get_column(column).unique().to_list()):
            aggs.append((pl.col(column) == level).mean().alias(f"{column}={level}"))
    profile = frame.group_by("segment").agg(aggs).sort("segment")
    names = {}
    for row in profile.iter_rows(named=True):
        shares = {}
        for column in table.categorical:
            level_shares = {
                k.split("=", 1)[1]: v for k, v in row.items() if k.startswith(f"{column}=")
            }
            best = max(level_shares, key=level_shares.get)
            shares[column] = (best, level_shares[best])
        names[row["segment"]] = _describe(row, overall, table.numeric, shares, spread)
    counts = {}
    for name in names.values():
        counts[name] = counts.get(name, 0) + 1
    names = {s: (f"{n} (segment {s})" if counts[n] > 1 else n) for s, n in names.items()}
    profile = profile.with_columns(
        name=pl.col("segment").replace_strict(names, return_dtype=pl.String),
        share=pl.col("customers") / frame.height,
    )
    first = ["segment", "name", "customers", "share"]
    profile = profile.select(*first, *(c for c in profile.columns if c not in first))
    assignments = frame.select(
        "customer_id",
        "segment",
        segment_name=pl.col("segment").replace_strict(names, return_dtype=pl.String),
    )
    return TableSegments(assignments, profile)


def join_attributes(features: pl.DataFrame, table: CustomerTable) -> pl.DataFrame:
    """Behavioural features with the table's columns (as written) joined on ``customer_id``.

    Customers missing from the table get nulls; table rows for customers without purchases are
    left out (features describe buyers).
    """
    clashes = [c for c in table.frame.columns[1:] if c in features.columns]
    if clashes:
        raise SchemaError(
            f"The customer table's columns {', '.join(clashes)} clash with feature names; "
            "rename them in the table."
        )
    return features.join(table.frame, on="customer_id", how="left", maintain_order="left")


# -- the app's and the report's view of a table: a features frame, profiles and personas ------
#: What to do with a segment found on a table's attributes alone (no spend or dates to go on).
TABLE_ACTION = (
    "Target them on what sets them apart (above); add a transaction log to see their spend, "
    "churn risk and value."
)


def levels(table: CustomerTable) -> dict[str, list[str]]:
    """The one-hot columns of each categorical column, in matrix order."""
    encoded = table.matrix_columns[len(table.numeric) :]
    return {
        column: [name for name in encoded if name.startswith(f"{column}=")]
        for column in table.categorical
    }


def table_features(table: CustomerTable) -> pl.DataFrame:
    """``customer_id`` and the table's clustering columns (numeric as written, one-hot 0/1).

    This is the frame the segmentation report clusters on for a customer table: every column
    besides ``customer_id`` is a feature, named as in the file (``Genre=Female``).
    """
    return pl.DataFrame(
        {
            "customer_id": table.frame.get_column("customer_id"),
            **{name: table.matrix[:, i] for i, name in enumerate(table.matrix_columns)},
        }
    )


def joined_features(features: pl.DataFrame, table: CustomerTable) -> pl.DataFrame:
    """Behavioural features and the table's clustering columns, for the customers in both.

    Clustering needs a value of every column for every customer, so only the log's customers
    that the table describes are kept (the callers say how many).

    Raises
    ------
    SchemaError
        A table column has the name of a feature.
    DataError
        No customer of the log is in the table.
    """
    clashes = [c for c in table.frame.columns[1:] if c in features.columns]
    if clashes:
        raise SchemaError(
            f"The customer table's columns {', '.join(clashes)} clash with feature names; "
            "rename them in the table."
        )
    joined = features.join(
        table_features(table), on="customer_id", how="inner", maintain_order="left"
    )
    if joined.height == 0:
        example_log = features.get_column("customer_id").head(2).to_list()
        example_table = table.frame.get_column("customer_id").head(2).to_list()
        raise DataError(
            "No customer of the log is in the customer table: the log's ids look like "
            f"{', '.join(example_log)} and the table's like {', '.join(example_table)}. Choose "
            "the table's column that holds the log's customer ids."
        )
    return joined


def attribute_profile(
    frame: pl.DataFrame, labels: np.ndarray, table: CustomerTable
) -> pl.DataFrame:
    """Per segment: each numeric column's mean, median and ratio to the average customer's
    mean, and each category's share of the segment and its ratio to the category's overall share.

    ``frame`` holds the table's clustering columns (:func:`table_features`), in ``labels`` order.
    Columns: ``segment``, ``<c>_mean``, ``<c>_median``, ``<c>_ratio`` per numeric column,
    ``<column>=<value>`` and ``<column>=<value>_ratio`` per category.
    """
    encoded = [name for names in levels(table).values() for name in names]
    frame = frame.with_columns(segment=pl.Series(np.asarray(labels, dtype=np.int64)))
    overall = frame.select([pl.col(c).mean() for c in [*table.numeric, *encoded]]).row(
        0, named=True
    )
    aggs = []
    for c in table.numeric:
        aggs += [pl.col(c).mean().alias(f"{c}_mean"), pl.col(c).median().alias(f"{c}_median")]
    aggs += [pl.col(c).mean().alias(c) for c in encoded]
    signed = signed_spread(frame, table.numeric)
    ratios = {
        f"{c}_ratio": (pl.col(f"{c}_mean") / overall[c])
        if overall[c] and c not in signed
        else pl.lit(None, dtype=pl.Float64)
        for c in table.numeric
    }
    ratios |= {
        f"{c}_ratio": (pl.col(c) / overall[c]) if overall[c] else pl.lit(None) for c in encoded
    }
    return frame.group_by("segment").agg(aggs).with_columns(**ratios).sort("segment")


def _shares(row: dict, table: CustomerTable) -> dict[str, tuple[str, float]]:
    """Each categorical column's most common value in a segment and its share there."""
    out = {}
    for column, names in levels(table).items():
        best = max(names, key=lambda n: row[n])
        out[column] = (best.split("=", 1)[1], row[best])
    return out


def table_personas(profile: pl.DataFrame, table: CustomerTable, overall: dict) -> list:
    """Personas of a table's segments, named as ``segment --format customers`` names them.

    ``profile`` has ``segment, customers, share`` and :func:`attribute_profile`'s columns;
    ``overall`` the average customer's value of each numeric column. A segment's name comes from
    its numbers (:func:`_describe`); its description shows the ratios and shares behind it.
    """
    from analytics.profiles import Persona
    from analytics.segmentation import OUTLIER

    spread = signed_spread(table.frame, table.numeric)
    raw = []
    for row in profile.sort("segment").iter_rows(named=True):
        if row["segment"] == OUTLIER:
            raw.append((row, "Outliers", "Customers unlike any segment (noise).", TABLE_ACTION))
            continue
        shares = _shares(row, table)
        name = _describe(row, overall, table.numeric, shares, spread)
        ratios = sorted(
            (c for c in table.numeric if row[f"{c}_ratio"] is not None),
            key=lambda c: -abs(np.log(max(row[f"{c}_ratio"], 1e-9))),
        )
        parts = [f"{c} {row[f'{c}_ratio']:.2f}×" for c in ratios[:3]]
        # a signed column has no ratio: its mean beside the average's
        parts += [
            f"{c} {row[f'{c}_mean']:,.2f} (average {overall[c]:,.2f})"
            for c in table.numeric
            if c in spread
        ][:2]
        parts += [f"{column} {value} {share:.0%}" for column, (value, share) in shares.items()]
        description = (
            "Versus the average customer: " + ", ".join(parts) + "." if parts else ""
        ).strip()
        raw.append((row, name, description, TABLE_ACTION))
    counts: dict[str, int] = {}
    for _, name, _, _ in raw:
        counts[name] = counts.get(name, 0) + 1
    return [
        Persona(
            row["segment"],
            f"{name} (segment {row['segment']})" if counts[name] > 1 else name,
            description,
            action,
            row["customers"],
            row["share"],
            None,
        )
        for row, name, description, action in raw
    ]


def table_profile(frame: pl.DataFrame, labels: np.ndarray, table: CustomerTable):
    """The :class:`analytics.profiles.SegmentProfile` of a customer table's segments.

    ``table`` columns: ``segment, name, customers, share, revenue, revenue_share`` (the last two
    empty: a table has no spend) and :func:`attribute_profile`'s; ``tests``: a Kruskal-Wallis
    test per numeric column.
    """
    from analytics.profiles import SegmentProfile, difference_tests

    labels = np.asarray(labels, dtype=np.int64)
    sizes = pl.DataFrame({"segment": labels}).group_by("segment").agg(customers=pl.len())
    profile = (
        attribute_profile(frame, labels, table)
        .join(sizes, on="segment")
        .with_columns(
            share=pl.col("customers") / len(labels),
            revenue=pl.lit(None, pl.Float64),
            revenue_share=pl.lit(None, pl.Float64),
        )
    )
    overall = frame.select([pl.col(c).mean() for c in table.numeric]).row(0, named=True)
    personas = table_personas(profile, table, overall)
    names = pl.DataFrame(
        {"segment": [p.segment for p in personas], "name": [p.name for p in personas]},
        schema={"segment": pl.Int64, "name": pl.String},
    )
    first = ["segment", "name", "customers", "share", "revenue", "revenue_share"]
    profile = profile.join(names, on="segment")
    profile = profile.select(*first, *(c for c in profile.columns if c not in first))
    tests = difference_tests(frame.with_columns(segment=pl.Series(labels)), table.numeric)
    return SegmentProfile(table=profile, tests=tests, personas=personas)


def with_attributes(profile, frame: pl.DataFrame, labels: np.ndarray, table: CustomerTable):
    """A behavioural :class:`~analytics.profiles.SegmentProfile` with the joined table's
    columns profiled beside it (means, shares and ratios; tests on the numeric columns)."""
    import dataclasses

    from analytics.profiles import difference_tests

    extra = attribute_profile(frame.select("customer_id", *table.matrix_columns), labels, table)
    tests = difference_tests(
        frame.with_columns(segment=pl.Series(np.asarray(labels, dtype=np.int64))), table.numeric
    )
    return dataclasses.replace(
        profile,
        table=profile.table.join(extra, on="segment", how="left"),
        tests=pl.concat([profile.tests, tests], how="vertical_relaxed")
        if tests.height
        else profile.tests,
    )
