"""Explanations a marketer can read: LIME for single predictions, exact TreeSHAP (LightGBM's
own ``pred_contrib=True``) for global summaries, and a LightGBM "segment surrogate" that makes
a clustering explainable.

LIME (``LimeTabularExplainer``) is given numpy arrays only (pandas 3 breaks its DataFrame path,
FIELD-NOTES); the model wrappers rebuild frames with the feature names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np
import pandas as pd
import polars as pl
from lime.lime_tabular import LimeTabularExplainer
from sklearn.model_selection import cross_val_score

from analytics.errors import InsufficientDataError, ParameterError
from analytics.predict import BGNBD, LGBM_FIXED, MODEL_LABELS, PARETO, Models

NUM_SAMPLES = 5000


def _money(currency: str) -> Callable[[float], str]:
    # no "-£0" for a value that rounds to zero
    return lambda v: f"{'-' if round(v) < 0 else ''}{currency}{abs(v):,.0f}"


def _percent(v: float) -> str:
    """``12%``; a value that rounds to zero is ``0%``, never ``-0%``."""
    return f"{round(v * 100)}%"


def describe_value(
    feature: str, value: float, currency: str = "£", *, orders: int | None = None
) -> str:
    """A feature value in business words: ``recency_days=213`` -> ``Last purchase 213 days ago``.

    ``orders`` (the customer's order count, when known) lets a one-order customer's
    ``days_between_purchases`` (the days since that order, see :func:`customer_features`) read as
    what it is instead of "An order every 0 days on average".
    """
    money = _money(currency)
    if feature == "days_between_purchases" and orders == 1:
        return f"One order so far, {value:.0f} days ago: no gap between orders yet"
    phrases: dict[str, Callable[[float], str]] = {
        "recency_days": lambda v: f"Last purchase {v:.0f} days ago",
        "frequency": lambda v: f"{v:.0f} order{'s' if round(v) != 1 else ''} so far",
        "monetary": lambda v: f"Net spend of {money(v)}",
        "avg_order_value": lambda v: f"Average order of {money(v)}",
        "tenure_days": lambda v: f"First purchase {v:.0f} days ago",
        "days_between_purchases": lambda v: f"An order every {v:.0f} days on average",
        "distinct_products": lambda v: f"{v:.0f} different products bought",
        "return_rate": lambda v: f"{_percent(v)} of spend returned",
        "recent_spend_share": lambda v: f"{_percent(v)} of spend in the last 90 days",
        "spend_last_90_days": lambda v: f"{money(v)} spent in the last 90 days",
        "orders_per_month": lambda v: f"{v:.1f} orders per month",
        "spend_per_month": lambda v: f"{money(v)} spent per month",
        "bg_expected_purchases": lambda v: f"{v:.1f} purchases expected by the BG/NBD model",
        "bg_p_alive": lambda v: f"{_percent(v)} chance of still being active (BG/NBD)",
        "bg_clv": lambda v: f"{money(v)} expected spend by BG/NBD",
        "bg_expected_spend": lambda v: f"{money(v)} expected per purchase (Gamma-Gamma)",
        "spend_last_year_window": lambda v: f"{money(v)} spent in the same weeks a year earlier",
        "days_last_year_window": lambda v: (
            f"{v:.0f} purchase day{'s' if round(v) != 1 else ''} in the same weeks a year earlier"
        ),
    }
    return phrases.get(feature, lambda v: f"{MODEL_LABELS.get(feature, feature)} = {v:,.2f}")(value)


@dataclass(frozen=True)
class Contribution:
    feature: str
    value: float
    weight: float
    condition: str  # LIME's rule, e.g. "recency_days > 143.00"
    sentence: str  # "Last purchase 213 days ago raises churn risk"


@dataclass(frozen=True)
class Explanation:
    """Why one prediction is what it is."""

    target: str  # "churn", "clv" or "segment"
    customer_id: str
    prediction: float
    label: str
    contributions: list[Contribution]
    local_prediction: float
    score: float  # LIME's local fit (R^2)


def _explain(
    explainer_data: np.ndarray,
    features: list[str],
    row: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    mode: str,
    label_index: int,
    effect: str,
    currency: str,
    num_samples: int,
    num_features: int,
    class_names: Sequence[str] | None = None,
) -> tuple[list[Contribution], float, float]:
    explainer = LimeTabularExplainer(
        explainer_data,
        feature_names=features,
        class_names=class_names,
        mode=mode,
        discretize_continuous=True,
        random_state=0,
    )
    kwargs = {"labels": (label_index,)} if mode == "classification" else {}
    exp = explainer.explain_instance(
        row, predict, num_features=num_features, num_samples=num_samples, **kwargs
    )
    key = label_index if mode == "classification" else 1
    rules = dict(exp.as_list(label=key)) if mode == "classification" else dict(exp.as_list())
    contributions = []
    for index, weight in exp.as_map()[key]:
        feature = features[index]
        condition = next((c for c in rules if feature in c), feature)
        direction = "raises" if weight > 0 else "lowers"
        contributions.append(
            Contribution(
                feature,
                float(row[index]),
                float(weight),
                condition,
                f"{describe_value(feature, float(row[index]), currency)} {direction} {effect}",
            )
        )
    local = exp.local_pred[0] if mode == "regression" else exp.local_pred[0]
    return contributions, float(local), float(exp.score)


def explain_prediction(
    models: Models,
    customer: pl.DataFrame,
    target: str,
    *,
    currency: str = "£",
    num_samples: int = NUM_SAMPLES,
    num_features: int = 6,
) -> Explanation:
    """Explain one customer's churn probability (``target="churn"``) or CLV (``"clv"``).

    ``customer`` is a one-row frame with the model features (as in ``Predictions``' scoring frame).
    """
    if target not in ("churn", "clv"):
        raise ParameterError(
            f"The 'target' parameter must be one of 'churn', 'clv'. Got {target!r} instead."
        )
    if customer.height != 1:
        raise ParameterError(f"Explain one customer at a time; got {customer.height} rows.")
    features = models.features
    row = customer.select(features).to_numpy()[0].astype(float)

    def frame(array: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(np.asarray(array, dtype=float), columns=features)

    if target == "churn":
        predict = lambda a: models.churn_model.predict_proba(frame(a))  # noqa: E731
        prediction = float(predict(row.reshape(1, -1))[0, 1])
        contributions, local, score = _explain(
            models.training_sample,
            features,
            row,
            predict,
            "classification",
            1,
            "churn risk",
            currency,
            num_samples,
            num_features,
            class_names=["stays", "churns"],
        )
        label = (
            f"{prediction:.0%} probability of no purchase in the next {models.horizon_days} days"
        )
    else:
        if models.clv_choice in (BGNBD, PARETO):
            raise ParameterError(
                f"The CLV shown comes from {models.clv_choice}, which has no per-feature explanation."
            )
        predict = lambda a: models.predicted_clv(pl.from_pandas(frame(a)))  # noqa: E731
        prediction = float(predict(row.reshape(1, -1))[0])
        contributions, local, score = _explain(
            models.training_sample,
            features,
            row,
            predict,
            "regression",
            0,
            "expected spend",
            currency,
            num_samples,
            num_features,
        )
        label = f"{_money(currency)(prediction)} expected net spend in the next {models.horizon_days} days"
    return Explanation(
        target,
        str(customer.get_column("customer_id")[0]) if "customer_id" in customer.columns else "",
        prediction,
        label,
        contributions,
        local,
        score,
    )


#: What each TreeSHAP summary explains, and the scale its contributions are on.
SHAP_TARGETS = {
    "churn": "Churn risk (log-odds of no purchase)",
    "spend": "Spend given a purchase, two-stage CLV (log £)",
    "clv": "One-stage CLV (log £, on top of the BG/NBD forecast)",
}


def _boosters(models: Models, target: str) -> list[lgb.Booster]:
    if target == "churn":
        return [c.estimator.booster_ for c in models.churn_model.calibrated_classifiers_]
    if target == "clv":
        return [models.clv_model.booster_]
    if target == "spend":
        if models.spend_model is None:
            raise InsufficientDataError("No spend-per-buyer model was trained (too few buyers).")
        return [models.spend_model.booster_]
    raise ParameterError(
        f"The 'target' parameter must be one of {', '.join(map(repr, SHAP_TARGETS))}. "
        f"Got {target!r} instead."
    )


def shap_values(models: Models, frame: pl.DataFrame, target: str) -> tuple[np.ndarray, np.ndarray]:
    """Exact TreeSHAP contributions ``(n x features, bias per row)`` in the model's raw score.

    Each row's contributions plus its bias equal :func:`raw_score` (log-odds for churn, the log
    of spend for the Gamma/Tweedie models). The churn model is the average of its calibration
    folds' boosters, so its contributions are their average (SHAP is additive); isotonic
    calibration then maps the score to a probability monotonically. The one-stage CLV model's
    raw score is added to log(1 + BG/NBD CLV), which it was boosted from.
    """
    X = frame.select(models.features).to_pandas()
    contrib = np.mean(
        [b.predict(X, pred_contrib=True, num_threads=1) for b in _boosters(models, target)], axis=0
    )
    return contrib[:, :-1], contrib[:, -1]


def raw_score(models: Models, frame: pl.DataFrame, target: str) -> np.ndarray:
    """The raw (link-scale) output that :func:`shap_values` decomposes."""
    X = frame.select(models.features).to_pandas()
    return np.mean(
        [b.predict(X, raw_score=True, num_threads=1) for b in _boosters(models, target)], axis=0
    )


def shap_summary(
    models: Models, frame: pl.DataFrame, target: str, *, sample: int = 600, top: int = 8
) -> pl.DataFrame:
    """Beeswarm points: one row per (customer, feature) for the ``top`` features by mean |SHAP|.

    Columns: ``feature, label, rank`` (1 = most important), ``importance`` (mean |SHAP| over
    the sample), ``shap``, ``value`` and ``value_pct`` (the value's percentile among the sample,
    for colour). ``sample`` customers are drawn with a fixed seed.
    """
    rng = np.random.default_rng(0)
    if frame.height > sample:
        frame = frame[np.sort(rng.choice(frame.height, size=sample, replace=False))]
    contrib, _ = shap_values(models, frame, target)
    importance = np.abs(contrib).mean(axis=0)
    order = np.argsort(-importance, kind="stable")[:top]
    values = frame.select(models.features).to_numpy().astype(float)
    parts = []
    for rank, j in enumerate(order, start=1):
        column = values[:, j]
        pct = column.argsort(kind="stable").argsort(kind="stable") / max(len(column) - 1, 1)
        parts.append(
            pl.DataFrame(
                {
                    "feature": models.features[j],
                    "label": MODEL_LABELS.get(models.features[j], models.features[j]),
                    "rank": rank,
                    "importance": float(importance[j]),
                    "shap": contrib[:, j],
                    "value": column,
                    "value_pct": pct,
                }
            )
        )
    return pl.concat(parts)


class SegmentSurrogate:
    """A LightGBM classifier that predicts a customer's segment from the features.

    Its cross-validated accuracy says how well the segments can be told apart by simple rules;
    its gain importances and LIME explanations say which features decide the segment.

    Attributes
    ----------
    accuracy_ : float, 3-fold cross-validated accuracy
    classes_ : list of int, segment labels in model order
    """

    def __init__(self, random_state: int = 0) -> None:
        self.random_state = random_state

    def fit(
        self, features: pl.DataFrame, labels: Sequence[int], feature_names: Sequence[str]
    ) -> SegmentSurrogate:
        labels = np.asarray(labels)
        if len(np.unique(labels)) < 2:
            raise InsufficientDataError("A segment surrogate needs at least two segments.")
        self.features_ = list(feature_names)
        X = features.select(self.features_).to_pandas()
        model = lgb.LGBMClassifier(
            n_estimators=150,
            learning_rate=0.1,
            num_leaves=15,
            **{**LGBM_FIXED, "random_state": self.random_state},
        )
        folds = min(3, int(np.bincount(labels - labels.min()).min()) if labels.min() >= 0 else 3)
        self.accuracy_ = (
            float(cross_val_score(model, X, labels, cv=max(folds, 2)).mean())
            if folds >= 2
            else float("nan")
        )
        self.model_ = model.fit(X, labels)
        self.classes_ = [int(c) for c in self.model_.classes_]
        rng = np.random.default_rng(self.random_state)
        self.sample_ = X.to_numpy()[rng.choice(len(X), size=min(len(X), 5000), replace=False)]
        return self

    def importance(self) -> dict[str, float]:
        gain = self.model_.booster_.feature_importance("gain")
        return dict(zip(self.features_, (gain / gain.sum()).tolist(), strict=True))

    def explain(
        self,
        customer: pl.DataFrame,
        segment: int,
        segment_name: str,
        *,
        currency: str = "£",
        num_samples: int = NUM_SAMPLES,
        num_features: int = 6,
    ) -> Explanation:
        """Why this customer is in ``segment`` (LIME on the surrogate's probability for it)."""
        row = customer.select(self.features_).to_numpy()[0].astype(float)

        def predict(array: np.ndarray) -> np.ndarray:
            return self.model_.predict_proba(
                pd.DataFrame(np.asarray(array, dtype=float), columns=self.features_)
            )

        index = self.classes_.index(segment)
        prediction = float(predict(row.reshape(1, -1))[0, index])
        contributions, local, score = _explain(
            self.sample_,
            self.features_,
            row,
            predict,
            "classification",
            index,
            f"the fit with “{segment_name}”",
            currency,
            num_samples,
            num_features,
            class_names=[str(c) for c in self.classes_],
        )
        return Explanation(
            "segment",
            str(customer.get_column("customer_id")[0]),
            prediction,
            f"{prediction:.0%} surrogate confidence in “{segment_name}”",
            contributions,
            local,
            score,
        )
