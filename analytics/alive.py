"""Alive or gone, and when next: BG/NBD P(alive), the expected next-order date and churn bands.

The BG/NBD model (:class:`analytics.btyd.BetaGeo`) is fitted on every customer's purchase days
before the as-of date. For each customer it gives

- ``p_alive``: the probability they have not dropped out (lifetimes'
  ``conditional_probability_alive``). BG/NBD lets customers drop out only right after a repeat
  purchase, so a customer with a single purchase day always has ``p_alive`` 1.0; judge them by
  the next-order date instead.
- ``expected_next_order``: the day by which a customer who is still active has a 50 % chance of
  having ordered again (the median wait of the Gamma-Poisson purchase process given the history,
  ``t = (alpha + T) * (2 ** (1 / (r + x)) - 1)`` days after the as-of date, rounded up to whole
  days). Null when that is more than :data:`MAX_WAIT_DAYS` away.
- ``churn_band``: ``High`` when ``p_alive`` < :data:`HIGH_BELOW`, ``Low`` when it is at least
  :data:`LOW_FROM`, ``Medium`` between.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.btyd import MIN_CUSTOMERS, BetaGeo, btyd_summary
from analytics.errors import DataError, InsufficientDataError
from analytics.features import as_of_datetime

HIGH_BELOW = 0.3
LOW_FROM = 0.7
MAX_WAIT_DAYS = 5 * 365
BANDS = ("Low", "Medium", "High")


def churn_band(p_alive: float) -> str:
    """``High`` below :data:`HIGH_BELOW`, ``Low`` from :data:`LOW_FROM`, else ``Medium``."""
    if p_alive < HIGH_BELOW:
        return "High"
    return "Low" if p_alive >= LOW_FROM else "Medium"


def band_thresholds() -> str:
    """The band rule in words, for pages and reports."""
    return (
        f"Dropout risk (churn band): High when P(alive) < {HIGH_BELOW:.0%}, Medium from "
        f"{HIGH_BELOW:.0%} to "
        f"{LOW_FROM:.0%}, Low from {LOW_FROM:.0%}"
    )


def median_wait_days(bgnbd: BetaGeo, x, T) -> np.ndarray:
    """Days from the as-of date until an active customer has a 50 % chance of a purchase.

    Given the history, an active customer's purchase rate is Gamma(r + x, alpha + T), so the
    chance of no purchase in the next ``t`` days is ``((alpha + T) / (alpha + T + t)) ** (r + x)``;
    this solves it for 1/2.
    """
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    r, alpha = bgnbd.params_["r"], bgnbd.params_["alpha"]
    return (alpha + T) * (2.0 ** (1.0 / (r + x)) - 1.0)


def _cutoff_day(cutoff: dt.datetime) -> dt.date:
    # as in btyd_summary: T counts whole days up to the cutoff day (a time of day rounds up)
    return cutoff.date() if cutoff.time() == dt.time() else cutoff.date() + dt.timedelta(days=1)


@dataclass(frozen=True)
class AliveResult:
    """BG/NBD fitted as of a date, and its per-customer table."""

    as_of: dt.datetime
    bgnbd: BetaGeo
    table: pl.DataFrame  # customer_id, x, t_x, T, p_alive, expected_next_order, churn_band

    def thresholds(self) -> str:
        return band_thresholds()


def alive_table(
    transactions: pl.DataFrame,
    as_of: str | dt.date | dt.datetime | None = None,
    *,
    penalizer: float = 0.0,
    bgnbd: BetaGeo | None = None,
) -> AliveResult:
    """P(alive), expected next-order date and churn band for every customer who bought before ``as_of``.

    Parameters
    ----------
    transactions
        A cleaned log.
    as_of
        Only purchases before this instant are used; default: midnight after the last transaction.
    penalizer
        L2 penalty of the BG/NBD fit on the summed log-likelihood. The default 0 is the plain
        maximum-likelihood fit, the same as lifetimes' ``BetaGeoFitter(penalizer_coef=0)``
        (lifetimes adds its penalty to the *mean* log-likelihood on rescaled times, so a nonzero
        value means something else there).
    bgnbd
        An already fitted model to score with instead of fitting one (tests, what-ifs).

    Returns
    -------
    AliveResult
        ``table`` has ``customer_id, x, t_x, T, p_alive, expected_next_order, churn_band``
        (``x`` repeat purchase days, ``t_x`` and ``T`` in days, see :mod:`analytics.btyd`).

    Raises
    ------
    InsufficientDataError
        Fewer than 50 customers, or nobody bought twice (the model cannot be fitted).
    """
    cutoff = as_of_datetime(as_of, transactions)
    summary = btyd_summary(transactions, cutoff)
    x, t_x, T = (summary.get_column(c).to_numpy() for c in ("x", "t_x", "T"))
    if bgnbd is None:
        if summary.height < MIN_CUSTOMERS:
            raise InsufficientDataError(
                f"Only {summary.height} customers bought before {cutoff:%Y-%m-%d}; P(alive) needs "
                f"at least {MIN_CUSTOMERS}."
            )
        if not (x > 0).any():
            raise InsufficientDataError(
                "No customer has bought on two different days, so P(alive) cannot be modelled yet."
            )
        bgnbd = BetaGeo(penalizer).fit(x, t_x, T)
    p_alive = bgnbd.p_alive(x, t_x, T)
    wait = median_wait_days(bgnbd, x, T)
    day = _cutoff_day(cutoff)
    next_order = [
        day + dt.timedelta(days=math.ceil(w - 1e-9)) if w <= MAX_WAIT_DAYS else None for w in wait
    ]
    table = summary.select("customer_id", "x", "t_x", "T").with_columns(
        p_alive=pl.Series(p_alive),
        expected_next_order=pl.Series(next_order, dtype=pl.Date),
        churn_band=pl.Series([churn_band(p) for p in p_alive], dtype=pl.String),
    )
    return AliveResult(cutoff, bgnbd, table)


def band_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Customers and share per churn band, in the order Low, Medium, High."""
    order = pl.DataFrame({"churn_band": list(BANDS), "_order": range(len(BANDS))})
    return (
        table.group_by("churn_band")
        .agg(customers=pl.len())
        .with_columns(share=pl.col("customers") / table.height)
        .join(order, on="churn_band")
        .sort("_order")
        .drop("_order")
    )


