"""Churn risk and customer lifetime value: time-honest LightGBM models, a BG/NBD fallback,
a backtest against baselines, and value x risk quadrants.

Time honesty: a model that scores customers as of ``end`` is trained on cutoffs ``c`` whose label
window ``[c, c + H)`` ends on or before ``end``; features at a cutoff use only earlier rows
(:func:`analytics.features.customer_features`). The backtest does the same one horizon earlier
and scores the last full horizon of the data, which the models never saw.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
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
    recall_score,
    roc_auc_score,
)

from analytics.btyd import MIN_CUSTOMERS, btyd_forecast
from analytics.errors import InsufficientDataError, ParameterError
from analytics.features import FEATURES, as_of_datetime, customer_features

DEFAULT_HORIZON = 90
MIN_HISTORY_DAYS = 60
CUTOFF_STEP_DAYS = 30
MAX_CUTOFFS = 6
Progress = Callable[[int, int, str], None]

QUADRANTS = {
    "Loyal Champions": "High predicted value, low churn risk. Reward and retain: VIP perks, early access, referral asks.",
    "At-Risk Whales": "High predicted value, high churn risk. Act now: personal outreach and a tailored win-back offer.",
    "New & Promising": "Lower value so far, low churn risk. Nurture: onboarding, cross-sell to grow their basket.",
    "Price-Sensitive / low value": "Low value, high churn risk. Keep costs low: automated offers only, no paid retargeting.",
}


def _check_horizon(horizon_days: int) -> None:
    if (
        isinstance(horizon_days, bool)
        or not isinstance(horizon_days, int)
        or not 7 <= horizon_days <= 730
    ):
        raise ParameterError(
            f"The 'horizon_days' parameter must be an int in [7, 730]. Got {horizon_days!r} instead."
        )


#: Rates derived from the customer features, added for the models (spend and order pace matter
#: more for next-window spend than lifetime totals).
DERIVED = {
    "spend_last_90_days": "Spend in the last 90 days",
    "orders_per_month": "Orders per month",
    "spend_per_month": "Spend per month",
}
#: BG/NBD's view of each customer at the same cutoff, stacked as model inputs.
BTYD_FEATURES = {
    "bg_expected_purchases": "Expected purchases (BG/NBD)",
    "bg_p_alive": "Probability still active (BG/NBD)",
    "bg_clv": "Expected spend (BG/NBD + Gamma-Gamma)",
}
MODEL_LABELS = {**FEATURES, **DERIVED, **BTYD_FEATURES}


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


def with_btyd(
    features: pl.DataFrame, tx: pl.DataFrame, cutoff: dt.datetime, horizon_days: int
) -> pl.DataFrame:
    """Add :data:`BTYD_FEATURES`, fitted on purchases before ``cutoff`` only (null if it cannot fit)."""
    try:
        table = btyd_forecast(tx, cutoff, horizon_days).table
    except InsufficientDataError:
        return features.with_columns(**{name: pl.lit(None, pl.Float64) for name in BTYD_FEATURES})
    table = table.select(
        "customer_id",
        bg_expected_purchases="expected_purchases",
        bg_p_alive="p_alive",
        bg_clv="clv",
    )
    return features.join(table, on="customer_id", how="left")


def model_features(features: pl.DataFrame) -> list[str]:
    """Numeric features usable by the models (present and never null)."""
    return [
        f
        for f in MODEL_LABELS
        if f in features.columns and features.get_column(f).null_count() == 0
    ]


def label_frame(tx: pl.DataFrame, cutoff: dt.datetime, horizon_days: int) -> pl.DataFrame:
    """Features as of ``cutoff`` plus labels from ``[cutoff, cutoff + H)``.

    ``churned`` is True when the customer made no purchase in the window; ``future_spend`` is
    their net spend in it (0 when they did not come back).
    """
    features = with_btyd(with_derived(customer_features(tx, cutoff)), tx, cutoff, horizon_days)
    stop = cutoff + dt.timedelta(days=horizon_days)
    window = (
        tx.filter(
            pl.col("customer_id").is_not_null()
            & pl.col("invoice_date").is_between(cutoff, stop, closed="left")
        )
        .group_by("customer_id")
        .agg(future_spend=pl.col("amount").sum(), bought=(~pl.col("is_return")).any())
    )
    return (
        features.join(window, on="customer_id", how="left")
        .with_columns(
            churned=~pl.col("bought").fill_null(False),
            future_spend=pl.col("future_spend").fill_null(0.0),
        )
        .drop("bought")
    )


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
    return lgb.LGBMClassifier(
        n_estimators=300,
        learning_rate=0.03,
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


def _clv_offset(frame: pl.DataFrame) -> np.ndarray | None:
    """log(1 + BG/NBD CLV): the CLV model boosts from BG/NBD's forecast (Tweedie has a log link)."""
    if "bg_clv" not in frame.columns or frame.get_column("bg_clv").null_count() == frame.height:
        return None
    return np.log1p(np.clip(frame.get_column("bg_clv").fill_null(0.0).to_numpy(), 0, None))


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

    def churn_probability(self, frame: pl.DataFrame) -> np.ndarray:
        return self.churn_model.predict_proba(frame.select(self.features).to_pandas())[:, 1]

    def clv(self, frame: pl.DataFrame) -> np.ndarray:
        """Expected net spend over the horizon (never negative)."""
        X = frame.select(self.features).to_pandas()
        offset = _clv_offset(frame) if self.clv_boosted_from_bgnbd else None
        if offset is None:
            return np.clip(self.clv_model.predict(X), 0, None)
        return np.exp(self.clv_model.predict(X, raw_score=True) + offset)

    def importance(self) -> dict[str, dict[str, float]]:
        """Share of total gain per feature, for the churn and the CLV model."""
        churn_gain = np.mean(
            [
                c.estimator.booster_.feature_importance("gain")
                for c in self.churn_model.calibrated_classifiers_
            ],
            axis=0,
        )
        clv_gain = self.clv_model.booster_.feature_importance("gain")
        return {
            "churn": dict(
                zip(self.features, (churn_gain / churn_gain.sum()).tolist(), strict=True)
            ),
            "clv": dict(zip(self.features, (clv_gain / clv_gain.sum()).tolist(), strict=True)),
        }


