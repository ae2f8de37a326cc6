"""Segment profiles, comparisons and personas.

A profile says how big each segment is, what it is worth and how it differs from the average
customer; a Kruskal-Wallis test per feature says whether the segments really differ on it
(epsilon-squared effect size). Personas are named from the same numbers the user sees: each
segment's mean divided by the average customer's (the heatmap's ratios). Every name is a set of
claims on those ratios (``RULES``), so names follow the data, not the label number.
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


#: A segment is "high" on a feature when its mean is at least this many times the average
#: customer's, and "low" when at most its inverse: the ratios the heatmap shows.
HIGH = 1.5
LOW = 1 / HIGH
#: "VIP" names an elite: no more than this share of the customers.
VIP_MAX_SHARE = 0.25
#: A return share this many times the average adds "(frequent returners)".
RETURNER_RATIO = 2.0


@dataclass(frozen=True)
class Claim:
    """What a persona name asserts about one feature's ratio to the average customer."""

    feature: str
    op: str  # ">=" or "<="
    bound: float

    def holds(self, ratios: dict[str, float]) -> bool:
        value = ratios.get(self.feature)
        if value is None or not np.isfinite(value):
            return False
        return value >= self.bound if self.op == ">=" else value <= self.bound


@dataclass(frozen=True)
class PersonaRule:
    """A persona: its name, what the name claims, and the largest share of customers it may hold."""

    name: str
    description: str
    action: str
    claims: tuple[Claim, ...]
    max_share: float = 1.0

    def fits(self, ratios: dict[str, float], share: float) -> bool:
        return share <= self.max_share and all(c.holds(ratios) for c in self.claims)


def _high(feature: str) -> Claim:
    return Claim(feature, ">=", HIGH)


def _low(feature: str) -> Claim:
    return Claim(feature, "<=", LOW)


#: Tried in order; the first rule whose claims all hold names the segment.
RULES = (
    PersonaRule(
        "Heavy returners",
        "Return much of what they buy, so their net spend is low.",
        "Review their returns before any offer; fix product or sizing issues they point to.",
        (Claim("return_rate", ">=", 3.0), _low("monetary")),
    ),
    PersonaRule(
        "VIP champions",
        "Recent, frequent and high-spending: the best customers.",
        "Reward them: VIP perks, early access, referral asks; never discount-blast them.",
        (_high("monetary"), _high("frequency"), _low("recency_days")),
        max_share=VIP_MAX_SHARE,
    ),
    PersonaRule(
        "At-risk big spenders",
        "Spent a lot in the past but have not bought for a long time.",
        "Win-back offer with personal outreach before they are lost.",
        (_high("monetary"), _high("recency_days")),
    ),
    PersonaRule(
        "Loyal regulars",
        "Buy often and recently, with solid spend.",
        "Cross-sell and upsell; invite to the loyalty programme.",
        (_high("frequency"), _low("recency_days"), Claim("monetary", ">=", 1.0)),
    ),
    PersonaRule(
        "New customers",
        "First purchases were recent; few orders so far.",
        "Onboarding series and a second-purchase incentive.",
        (Claim("tenure_days", "<=", 0.5), _low("recency_days"), _low("frequency")),
    ),
    PersonaRule(
        "Big-ticket occasional buyers",
        "Large orders, but rarely.",
        "Time reminders to their buying cycle; bundle offers on big orders.",
        (_high("avg_order_value"), _low("frequency")),
    ),
    PersonaRule(
        "Lapsed low spenders",
        "Few, small orders, long ago.",
        "One low-cost reactivation offer, then suppress from paid campaigns.",
        (
            _high("recency_days"),
            _low("monetary"),
            _low("frequency"),
            Claim("avg_order_value", "<=", 1.0),
        ),
    ),
    PersonaRule(
        "Recent low spenders",
        "Bought recently but little.",
        "Nurture with best-sellers and a free-shipping threshold to grow the basket.",
        # net spend can be low while each order is big (returns net it down): not "low spenders"
        (_low("recency_days"), _low("monetary"), Claim("avg_order_value", "<=", 1.0)),
    ),
    PersonaRule(
        "Cooling customers",
        "Bought before, but longer ago than most; activity is slowing down.",
        "Re-engage with reminders and offers based on past purchases.",
        (Claim("recency_days", ">=", 1.2),),
    ),
    PersonaRule(
        "Average customers",
        "Close to the average customer on recency, frequency and spend.",
        "Test offers on them; recommend related products to lift frequency.",
        tuple(
            Claim(f, op, bound)
            for f in ("recency_days", "frequency", "monetary")
            for op, bound in ((">=", LOW), ("<=", HIGH))
        ),
    ),
)
MIXED = PersonaRule(
    "Mixed profile",
    "No single profile fits: see how they differ from the average below.",
    "Look at the heatmap before targeting them; consider another k or other features.",
    (),
)
RETURNERS = Claim("return_rate", ">=", RETURNER_RATIO)