def p_alive_history(
    transactions: pl.DataFrame, customer_id: str, result: AliveResult
) -> pl.DataFrame:
    """P(alive) of one customer on every day from their first purchase to the as-of date.

    Uses the model of ``result`` (fitted once, as of its date) and, for each day, only the
    purchases before that day, so the curve shows what the model would have said then: it jumps
    up at each purchase and decays while the customer is silent.

    Returns ``date, p_alive, purchase`` (``purchase`` is True on the customer's purchase days).

    Raises
    ------
    DataError
        The customer bought nothing before the as-of date.
    """
    day = _cutoff_day(result.as_of)
    days = (
        transactions.filter(
            (pl.col("customer_id") == customer_id) & (pl.col("invoice_date") < result.as_of)
        )
        .group_by(pl.col("invoice_date").dt.date().alias("day"))
        .agg(bought=(~pl.col("is_return")).any())
        .filter(pl.col("bought"))
        .sort("day")
        .get_column("day")
        .to_list()
    )
    if not days:
        raise DataError(
            f"Customer {customer_id!r} bought nothing before {result.as_of:%Y-%m-%d}, so there "
            "is no P(alive) history."
        )
    first = days[0]
    offsets = np.array([(d - first).days for d in days], dtype=float)
    grid = np.arange(1, (day - first).days + 1, dtype=float)  # each day's cutoff, after the first
    # purchases strictly before each cutoff day
    seen = np.searchsorted(offsets, grid, side="left")
    x = seen - 1.0
    t_x = offsets[seen - 1]
    p = result.bgnbd.p_alive(x, t_x, grid)
    dates = [first + dt.timedelta(days=int(g)) for g in grid]
    purchase_days = set(days)
    return pl.DataFrame(
        {
            "date": pl.Series(dates, dtype=pl.Date),
            "p_alive": p,
            "purchase": [d in purchase_days for d in dates],
        }
    )


def churn_model_band(churn_probability: float) -> str:
    """The band of a churn model's P(no order in the horizon), on the BG/NBD band's scale.

    The same cut-offs as :func:`churn_band`, applied to the chance of ordering in the horizon
    (``1 - churn_probability``), so "High" means the same thing under both models: less than a
    :data:`HIGH_BELOW` chance of still being a buyer.
    """
    return churn_band(1.0 - churn_probability)


def last_purchase_note(x: float, t_x: float, T: float, as_of: dt.datetime) -> str:
    """The purchase days behind a P(alive), in words that match the dates shown elsewhere.

    ``x``, ``t_x`` and ``T`` are one row of :func:`alive_table` (whole days up to the cutoff day).
    The last purchase day is named by its date, so it reads the same as the profile's
    "last purchase" whatever the time of day of the as-of instant.
    """
    last_day = _cutoff_day(as_of) - dt.timedelta(days=round(T - t_x))
    if x == 0:
        return (
            f"One purchase day so far ({last_day:%d %b %Y}): BG/NBD counts a customer as active "
            "until a repeat purchase shows their rhythm, so judge them by the next-order date."
        )
    return f"{int(x) + 1} purchase days, the last on {last_day:%d %b %Y}."


def compare_risks(p_alive: float, churn_probability: float, horizon_days: int) -> str:
    """One sentence saying whether BG/NBD and the churn model agree about a customer, and why not.

    BG/NBD's P(alive) asks "has this customer dropped out for good?"; the churn model asks "will
    they order in the next ``horizon_days`` days?". Both are put on the same Low/Medium/High
    scale (:func:`churn_band`, :func:`churn_model_band`) and the sentence is built from the two
    numbers, so it changes when they do.
    """
    alive_band = churn_band(p_alive)
    model_band = churn_model_band(churn_probability)
    facts = (
        f"BG/NBD puts P(alive) at {p_alive:.0%} ({alive_band} risk of having dropped out); the "
        f"churn model gives a {churn_probability:.0%} chance of no order in the next "
        f"{horizon_days} days ({model_band} risk)"
    )
    if alive_band == model_band:
        return f"The two models agree: {facts}."
    order = {band: i for i, band in enumerate(BANDS)}
    if order[alive_band] < order[model_band]:
        why = (
            f"A customer who is still active but buys rarely can go more than {horizon_days} "
            "days without an order, so both can be true: expect the next order late rather "
            "than never."
        )
    else:
        why = (
            "BG/NBD reads only the rhythm of purchase days; the churn model also weighs spend, "
            "returns and recent activity, and on those this customer looks likelier to order "
            "again than their rhythm alone suggests."
        )
    return f"The two models disagree: {facts}. {why}"