def fit_models(tx: pl.DataFrame, end: dt.datetime, horizon_days: int) -> Models:
    """Train churn (calibrated) and CLV models on rolling cutoffs whose windows end by ``end``.

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
    frame = pl.concat([label_frame(tx, c, horizon_days) for c in cutoffs], how="vertical_relaxed")
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
    recency = np.log1p(frame.get_column("recency_days").to_numpy()).reshape(-1, 1)
    baseline = LogisticRegression().fit(recency, churned.astype(int))
    rng = np.random.default_rng(0)
    sample = X.to_numpy()[rng.choice(n, size=min(n, 5000), replace=False)]
    return Models(
        churn, clv, baseline, features, cutoffs, horizon_days, sample, n, offset is not None
    )


@dataclass(frozen=True)
class Backtest:
    """Scores on the last full horizon of the data, against baselines on the same split."""

    holdout_cutoff: dt.datetime
    horizon_days: int
    customers: int
    churn_rate: float
    threshold: float
    churn: dict[str, dict[str, float]]  # model / "recency baseline" -> metric -> value
    calibration: pl.DataFrame  # mean_predicted, observed_rate
    lift: pl.DataFrame  # decile (1 = highest risk), customers, churn_rate, lift
    clv: dict[str, dict[str, float]]  # model / baselines -> metric -> value
    clv_winner: str  # "LightGBM" or "BG/NBD + Gamma-Gamma"
    scores: dict[str, np.ndarray] = field(
        default_factory=dict
    )  # "y", "LightGBM", "Recency baseline"

    def at_threshold(self, threshold: float) -> dict[str, dict[str, float]]:
        """The churn metrics with precision and recall at another threshold (same holdout)."""
        if not 0 < threshold < 1:
            raise ParameterError(
                f"The 'threshold' parameter must be a number in (0, 1). Got {threshold!r} instead."
            )
        y = self.scores["y"]
        return {name: _churn_metrics(y, self.scores[name], threshold) for name in self.churn}

    def beats_baselines(self) -> dict[str, bool]:
        model, base = self.churn["LightGBM"], self.churn["Recency baseline"]
        clv = self.clv["LightGBM"]
        return {
            "churn": model["roc_auc"] > base["roc_auc"]
            and model["pr_auc"] > base["pr_auc"]
            and model["brier"] < base["brier"],
            "clv_vs_previous_window": clv["mae"] < self.clv["Previous window spend"]["mae"]
            and clv["spearman"] > self.clv["Previous window spend"]["spearman"],
            "clv_vs_bgnbd": clv["mae"] < self.clv["BG/NBD + Gamma-Gamma"]["mae"]
            and clv["spearman"] > self.clv["BG/NBD + Gamma-Gamma"]["spearman"],
        }


def _churn_metrics(y: np.ndarray, p: np.ndarray, threshold: float) -> dict[str, float]:
    predicted = p >= threshold
    return {
        "roc_auc": float(roc_auc_score(y, p)),
        "pr_auc": float(average_precision_score(y, p)),
        "brier": float(brier_score_loss(y, p)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
    }


def _clv_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
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
        "spearman": float(spearmanr(actual, predicted).statistic),
        **captured,
    }


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


def backtest(
    tx: pl.DataFrame,
    end: dt.datetime,
    horizon_days: int,
    threshold: float = 0.5,
    progress: Progress | None = None,
) -> Backtest:
    """Train as of one horizon before ``end``, score the last horizon, compare with baselines."""
    holdout = end - dt.timedelta(days=horizon_days)
    before = tx.filter(pl.col("invoice_date") < holdout)
    if progress:
        progress(1, 5, "Backtest: training on earlier cutoffs")
    models = fit_models(before, holdout, horizon_days)
    truth = label_frame(tx.filter(pl.col("invoice_date") < end), holdout, horizon_days)
    y = truth.get_column("churned").to_numpy().astype(int)
    p = models.churn_probability(truth)
    recency = np.log1p(truth.get_column("recency_days").to_numpy()).reshape(-1, 1)
    p_base = models.recency_baseline.predict_proba(recency)[:, 1]
    if progress:
        progress(2, 5, "Backtest: BG/NBD + Gamma-Gamma baseline")
    actual = truth.get_column("future_spend").to_numpy()
    bgnbd = btyd_forecast(before, holdout, horizon_days).table
    bg = (
        truth.select("customer_id")
        .join(bgnbd, on="customer_id", how="left")
        .get_column("clv")
        .fill_null(0.0)
        .to_numpy()
    )
    previous = (
        tx.filter(
            pl.col("customer_id").is_not_null()
            & pl.col("invoice_date").is_between(
                holdout - dt.timedelta(days=horizon_days), holdout, closed="left"
            )
        )
        .group_by("customer_id")
        .agg(prev=pl.col("amount").sum())
    )
    prev = (
        truth.select("customer_id")
        .join(previous, on="customer_id", how="left")
        .get_column("prev")
        .fill_null(0.0)
        .to_numpy()
    )
    clv = {
        "LightGBM": _clv_metrics(actual, models.clv(truth)),
        "Previous window spend": _clv_metrics(actual, prev),
        "BG/NBD + Gamma-Gamma": _clv_metrics(actual, bg),
    }
    lgbm, btyd = clv["LightGBM"], clv["BG/NBD + Gamma-Gamma"]
    winner = (
        "LightGBM"
        if lgbm["mae"] < btyd["mae"] and lgbm["spearman"] > btyd["spearman"]
        else "BG/NBD + Gamma-Gamma"
    )
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
        scores={"y": y, "LightGBM": p, "Recency baseline": p_base},
    )


@dataclass
class Predictions:
    """Scores for every customer seen up to the cutoff, and how they were produced."""

    table: (
        pl.DataFrame
    )  # customer_id, churn_probability, predicted_clv, quadrant, action, value_at_risk, ...
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


def with_threshold(result: Predictions, threshold: float) -> Predictions:
    """The same predictions judged at another churn threshold: quadrants, actions and the
    backtest's precision and recall change; probabilities and CLV do not."""
    if not 0 < threshold < 1:
        raise ParameterError(
            f"The 'threshold' parameter must be a number in (0, 1). Got {threshold!r} instead."
        )
    table = assign_quadrants(result.table.drop("quadrant", "action"), threshold)
    backtest = result.backtest
    if backtest is not None:
        backtest = dataclasses.replace(
            backtest, threshold=threshold, churn=backtest.at_threshold(threshold)
        )
    return dataclasses.replace(result, table=table, threshold=threshold, backtest=backtest)


