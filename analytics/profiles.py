"""Segment profiles, comparisons and personas.

A profile says how big each segment is, what it is worth and how it differs from the average
customer; a Kruskal-Wallis test per feature says whether the segments really differ on it
(epsilon-squared effect size). Personas are named from where a segment's medians fall in the
distribution of all customers, so names follow the data, not the label number.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy.stats import kruskal

from analytics.features import FEATURES
from analytics.segmentation import OUTLIER

#: Effect-size bands for epsilon-squared (Tomczak & Tomczak 2014).
EFFECT_BANDS = ((0.26, "large"), (0.08, "medium"), (0.01, "small"), (0.0, "negligible"))


@dataclass(frozen=True)
class Persona:
    """A plain-language name for a segment and what to do with it."""

    segment: int
    name: str
    description: str
    action: str
    customers: int
    share: float
    revenue_share: float


@dataclass(frozen=True)
class SegmentProfile:
    """Everything the comparison view shows about a segmentation."""

    table: pl.DataFrame  # one row per segment
    tests: pl.DataFrame  # one row per feature
    personas: list[Persona]

    def names(self) -> dict[int, str]:
        return {p.segment: p.name for p in self.personas}


def _effect_label(eps2: float) -> str:
    return next(label for bound, label in EFFECT_BANDS if eps2 >= bound)


def difference_tests(frame: pl.DataFrame, features: Sequence[str]) -> pl.DataFrame:
    """Kruskal-Wallis H test per feature across segments, with epsilon-squared effect size.

    ``epsilon_squared = H * (n + 1) / (n**2 - 1)``; bands: >= 0.26 large, >= 0.08 medium,
    >= 0.01 small. Outliers (-1) are left out.
    """
    kept = frame.filter(pl.col("segment") != OUTLIER)
    n = kept.height
    groups = kept.partition_by("segment", as_dict=True, maintain_order=True)
    rows = []
    for name in features:
        samples = [g.get_column(name).to_numpy() for g in groups.values()]
        if len(samples) < 2 or np.ptp(np.concatenate(samples)) == 0:
            h, p = float("nan"), float("nan")
        else:
            h, p = kruskal(*samples)
        eps2 = float(h * (n + 1) / (n * n - 1)) if np.isfinite(h) else float("nan")
        rows.append(
            {
                "feature": name,
                "label": FEATURES.get(name, name),
                "h_statistic": float(h),
                "p_value": float(p),
                "epsilon_squared": eps2,
                "effect": _effect_label(eps2) if np.isfinite(eps2) else "n/a",
                "differs": bool(np.isfinite(p) and p < 0.05),
            }
        )
    return pl.DataFrame(rows)


def profile_segments(
    features: pl.DataFrame,
    labels: Sequence[int] | np.ndarray,
    feature_names: Sequence[str] | None = None,
) -> SegmentProfile:
    """Profile each segment of a segmentation.

    Parameters
    ----------
    features
        Customer features (:func:`analytics.features.customer_features`).
    labels
        Segment per customer, in the order of ``features`` (-1 = outliers).
    feature_names
        Features to describe (default: every numeric feature present).

    Returns
    -------
    SegmentProfile
        ``table`` columns: ``segment, name, customers, share, revenue, revenue_share`` and, per
        feature, ``<f>_mean``, ``<f>_median``, ``<f>_ratio`` (segment mean / overall mean).
    """
    names = (
        list(feature_names)
        if feature_names
        else [
            f
            for f in FEATURES
            if f in features.columns and features.get_column(f).null_count() == 0
        ]
    )
    frame = features.with_columns(segment=pl.Series(np.asarray(labels, dtype=np.int64)))
    total_customers = frame.height
    total_revenue = frame.get_column("monetary").sum()
    overall = frame.select([pl.col(f).mean().alias(f) for f in names]).row(0, named=True)
    aggs = [pl.len().alias("customers"), pl.col("monetary").sum().alias("revenue")]
    for f in names:
        aggs += [pl.col(f).mean().alias(f"{f}_mean"), pl.col(f).median().alias(f"{f}_median")]
    table = (
        frame.group_by("segment")
        .agg(aggs)
        .with_columns(
            share=pl.col("customers") / total_customers,
            revenue_share=pl.col("revenue") / total_revenue if total_revenue else pl.lit(0.0),
            **{
                f"{f}_ratio": (pl.col(f"{f}_mean") / overall[f]) if overall[f] else pl.lit(None)
                for f in names
            },
        )
        .sort("segment")
    )
    personas = name_personas(frame, table)
    names_col = pl.DataFrame(
        {"segment": [p.segment for p in personas], "name": [p.name for p in personas]},
        schema={"segment": pl.Int64, "name": pl.String},
    )
    ordered = ["segment", "name", "customers", "share", "revenue", "revenue_share"]
    table = table.join(names_col, on="segment").select(
        ordered + [c for c in table.columns if c not in ordered]
    )
    return SegmentProfile(table=table, tests=difference_tests(frame, names), personas=personas)


def _percentile(values: np.ndarray, x: float) -> float:
    """Share of customers with a value below ``x`` (ties count half)."""
    return float(((values < x).sum() + 0.5 * (values == x).sum()) / len(values))


# Each rule: (name, description, action, test on percentile positions p[feature]).
_RULES = (
    (
        "VIP champions",
        "Recent, frequent and high-spending: the best customers.",
        "Reward them: VIP perks, early access, referral asks; never discount-blast them.",
        lambda p: p["monetary"] >= 0.7 and p["recency_days"] <= 0.4 and p["frequency"] >= 0.6,
    ),
    (
        "At-risk big spenders",
        "Spent a lot in the past but have not bought for a long time.",
        "Win-back offer with personal outreach before they are lost.",
        lambda p: p["monetary"] >= 0.6 and p["recency_days"] >= 0.6,
    ),
    (
        "Loyal regulars",
        "Buy often and recently, with solid spend.",
        "Cross-sell and upsell; invite to the loyalty programme.",
        lambda p: p["frequency"] >= 0.6 and p["recency_days"] <= 0.5,
    ),
    (
        "New customers",
        "First purchases were recent; few orders so far.",
        "Onboarding series and a second-purchase incentive.",
        lambda p: p.get("tenure_days", p["recency_days"]) <= 0.35 and p["recency_days"] <= 0.4,
    ),
    (
        "Lapsed low spenders",
        "Few, small orders, long ago.",
        "One low-cost reactivation offer, then suppress from paid campaigns.",
        lambda p: p["recency_days"] >= 0.6 and p["monetary"] <= 0.5,
    ),
    (
        "Big-ticket occasional buyers",
        "Large orders, but rarely.",
        "Time reminders to their buying cycle; bundle offers on big orders.",
        lambda p: p.get("avg_order_value", 0.5) >= 0.7 and p["frequency"] <= 0.5,
    ),
    (
        "Recent low spenders",
        "Bought recently but little.",
        "Nurture with best-sellers and a free-shipping threshold to grow the basket.",
        lambda p: p["recency_days"] <= 0.4 and p["monetary"] <= 0.4,
    ),
    (
        "Cooling customers",
        "Used to buy regularly; activity is slowing down.",
        "Re-engage with reminders and offers based on past purchases.",
        lambda p: p["recency_days"] >= 0.5,
    ),
)
_FALLBACK = (
    "Average customers",
    "Close to the average customer on recency, frequency and spend.",
    "Test offers on them; recommend related products to lift frequency.",
)


def name_personas(frame: pl.DataFrame, table: pl.DataFrame) -> list[Persona]:
    """Name each segment from where its medians fall among all customers.

    The first matching rule names a segment (see ``_RULES``); a high return rate adds
    "(frequent returners)". Two segments with the same name are told apart by value
    ("higher-value" / "lower-value"). Outliers (-1) are "Outliers".
    """
    columns = {
        f: frame.get_column(f).to_numpy()
        for f in FEATURES
        if f in frame.columns and frame.get_column(f).null_count() == 0
    }
    raw: list[tuple[int, str, str, str]] = []
    for row in table.iter_rows(named=True):
        segment = row["segment"]
        if segment == OUTLIER:
            raw.append(
                (
                    segment,
                    "Outliers",
                    "Customers unlike any segment (noise for DBSCAN/HDBSCAN).",
                    "Review them one by one; they may be data errors or key accounts.",
                )
            )
            continue
        members = frame.filter(pl.col("segment") == segment)
        p = {
            f: _percentile(values, float(members.get_column(f).median()))
            for f, values in columns.items()
        }
        name, description, action = next(
            ((n, d, a) for n, d, a, test in _RULES if test(p)), _FALLBACK
        )
        if p.get("return_rate", 0.0) >= 0.85:
            name += " (frequent returners)"
            action += " Review their returns before sending offers."
        raw.append((segment, name, description, action))
    personas = []
    for segment, name, description, action in raw:
        twins = [r for r in raw if r[1] == name]
        if len(twins) > 1:
            name = f"{name} ({_qualifier(segment, [r[0] for r in twins], frame, columns)})"
        row = table.filter(pl.col("segment") == segment).row(0, named=True)
        personas.append(
            Persona(
                segment,
                name,
                description,
                action,
                row["customers"],
                row["share"],
                row["revenue_share"],
            )
        )
    return personas


def _qualifier(segment: int, twins: list[int], frame: pl.DataFrame, columns: dict) -> str:
    """Tell same-named segments apart by the feature on which their medians differ most."""
    spread = {}
    for f, values in columns.items():
        medians = [
            _percentile(values, float(frame.filter(pl.col("segment") == s).get_column(f).median()))
            for s in twins
        ]
        spread[f] = (max(medians) - min(medians), medians)
    feature = max(spread, key=lambda f: spread[f][0])
    medians = spread[feature][1]
    rank = sorted(range(len(twins)), key=lambda i: (medians[i], twins[i])).index(
        twins.index(segment)
    )
    label = FEATURES[feature].lower()
    if len(twins) == 2:
        return f"{'lower' if rank == 0 else 'higher'} {label}"
    return f"{label}: tier {rank + 1} of {len(twins)}"


def box_stats(features: pl.DataFrame, assignments: pl.DataFrame, feature: str) -> pl.DataFrame:
    """Per-segment box-plot statistics of one feature (Tukey fences at 1.5 IQR).

    Returns ``segment, segment_name, q1, median, q3, lower_fence, upper_fence, mean, n``: the
    fences are the most extreme values within 1.5 IQR of the quartiles, as in a standard box plot.
    Computed here so the chart stays light for any number of customers.
    """
    frame = features.select("customer_id", feature).join(
        assignments.select("customer_id", "segment", "segment_name"), on="customer_id"
    )
    value = pl.col(feature)
    quartiles = frame.group_by("segment", "segment_name").agg(
        q1=value.quantile(0.25, interpolation="linear"),
        median=value.median(),
        q3=value.quantile(0.75, interpolation="linear"),
        mean=value.mean(),
        n=pl.len(),
    )
    iqr = pl.col("q3") - pl.col("q1")
    fences = (
        frame.join(quartiles, on=["segment", "segment_name"])
        .filter(value.is_between(pl.col("q1") - 1.5 * iqr, pl.col("q3") + 1.5 * iqr))
        .group_by("segment")
        .agg(lower_fence=value.min(), upper_fence=value.max())
    )
    return (
        quartiles.join(fences, on="segment")
        .sort("segment")
        .select(
            "segment",
            "segment_name",
            "q1",
            "median",
            "q3",
            "lower_fence",
            "upper_fence",
            "mean",
            "n",
        )
    )
