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

from analytics.errors import DataError, InsufficientDataError, ParameterError, SchemaError
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
        by_norm = {_norm(c): c for c in raw.columns}
        id_column = next((by_norm[n] for n in ID_NAMES if n in by_norm), None)
        if id_column is None:
            raise SchemaError(
                f"{name} has no customer id column (looked for customer_id, CustomerID, user_id, "
                f"client ...). Its columns are: {', '.join(raw.columns)}. Name it with --id-column."
            )
    frame = raw.rename({id_column: "customer_id"}).with_columns(
        pl.col("customer_id").cast(pl.String).str.strip_chars()
    )
    duplicated = frame.filter(pl.col("customer_id").is_duplicated())
    if duplicated.height:
        raise DataError(
            f"{name} is not one row per customer: id {duplicated['customer_id'][0]!r} appears "
            f"{duplicated.filter(pl.col('customer_id') == duplicated['customer_id'][0]).height} times."
        )
    numeric, categorical = [], []
    for column in frame.columns[1:]:
        values = frame.get_column(column).cast(pl.String).str.strip_chars()
        parsed = values.cast(pl.Float64, strict=False)
        non_empty = values.is_not_null() & (values != "")
        if non_empty.sum() and (parsed.is_not_null() == non_empty).all():
            if parsed.null_count():
                raise DataError(
                    f"Column {column!r} of {name} has {parsed.null_count()} empty values; fill "
                    "them or remove the column."
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
        raise SchemaError(f"{name} has no column besides the id to segment on.")
    return CustomerTable(frame, numeric, categorical, matrix_columns, np.hstack(parts))


@dataclass(frozen=True)
class TableSegments:
    """Segments of a customer table and their profile."""

    assignments: pl.DataFrame  # customer_id, segment, segment_name
    profile: pl.DataFrame  # segment, name, customers, share, <numeric>_mean, <col>=<value> shares


def _describe(row: dict, overall: dict, numeric: list[str], categorical_shares: dict) -> str:
    """``High Annual Income (k$), low Age`` from the ratios of segment to overall means."""
    ratios = {c: row[f"{c}_mean"] / overall[c] for c in numeric if overall[c]}
    ordered = sorted(ratios, key=lambda c: -abs(np.log(max(ratios[c], 1e-9))))
    words = [
        f"{'high' if ratios[c] >= 1 else 'low'} {c}"
        for c in ordered[:2]
        if abs(ratios[c] - 1) >= 0.15
    ]
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
        raise InsufficientDataError(
            f"{table.frame.height} customers are too few for {n_clusters} segments."
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
        names[row["segment"]] = _describe(row, overall, table.numeric, shares)
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
