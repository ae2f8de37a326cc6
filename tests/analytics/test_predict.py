import datetime as dt

import numpy as np
import polars as pl
import pytest

from analytics.btyd import daily_activity
from analytics.cleaning import clean_transactions
from analytics.errors import InsufficientDataError, ParameterError
from analytics.io import to_canonical
from analytics.predict import (
    ACTIVITY,
    BLEND,
    CLV_CANDIDATES,
    PREVIOUS,
    Snapshots,
    assign_quadrants,
    backtest,
    choose_clv_model,
    clv_choice_sentence,
    clv_metrics,
    fit_intervals,
    fit_models,
    label_frame,
    lift_table,
    predict,
    quadrant_name,
    quadrant_summary,
    revenue_at_risk,
    training_cutoffs,
    with_activity,
    with_last_year,
)
from analytics.synthetic import synthetic_log
from tests.conftest import toy_log


@pytest.fixture(scope="module")
def synthetic():
    tx, _ = synthetic_log(1_500, seed=11)
    return clean_transactions(to_canonical(tx)[0])[0]


def test_label_windows_by_hand():
    tx = toy_log(
        [
            ("A", "1", "2011-01-01 10:00", "P", 1, 10.0),
            ("A", "2", "2011-02-05 10:00", "P", 1, 25.0),  # inside [Feb 1, Mar 3)
            ("A", "C3", "2011-02-06 10:00", "P", -1, 5.0),
            ("B", "4", "2011-01-10 10:00", "P", 1, 30.0),
            ("B", "5", "2011-03-10 10:00", "P", 1, 30.0),  # after the window
            (
                "C",
                "6",
                "2011-02-10 10:00",
                "P",
                1,
                30.0,
            ),  # first purchase after the cutoff: not labelled
        ]
    )
    frame = label_frame(tx, dt.datetime(2011, 2, 1), 30).sort("customer_id")
    assert frame["customer_id"].to_list() == ["A", "B"]
    assert frame["churned"].to_list() == [False, True]
    assert frame["future_spend"].to_list() == [20.0, 0.0]
    assert frame["frequency"].to_list() == [1, 1]  # nothing after the cutoff leaks into features


def test_training_cutoffs_leave_room_for_history_and_labels():
    first, end = dt.datetime(2011, 1, 1), dt.datetime(2011, 12, 1)
    cutoffs = training_cutoffs(first, end, 90)
    assert cutoffs[0] == end - dt.timedelta(days=90)
    assert all(c + dt.timedelta(days=90) <= end and (c - first).days >= 60 for c in cutoffs)
    assert training_cutoffs(first, dt.datetime(2011, 5, 1), 90) == []


@pytest.fixture(scope="module")
def bundled_result(bundled):
    return predict(bundled.transactions, horizon_days=90)


def test_bundled_backtest_compares_every_clv_model(bundled_result):
    result = bundled_result
    assert result.table.height == 5_878
    bt = result.backtest
    assert list(bt.clv) == [*CLV_CANDIDATES, PREVIOUS]
    for metrics in bt.clv.values():
        assert set(metrics) >= {"mae", "rmse", "r2", "spearman", "gini", "aggregate_error"}
    assert bt.clv_winner == choose_clv_model(bt.clv) == result.clv_model
    wins = bt.beats_baselines()
    assert wins["churn"] and wins["clv_vs_previous_window"]
    chosen, bg = bt.clv[bt.clv_winner], bt.clv["BG/NBD + Gamma-Gamma"]
    assert chosen["mae"] < bg["mae"] and chosen["r2"] > bg["r2"]
    assert bt.clv_sentence() in result.method
    assert bt.churn["LightGBM"]["roc_auc"] > 0.75
    assert bt.lift["lift"][0] > 1.4
    assert set(bt.clv_calibration["model"]) == set(bt.clv)
    assert bt.clv_calibration.filter(pl.col("model") == bt.clv_winner).height == 10
    table = result.table
    assert table["churn_probability"].is_between(0, 1).all()
    assert (table["predicted_clv"] >= 0).all()
    assert ((table["clv_low"] <= table["predicted_clv"]) | (table["clv_low"] == 0)).all()
    assert (table["clv_high"] >= table["clv_low"]).all()
    assert abs(bt.intervals.coverage - bt.intervals.level) <= 0.05
    assert set(result.shap) == {"churn", "spend", "clv"}


