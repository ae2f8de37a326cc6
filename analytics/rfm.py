"""RFM scores (1-5 by quintiles) and the standard named RFM segments.

Scores
------
Each of recency, frequency and monetary gets a score from 1 to 5 by quintile of its rank among
customers (5 = most recent, most orders, highest spend). Tied values share a rank (the average of
their positions), so two customers with the same value always get the same score; the score is
``floor(5 * (rank - 0.5) / n) + 1``. With heavy ties (many one-order customers) a quintile can
therefore hold more or fewer than 20 % of customers.

Segments
--------
The segment follows from R and ``FM = round((F + M) / 2)`` (halves round up) through this map, which
names every one of the 25 cells, so no customer is left unnamed::

    R \\ FM |     1              2                   3                   4                5
    -------+-------------------------------------------------------------------------------------
       5   | New Customers   Potential Loyalists Potential Loyalists Champions        Champions
       4   | Promising       Potential Loyalists Potential Loyalists Loyal Customers  Champions
       3   | About to Sleep  About to Sleep      Need Attention      Loyal Customers  Loyal Customers
       2   | Hibernating     Hibernating         At Risk             At Risk          Can't Lose Them
       1   | Lost            Lost                At Risk             At Risk          Can't Lose Them
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

SEGMENT_GRID: dict[int, tuple[str, str, str, str, str]] = {
    5: ("New Customers", "Potential Loyalists", "Potential Loyalists", "Champions", "Champions"),
    4: ("Promising", "Potential Loyalists", "Potential Loyalists", "Loyal Customers", "Champions"),
    3: ("About to Sleep", "About to Sleep", "Need Attention", "Loyal Customers", "Loyal Customers"),
    2: ("Hibernating", "Hibernating", "At Risk", "At Risk", "Can't Lose Them"),
    1: ("Lost", "Lost", "At Risk", "At Risk", "Can't Lose Them"),
}


@dataclass(frozen=True)
class RfmSegment:
    """A named RFM segment with what it means and what to do."""

    name: str
    description: str
    action: str


RFM_SEGMENTS: dict[str, RfmSegment] = {
    s.name: s
    for s in (
        RfmSegment(
            "Champions",
            "Bought recently, buy often and spend the most.",
            "Reward them: VIP perks, early access, ask for reviews and referrals.",
        ),
        RfmSegment(
            "Loyal Customers",
            "Buy regularly and spend well.",
            "Upsell higher-value products; enrol in the loyalty programme.",
        ),
        RfmSegment(
            "Potential Loyalists",
            "Recent customers with average frequency and spend.",
            "Offer membership or a loyalty programme; recommend related products.",
        ),
        RfmSegment(
            "New Customers",
            "Bought very recently, for the first time or rarely.",
            "Onboarding series and a second-purchase incentive.",
        ),
        RfmSegment(
            "Promising",
            "Fairly recent but have bought little so far.",
            "Build awareness: free shipping threshold, best-seller recommendations.",
        ),
        RfmSegment(
            "Need Attention",
            "Average recency, frequency and spend.",
            "Limited-time offers based on past purchases.",
        ),
        RfmSegment(
            "About to Sleep",
            "Below-average recency, few orders and low spend.",
            "Share popular products and a discount to reconnect.",
        ),
        RfmSegment(
            "At Risk",
            "Spent a fair amount, but long ago.",
            "Personalised win-back emails and offers.",
        ),
        RfmSegment(
            "Can't Lose Them",
            "Used to be top customers but have not come back for a long time.",
            "Win them back with personal outreach and your best offer.",
        ),
        RfmSegment(
            "Hibernating",
            "Last purchase long ago, few orders and low spend.",
            "Low-cost reactivation campaign; otherwise keep out of paid media.",
        ),
        RfmSegment(
            "Lost",
            "Lowest recency, frequency and spend.",
            "Try one reactivation offer, then suppress from campaigns.",
        ),
    )
}
SEGMENT_ORDER = list(RFM_SEGMENTS)


def quintile_scores(values: pl.Expr, *, higher_is_better: bool = True) -> pl.Expr:
    """Score 1-5 by quintile of the average rank; ties share a score."""
    ranked = (values if higher_is_better else -values).rank(method="average")
    score = ((ranked - 0.5) * 5 / values.count()).floor() + 1
    return score.clip(1, 5).cast(pl.Int8)


def segment_for(r: int, fm: int) -> str:
    """The RFM segment name for an R score and a combined FM score (both 1-5)."""
    return SEGMENT_GRID[r][fm - 1]


def rfm_table(features: pl.DataFrame) -> pl.DataFrame:
    """Add RFM scores and segment names to a customer features frame.

    Parameters
    ----------
    features
        Output of :func:`analytics.features.customer_features` (needs ``recency_days``,
        ``frequency`` and ``monetary``).

    Returns
    -------
    polars.DataFrame
        ``customer_id, recency_days, frequency, monetary, r_score, f_score, m_score, fm_score,
        rfm_score`` (e.g. ``"545"``) ``, rfm_segment``.
    """
    lookup = pl.DataFrame(
        {
            "r_score": [r for r in SEGMENT_GRID for _ in range(5)],
            "fm_score": [fm for _ in SEGMENT_GRID for fm in range(1, 6)],
            "rfm_segment": [name for r in SEGMENT_GRID for name in SEGMENT_GRID[r]],
        },
        schema={"r_score": pl.Int8, "fm_score": pl.Int8, "rfm_segment": pl.String},
    )
    return (
        features.select("customer_id", "recency_days", "frequency", "monetary")
        .with_columns(
            r_score=quintile_scores(pl.col("recency_days"), higher_is_better=False),
            f_score=quintile_scores(pl.col("frequency")),
            m_score=quintile_scores(pl.col("monetary")),
        )
        .with_columns(
            fm_score=((pl.col("f_score").cast(pl.Int16) + pl.col("m_score") + 1) // 2).cast(
                pl.Int8
            ),
            rfm_score=pl.concat_str("r_score", "f_score", "m_score"),
        )
        .join(lookup, on=["r_score", "fm_score"], how="left")
    )


def rfm_summary(rfm: pl.DataFrame) -> pl.DataFrame:
    """Customers, share, and mean R/F/M per RFM segment, in the documented segment order."""
    total = rfm.height
    order = pl.DataFrame({"rfm_segment": SEGMENT_ORDER, "_order": range(len(SEGMENT_ORDER))})
    return (
        rfm.group_by("rfm_segment")
        .agg(
            customers=pl.len(),
            recency_days=pl.col("recency_days").mean(),
            frequency=pl.col("frequency").mean(),
            monetary=pl.col("monetary").mean(),
            revenue=pl.col("monetary").sum(),
        )
        .with_columns(share=pl.col("customers") / total)
        .join(order, on="rfm_segment")
        .sort("_order")
        .drop("_order")
    )
