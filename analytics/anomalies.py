"""Unusual customers: behaviour that departs from the customer's own history, and outliers.

Four kinds, each with a score (larger = more unusual, on the kind's own scale) and a reason in
words built from the same numbers:

``spend_drop``
    Net spend in the last :data:`RECENT_DAYS` days is below ``DROP_BELOW`` x what the
    customer's own history predicts (their net spend per day before the window, times the window).
    Score: the missing share of the expected spend (0.75 - 1).
``spend_spike``
    Net spend in the window is above ``SPIKE_ABOVE`` x the expected. Score: actual / expected.
``overdue``
    No order for at least ``OVERDUE_FACTOR`` x their usual days between orders (at least
    ``MIN_GAP_DAYS``), for customers who ordered within the last year. Score: days since the last
    order / usual gap.
``outlier``
    An Isolation Forest on the log-scaled features isolates the customer quickly (the
    :data:`OUTLIER_SHARE` most isolated customers). Score: the forest's anomaly score (higher is
    more isolated, about 0.5 - 0.8); the reason names the features furthest from the typical
    customer and the share of customers they exceed.

Only customers with at least ``MIN_ORDERS`` orders and ``MIN_HISTORY_DAYS`` days of history
before the window are judged against their own history: fewer orders make no rhythm.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import polars as pl
from sklearn.ensemble import IsolationForest

from analytics.errors import InsufficientDataError
from analytics.explain import describe_value
from analytics.features import as_of_datetime, customer_features, numeric_feature_names
from analytics.segmentation import scale

KINDS = ("spend_drop", "spend_spike", "overdue", "outlier")
RECENT_DAYS = 90
MIN_ORDERS = 4
MIN_HISTORY_DAYS = 180
DROP_BELOW = 0.25
SPIKE_ABOVE = 3.0
OVERDUE_FACTOR = 3.0
OVERDUE_WITHIN_DAYS = 365
OUTLIER_SHARE = 0.01
MIN_GAP_DAYS = 7
MIN_OUTLIER_CUSTOMERS = 20
_SCHEMA = {"customer_id": pl.String, "kind": pl.String, "score": pl.Float64, "reason": pl.String}


def _money(value: float, currency: str) -> str:
    return f"{'-' if value < 0 else ''}{currency}{abs(value):,.0f}"


def drop_reason(recent: float, expected: float, since: dt.date, days: int, currency: str) -> str:
    """``Spent £120 in the last 90 days against £900 expected from their own history (...)``."""
    history = (
        f"{_money(expected, currency)} expected from their own history "
        f"({_money(expected / days * 365, currency)} a year since {since:%b %Y})"
    )
    if recent < 0:
        return (
            f"Returned more than they bought in the last {days} days (net "
            f"{_money(recent, currency)}) against {history}."
        )
    if recent == 0:
        return f"Spent nothing in the last {days} days against {history}."
    return (
        f"Spent {_money(recent, currency)} in the last {days} days against {history}: "
        f"{1 - recent / expected:.0%} less."
    )


def spike_reason(recent: float, expected: float, since: dt.date, days: int, currency: str) -> str:
    per_year = expected / days * 365
    return (
        f"Spent {_money(recent, currency)} in the last {days} days, {recent / expected:.1f} times "
        f"the {_money(expected, currency)} their own history predicts ({_money(per_year, currency)} "
        f"a year since {since:%b %Y})."
    )


def overdue_reason(recency: float, gap: float, orders: int, since: dt.date) -> str:
    return (
        f"No order for {recency:.0f} days, {recency / gap:.1f} times their usual {gap:.0f} days "
        f"between orders ({orders:,} orders since {since:%b %Y})."
    )


def _share_words(share_below: float, share_above: float) -> str:
    if share_above == 0:
        return "the highest of all customers"
    if share_below == 0:
        return "the lowest of all customers"
    if share_below >= share_above:
        return f"more than {_pct(share_below)} of customers"
    return f"less than {_pct(share_above)} of customers"


def _pct(share: float) -> str:
    """A share rounded down, so "more than 99.9%" is always true; one decimal above 99%."""
    if share > 0.99:
        return f"{math.floor(share * 1000) / 10:.1f}%"
    return f"{math.floor(share * 100):.0f}%"


def outlier_reason(
    row: dict, columns: dict[str, np.ndarray], z: dict[str, float], currency: str, n: int = 2
) -> str:
    """The ``n`` features furthest from the typical customer, with the share of customers they pass."""
    parts = []
    for feature in sorted(z, key=lambda f: -abs(z[f]))[:n]:
        values = columns[feature]
        x = row[feature]
        below = float(np.mean(values < x))
        above = float(np.mean(values > x))
        parts.append(f"{describe_value(feature, x, currency)} ({_share_words(below, above)})")
    return "Unlike other customers: " + "; ".join(parts) + "."


def behaviour_changes(
    transactions: pl.DataFrame,
    as_of: str | dt.date | dt.datetime | None = None,
    *,
    currency: str = "£",
) -> pl.DataFrame:
    """Customers whose last :data:`RECENT_DAYS` days depart from their own history.

    Returns ``customer_id, kind, score, reason`` (kinds ``spend_drop``, ``spend_spike``,
    ``overdue``), most unusual first within each kind.
    """
    cutoff = as_of_datetime(as_of, transactions)
    window = cutoff - dt.timedelta(days=RECENT_DAYS)
    now = customer_features(transactions, cutoff)
    try:
        before = customer_features(transactions, window)
    except InsufficientDataError:
        before = now.clear()
    history = (
        before.filter(
            (pl.col("frequency") >= MIN_ORDERS)
            & (pl.col("tenure_days") >= MIN_HISTORY_DAYS)
            & (pl.col("monetary") > 0)
        )
        .select("customer_id", "first_purchase", hist=pl.col("monetary"), days="tenure_days")
        .join(now.select("customer_id", total="monetary"), on="customer_id")
        .with_columns(
            recent=pl.col("total") - pl.col("hist"),
            expected=pl.col("hist") / pl.col("days") * RECENT_DAYS,
        )
        .with_columns(ratio=pl.col("recent") / pl.col("expected"))
    )
    rows = []
    for r in history.filter(pl.col("ratio") < DROP_BELOW).iter_rows(named=True):
        reason = drop_reason(
            r["recent"], r["expected"], r["first_purchase"].date(), RECENT_DAYS, currency
        )
        rows.append((r["customer_id"], "spend_drop", 1 - max(r["ratio"], 0.0), reason))
    for r in history.filter(pl.col("ratio") > SPIKE_ABOVE).iter_rows(named=True):
        reason = spike_reason(
            r["recent"], r["expected"], r["first_purchase"].date(), RECENT_DAYS, currency
        )
        rows.append((r["customer_id"], "spend_spike", r["ratio"], reason))
    overdue = now.filter(
        (pl.col("frequency") >= MIN_ORDERS)
        & (pl.col("recency_days") <= OVERDUE_WITHIN_DAYS)
        & (pl.col("tenure_days") >= MIN_HISTORY_DAYS)
        & (pl.col("days_between_purchases") >= MIN_GAP_DAYS)
        & (pl.col("recency_days") >= OVERDUE_FACTOR * pl.col("days_between_purchases"))
    )
    for r in overdue.iter_rows(named=True):
        gap = r["days_between_purchases"]
        reason = overdue_reason(r["recency_days"], gap, r["frequency"], r["first_purchase"].date())
        rows.append((r["customer_id"], "overdue", r["recency_days"] / gap, reason))
    return _frame(rows)


def feature_outliers(
    features: pl.DataFrame,
    *,
    share: float = OUTLIER_SHARE,
    currency: str = "£",
    random_state: int = 0,
) -> pl.DataFrame:
    """The ``share`` most isolated customers in feature space (Isolation Forest), with reasons.

    Returns ``customer_id, kind, score, reason`` with kind ``outlier``, most isolated first.

    Raises
    ------
    InsufficientDataError
        Fewer than 20 customers.
    """
    if features.height < MIN_OUTLIER_CUSTOMERS:
        raise InsufficientDataError(
            f"Only {features.height} customers; outliers need at least {MIN_OUTLIER_CUSTOMERS}."
        )
    names = numeric_feature_names(features)
    matrix = features.select(names).fill_nan(None).fill_null(0.0).to_numpy().astype(float)
    scaled = scale(matrix, "log-standard")
    forest = IsolationForest(n_estimators=200, random_state=random_state).fit(scaled)
    scores = -forest.score_samples(scaled)
    count = max(1, int(round(share * features.height)))
    top = np.argsort(-scores, kind="stable")[:count]
    columns = {name: matrix[:, i] for i, name in enumerate(names)}
    rows = []
    for i in top:
        row = dict(zip(names, matrix[i], strict=True))
        z = {name: float(scaled[i, j]) for j, name in enumerate(names)}
        reason = outlier_reason(row, columns, z, currency)
        rows.append((features["customer_id"][int(i)], "outlier", float(scores[i]), reason))
    return _frame(rows)


def _frame(rows: list[tuple]) -> pl.DataFrame:
    frame = pl.DataFrame(rows, schema=_SCHEMA, orient="row")
    kind_order = {k: i for i, k in enumerate(KINDS)}
    return (
        frame.with_columns(_k=pl.col("kind").replace_strict(kind_order, return_dtype=pl.Int64))
        .sort(["_k", "score", "customer_id"], descending=[False, True, False])
        .drop("_k")
    )


def find_anomalies(
    transactions: pl.DataFrame,
    as_of: str | dt.date | dt.datetime | None = None,
    *,
    currency: str = "£",
) -> pl.DataFrame:
    """Every unusual customer: :func:`behaviour_changes` then :func:`feature_outliers`.

    Returns ``customer_id, kind, score, reason``; a customer may appear under several kinds.
    """
    features = customer_features(transactions, as_of)
    return pl.concat(
        [
            behaviour_changes(transactions, as_of, currency=currency),
            feature_outliers(features, currency=currency),
        ]
    )


def kind_labels() -> dict[str, str]:
    """Kinds in words for tables."""
    return {
        "spend_drop": "Spend dropped",
        "spend_spike": "Spend spiked",
        "overdue": "Order overdue",
        "outlier": "Outlier",
    }