def test_another_threshold_moves_quadrants_and_precision_recall_only(bundled_result):
    from analytics.predict import with_threshold

    result = bundled_result
    strict = with_threshold(result, 0.8)
    assert strict.table["churn_probability"].equals(result.table["churn_probability"])
    assert strict.table["predicted_clv"].equals(result.table["predicted_clv"])

    def at_risk(r):
        return r.table["quadrant_key"].is_in(["value_risk", "low_risk"]).sum()

    assert at_risk(strict) < at_risk(result)
    model, before = strict.backtest.churn["LightGBM"], result.backtest.churn["LightGBM"]
    assert model["roc_auc"] == before["roc_auc"] and model["brier"] == before["brier"]
    assert model["precision"] > before["precision"] and model["recall"] < before["recall"]
    assert result.threshold == 0.5 and strict.threshold == 0.8


@pytest.mark.parametrize("threshold", [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.64, 0.7, 0.8, 0.9])
def test_quadrant_names_hold_for_their_members_at_every_threshold(bundled_result, threshold):
    """Issue 8: 'Loyal Champions' held a 64% churn risk and 'At-Risk Whales' £0 CLV."""
    from analytics.predict import with_threshold

    table = with_threshold(bundled_result, threshold).table
    for (name,), members in table.group_by("quadrant"):
        churn, clv = members["churn_probability"], members["predicted_clv"]
        if name in ("Loyal Champions", "Steady, Low Predicted Value"):
            assert churn.max() < 0.5, name
        if name in ("At-Risk Whales", "Lapsing, Low Predicted Value"):
            assert churn.min() >= 0.5, name
        if "Champions" in name or "Whales" in name or name.startswith("High value"):
            assert clv.min() > 0, name
        if "risk" in name.lower() and not name.startswith(
            ("Low predicted value, some", "High value, some")
        ):
            assert churn.min() >= threshold, name
    summary = quadrant_summary(table)
    assert summary["customers"].sum() == table.height


@pytest.mark.parametrize("threshold", [0.2, 0.5, 0.8])
def test_revenue_at_risk_follows_the_threshold(bundled_result, threshold):
    """Issue 8: 'Expected to churn' moved with the threshold and 'Revenue at risk' did not."""
    from analytics.predict import with_threshold

    table = with_threshold(bundled_result, threshold).table
    at_risk = table.filter(pl.col("churn_probability") >= threshold)
    assert revenue_at_risk(table, threshold) == pytest.approx(at_risk["run_rate"].sum())
    assert table["revenue_at_risk"].sum() == pytest.approx(at_risk["run_rate"].sum())
    assert quadrant_summary(table)["revenue_at_risk"].sum() == pytest.approx(
        at_risk["run_rate"].sum()
    )
    looser = with_threshold(bundled_result, threshold - 0.1).table
    assert revenue_at_risk(looser, threshold - 0.1) > revenue_at_risk(table, threshold)


def test_two_stage_model_uses_nothing_after_its_cutoff(synthetic):
    """Scrambling every row at or after the cutoff changes neither the training snapshots'
    features nor the two-stage model's predictions as of the cutoff."""
    cutoff = dt.datetime(2023, 7, 1)
    after = pl.col("invoice_date") >= cutoff
    scrambled = synthetic.with_columns(
        amount=pl.when(after).then(pl.col("amount") * 7 + 13).otherwise(pl.col("amount")),
        invoice_date=pl.when(after)
        .then(pl.col("invoice_date") + dt.timedelta(days=3))
        .otherwise(pl.col("invoice_date")),
    )
    honest = predict(synthetic, cutoff=cutoff, evaluate=False, shap_sample=0)
    other = predict(scrambled, cutoff=cutoff, evaluate=False, shap_sample=0)
    assert honest.clv_model == "Two-stage LightGBM"
    assert honest.table["predicted_clv"].equals(other.table["predicted_clv"])
    models = honest.models
    assert all(c + dt.timedelta(days=90) <= cutoff for c in models.cutoffs)
    # a training snapshot's features ignore its own label window
    c = models.cutoffs[0]
    window = pl.col("invoice_date").is_between(c, c + dt.timedelta(days=90), closed="left")
    bumped = synthetic.with_columns(
        amount=pl.when(window).then(pl.col("amount") * 5).otherwise(pl.col("amount"))
    )
    a, b = label_frame(synthetic, c, 90), label_frame(bumped, c, 90)
    assert a.drop("future_spend").equals(b.drop("future_spend"))
    assert not a["future_spend"].equals(b["future_spend"])