def assign_quadrants(table: pl.DataFrame, threshold: float) -> pl.DataFrame:
    """Value x risk: value is high at or above the median predicted CLV; risk at the threshold."""
    value_cut = table.get_column("predicted_clv").median()
    high_value = pl.col("predicted_clv") >= value_cut
    high_risk = pl.col("churn_probability") >= threshold
    quadrant = (
        pl.when(high_value & ~high_risk)
        .then(pl.lit("Loyal Champions"))
        .when(high_value & high_risk)
        .then(pl.lit("At-Risk Whales"))
        .when(~high_value & ~high_risk)
        .then(pl.lit("New & Promising"))
        .otherwise(pl.lit("Price-Sensitive / low value"))
    )
    return table.with_columns(quadrant=quadrant).with_columns(
        action=pl.col("quadrant").replace_strict(
            {k: v.split(". ", 1)[1] for k, v in QUADRANTS.items()}
        )
    )


def predict(
    tx: pl.DataFrame,
    cutoff: str | dt.date | dt.datetime | None = None,
    horizon_days: int = DEFAULT_HORIZON,
    *,
    threshold: float = 0.5,
    evaluate: bool = True,
    progress: Progress | None = None,
) -> Predictions:
    """Churn probability and CLV over ``horizon_days`` for every customer seen before ``cutoff``.

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
        Churn probability from which a customer counts as at risk (quadrants, precision/recall).
    evaluate
        Run the backtest (needed to choose between LightGBM and BG/NBD for CLV).

    Returns
    -------
    Predictions
        ``method`` says in words which models produced the numbers.

    Raises
    ------
    InsufficientDataError
        Fewer than 50 customers, or no repeat buyers.
    """
    _check_horizon(horizon_days)
    if not 0 < threshold < 1:
        raise ParameterError(
            f"The 'threshold' parameter must be a number in (0, 1). Got {threshold!r} instead."
        )
    end = as_of_datetime(cutoff, tx)
    tx = tx.filter(pl.col("invoice_date") < end)
    if tx.height == 0:
        raise InsufficientDataError(f"No transactions before {end:%Y-%m-%d}.")
    first = tx.get_column("invoice_date").min()
    span = (end - first).days
    step = (lambda i, text: progress(i, 5, text)) if progress else (lambda i, text: None)
    features = with_derived(customer_features(tx, end))
    if features.height < MIN_CUSTOMERS:
        raise InsufficientDataError(
            f"Only {features.height} customers bought before {end:%Y-%m-%d}; predictions need at least {MIN_CUSTOMERS}."
        )
    step(0, "Fitting BG/NBD + Gamma-Gamma")
    forecast = btyd_forecast(tx, end, horizon_days).table
    bgnbd = features.select("customer_id").join(forecast, on="customer_id", how="left")
    features = features.join(
        forecast.select(
            "customer_id",
            bg_expected_purchases="expected_purchases",
            bg_p_alive="p_alive",
            bg_clv="clv",
        ),
        on="customer_id",
        how="left",
    )
    bt, note = None, ""
    can_train = span >= horizon_days + MIN_HISTORY_DAYS
    if can_train and evaluate and span >= 2 * horizon_days + MIN_HISTORY_DAYS:
        bt = backtest(tx, end, horizon_days, threshold, progress)
    elif evaluate:
        note = (
            f"No backtest: it needs {2 * horizon_days + MIN_HISTORY_DAYS} days of history for a "
            f"{horizon_days}-day horizon and the data cover {span}."
        )
    if can_train:
        step(3, "Training the churn and CLV models")
        models = fit_models(tx, end, horizon_days)
        step(4, "Scoring every customer")
        churn = models.churn_probability(features)
        clv_lgbm = models.clv(features)
        use_lgbm = bt is None or bt.clv_winner == "LightGBM"
        clv = clv_lgbm if use_lgbm else bgnbd.get_column("clv").fill_null(0.0).to_numpy()
        clv_method = (
            (
                "LightGBM (Tweedie, boosted from the BG/NBD + Gamma-Gamma forecast)"
                if models.clv_boosted_from_bgnbd
                else "LightGBM (Tweedie)"
            )
            if use_lgbm
            else "BG/NBD + Gamma-Gamma"
        )
        method = (
            f"Churn: LightGBM (calibrated) trained on {models.training_rows:,} customer snapshots at "
            f"{len(models.cutoffs)} cutoffs with {horizon_days}-day label windows. CLV: {clv_method}"
            + (
                ""
                if bt is None
                else f" (won the backtest against {'BG/NBD' if use_lgbm else 'LightGBM'} on MAE and Spearman)"
            )
            + "."
        )
        importance = models.importance()
    else:
        models, importance = None, {}
        churn = bgnbd.get_column("p_churn").fill_null(1.0).to_numpy()
        clv = bgnbd.get_column("clv").fill_null(0.0).to_numpy()
        clv_method = "BG/NBD + Gamma-Gamma"
        method = (
            f"BG/NBD + Gamma-Gamma: the {span} days of history are too short to hold out a full "
            f"{horizon_days}-day label window for LightGBM (needs {horizon_days + MIN_HISTORY_DAYS})."
        )
    rate = features.get_column("monetary") / pl.max_horizontal(
        features.get_column("tenure_days"), pl.lit(float(horizon_days))
    )
    table = features.select("customer_id").with_columns(
        churn_probability=pl.Series(churn, dtype=pl.Float64),
        predicted_clv=pl.Series(clv, dtype=pl.Float64),
        clv_bgnbd=bgnbd.get_column("clv").fill_null(0.0),
        p_alive=bgnbd.get_column("p_alive"),
        value_at_risk=pl.Series(churn)
        * (features.select(rate.clip(0, None) * horizon_days).to_series()),
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
    )


def quadrant_summary(table: pl.DataFrame) -> pl.DataFrame:
    """Customers, predicted CLV and value at risk per quadrant, with the recommended action."""
    order = pl.DataFrame({"quadrant": list(QUADRANTS), "_o": range(len(QUADRANTS))})
    return (
        table.group_by("quadrant")
        .agg(
            customers=pl.len(),
            predicted_clv=pl.col("predicted_clv").sum(),
            value_at_risk=pl.col("value_at_risk").sum(),
        )
        .join(order, on="quadrant", how="right")
        .with_columns(
            pl.col("customers").fill_null(0),
            pl.col("predicted_clv").fill_null(0.0),
            pl.col("value_at_risk").fill_null(0.0),
        )
        .with_columns(action=pl.col("quadrant").replace_strict(QUADRANTS))
        .sort("_o")
        .select("quadrant", "customers", "predicted_clv", "value_at_risk", "action")
    )
