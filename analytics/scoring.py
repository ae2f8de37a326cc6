"""Scoring one outside customer with models fitted on a dataset, without refitting anything.

The REST API's ``POST /api/v1/score`` sends one customer's transactions; nothing is stored and
no model is trained. Each score is computed the way the dataset's own customers got theirs:

- **segment**: the nearest segment centre in the segmentation's scaled feature space (the scaler
  fitted on the dataset's customers, as :func:`analytics.segmentation.scale` does). For K-Means
  this is exactly K-Means' own assignment rule; for the other algorithms it is an approximation;
- **RFM segment**: the quintile scores of the dataset's customers plus this one (as if they were
  one more customer of the dataset);
- **churn band**: the BG/NBD P(alive) of the dataset's fitted model (:mod:`analytics.alive`);
- **churn probability and CLV**: the trained :class:`analytics.predict.Models` on the same
  model inputs :func:`analytics.predict.predict` builds (BG/NBD + Gamma-Gamma columns from the
  forecast fitted at the predictions' cutoff); quadrant by the same median-CLV and threshold rule.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from sklearn.preprocessing import RobustScaler, StandardScaler

from analytics.alive import AliveResult, churn_band
from analytics.btyd import BtydForecast, btyd_summary, purchase_days
from analytics.features import customer_features
from analytics.predict import (
    BGNBD,
    LIGHTGBM_CLV,
    QUADRANT_ACTIONS,
    QUADRANT_NAMES,
    Predictions,
    with_activity,
    with_derived,
    with_last_year,
)
from analytics.rfm import RFM_SEGMENTS, rfm_table
from analytics.segment_report import SegmentReport


def _transform(matrix: np.ndarray, scaling: str):
    if scaling == "log-standard":
        return np.sign(matrix) * np.log1p(np.abs(matrix)), StandardScaler()
    return matrix, RobustScaler() if scaling == "robust" else StandardScaler()


def nearest_segment(
    reference: pl.DataFrame,
    labels: np.ndarray,
    feature_names: list[str],
    scaling: str,
    new: pl.DataFrame,
) -> np.ndarray:
    """The segment whose centre is nearest each row of ``new``, in the scaled feature space.

    Parameters
    ----------
    reference
        The dataset's customer features (same row order as ``labels``).
    labels
        The segment of each reference customer (-1, noise, is never assigned).
    feature_names, scaling
        What the segmentation clustered on (``SegmentReport.features``, ``params.scaling``).
    new
        Features of the customers to assign.
    """
    ref, scaler = _transform(reference.select(feature_names).to_numpy().astype(float), scaling)
    scaled = scaler.fit_transform(ref)
    points, _ = _transform(new.select(feature_names).to_numpy().astype(float), scaling)
    points = scaler.transform(points)
    segments = np.array(sorted(s for s in set(labels.tolist()) if s >= 0))
    centres = np.vstack([scaled[labels == s].mean(axis=0) for s in segments])
    distance = ((points[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
    return segments[distance.argmin(axis=1)]


def relative_rfm(reference: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """RFM scores of ``new`` customers ranked among the ``reference`` customers.

    Reference ids equal to a new id are left out, so a new customer is never counted twice.
    """
    ids = new.get_column("customer_id")
    pool = pl.concat(
        [
            reference.filter(~pl.col("customer_id").is_in(ids.implode())).select(
                "customer_id", "recency_days", "frequency", "monetary"
            ),
            new.select("customer_id", "recency_days", "frequency", "monetary"),
        ]
    )
    return rfm_table(pool).filter(pl.col("customer_id").is_in(ids.implode()))


def model_inputs(
    tx: pl.DataFrame, as_of: dt.datetime, horizon_days: int, forecast: BtydForecast
) -> pl.DataFrame:
    """The model inputs :func:`analytics.predict.predict` builds, for customers outside its data.

    The BG/NBD and Gamma-Gamma columns come from ``forecast``'s fitted models (not refitted).
    """
    days = purchase_days(tx, as_of)
    features = with_last_year(with_derived(customer_features(tx, as_of)), tx, as_of, horizon_days)
    features = with_activity(features, tx, as_of, days=days)
    summary = btyd_summary(tx, as_of, days=days)
    x, t_x, T, m = (summary.get_column(c).to_numpy() for c in ("x", "t_x", "T", "m"))
    purchases = forecast.bgnbd.expected_purchases(horizon_days, x, t_x, T)
    spend = forecast.gamma_gamma.expected_spend(x, m)
    btyd = summary.select("customer_id").with_columns(
        bg_expected_purchases=pl.Series(purchases, dtype=pl.Float64),
        bg_p_alive=pl.Series(forecast.bgnbd.p_alive(x, t_x, T), dtype=pl.Float64),
        bg_expected_spend=pl.Series(spend, dtype=pl.Float64),
        bg_clv=pl.Series(purchases * spend, dtype=pl.Float64),
        bg_p_churn=pl.Series(forecast.bgnbd.p_no_purchase(horizon_days, x, t_x, T)),
    )
    return features.join(btyd, on="customer_id", how="left")


def score_predictions(
    inputs: pl.DataFrame, predictions: Predictions
) -> tuple[pl.DataFrame, str | None]:
    """Churn probability, CLV (with its interval), quadrant and action for ``inputs``' customers.

    Returns the table and a note when a number cannot be given for outside customers (the
    chosen CLV model is Pareto/NBD, which is fitted per dataset: its CLV is left empty).
    """
    models = predictions.models
    note = None
    if models is not None:
        churn = models.churn_probability(inputs)
        if models.clv_choice in LIGHTGBM_CLV:
            clv = models.predicted_clv(inputs)
        elif models.clv_choice == BGNBD:
            clv = inputs.get_column("bg_clv").fill_null(0.0).to_numpy()
        else:
            clv = np.full(inputs.height, np.nan)
            note = (
                f"The CLV model chosen for this dataset ({models.clv_choice}) scores only the "
                "customers it was fitted on, so predicted_clv is empty for posted transactions."
            )
    else:  # BG/NBD + Gamma-Gamma only (short history)
        churn = inputs.get_column("bg_p_churn").fill_null(1.0).to_numpy()
        clv = inputs.get_column("bg_clv").fill_null(0.0).to_numpy()
    intervals = predictions.backtest.intervals if predictions.backtest else None
    if intervals is not None and not np.isnan(clv).any():
        low, high = intervals.apply(clv)
    else:
        low = high = np.full(len(clv), np.nan)
    table = inputs.select("customer_id").with_columns(
        churn_probability=pl.Series(churn, dtype=pl.Float64),
        predicted_clv=pl.Series(clv, dtype=pl.Float64).fill_nan(None),
        clv_low=pl.Series(low, dtype=pl.Float64).fill_nan(None),
        clv_high=pl.Series(high, dtype=pl.Float64).fill_nan(None),
    )
    return table.with_columns(
        quadrant_key=pl.Series(
            [quadrant_key(row, predictions) for row in table.iter_rows(named=True)],
            dtype=pl.String,
        )
    ).with_columns(
        quadrant=pl.col("quadrant_key").replace_strict(
            quadrant_names(predictions), return_dtype=pl.String
        ),
        action=pl.col("quadrant_key").replace_strict(QUADRANT_ACTIONS, return_dtype=pl.String),
    ), note


def quadrant_key(row: dict, predictions: Predictions) -> str | None:
    """The value x risk quadrant of one scored row, by :func:`analytics.predict.assign_quadrants`'
    rule on the dataset's median CLV and the predictions' threshold (None without a CLV)."""
    if row["predicted_clv"] is None:
        return None
    value_cut = predictions.table.get_column("predicted_clv").median()
    high_value = row["predicted_clv"] >= value_cut and row["predicted_clv"] > 0
    high_risk = row["churn_probability"] >= predictions.threshold
    if high_value:
        return "value_risk" if high_risk else "value_safe"
    return "low_risk" if high_risk else "low_safe"


def quadrant_names(predictions: Predictions) -> dict[str, str]:
    """The names the dataset's quadrants carry (their churn ranges), for each quadrant key."""
    names = {key: plain for key, (_, plain) in QUADRANT_NAMES.items()}
    stored = predictions.table.select("quadrant_key", "quadrant").unique("quadrant_key")
    names.update(dict(stored.iter_rows()))
    return names