def test_snapshots_are_shared_between_backtest_and_final_model(synthetic):
    tx = synthetic.filter(pl.col("invoice_date") < dt.datetime(2023, 12, 1))
    end = dt.datetime(2023, 12, 1)
    snapshots = Snapshots(tx, 90)
    fit_models(tx, end, 90, snapshots=snapshots)
    final = len(snapshots)
    backtest(tx, end, 90, snapshots=snapshots)
    first = tx["invoice_date"].min()
    holdout = end - dt.timedelta(days=90)
    union = set(training_cutoffs(first, end, 90)) | set(training_cutoffs(first, holdout, 90))
    assert (
        len(snapshots)
        == len(union | {holdout})
        < final + len(training_cutoffs(first, holdout, 90)) + 1
    )


METRICS = {
    "Two-stage LightGBM": {"mae": 370.0, "r2": 0.64, "spearman": 0.58},
    "BG/NBD + Gamma-Gamma": {"mae": 385.0, "r2": 0.57, "spearman": 0.56},
    "Previous window spend": {"mae": 416.0, "r2": 0.52, "spearman": 0.46},
}


def test_backtest_sentence_follows_the_numbers():
    """Issue 8: the note said BG/NBD 'won on MAE and Spearman' while the table said otherwise."""
    text = clv_choice_sentence(METRICS, choose_clv_model(METRICS))
    assert text.startswith("CLV: Two-stage LightGBM, chosen as")
    assert "a lower MAE (£370.0 vs £385.0) (better)" in text
    assert "a higher R² (0.640 vs 0.570) (better)" in text
    assert "a higher Spearman (0.580 vs 0.560) (better)" in text
    swapped = {
        "Two-stage LightGBM": METRICS["BG/NBD + Gamma-Gamma"],
        "BG/NBD + Gamma-Gamma": METRICS["Two-stage LightGBM"],
        "Previous window spend": METRICS["Previous window spend"],
    }
    assert choose_clv_model(swapped) == "BG/NBD + Gamma-Gamma"
    text = clv_choice_sentence(swapped, "BG/NBD + Gamma-Gamma")
    assert "Against Two-stage LightGBM it had a lower MAE (£370.0 vs £385.0) (better)" in text
    mixed = {**METRICS, "Two-stage LightGBM": {"mae": 380.0, "r2": 0.6, "spearman": 0.55}}
    text = clv_choice_sentence(mixed, "Two-stage LightGBM")
    assert "a lower MAE (£380.0 vs £385.0) (better)" in text
    assert "a lower Spearman (0.550 vs 0.560) (worse)" in text
    # equal at the precision shown: no "higher" the reader cannot see (walk: "0.529 vs 0.529")
    close = {**METRICS, "Two-stage LightGBM": {"mae": 380.0, "r2": 0.5704, "spearman": 0.55}}
    text = clv_choice_sentence(close, "Two-stage LightGBM")
    assert "the same R² (0.570)" in text and "higher R²" not in text


