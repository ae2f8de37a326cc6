"""Churn risk and customer lifetime value: time-honest LightGBM models, probabilistic
(buy-till-you-die) models, a backtest that compares them, and value x risk quadrants.

Time honesty: a model that scores customers as of ``end`` is trained on cutoffs ``c`` whose label
window ``[c, c + H)`` ends on or before ``end``; features at a cutoff use only earlier rows
(:func:`analytics.features.customer_features`). The backtest does the same one horizon earlier
and scores the last full horizon of the data, which the models never saw. A labelled snapshot
at a cutoff depends only on rows before ``c + H``, so the backtest and the final model share
the snapshots their cutoffs have in common (:class:`Snapshots`).

CLV models compared in the backtest (:data:`CLV_CANDIDATES`):

- **Two-stage x BG/NBD blend**: P(any purchase) x the geometric mean of the two-stage model's
  spend given a purchase and the BG/NBD + Gamma-Gamma forecast, scaled to BG/NBD + Gamma-Gamma's
  total over the scored customers (:meth:`Models.clv_blend`: why the plain two-stage product
  ranks customers no better than BG/NBD);
- **Two-stage LightGBM**: P(any purchase in the horizon) (the calibrated churn model) x the
  expected spend given a purchase (a Gamma-objective LightGBM trained on the snapshots of
  customers who bought), both with the BG/NBD and Gamma-Gamma forecasts among the features;
- **One-stage LightGBM**: a Tweedie LightGBM on spend, boosted from the BG/NBD forecast;
- **BG/NBD + Gamma-Gamma** and **Pareto/NBD + Gamma-Gamma** (:mod:`analytics.btyd`);
- the **previous-window spend** baseline (spend in the H days before the cutoff), which is
  reported but never chosen.

Choice rule (:func:`choose_clv_model`): the candidate with the best mean rank over MAE (lower
is better), R² and Spearman (higher is better) in the backtest; a tie goes to the lower MAE.

Prediction intervals (:class:`Intervals`): split-conformal on the backtest residuals of the
chosen model, per decile of the prediction, at :data:`INTERVAL_LEVEL`; their coverage is measured
on held-out halves of the backtest customers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import lightgbm as lgb
import numpy as np
import polars as pl
from scipy.stats import spearmanr
from sklearn.calibration import CalibratedClassifierCV, calibration_curve
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    mean_absolute_error,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
)
from threadpoolctl import threadpool_limits

from analytics.btyd import (
    MIN_CUSTOMERS,
    btyd_forecast,
    daily_activity,
    pareto_nbd_forecast,
    pareto_nbd_purchases,
    purchase_days,
)
from analytics.errors import InsufficientDataError, ParameterError
from analytics.features import FEATURES, as_of_datetime, customer_features

DEFAULT_HORIZON = 90
MIN_HISTORY_DAYS = 60
CUTOFF_STEP_DAYS = 30
MAX_CUTOFFS = 6
INTERVAL_LEVEL = 0.8
Progress = Callable[[int, int, str], None]

TWO_STAGE = "Two-stage LightGBM"
ONE_STAGE = "One-stage LightGBM"
BLEND = "Two-stage x BG/NBD blend"
BGNBD = "BG/NBD + Gamma-Gamma"
PARETO = "Pareto/NBD + Gamma-Gamma"
PREVIOUS = "Previous window spend"
#: Models the choice rule picks from, in the order tables show them.
CLV_CANDIDATES = (BLEND, TWO_STAGE, ONE_STAGE, BGNBD, PARETO)
#: The candidates computed from the LightGBM models (:meth:`Models.predicted_clv`).
LIGHTGBM_CLV = (BLEND, TWO_STAGE, ONE_STAGE)
CLV_METHODS = {
    BLEND: (
        "two-stage LightGBM x BG/NBD blend (P(any purchase) x the geometric mean of LightGBM's "
        "spend given a purchase and the BG/NBD + Gamma-Gamma forecast)"
    ),
    TWO_STAGE: "two-stage LightGBM (P(any purchase) x expected spend given a purchase)",
    ONE_STAGE: "one-stage LightGBM (Tweedie, boosted from the BG/NBD + Gamma-Gamma forecast)",
    BGNBD: "BG/NBD + Gamma-Gamma",
    PARETO: "Pareto/NBD + Gamma-Gamma",
}
CHOICE_RULE = (
    "the model with the best mean rank over MAE, R² and Spearman in the backtest "
    "(ties go to the lower MAE)"
)

#: Value x risk quadrants: the key says where a customer falls (value above the median predicted
#: CLV and above zero; churn probability at or above the threshold); the shown name is chosen by
#: :func:`quadrant_name` from the members' numbers, so it holds at every threshold.
QUADRANT_KEYS = ("value_safe", "value_risk", "low_safe", "low_risk")
QUADRANT_ACTIONS = {
    "value_safe": "Reward and retain: VIP perks, early access, referral asks.",
    "value_risk": "Act now: personal outreach and a tailored win-back offer.",
    "low_safe": "Nurture: cross-sell to grow their basket.",
    "low_risk": "Keep costs low: automated offers only, no paid retargeting.",
}
#: (name when every member's numbers back it, name otherwise) per quadrant key. The low side
#: says "predicted value": it is ranked by predicted CLV, and a member may have spent a lot in
#: the past ("Low Spenders" named customers with thousands of revenue at risk, a walk found).
QUADRANT_NAMES = {
    "value_safe": ("Loyal Champions", "High value, watch closely"),
    "value_risk": ("At-Risk Whales", "High value, some risk"),
    "low_safe": ("Steady, Low Predicted Value", "Low predicted value, watch closely"),
    "low_risk": ("Lapsing, Low Predicted Value", "Low predicted value, some risk"),
}
#: "Loyal"/"Steady" need every member more likely to buy than not (churn < 50%); "At-Risk" and
#: "Lapsing" need every member more likely to lapse than not (churn >= 50%).
LIKELY = 0.5


def quadrant_name(key: str, churn_min: float, churn_max: float) -> str:
    """The name of a quadrant given its members' lowest and highest churn probability.

    >>> quadrant_name("value_safe", 0.05, 0.4)
    'Loyal Champions'
    >>> quadrant_name("value_safe", 0.05, 0.64)
    'High value, watch closely'
    """
    strong, plain = QUADRANT_NAMES[key]
    if key.endswith("_safe"):
        return strong if churn_max < LIKELY else plain
    return strong if churn_min >= LIKELY else plain


def _check_horizon(horizon_days: int) -> None:
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, int)
        or not 7 <= horizon_days <= 730
    ):
        raise ParameterError(
            f"The 'horizon_days' parameter must be an int in [7, 730]. Got {horizon_days!r} instead."
        )


def _check_threshold(threshold: float) -> None:
    if (
        isinstance(threshold, bool)
        or not isinstance(threshold, int | float)
        or not 0 < threshold < 1
    ):
        raise ParameterError(
            f"The 'threshold' parameter must be a number in (0, 1). Got {threshold!r} instead."
        )


#: Rates derived from the customer features, added for the models (spend and order pace matter
#: more for next-window spend than lifetime totals).
DERIVED = {
    "spend_last_90_days": "Spend in the last 90 days",
    "orders_per_month": "Orders per month",
    "spend_per_month": "Spend per month",
}
#: BG/NBD's and Gamma-Gamma's view of each customer at the same cutoff, stacked as model inputs.
BTYD_FEATURES = {
    "bg_expected_purchases": "Expected purchases (BG/NBD)",
    "bg_p_alive": "Probability still active (BG/NBD)",
    "bg_expected_spend": "Expected spend per purchase (Gamma-Gamma)",
    "bg_clv": "Expected spend (BG/NBD + Gamma-Gamma)",
}
#: The customer's activity in the same weeks one year before the label window (seasonal
#: buyers: the bundled data's last horizon is the Christmas quarter). Always before the cutoff.
SEASONAL = {
    "spend_last_year_window": "Spend in the same weeks a year earlier",
    "days_last_year_window": "Purchase days in the same weeks a year earlier",
}
#: The rhythm of each customer's purchase days before the cutoff (:func:`with_activity`): who is
#: overdue against their own pace, who buys regularly, whose buying is rising or fading. -1 marks
#: "undefined" (too few purchase days for a gap).
ACTIVITY = {
    "purchase_days_30": "Purchase days in the last 30 days",
    "purchase_days_90": "Purchase days in the last 90 days",
    "purchase_days_prev_90": "Purchase days 90-180 days before",
    "spend_prev_90": "Spend 90-180 days before",
    "gap_mean": "Mean days between purchase days",
    "gap_cv": "Irregularity of the gaps between purchase days (std / mean)",
    "overdue": "Days since the last purchase over the mean gap",
}
MODEL_LABELS = {**FEATURES, **DERIVED, **BTYD_FEATURES, **SEASONAL, **ACTIVITY}


def with_derived(features: pl.DataFrame) -> pl.DataFrame:
    """Add :data:`DERIVED` columns to a customer features frame."""
    months = pl.max_horizontal(pl.col("tenure_days"), pl.lit(30.0)) / 30.0
    return features.with_columns(
        spend_last_90_days=pl.col("recent_spend_share")
        * pl.col("avg_order_value")
        * pl.col("frequency"),
        orders_per_month=pl.col("frequency") / months,
        spend_per_month=pl.col("monetary") / months,
    )


def with_last_year(
    features: pl.DataFrame,
    tx: pl.DataFrame,
    cutoff: dt.datetime,
    horizon_days: int,
    *,
    daily: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Add :data:`SEASONAL`: spend and purchase days in ``[cutoff - 365 d, cutoff - 365 d + H)``,
    cut at ``cutoff`` (so nothing at or after the cutoff is read, whatever the horizon).

    ``daily`` (:func:`analytics.btyd.daily_activity` of ``tx``) gives the same numbers faster
    when ``cutoff`` is at midnight.
    """
    start = cutoff - dt.timedelta(days=365)
    stop = min(start + dt.timedelta(days=horizon_days), cutoff)
    if daily is not None and cutoff.time() == dt.time():
        window = (
            daily.filter(pl.col("day").is_between(start.date(), stop.date(), closed="left"))
            .group_by("customer_id")
            .agg(
                spend_last_year_window=pl.col("spend").sum(),
                days_last_year_window=pl.len().cast(pl.Float64),
            )
        )
    else:
        window = (
            tx.filter(
                pl.col("customer_id").is_not_null()
                & pl.col("invoice_date").is_between(start, stop, closed="left")
            )
            .group_by("customer_id")
            .agg(
                spend_last_year_window=pl.col("amount").sum(),
                days_last_year_window=pl.col("invoice_date").dt.date().n_unique().cast(pl.Float64),
            )
        )
    return features.join(window, on="customer_id", how="left").with_columns(
        pl.col("spend_last_year_window").fill_null(0.0),
        pl.col("days_last_year_window").fill_null(0.0),
    )