def segment_ratios(frame: pl.DataFrame) -> dict[int, dict[str, float]]:
    """Each segment's mean of each complete feature divided by the average customer's mean.

    Features whose average is zero (or missing) have no ratio. ``frame`` holds the features and
    a ``segment`` column.
    """
    features = [f for f in FEATURES if f in frame.columns and frame.get_column(f).null_count() == 0]
    overall = frame.select([pl.col(f).mean() for f in features]).row(0, named=True)
    means = frame.group_by("segment").agg([pl.col(f).mean() for f in features])
    return {
        row["segment"]: {f: row[f] / overall[f] for f in features if overall[f]}
        for row in means.iter_rows(named=True)
    }


def _evidence(ratios: dict[str, float], rule: PersonaRule) -> str:
    """The numbers behind the name, e.g. "Net spend 3.9×, orders 3.2× the average customer"."""
    shown = [c.feature for c in rule.claims]
    shown = (
        list(dict.fromkeys(shown))
        or sorted(ratios, key=lambda f: -abs(np.log(max(ratios[f], 1e-3))))[:3]
    )
    parts = [f"{FEATURES[f].lower()} {ratios[f]:.2f}×" for f in shown if f in ratios]
    return ("Versus the average customer: " + ", ".join(parts) + ".") if parts else ""


def name_personas(frame: pl.DataFrame, table: pl.DataFrame) -> list[Persona]:
    """Name each segment from its mean-to-average ratios (the numbers the heatmap shows).

    The first rule in ``RULES`` whose claims all hold names a segment ("VIP" also needs the
    segment to be at most ``VIP_MAX_SHARE`` of customers); none fitting gives "Mixed profile".
    A return share at least ``RETURNER_RATIO`` times the average adds "(frequent returners)".
    Same-named segments are told apart by the feature on which their ratios differ most.
    Outliers (-1) are "Outliers". Each description ends with the ratios behind the name.
    """
    ratios = segment_ratios(frame)
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
        r = ratios[segment]
        rule = next((rule for rule in RULES if rule.fits(r, row["share"])), MIXED)
        name, action = rule.name, rule.action
        description = f"{rule.description} {_evidence(r, rule)}".strip()
        if rule.name != "Heavy returners" and RETURNERS.holds(r):
            name += " (frequent returners)"
            action += " Review their returns before sending offers."
            description += f" Returned share of spend {r['return_rate']:.2f}× the average."
        raw.append((segment, name, description, action))
    personas = []
    for segment, name, description, action in raw:
        twins = [r[0] for r in raw if r[1] == name]
        if len(twins) > 1:
            name = f"{name} ({_qualifier(segment, twins, ratios)})"
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


def _qualifier(segment: int, twins: list[int], ratios: dict[int, dict[str, float]]) -> str:
    """Tell same-named segments apart by the feature on which their ratios differ most."""
    features = set.intersection(*(set(ratios[s]) for s in twins)) if OUTLIER not in twins else set()
    if not features:
        return f"segment {segment}"
    spread = {
        f: max(ratios[s][f] for s in twins) - min(ratios[s][f] for s in twins)
        for f in sorted(features)
    }
    feature = max(spread, key=spread.get)
    rank = sorted(twins, key=lambda s: (ratios[s][feature], s)).index(segment)
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