@pytest.mark.parametrize(
    ("metrics", "chosen"),
    [
        (
            {
                "A": {"mae": 1, "r2": 0.5, "spearman": 0.6},
                "B": {"mae": 2, "r2": 0.4, "spearman": 0.7},
            },
            "A",
        ),
        (
            {
                "A": {"mae": 2, "r2": 0.5, "spearman": 0.6},
                "B": {"mae": 1, "r2": 0.4, "spearman": 0.7},
            },
            "B",
        ),
        (
            {
                "A": {"mae": 1, "r2": 0.5, "spearman": 0.6},
                PREVIOUS: {"mae": 0, "r2": 0.9, "spearman": 0.9},
            },
            "A",
        ),
    ],
)
def test_choice_rule(metrics, chosen):
    assert choose_clv_model(metrics) == chosen


def test_clv_metrics_by_hand():
    actual = np.array([0.0, 10.0, 20.0, 30.0])
    m = clv_metrics(actual, np.array([0.0, 10.0, 20.0, 30.0]))
    assert (m["mae"], m["r2"], m["spearman"], m["gini"], m["aggregate_error"]) == (
        0.0,
        1.0,
        pytest.approx(1.0),
        pytest.approx(1.0),
        0.0,
    )
    m = clv_metrics(actual, np.array([30.0, 20.0, 10.0, 0.0]))
    assert m["gini"] == pytest.approx(-1.0) and m["aggregate_error"] == 0.0
    assert clv_metrics(actual, actual * 1.5)["aggregate_error"] == pytest.approx(0.5)


def test_conformal_intervals_cover_their_level():
    rng = np.random.default_rng(0)
    predicted = rng.gamma(1.0, 100.0, 6000)
    actual = np.clip(predicted * rng.lognormal(0, 0.8, 6000) - 20, 0, None)
    intervals = fit_intervals(predicted, actual, level=0.8)
    assert abs(intervals.coverage - 0.8) <= 0.03
    fresh = rng.gamma(1.0, 100.0, 6000)
    truth = np.clip(fresh * rng.lognormal(0, 0.8, 6000) - 20, 0, None)
    low, high = intervals.apply(fresh)
    assert (low >= 0).all() and (high >= low).all()
    assert abs(((truth >= low) & (truth <= high)).mean() - 0.8) <= 0.03


def test_cutoff_gives_the_same_predictions_as_the_cut_file(synthetic):
    cutoff = dt.datetime(2023, 7, 1)
    full = predict(synthetic, cutoff=cutoff, evaluate=False)
    cut = predict(synthetic.filter(pl.col("invoice_date") < cutoff), cutoff=cutoff, evaluate=False)
    assert full.table.equals(cut.table)
    assert full.cutoff == cutoff


def test_short_history_uses_bgnbd_and_says_so(synthetic):
    recent = synthetic.filter(pl.col("invoice_date") >= dt.datetime(2023, 4, 1))
    result = predict(recent, horizon_days=270)  # nine months of data, a nine-month CLV
    assert result.method.startswith("BG/NBD + Gamma-Gamma: the 274 days of history are too short")
    assert result.backtest is None and "No backtest" in result.backtest_note
    assert result.table["predicted_clv"].is_finite().all()


def test_minimal_log_customer_date_amount(synthetic):
    minimal = synthetic.filter(pl.col("customer_id").is_not_null()).select(
        "customer_id", pl.col("invoice_date").dt.date().cast(pl.String).alias("date"), "amount"
    )
    tx, _ = clean_transactions(to_canonical(minimal, {"invoice_date": "date"})[0])
    result = predict(tx, horizon_days=60)
    assert result.models is not None and "distinct_products" not in result.models.features
    assert result.table.height > 1_000


def test_errors(synthetic):
    with pytest.raises(
        ParameterError,
        match="The 'horizon_days' parameter must be an int in \\[7, 730\\]. Got 3 instead.",
    ):
        predict(synthetic, horizon_days=3)
    with pytest.raises(ParameterError, match="threshold"):
        predict(synthetic, threshold=1.5)
    tiny = synthetic.filter(
        pl.col("customer_id").is_in(
            synthetic["customer_id"].drop_nulls().unique().sort().head(20).implode()
        )
    )
    with pytest.raises(InsufficientDataError, match="predictions need at least 50"):
        predict(tiny)