def score_customer(
    tx: pl.DataFrame,
    as_of: dt.datetime,
    *,
    reference: pl.DataFrame,
    segmentation: SegmentReport,
    alive: AliveResult,
    predictions: Predictions | None,
    forecast: BtydForecast | None,
    horizon_days: int,
) -> tuple[dict, str | None]:
    """Every score of the one customer in the cleaned log ``tx``, as of ``as_of``.

    Parameters
    ----------
    tx
        One customer's cleaned transactions (:func:`analytics.cleaning.clean_transactions`),
        with at least one purchase before ``as_of``.
    reference
        The dataset's customer features (what ``segmentation`` clustered, same row order).
    segmentation, alive, predictions, forecast
        The dataset's fitted results; ``predictions`` (and ``forecast``, BG/NBD + Gamma-Gamma
        fitted at its cutoff) None before the models are trained: churn and CLV are then absent.

    Returns
    -------
    (row, note)
        ``row`` has ``customer_id, segment, segment_name, persona, persona_action,
        rfm_segment, rfm_score, rfm_action, p_alive, churn_band`` and, with predictions,
        ``churn_probability, predicted_clv, clv_low, clv_high, quadrant, action``; ``note`` says
        what could not be scored, if anything.
    """
    features = customer_features(tx, as_of)
    labels = segmentation.assignments.get_column("segment").to_numpy()
    segment = int(
        nearest_segment(
            reference, labels, segmentation.features, segmentation.params.scaling, features
        )[0]
    )
    persona = next(p for p in segmentation.profile.personas if p.segment == segment)
    rfm = relative_rfm(reference, features).row(0, named=True)
    summary = btyd_summary(tx, as_of)
    x, t_x, T = (summary.get_column(c).to_numpy() for c in ("x", "t_x", "T"))
    p_alive = float(alive.bgnbd.p_alive(x, t_x, T)[0])
    row = {
        "customer_id": features.get_column("customer_id")[0],
        "segment": segment,
        "segment_name": persona.name,
        "persona": persona.description,
        "persona_action": persona.action,
        "rfm_segment": rfm["rfm_segment"],
        "rfm_score": rfm["rfm_score"],
        "rfm_action": RFM_SEGMENTS[rfm["rfm_segment"]].action,
        "p_alive": p_alive,
        "churn_band": churn_band(p_alive),
    }
    note = None
    if predictions is not None and forecast is not None:
        scored, note = score_predictions(
            model_inputs(tx, as_of, horizon_days, forecast), predictions
        )
        s = scored.row(0, named=True)
        row |= {k: s[k] for k in ("churn_probability", "predicted_clv", "clv_low", "clv_high")}
        row |= {
            "quadrant": s["quadrant"],
            "action": QUADRANT_ACTIONS.get(s["quadrant_key"]) if s["quadrant_key"] else None,
        }
    return row, note


def bought_items(tx: pl.DataFrame, labels: dict[str, str]) -> list[str]:
    """The items a customer bought, named as the dataset's basket rules name them.

    ``labels`` maps the dataset's product ids to rule items
    (:func:`analytics.baskets.product_labels`); a product the dataset does not know keeps its
    own description (or id).
    """
    bought = tx.filter(~pl.col("is_return") & pl.col("product_id").is_not_null())
    return sorted(
        {
            labels.get(pid) or (desc or "").strip() or pid
            for pid, desc in bought.select("product_id", "description").iter_rows()
        }
    )