def with_activity(
    features: pl.DataFrame,
    tx: pl.DataFrame,
    cutoff: dt.datetime,
    *,
    days: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Add :data:`ACTIVITY` from the purchase days strictly before ``cutoff``
    (:func:`analytics.btyd.purchase_days`; ``days`` may pass it when the caller has it).

    Customers without a purchase day get 0 counts and spends and -1 for the gap measures.
    """
    if days is None:
        days = purchase_days(tx, cutoff)
    today = cutoff.date() if cutoff.time() == dt.time() else cutoff.date() + dt.timedelta(days=1)

    def since(n: int) -> pl.Expr:
        return pl.col("day") >= today - dt.timedelta(days=n)

    gap = pl.col("day").diff().dt.total_days().cast(pl.Float64)
    activity = (
        days.group_by("customer_id")
        .agg(
            purchase_days_30=since(30).sum().cast(pl.Float64),
            purchase_days_90=since(90).sum().cast(pl.Float64),
            purchase_days_prev_90=(since(180) & ~since(90)).sum().cast(pl.Float64),
            spend_prev_90=pl.col("spend").filter(since(180) & ~since(90)).sum(),
            gap_mean=gap.mean(),
            gap_std=gap.std(),
            last_day=pl.col("day").max(),
        )
        .with_columns(
            gap_cv=pl.col("gap_std") / pl.col("gap_mean"),
            overdue=(pl.lit(today) - pl.col("last_day")).dt.total_days() / pl.col("gap_mean"),
        )
        .drop("gap_std", "last_day")
    )
    undefined = ("gap_mean", "gap_cv", "overdue")
    return features.join(activity, on="customer_id", how="left").with_columns(
        *(pl.col(c).fill_nan(None).fill_null(-1.0) for c in undefined),
        *(pl.col(c).fill_null(0.0) for c in ACTIVITY if c not in undefined),
    )


def _btyd_columns(table: pl.DataFrame) -> pl.DataFrame:
    return table.select(
        "customer_id",
        bg_expected_purchases="expected_purchases",
        bg_p_alive="p_alive",
        bg_expected_spend="expected_spend",
        bg_clv="clv",
    )


def with_btyd(
    features: pl.DataFrame,
    tx: pl.DataFrame,
    cutoff: dt.datetime,
    horizon_days: int,
    *,
    days: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Add :data:`BTYD_FEATURES`, fitted on purchases before ``cutoff`` only (null if it cannot fit)."""
    try:
        table = btyd_forecast(tx, cutoff, horizon_days, days=days).table
    except InsufficientDataError:
        return features.with_columns(**{name: pl.lit(None, pl.Float64) for name in BTYD_FEATURES})
    return features.join(_btyd_columns(table), on="customer_id", how="left")


def model_features(features: pl.DataFrame) -> list[str]:
    """Numeric features usable by the models (present and never null)."""
    return [
        f
        for f in MODEL_LABELS
        if f in features.columns and features.get_column(f).null_count() == 0
    ]


def label_frame(
    tx: pl.DataFrame,
    cutoff: dt.datetime,
    horizon_days: int,
    *,
    daily: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Features as of ``cutoff`` plus labels from ``[cutoff, cutoff + H)``.

    ``churned`` is True when the customer made no purchase in the window; ``future_spend`` is
    their net spend in it (0 when they did not come back). Only rows before ``cutoff + H`` are
    read, so any log that agrees with ``tx`` up to then gives the same frame. ``daily``
    (:func:`analytics.btyd.daily_activity` of ``tx``, shared by :class:`Snapshots`) is used for
    the day-level parts when ``cutoff`` is at midnight.
    """
    stop = cutoff + dt.timedelta(days=horizon_days)
    tx = tx.filter(pl.col("invoice_date") < stop)
    if daily is not None and cutoff.time() == dt.time():
        daily = daily.filter(pl.col("day") < stop.date())
        days = daily.filter((pl.col("day") < cutoff.date()) & pl.col("bought")).drop("bought")
        window = (
            daily.filter(pl.col("day") >= cutoff.date())
            .group_by("customer_id")
            .agg(future_spend=pl.col("spend").sum(), bought=pl.col("bought").any())
        )
    else:
        daily = None
        days = purchase_days(tx, cutoff)
        window = (
            tx.filter(
                pl.col("customer_id").is_not_null()
                & pl.col("invoice_date").is_between(cutoff, stop, closed="left")
            )
            .group_by("customer_id")
            .agg(future_spend=pl.col("amount").sum(), bought=(~pl.col("is_return")).any())
        )
    features = with_derived(customer_features(tx, cutoff))
    features = with_btyd(features, tx, cutoff, horizon_days, days=days)
    features = with_last_year(features, tx, cutoff, horizon_days, daily=daily)
    features = with_activity(features, tx, cutoff, days=days)
    return (
        features.join(window, on="customer_id", how="left")
        .with_columns(
            churned=~pl.col("bought").fill_null(False),
            future_spend=pl.col("future_spend").fill_null(0.0),
        )
        .drop("bought")
    )


class Snapshots:
    """Labelled snapshots (:func:`label_frame`) of one log and horizon, computed once per cutoff.

    The backtest and the final model share about half their cutoffs (and the backtest's scored
    snapshot is the final model's latest training cutoff), so sharing them halves the feature
    and BG/NBD work of ``predict``.
    """

    def __init__(self, tx: pl.DataFrame, horizon_days: int) -> None:
        # snapshots only read customers' rows (anonymous rows are 22% of the bundled log)
        self.tx = tx.filter(pl.col("customer_id").is_not_null())
        self.horizon_days = horizon_days
        self.daily = daily_activity(self.tx)  # the day-level parts of every snapshot, once
        self._frames: dict[dt.datetime, pl.DataFrame] = {}

    def at(self, cutoff: dt.datetime) -> pl.DataFrame:
        """The snapshot at ``cutoff``; its label window must end within the log."""
        if cutoff not in self._frames:
            self._frames[cutoff] = label_frame(self.tx, cutoff, self.horizon_days, daily=self.daily)
        return self._frames[cutoff]

    def prefetch(self, cutoffs: list[dt.datetime], workers: int = 1) -> None:
        """Compute the snapshots at ``cutoffs`` now, ``workers`` at a time (threads: polars and
        numpy release the GIL; no OpenMP is involved)."""
        todo = [c for c in dict.fromkeys(cutoffs) if c not in self._frames]
        if workers > 1 and len(todo) > 1:
            with ThreadPoolExecutor(workers) as pool:
                frames = pool.map(
                    lambda c: label_frame(self.tx, c, self.horizon_days, daily=self.daily), todo
                )
                self._frames.update(zip(todo, frames, strict=True))
        for c in todo:
            self.at(c)

    def __len__(self) -> int:
        return len(self._frames)


def training_cutoffs(first: dt.datetime, end: dt.datetime, horizon_days: int) -> list[dt.datetime]:
    """Cutoffs whose label windows end by ``end``, 30 days apart, each with 60+ days of history."""
    last = end - dt.timedelta(days=horizon_days)
    cutoffs = [last - dt.timedelta(days=CUTOFF_STEP_DAYS * k) for k in range(MAX_CUTOFFS)]
    return [c for c in cutoffs if (c - first).days >= MIN_HISTORY_DAYS]


#: LightGBM settings shared by every model: one thread (OpenMP threads must never run in a web
#: worker that later forks a job, FIELD-NOTES) and deterministic, so a cut file and a cutoff give
#: identical predictions.
LGBM_FIXED = {
    "n_jobs": 1,
    "random_state": 0,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
_BAGGING = {"subsample": 0.8, "subsample_freq": 1, "colsample_bytree": 0.8, "reg_lambda": 1.0}


def _classifier(n: int) -> lgb.LGBMClassifier:
    # 150 trees at 0.06 match 300 at 0.03 on the bundled backtest (ROC-AUC 0.7985 vs 0.7987,
    # Brier 0.2008 vs 0.2011) in 62% of the time (issue 12's predict target).
    return lgb.LGBMClassifier(
        n_estimators=150,
        learning_rate=0.06,
        num_leaves=15,
        min_child_samples=max(10, n // 300),
        **_BAGGING,
        **LGBM_FIXED,
    )


def _regressor(n: int) -> lgb.LGBMRegressor:
    return lgb.LGBMRegressor(
        objective="tweedie",
        tweedie_variance_power=1.5,
        n_estimators=200,
        learning_rate=0.02,
        num_leaves=7,
        min_child_samples=max(20, n // 400),
        **_BAGGING,
        **LGBM_FIXED,
    )


def _spend_regressor(n: int) -> lgb.LGBMRegressor:
    """Stage two: spend given a purchase (Gamma deviance, log link: a mean, not a median)."""
    return lgb.LGBMRegressor(
        objective="gamma",
        n_estimators=250,
        learning_rate=0.03,
        num_leaves=7,
        min_child_samples=max(20, n // 200),
        **_BAGGING,
        **LGBM_FIXED,
    )


def _clv_offset(frame: pl.DataFrame) -> np.ndarray | None:
    """log(1 + BG/NBD CLV): the CLV model boosts from BG/NBD's forecast (Tweedie has a log link)."""
    if "bg_clv" not in frame.columns or frame.get_column("bg_clv").null_count() == frame.height:
        return None
    return np.log1p(np.clip(frame.get_column("bg_clv").fill_null(0.0).to_numpy(), 0, None))


def _spend_offset(frame: pl.DataFrame) -> np.ndarray | None:
    """log(Gamma-Gamma spend per purchase x max(1, BG/NBD expected purchases)): the two-stage
    spend model boosts from the probabilistic models' spend for a customer who buys."""
    columns = ("bg_expected_spend", "bg_expected_purchases")
    if any(c not in frame.columns or frame.get_column(c).null_count() for c in columns):
        return None
    spend = np.clip(frame.get_column("bg_expected_spend").to_numpy(), 1.0, None)
    return np.log(spend * np.maximum(1.0, frame.get_column("bg_expected_purchases").to_numpy()))


@dataclass
class Models:
    """Fitted churn and CLV models with what they were trained on."""

    churn_model: CalibratedClassifierCV
    clv_model: lgb.LGBMRegressor
    recency_baseline: LogisticRegression
    features: list[str]
    cutoffs: list[dt.datetime]
    horizon_days: int
    training_sample: np.ndarray  # feature rows for LIME's sampling statistics
    training_rows: int
    clv_boosted_from_bgnbd: bool = False
    spend_model: lgb.LGBMRegressor | None = None  # two-stage, stage two
    clv_choice: str = TWO_STAGE  # the CLV model predict() used; ``predicted_clv`` for LightGBM ones
    spend_boosted_from_btyd: bool = False
    blend_scale: float | None = None  # set by :meth:`set_blend_scale` on the scored customers

    def _X(self, frame: pl.DataFrame):
        return frame.select(self.features).to_pandas()

    def churn_probability(self, frame: pl.DataFrame) -> np.ndarray:
        return self.churn_model.predict_proba(self._X(frame))[:, 1]

    def clv(self, frame: pl.DataFrame) -> np.ndarray:
        """One-stage expected net spend over the horizon (never negative)."""
        X = self._X(frame)
        offset = _clv_offset(frame) if self.clv_boosted_from_bgnbd else None
        if offset is None:
            return np.clip(self.clv_model.predict(X), 0, None)
        return np.exp(self.clv_model.predict(X, raw_score=True) + offset)

    def spend_given_purchase(self, frame: pl.DataFrame) -> np.ndarray:
        """Stage two: expected spend over the horizon of a customer who buys in it."""
        if self.spend_model is None:
            raise InsufficientDataError("Too few returning buyers to model spend per buyer.")
        offset = _spend_offset(frame) if self.spend_boosted_from_btyd else None
        if offset is None:
            return self.spend_model.predict(self._X(frame))
        return np.exp(self.spend_model.predict(self._X(frame), raw_score=True) + offset)

    def clv_two_stage(self, frame: pl.DataFrame) -> np.ndarray:
        """P(any purchase in the horizon) x expected spend given a purchase."""
        return (1.0 - self.churn_probability(frame)) * self.spend_given_purchase(frame)

    def _blend_raw(self, frame: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        if "bg_clv" not in frame.columns:
            raise InsufficientDataError("The blend needs the BG/NBD + Gamma-Gamma forecast.")
        bg = np.clip(frame.get_column("bg_clv").fill_null(0.0).to_numpy(), 0, None)
        p_buy = 1.0 - self.churn_probability(frame)
        return p_buy * np.sqrt(self.spend_given_purchase(frame) * bg), bg

    def set_blend_scale(self, frame: pl.DataFrame) -> float:
        """Fix the blend's scale so that its total over ``frame``'s customers (the population
        being scored, as of the same cutoff) equals BG/NBD + Gamma-Gamma's total forecast."""
        raw, bg = self._blend_raw(frame)
        self.blend_scale = float(bg.sum() / raw.sum()) if raw.sum() > 0 else 1.0
        return self.blend_scale

    def clv_blend(self, frame: pl.DataFrame) -> np.ndarray:
        """P(any purchase in the horizon) x the geometric mean of the spend given a purchase and
        BG/NBD + Gamma-Gamma's forecast (``bg_clv``), scaled so that the scored customers' total
        is BG/NBD + Gamma-Gamma's total (:meth:`set_blend_scale`; the first frame scored sets it
        when it was not set).

        Why: on the bundled data the two-stage product p x s ranks customers no better than
        BG/NBD (Spearman ties) although each factor ranks better than BG/NBD's (buy/no-buy
        ROC-AUC and Spearman among buyers): spend per buyer spans orders of magnitude, so in
        p x s it swamps p, while more than half the customers spend nothing and the rank order
        is mostly who buys at all. The geometric mean halves the weight of spend on the log
        scale and shares it with BG/NBD's forecast. The geometric mean of two forecasts that
        both under-forecast is lower still, so the level is taken from BG/NBD + Gamma-Gamma,
        whose forecast of the total is the closest of the models (a single factor: the rank
        order, hence Spearman, is unchanged).
        """
        if self.blend_scale is None:
            self.set_blend_scale(frame)
        return self._blend_raw(frame)[0] * self.blend_scale

    def predicted_clv(self, frame: pl.DataFrame) -> np.ndarray:
        """The CLV of the LightGBM model the backtest chose (:attr:`clv_choice`)."""
        if self.clv_choice == ONE_STAGE:
            return self.clv(frame)
        if self.clv_choice == BLEND:
            return self.clv_blend(frame)
        return self.clv_two_stage(frame)

    def importance(self) -> dict[str, dict[str, float]]:
        """Share of total gain per feature, for the churn, CLV and spend-per-buyer models."""
        churn_gain = np.mean(
            [
                c.estimator.booster_.feature_importance("gain")
                for c in self.churn_model.calibrated_classifiers_
            ],
            axis=0,
        )
        gains = {"churn": churn_gain, "clv": self.clv_model.booster_.feature_importance("gain")}
        if self.spend_model is not None:
            gains["spend"] = self.spend_model.booster_.feature_importance("gain")
        return {
            name: dict(zip(self.features, (gain / gain.sum()).tolist(), strict=True))
            for name, gain in gains.items()
        }


def fit_models(
    tx: pl.DataFrame,
    end: dt.datetime,
    horizon_days: int,
    *,
    snapshots: Snapshots | None = None,
) -> Models:
    """Train churn (calibrated), one-stage CLV and two-stage spend models on rolling cutoffs
    whose windows end by ``end``.

    ``snapshots`` may be shared with other calls on the same log (or a longer one that agrees
    with it before ``end``); each training snapshot only reads rows before ``end``.

    Raises
    ------
    InsufficientDataError
        When no cutoff has both 60 days of history and a full label window before ``end``.
    """
    first = tx.get_column("invoice_date").min()
    cutoffs = training_cutoffs(first, end, horizon_days)
    if not cutoffs:
        raise InsufficientDataError(
            f"The data cover {(end - first).days} days; training a {horizon_days}-day model needs "
            f"{horizon_days + MIN_HISTORY_DAYS}."
        )
    if snapshots is None:
        snapshots = Snapshots(tx.filter(pl.col("invoice_date") < end), horizon_days)
    frame = pl.concat([snapshots.at(c) for c in cutoffs], how="vertical_relaxed")
    features = model_features(frame)
    churned = frame.get_column("churned").to_numpy()
    if frame.height < MIN_CUSTOMERS or churned.all() or not churned.any():
        raise InsufficientDataError(
            f"Too little to learn from: {frame.height} customer snapshots, "
            f"{int(churned.sum())} of them churned. Predictions need at least {MIN_CUSTOMERS} customers, "
            "some who came back and some who did not."
        )
    X = frame.select(features).to_pandas()
    n = frame.height
    calibration = "isotonic" if n >= 1000 else "sigmoid"
    churn = CalibratedClassifierCV(_classifier(n), method=calibration, cv=3).fit(
        X, churned.astype(int)
    )
    spend = np.clip(frame.get_column("future_spend").to_numpy(), 0, None)
    offset = _clv_offset(frame) if "bg_clv" in features else None
    clv = _regressor(n).fit(X, spend, init_score=offset)
    buyers = (~churned) & (spend > 0)
    spend_offset = (
        _spend_offset(frame)
        if {"bg_expected_spend", "bg_expected_purchases"} <= set(features)
        else None
    )
    spend_model = (
        _spend_regressor(int(buyers.sum())).fit(
            X[buyers],
            spend[buyers],
            init_score=None if spend_offset is None else spend_offset[buyers],
        )
        if buyers.sum() >= MIN_CUSTOMERS
        else None
    )
    recency = np.log1p(frame.get_column("recency_days").to_numpy()).reshape(-1, 1)
    baseline = LogisticRegression().fit(recency, churned.astype(int))
    rng = np.random.default_rng(0)
    sample = X.to_numpy()[rng.choice(n, size=min(n, 5000), replace=False)]
    return Models(
        churn,
        clv,
        baseline,
        features,
        cutoffs,
        horizon_days,
        sample,
        n,
        offset is not None,
        spend_model,
        TWO_STAGE if spend_model is not None else ONE_STAGE,
        spend_offset is not None,
    )


# -- backtest metrics -------------------------------------------------------------------------


def _churn_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = p >= threshold
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
    }


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of ``actual`` ordered by ``predicted`` over the Gini of the perfect order (1 = the
    ranking puts spend exactly where it is; 0 = no better than random)."""

    def gini(order_by: np.ndarray) -> float:
        order = np.lexsort((np.arange(len(order_by)), -order_by))
        cum = np.cumsum(actual[order]) / actual.sum()
        return float(np.sum(cum - (np.arange(1, len(actual) + 1) / len(actual))))

    if len(actual) == 0 or actual.sum() == 0:
        return float("nan")
    return gini(predicted) / gini(actual)


def clv_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """MAE, RMSE, R², Spearman, normalised Gini, aggregate error and top-decile capture.

    ``aggregate_error`` is (predicted total - actual total) / actual total: the error of the
    forecast of the whole base's spend, which per-customer errors can hide.
    """
    actual, predicted = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
    order = np.argsort(-predicted, kind="stable")
    total = actual[actual > 0].sum()
    captured = {}
    for share in (0.1, 0.2):
        top = order[: max(1, int(round(share * len(order))))]
        captured[f"top{int(share * 100)}_capture"] = (
            float(np.clip(actual[top], 0, None).sum() / total) if total else 0.0
        )
    return {
        "mae": float(mean_absolute_error(actual, predicted)),
        "rmse": float(np.sqrt(np.mean((actual - predicted) ** 2))),
        "r2": float(r2_score(actual, predicted)),
        "spearman": float(spearmanr(actual, predicted).statistic),
        "gini": normalized_gini(actual, predicted),
        "aggregate_error": float((predicted.sum() - actual.sum()) / actual.sum())
        if actual.sum()
        else float("nan"),
        **captured,
    }


#: How each CLV metric is read: True when higher is better.
HIGHER_IS_BETTER = {"mae": False, "rmse": False, "r2": True, "spearman": True, "gini": True}
METRIC_NAMES = {"mae": "MAE", "rmse": "RMSE", "r2": "R²", "spearman": "Spearman", "gini": "Gini"}
CHOICE_METRICS = ("mae", "r2", "spearman")


def choose_clv_model(metrics: dict[str, dict[str, float]]) -> str:
    """The CLV model to use, by :data:`CHOICE_RULE` among the :data:`CLV_CANDIDATES` present.

    >>> choose_clv_model({"A": {"mae": 1, "r2": 0.5, "spearman": 0.6},
    ...                   "B": {"mae": 2, "r2": 0.4, "spearman": 0.7}})
    'A'
    """
    names = [n for n in metrics if n != PREVIOUS]
    ranks = dict.fromkeys(names, 0.0)
    for metric in CHOICE_METRICS:
        values = np.array([metrics[n][metric] for n in names], dtype=float)
        score = -values if HIGHER_IS_BETTER[metric] else values
        order = score.argsort(kind="stable").argsort(kind="stable")
        for name, rank in zip(names, order, strict=True):
            ranks[name] += rank / len(CHOICE_METRICS)
    return min(names, key=lambda n: (ranks[n], metrics[n]["mae"]))


def _compare(metric: str, ours: float, theirs: float, currency: str) -> str:
    fmt = (lambda v: f"{currency}{v:,.1f}") if metric in ("mae", "rmse") else (lambda v: f"{v:.3f}")
    if fmt(ours) == fmt(theirs):  # equal at the precision shown: no "higher" the reader cannot see
        return f"the same {METRIC_NAMES[metric]} ({fmt(ours)})"
    better = ours > theirs if HIGHER_IS_BETTER[metric] else ours < theirs
    if metric in ("mae", "rmse"):
        word = "a lower" if ours < theirs else "a higher"
    else:
        word = "a higher" if ours > theirs else "a lower"
    verdict = " (better)" if better else " (worse)"
    return f"{word} {METRIC_NAMES[metric]} ({fmt(ours)} vs {fmt(theirs)}){verdict}"


def clv_choice_sentence(
    metrics: dict[str, dict[str, float]], chosen: str, currency: str = "£"
) -> str:
    """One sentence about the CLV backtest, built from the very numbers it describes.

    The chosen model is compared with BG/NBD + Gamma-Gamma (or, when BG/NBD itself was chosen,
    with the runner-up by the same rule) on MAE, R² and Spearman.
    """
    rivals = [n for n in metrics if n not in (chosen, PREVIOUS)]
    if not rivals:
        return f"CLV: {chosen} (the only model in the backtest)."
    rival = BGNBD if BGNBD in rivals else choose_clv_model({n: metrics[n] for n in rivals})
    parts = [_compare(m, metrics[chosen][m], metrics[rival][m], currency) for m in CHOICE_METRICS]
    return (
        f"CLV: {chosen}, chosen as {CHOICE_RULE}. Against {rival} it had "
        f"{parts[0]}, {parts[1]} and {parts[2]}."
    )


def clv_deciles(actual: np.ndarray, predicted: np.ndarray) -> pl.DataFrame:
    """Mean predicted and mean actual spend per decile of the prediction (1 = highest tenth)."""
    order = np.argsort(-predicted, kind="stable")
    deciles = np.empty(len(predicted), dtype=int)
    deciles[order] = np.arange(len(predicted)) * 10 // max(len(predicted), 1) + 1
    return (
        pl.DataFrame({"decile": deciles, "predicted": predicted, "actual": actual})
        .group_by("decile")
        .agg(
            customers=pl.len(),
            mean_predicted=pl.col("predicted").mean(),
            mean_actual=pl.col("actual").mean(),
        )
        .sort("decile")
    )


@dataclass(frozen=True)
class Intervals:
    """Split-conformal prediction intervals for CLV, per bin of the predicted value.

    ``low``/``high`` are residual (actual - predicted) quantiles per bin; ``edges`` the inner
    bin edges on the prediction. ``coverage`` is the share of held-out backtest customers whose
    actual spend fell inside their interval (intervals calibrated on the other half).
    """

    level: float
    edges: np.ndarray
    low: np.ndarray
    high: np.ndarray
    coverage: float
    mean_width: float

    def apply(self, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(clv_low, clv_high)`` for predictions (never below zero)."""
        return _apply_bins(self.edges, self.low, self.high, np.asarray(predicted, dtype=float))


def _apply_bins(edges, low, high, predicted):
    bins = np.searchsorted(edges, predicted, side="right")
    lo = np.clip(predicted + low[bins], 0, None)
    return lo, np.maximum(lo, predicted + high[bins])


def _calibrate_bins(predicted, actual, level, bins):
    edges = np.unique(np.quantile(predicted, np.linspace(0, 1, bins + 1)[1:-1]))
    index = np.searchsorted(edges, predicted, side="right")
    residual = actual - predicted
    alpha = 1 - level
    low, high = np.zeros(len(edges) + 1), np.zeros(len(edges) + 1)
    for b in range(len(edges) + 1):
        r = residual[index == b]
        if len(r) == 0:
            r = residual
        n = len(r)
        # finite-sample conformal quantiles
        q_hi = min(1.0, np.ceil((n + 1) * (1 - alpha / 2)) / n)
        q_lo = max(0.0, np.floor((n + 1) * (alpha / 2)) / n)
        low[b] = np.quantile(r, q_lo, method="lower")
        high[b] = np.quantile(r, q_hi, method="higher")
    return edges, low, high


def fit_intervals(
    predicted: np.ndarray,
    actual: np.ndarray,
    level: float = INTERVAL_LEVEL,
    bins: int = 10,
    seed: int = 0,
) -> Intervals:
    """Conformal intervals from backtest predictions and outcomes, with measured coverage.

    Coverage is measured by calibrating on a random half of the customers and counting hits on
    the other half (both ways round); the returned intervals are calibrated on everyone.
    """
    predicted, actual = np.asarray(predicted, dtype=float), np.asarray(actual, dtype=float)
    rng = np.random.default_rng(seed)
    half = rng.permutation(len(predicted)) < len(predicted) // 2
    hits, widths = [], []
    for calib in (half, ~half):
        edges, low, high = _calibrate_bins(predicted[calib], actual[calib], level, bins)
        lo, hi = _apply_bins(edges, low, high, predicted[~calib])
        hits.append((actual[~calib] >= lo) & (actual[~calib] <= hi))
        widths.append(hi - lo)
    edges, low, high = _calibrate_bins(predicted, actual, level, bins)
    return Intervals(
        level,
        edges,
        low,
        high,
        float(np.concatenate(hits).mean()),
        float(np.concatenate(widths).mean()),
    )


def lift_table(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    """Churn rate per decile of predicted risk (1 = riskiest tenth) and its lift over the base rate."""
    order = np.argsort(-p, kind="stable")
    deciles = np.empty(len(p), dtype=int)
    deciles[order] = np.arange(len(p)) * 10 // len(p) + 1
    base = y.mean()
    return (
        pl.DataFrame({"decile": deciles, "y": y.astype(float)})
        .group_by("decile")
        .agg(customers=pl.len(), churn_rate=pl.col("y").mean())
        .with_columns(lift=pl.col("churn_rate") / base if base else pl.lit(None))
        .sort("decile")
    )


@dataclass(frozen=True)
class Backtest:
    """Scores on the last full horizon of the data, against baselines on the same split."""

    holdout_cutoff: dt.datetime
    horizon_days: int
    customers: int
    churn_rate: float
    threshold: float
    churn: dict[str, dict[str, float]]  # "LightGBM" / "Recency baseline" -> metric -> value
    calibration: pl.DataFrame  # mean_predicted, observed_rate
    lift: pl.DataFrame  # decile (1 = highest risk), customers, churn_rate, lift
    clv: dict[str, dict[str, float]]  # model / baseline -> metric -> value
    clv_winner: str  # one of CLV_CANDIDATES, by choose_clv_model
    clv_calibration: pl.DataFrame = field(
        default_factory=pl.DataFrame
    )  # model, decile, customers, mean_predicted, mean_actual
    intervals: Intervals | None = None  # for the chosen CLV model
    scores: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # "y", "LightGBM", "Recency baseline"

    def at_threshold(self, threshold: float) -> dict[str, dict[str, float]]:
        """The churn metrics with precision and recall at another threshold (same holdout)."""
        _check_threshold(threshold)
        y = self.scores["y"]
        return {name: _churn_metrics(y, self.scores[name], threshold) for name in self.churn}

    def clv_sentence(self, currency: str = "£") -> str:
        """:func:`clv_choice_sentence` on this backtest's CLV table."""
        return clv_choice_sentence(self.clv, self.clv_winner, currency)

    def beats_baselines(self) -> dict[str, bool]:
        """Churn vs recency (ROC-AUC, PR-AUC, Brier); the chosen CLV model vs the previous
        window and vs BG/NBD + Gamma-Gamma (MAE, R² and Spearman)."""
        model, base = self.churn["LightGBM"], self.churn["Recency baseline"]
        clv = self.clv[self.clv_winner]

        def wins(other: str) -> bool:
            theirs = self.clv[other]
            return (
                clv["mae"] < theirs["mae"]
                and clv["r2"] > theirs["r2"]
                and clv["spearman"] > theirs["spearman"]
            )

        return {
            "churn": model["roc_auc"] > base["roc_auc"]
            and model["pr_auc"] > base["pr_auc"]
            and model["brier"] < base["brier"],
            "clv_vs_previous_window": wins(PREVIOUS),
            "clv_vs_bgnbd": self.clv_winner != BGNBD and wins(BGNBD),
        }


def _lookup(frame: pl.DataFrame, table: pl.DataFrame, column: str) -> np.ndarray:
    return (
        frame.select("customer_id")
        .join(table.select("customer_id", column), on="customer_id", how="left")
        .get_column(column)
        .fill_null(0.0)
        .to_numpy()
    )


def backtest(
    tx: pl.DataFrame,
    end: dt.datetime,
    horizon_days: int,
    threshold: float = 0.5,
    progress: Progress | None = None,
    *,
    snapshots: Snapshots | None = None,
) -> Backtest:
    """Train as of one horizon before ``end``, score the last horizon, compare with baselines."""
    holdout = end - dt.timedelta(days=horizon_days)
    tx = tx.filter(pl.col("invoice_date") < end)
    if snapshots is None:
        snapshots = Snapshots(tx, horizon_days)
    before = tx.filter(pl.col("invoice_date") < holdout)
    if progress:
        progress(1, 5, "Backtest: training on earlier cutoffs")
    models = fit_models(before, holdout, horizon_days, snapshots=snapshots)
    truth = snapshots.at(holdout)
    y = truth.get_column("churned").to_numpy().astype(int)
    p = models.churn_probability(truth)
    recency = np.log1p(truth.get_column("recency_days").to_numpy()).reshape(-1, 1)
    p_base = models.recency_baseline.predict_proba(recency)[:, 1]
    if progress:
        progress(2, 5, "Backtest: BG/NBD, Pareto/NBD and baselines")
    actual = truth.get_column("future_spend").to_numpy()
    previous = (
        before.filter(
            pl.col("customer_id").is_not_null()
            & (pl.col("invoice_date") >= holdout - dt.timedelta(days=horizon_days))
        )
        .group_by("customer_id")
        .agg(prev=pl.col("amount").sum())
    )
    predictions = {}
    if models.spend_model is not None and "bg_clv" in models.features:
        models.set_blend_scale(truth)  # the scored customers, as of the holdout
        predictions[BLEND] = models.clv_blend(truth)
    if models.spend_model is not None:
        predictions[TWO_STAGE] = models.clv_two_stage(truth)
    predictions[ONE_STAGE] = models.clv(truth)
    # the scored snapshot already holds BG/NBD + Gamma-Gamma fitted before the holdout
    predictions[BGNBD] = truth.get_column("bg_clv").fill_null(0.0).to_numpy()
    try:
        pareto = pareto_nbd_purchases(before, holdout, horizon_days)
        predictions[PARETO] = (
            _lookup(truth, pareto, "expected_purchases")
            * truth.get_column("bg_expected_spend").fill_null(0.0).to_numpy()
        )
    except InsufficientDataError:
        pass
    predictions[PREVIOUS] = _lookup(truth, previous, "prev")
    clv = {name: clv_metrics(actual, pred) for name, pred in predictions.items()}
    winner = choose_clv_model(clv)
    calibration_rows = [
        clv_deciles(actual, pred).with_columns(model=pl.lit(name))
        for name, pred in predictions.items()
    ]
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="quantile")
    return Backtest(
        holdout_cutoff=holdout,
        horizon_days=horizon_days,
        customers=truth.height,
        churn_rate=float(y.mean()),
        threshold=threshold,
        churn={
            "LightGBM": _churn_metrics(y, p, threshold),
            "Recency baseline": _churn_metrics(y, p_base, threshold),
        },
        calibration=pl.DataFrame({"mean_predicted": predicted, "observed_rate": observed}),
        lift=lift_table(y, p),
        clv=clv,
        clv_winner=winner,
        clv_calibration=pl.concat(calibration_rows).select(
            "model", "decile", "customers", "mean_predicted", "mean_actual"
        ),
        intervals=fit_intervals(predictions[winner], actual),
        scores={"y": y, "LightGBM": p, "Recency baseline": p_base, "actual_spend": actual}
        | {f"clv:{name}": pred for name, pred in predictions.items()},
    )


@dataclass
class Predictions:
    """Scores for every customer seen up to the cutoff, and how they were produced."""

    table: pl.DataFrame  # customer_id, churn_probability, predicted_clv, clv_low, clv_high, ...
    cutoff: dt.datetime
    horizon_days: int
    threshold: float
    method: str
    clv_method: str
    backtest: Backtest | None
    models: Models | None
    backtest_note: str = ""
    importance: dict[str, dict[str, float]] = field(default_factory=dict)
    scoring: pl.DataFrame | None = None  # the model inputs per customer at the cutoff
    shap: dict[str, pl.DataFrame] = field(default_factory=dict)  # model -> beeswarm points
    clv_model: str = ""  # one of CLV_CANDIDATES


def with_threshold(result: Predictions, threshold: float) -> Predictions:
    """The same predictions judged at another churn threshold: quadrants, their names, actions
    and revenue at risk, and the backtest's precision and recall change; probabilities and CLV
    do not."""
    _check_threshold(threshold)
    table = assign_quadrants(result.table, threshold)
    backtest = result.backtest
    if backtest is not None:
        backtest = dataclasses.replace(
            backtest, threshold=threshold, churn=backtest.at_threshold(threshold)
        )
    return dataclasses.replace(result, table=table, threshold=threshold, backtest=backtest)


def assign_quadrants(table: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Value x risk quadrants, their data-backed names and actions, and revenue at risk.

    Value is high when the predicted CLV is above zero and at or above the median; risk is high
    when the churn probability is at or above ``threshold``. ``revenue_at_risk`` is a customer's
    spend at their historical rate over the horizon (``run_rate``) when they are at risk, else 0:
    the same customers "Expected to churn" counts.
    """
    table = table.drop(
        [c for c in ("quadrant", "quadrant_key", "action", "revenue_at_risk") if c in table.columns]
    )
    value_cut = table.get_column("predicted_clv").median()
    high_value = (pl.col("predicted_clv") >= value_cut) & (pl.col("predicted_clv") > 0)
    high_risk = pl.col("churn_probability") >= threshold
    key = (
        pl.when(high_value & ~high_risk)
        .then(pl.lit("value_safe"))
        .when(high_value & high_risk)
        .then(pl.lit("value_risk"))
        .when(~high_value & ~high_risk)
        .then(pl.lit("low_safe"))
        .otherwise(pl.lit("low_risk"))
    )
    table = table.with_columns(quadrant_key=key)
    stats = table.group_by("quadrant_key").agg(
        lo=pl.col("churn_probability").min(), hi=pl.col("churn_probability").max()
    )
    names = {
        row["quadrant_key"]: quadrant_name(row["quadrant_key"], row["lo"], row["hi"])
        for row in stats.iter_rows(named=True)
    }
    return table.with_columns(
        quadrant=pl.col("quadrant_key").replace_strict(names, return_dtype=pl.String),
        action=pl.col("quadrant_key").replace_strict(QUADRANT_ACTIONS, return_dtype=pl.String),
        revenue_at_risk=pl.when(high_risk).then(pl.col("run_rate")).otherwise(0.0),
    )


def revenue_at_risk(table: pl.DataFrame, threshold: float) -> float:
    """Spend at the historical rate over the horizon of the customers at or above ``threshold``."""
    return float(table.filter(pl.col("churn_probability") >= threshold)["run_rate"].sum())


# One thread for BLAS and OpenMP while predict's Python threads share two cores: their pools'
# spinning cost 1.8 CPU-s and ~0.4 s of wall time on the bundled data (CLI predict 8.5-8.9 s,
# 7.6-7.8 s with one thread, side by side).
@threadpool_limits.wrap(limits=1)
def predict(
    tx: pl.DataFrame,
    cutoff: str | dt.date | dt.datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON,
    *,
    threshold: float = 0.5,
    evaluate: bool = True,
    progress: Progress | None = None,
    shap_sample: int = 600,
    workers: int = 2,
) -> Predictions:
    """Churn probability and CLV (with an interval) over ``horizon_days`` for every customer
    seen before ``cutoff``.

    Parameters
    ----------
    tx
        A cleaned log. Rows at or after ``cutoff`` are ignored, so a longer file gives the same
        predictions as the same file cut there.
    cutoff
        Score as of this instant (default: midnight after the last transaction).
    horizon_days
        Churn = no purchase within this many days; CLV = net spend within them.
    threshold
        Churn probability from which a customer counts as at risk (quadrants, precision/recall,
        revenue at risk).
    evaluate
        Run the backtest: it chooses the CLV model (:data:`CHOICE_RULE`) and calibrates the
        CLV intervals. Without it the two-stage model is used and no interval is given.
    shap_sample
        Customers in the TreeSHAP summaries (``Predictions.shap``); 0 skips them.
    workers
        Python threads for the independent parts (snapshots; the backtest's and the final
        models' fits). Every LightGBM model uses one thread (``LGBM_FIXED``), so no OpenMP pool
        is started; the results do not depend on ``workers``.

    Returns
    -------
    Predictions
        ``method`` says in words which models produced the numbers; the table has
        ``clv_low, clv_high`` (the :data:`INTERVAL_LEVEL` interval) when a backtest ran.

    Raises
    ------
    InsufficientDataError
        Fewer than 50 customers, or no repeat buyers.
    """
    _check_horizon(horizon_days)
    _check_threshold(threshold)
    end = as_of_datetime(cutoff, tx)
    tx = tx.filter(pl.col("invoice_date") < end)
    if tx.height == 0:
        raise InsufficientDataError(f"No transactions before {end:%Y-%m-%d}.")
    first = tx.get_column("invoice_date").min()
    span = (end - first).days
    step = (lambda i, text: progress(i, 5, text)) if progress else (lambda i, text: None)
    snapshots = Snapshots(tx, horizon_days)  # customers' rows and their customer x day table
    if end.time() == dt.time():  # tx ends before ``end``: every day in the table is before it
        days = snapshots.daily.filter(pl.col("bought")).drop("bought")
    else:
        days = purchase_days(tx, end)
    features = with_derived(customer_features(snapshots.tx, end))
    features = with_last_year(features, tx, end, horizon_days, daily=snapshots.daily)
    features = with_activity(features, tx, end, days=days)
    if features.height < MIN_CUSTOMERS:
        raise InsufficientDataError(
            f"Only {features.height} customers bought before {end:%Y-%m-%d}; predictions need at least {MIN_CUSTOMERS}."
        )
    step(0, "Fitting BG/NBD + Gamma-Gamma")
    forecast = btyd_forecast(tx, end, horizon_days, days=days)
    bgnbd = features.select("customer_id").join(forecast.table, on="customer_id", how="left")
    features = features.join(_btyd_columns(forecast.table), on="customer_id", how="left")
    bt, note, models = None, "", None
    can_train = span >= horizon_days + MIN_HISTORY_DAYS
    run_backtest = can_train and evaluate and span >= 2 * horizon_days + MIN_HISTORY_DAYS
    if evaluate and not run_backtest:
        note = (
            f"No backtest: it needs {2 * horizon_days + MIN_HISTORY_DAYS} days of history for a "
            f"{horizon_days}-day horizon and the data cover {span}."
        )
    if can_train:
        step(1, "Building labelled snapshots")
        holdout = end - dt.timedelta(days=horizon_days)
        needed = training_cutoffs(first, end, horizon_days)
        if run_backtest:
            needed += training_cutoffs(first, holdout, horizon_days) + [holdout]
        snapshots.prefetch(needed, workers)
        step(2, "Backtest and training: LightGBM, BG/NBD, Pareto/NBD")
        with ThreadPoolExecutor(max(1, workers)) as pool:
            bt_job = (
                pool.submit(backtest, tx, end, horizon_days, threshold, snapshots=snapshots)
                if run_backtest
                else None
            )
            models = pool.submit(fit_models, tx, end, horizon_days, snapshots=snapshots).result()
            bt = bt_job.result() if bt_job is not None else None
    shap: dict[str, pl.DataFrame] = {}
    if models is not None:
        step(4, "Scoring every customer")
        churn = models.churn_probability(features)
        chosen = bt.clv_winner if bt is not None else models.clv_choice
        if chosen in LIGHTGBM_CLV:
            models.clv_choice = chosen if models.spend_model is not None else ONE_STAGE
            chosen = models.clv_choice
            if chosen == BLEND:
                models.set_blend_scale(features)  # every customer scored as of ``end``
            clv = models.predicted_clv(features)
        elif chosen == PARETO:
            models.clv_choice = chosen  # LIME then says this CLV has no per-feature explanation
            clv = _lookup(
                features,
                pareto_nbd_forecast(tx, end, horizon_days, forecast.gamma_gamma),
                "clv",
            )
        else:
            models.clv_choice = chosen
            clv = bgnbd.get_column("clv").fill_null(0.0).to_numpy()
        clv_method = CLV_METHODS[chosen]
        sentence = (
            bt.clv_sentence()
            if bt is not None
            else f"CLV: {chosen} (the default: no backtest chose a model)."
        )
        method = (
            f"Churn: LightGBM (calibrated) trained on {models.training_rows:,} customer snapshots at "
            f"{len(models.cutoffs)} cutoffs with {horizon_days}-day label windows. {sentence}"
        )
        importance = models.importance()
        if shap_sample:
            from analytics.explain import shap_summary  # explain imports this module

            shap = {
                target: shap_summary(models, features, target, sample=shap_sample)
                for target in ("churn", "spend", "clv")
                if target != "spend" or models.spend_model is not None
            }
    else:
        models, importance, chosen = None, {}, BGNBD
        churn = bgnbd.get_column("p_churn").fill_null(1.0).to_numpy()
        clv = bgnbd.get_column("clv").fill_null(0.0).to_numpy()
        clv_method = CLV_METHODS[BGNBD]
        method = (
            f"BG/NBD + Gamma-Gamma: the {span} days of history are too short to hold out a full "
            f"{horizon_days}-day label window for LightGBM (needs {horizon_days + MIN_HISTORY_DAYS})."
        )
    if bt is not None and bt.intervals is not None:
        low, high = bt.intervals.apply(clv)
    else:
        low = high = np.full(len(clv), np.nan)
    run_rate = (
        features.get_column("monetary")
        / pl.max_horizontal(features.get_column("tenure_days"), pl.lit(float(horizon_days)))
    ).clip(0, None) * horizon_days
    table = features.select("customer_id").with_columns(
        churn_probability=pl.Series(churn, dtype=pl.Float64),
        predicted_clv=pl.Series(clv, dtype=pl.Float64),
        clv_low=pl.Series(low, dtype=pl.Float64).fill_nan(None),
        clv_high=pl.Series(high, dtype=pl.Float64).fill_nan(None),
        clv_bgnbd=bgnbd.get_column("clv").fill_null(0.0),
        p_alive=bgnbd.get_column("p_alive"),
        run_rate=run_rate,
        value_at_risk=pl.Series(churn) * run_rate,
    )
    table = assign_quadrants(table, threshold)
    step(5, "Done")
    return Predictions(
        table,
        end,
        horizon_days,
        threshold,
        method,
        clv_method,
        bt,
        models,
        note,
        importance,
        features,
        shap,
        chosen,
    )


def quadrant_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Customers, churn range, predicted CLV and revenue at risk per quadrant, with the action.

    One row per quadrant key in :data:`QUADRANT_KEYS` order (empty quadrants have 0 customers and
    the plain name).
    """
    order = pl.DataFrame({"quadrant_key": list(QUADRANT_KEYS), "_o": range(len(QUADRANT_KEYS))})
    summary = (
        table.group_by("quadrant_key")
        .agg(
            quadrant=pl.col("quadrant").first(),
            customers=pl.len(),
            churn_min=pl.col("churn_probability").min(),
            churn_max=pl.col("churn_probability").max(),
            clv_min=pl.col("predicted_clv").min(),
            predicted_clv=pl.col("predicted_clv").sum(),
            revenue_at_risk=pl.col("revenue_at_risk").sum(),
            value_at_risk=pl.col("value_at_risk").sum(),
        )
        .join(order, on="quadrant_key", how="right")
        .with_columns(
            pl.col("customers").fill_null(0),
            pl.col("predicted_clv").fill_null(0.0),
            pl.col("revenue_at_risk").fill_null(0.0),
            pl.col("value_at_risk").fill_null(0.0),
            quadrant=pl.col("quadrant").fill_null(
                pl.col("quadrant_key").replace_strict({k: v[1] for k, v in QUADRANT_NAMES.items()})
            ),
            action=pl.col("quadrant_key").replace_strict(QUADRANT_ACTIONS),
        )
        .sort("_o")
    )
    return summary.select(
        "quadrant_key",
        "quadrant",
        "customers",
        "churn_min",
        "churn_max",
        "clv_min",
        "predicted_clv",
        "revenue_at_risk",
        "value_at_risk",
        "action",
    )