def test_quadrants_and_lift_by_hand():
    table = pl.DataFrame(
        {
            "customer_id": list("abcdef"),
            "churn_probability": [0.1, 0.9, 0.2, 0.8, 0.7, 0.3],
            "predicted_clv": [100.0, 90.0, 1.0, 2.0, 0.0, 80.0],  # median 41
            "run_rate": [10.0, 20.0, 30.0, 40.0, 50.0, 60.0],
            "value_at_risk": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        }
    )
    out = assign_quadrants(table, 0.5)
    assert out["quadrant"].to_list() == [
        "Loyal Champions",
        "At-Risk Whales",
        "Steady, Low Predicted Value",
        "Lapsing, Low Predicted Value",
        "Lapsing, Low Predicted Value",
        "Loyal Champions",
    ]
    assert out["revenue_at_risk"].to_list() == [0.0, 20.0, 0.0, 40.0, 50.0, 0.0]
    # at 0.75 the 70% customer is below the line: a low-risk quadrant that cannot be "Steady"
    out = assign_quadrants(table, 0.75)
    assert out["quadrant"].to_list()[2:5] == [
        "Low predicted value, watch closely",
        "Lapsing, Low Predicted Value",
        "Low predicted value, watch closely",
    ]
    summary = quadrant_summary(assign_quadrants(table, 0.5))
    assert summary["customers"].to_list() == [2, 1, 1, 2]
    assert summary["revenue_at_risk"].to_list() == [0.0, 20.0, 0.0, 90.0]
    lift = lift_table(np.array([1] * 10 + [0] * 10), np.linspace(1, 0, 20))
    assert lift["churn_rate"].to_list()[:5] == [1.0] * 5 and lift["lift"][0] == 2.0


@pytest.mark.parametrize(
    ("key", "low", "high", "name"),
    [
        ("value_safe", 0.05, 0.49, "Loyal Champions"),
        ("value_safe", 0.05, 0.64, "High value, watch closely"),
        ("value_risk", 0.5, 0.99, "At-Risk Whales"),
        ("value_risk", 0.3, 0.99, "High value, some risk"),
        ("low_safe", 0.0, 0.3, "Steady, Low Predicted Value"),
        ("low_risk", 0.2, 0.9, "Low predicted value, some risk"),
    ],
)
def test_quadrant_names_from_churn_range(key, low, high, name):
    assert quadrant_name(key, low, high) == name


def test_last_year_window_by_hand():
    tx = toy_log(
        [
            ("A", "1", "2010-02-10 10:00", "P", 1, 40.0),  # in [Feb 1 2010, Mar 3 2010)
            ("A", "2", "2010-02-20 10:00", "P", 1, 10.0),
            ("A", "3", "2010-03-10 10:00", "P", 1, 99.0),  # after that window
            ("B", "4", "2010-06-01 10:00", "P", 1, 30.0),
            ("B", "5", "2011-02-05 10:00", "P", 1, 30.0),  # after the cutoff: never read
        ]
    )
    features = pl.DataFrame({"customer_id": ["A", "B"]})
    out = with_last_year(features, tx, dt.datetime(2011, 2, 1), 30).sort("customer_id")
    assert out["spend_last_year_window"].to_list() == [50.0, 0.0]
    assert out["days_last_year_window"].to_list() == [2.0, 0.0]
    # a horizon longer than a year stops at the cutoff
    long = with_last_year(features, tx, dt.datetime(2011, 2, 1), 400).sort("customer_id")
    assert long["spend_last_year_window"].to_list() == [149.0, 30.0]


def test_activity_features_by_hand():
    """Purchase-day rhythm as of 2011-03-01: A bought on Jan 1, Jan 11, Jan 31 (gaps 10 and 20
    days), returned on Feb 20 (not a purchase day); B bought once; C only after the cutoff."""
    tx = toy_log(
        [
            ("A", "1", "2011-01-01 10:00", "P", 1, 10.0),
            ("A", "2", "2011-01-11 10:00", "P", 1, 20.0),
            ("A", "3", "2011-01-11 15:00", "Q", 1, 5.0),  # same day: one purchase day
            ("A", "4", "2011-01-31 10:00", "P", 1, 40.0),
            ("A", "C5", "2011-02-20 10:00", "P", -1, 10.0),
            ("B", "6", "2010-10-01 10:00", "P", 1, 30.0),
            ("C", "7", "2011-03-05 10:00", "P", 1, 30.0),  # after the cutoff: never read
        ]
    )
    features = pl.DataFrame({"customer_id": ["A", "B", "C"]})
    out = with_activity(features, tx, dt.datetime(2011, 3, 1)).sort("customer_id")
    assert set(ACTIVITY) <= set(out.columns)
    row = {c: out[c].to_list() for c in ACTIVITY}
    assert row["purchase_days_30"] == [1.0, 0.0, 0.0]  # Jan 31 is within 30 days of Mar 1
    assert row["purchase_days_90"] == [3.0, 0.0, 0.0]
    assert row["purchase_days_prev_90"] == [0.0, 1.0, 0.0]  # Oct 1 is 151 days before
    assert row["spend_prev_90"] == [0.0, 30.0, 0.0]
    assert row["gap_mean"] == [15.0, -1.0, -1.0]
    assert row["gap_cv"][0] == pytest.approx(np.std([10, 20], ddof=1) / 15)
    assert row["gap_cv"][1:] == [-1.0, -1.0]
    assert row["overdue"] == [29 / 15, -1.0, -1.0]  # 29 days since Jan 31 over a 15-day pace


def test_daily_table_gives_the_same_snapshot(synthetic):
    """Snapshots aggregate the log per customer-day once; their frames equal the row-level ones."""
    cutoff = dt.datetime(2023, 6, 1)
    shared = Snapshots(synthetic, 90).at(cutoff)
    direct = label_frame(synthetic, cutoff, 90)
    assert shared.columns == direct.columns
    for column in direct.columns:
        if direct[column].dtype.is_float():
            np.testing.assert_allclose(shared[column].to_numpy(), direct[column].to_numpy())
        else:
            assert shared[column].equals(direct[column])
    # not at midnight: the row-level path is used, still nothing at or after the cutoff is read
    odd = label_frame(
        synthetic, cutoff + dt.timedelta(hours=12), 90, daily=daily_activity(synthetic)
    )
    assert odd.height >= direct.height


def test_blend_is_purchase_probability_times_geometric_mean(synthetic):
    end = dt.datetime(2023, 12, 1)
    tx = synthetic.filter(pl.col("invoice_date") < end)
    models = fit_models(tx, end, 90)
    frame = Snapshots(tx, 90).at(end - dt.timedelta(days=90))
    p_buy = 1 - models.churn_probability(frame)
    spend = models.spend_given_purchase(frame)
    bg = frame["bg_clv"].fill_null(0.0).to_numpy()
    raw = p_buy * np.sqrt(spend * bg)
    scale = models.set_blend_scale(frame)
    assert scale == pytest.approx(bg.sum() / raw.sum())
    blend = models.clv_blend(frame)
    np.testing.assert_allclose(blend, raw * scale)
    assert blend.sum() == pytest.approx(bg.sum())  # the level is BG/NBD + Gamma-Gamma's total
    models.clv_choice = BLEND
    np.testing.assert_allclose(models.predicted_clv(frame), raw * scale)
    # one customer scored later keeps the population's scale
    np.testing.assert_allclose(models.predicted_clv(frame[:1]), raw[:1] * scale)


def test_predict_runs_its_threads_without_blas_or_openmp_pools(monkeypatch):
    # predict's Python threads share the cores; BLAS and OpenMP pools beside them only spin
    # (1.8 CPU-s and ~0.4 s of wall time on the bundled data), so it runs them on one thread
    from threadpoolctl import threadpool_info

    import analytics.predict as module

    seen = []
    monkeypatch.setattr(
        module,
        "_check_horizon",
        lambda *a: seen.append({p["num_threads"] for p in threadpool_info()}),
    )
    monkeypatch.setattr(module, "_check_threshold", lambda *a: 1 / 0)  # stop there
    with pytest.raises(ZeroDivisionError):
        module.predict(pl.DataFrame())
    assert seen == [{1}]
