import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analytics.cli import main

LOG = "Client,OrderedAt,Total\n" + "".join(
    f"{c:05d},2011-{m:02d}-{d:02d},{(c % 7 + 1) * 10 + m}\n"
    for c in range(1, 41)
    for m in range(1, 1 + c % 6 + 1)
    for d in (3,)
)


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(LOG)
    return path


MAPPING = "customer_id=Client,invoice_date=OrderedAt,amount=Total"


def test_clean_prints_report(log_file, tmp_path, capsys):
    out = tmp_path / "clean.parquet"
    assert (
        main(["clean", "--input", str(log_file), "--columns", MAPPING, "--output", str(out)]) == 0
    )
    printed = capsys.readouterr().out
    assert "exact duplicate rows" in printed and "Rows kept" in printed
    assert pl.read_parquet(out)["customer_id"][0] == "00001"


def test_features_with_as_of(log_file, tmp_path):
    out = tmp_path / "f.csv"
    assert (
        main(
            [
                "features",
                "--input",
                str(log_file),
                "--columns",
                MAPPING,
                "--as-of",
                "2011-03-01",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame["last_purchase"].str.to_datetime().max().month == 2
    assert {"rfm_segment", "r_score"} <= set(frame.columns)
    assert frame["customer_id"][0] == "00001"


def test_segment_writes_names_and_probabilities(log_file, tmp_path, capsys):
    out = tmp_path / "seg.csv"
    code = main(
        [
            "segment",
            "--input",
            str(log_file),
            "--columns",
            MAPPING,
            "--features",
            "recency_days,frequency,monetary",
            "--algorithm",
            "gmm",
            "--k",
            "3",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.columns == ["customer_id", "segment", "segment_name", "probability"]
    assert frame.height == 40
    assert "silhouette" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["segment", "--input", "missing.csv", "--output", "x.csv"],
            "error: File not found: missing.csv",
        ),
        (
            ["segment", "--columns", "customer_id", "--output", "x.csv"],
            "is not of the form canonical=source",
        ),
        (
            ["segment", "--k", "1", "--output", "x.csv"],
            "error: --k: The 'k' parameter must be an int in [2, 50]. Got 1 instead.",
        ),
        (
            ["segment", "--features", "recency_days,loyalty", "--output", "x.csv"],
            "error: --features: Unknown feature 'loyalty'",
        ),
        (
            ["features", "--as-of", "31/12/2011", "--output", "x.csv"],
            "as-of date must be written YYYY-MM-DD",
        ),
        (["features", "--output", "x.xlsx"], "--output must end in .csv or .parquet"),
    ],
)
def test_bad_input_exits_non_zero_with_message(args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 1
    assert message in capsys.readouterr().err


def test_segment_bundled_auto_k(tmp_path, capsys):
    out = tmp_path / "seg.csv"
    assert main(["segment", "--k", "auto", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "Recommended k =" in printed
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.height == 5_878
    assert frame["segment_name"].null_count() == 0


def test_help_on_every_command(capsys):
    for command in ("clean", "features", "segment", "predict", "rules"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert "--input" in capsys.readouterr().out


def test_predict_minimal_log_with_cutoff(tmp_path, capsys):
    from analytics.synthetic import synthetic_log

    tx, _ = synthetic_log(800, seed=2)
    minimal = tx.filter(pl.col("customer_id").is_not_null()).select(
        Client="customer_id",
        OrderedAt=pl.col("invoice_date").dt.strftime("%d/%m/%Y %H:%M"),
        Total=pl.col("quantity") * pl.col("unit_price"),
    )
    path = tmp_path / "orders.csv"
    minimal.write_csv(path)
    out = tmp_path / "pred.csv"
    code = main(
        [
            "predict",
            "--input",
            str(path),
            "--columns",
            "customer_id=Client,invoice_date=OrderedAt,amount=Total",
            "--cutoff",
            "2023-10-01",
            "--horizon-days",
            "60",
            "--evaluate",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "Backtest: trained before" in printed and "Recency baseline" in printed
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.columns == [
        "customer_id",
        "churn_probability",
        "predicted_clv",
        "clv_low",
        "clv_high",
        "quadrant",
        "p_alive",
        "expected_next_order",
        "churn_band",
    ]
    assert frame["customer_id"][0].startswith("0")
    assert set(frame["churn_band"]) <= {"Low", "Medium", "High"}
    assert frame["p_alive"].is_between(0, 1).all()
    assert "Dropout risk (churn band): High when P(alive) < 30%" in printed


def test_predict_bad_horizon(capsys):
    assert main(["predict", "--horizon-days", "2", "--output", "x.csv"]) == 1
    assert (
        "The 'horizon_days' parameter must be an int in [7, 730]. Got 2 instead."
        in capsys.readouterr().err
    )


def test_rules_on_a_basket_file(tmp_path, capsys):
    out = tmp_path / "rules.csv"
    code = main(
        [
            "rules",
            "--format",
            "baskets",
            "--min-support",
            "0.001",
            "--min-confidence",
            "0.5",
            "--single-consequent",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    assert "9,835 baskets, 169 items" in capsys.readouterr().out
    frame = pl.read_csv(out)
    assert frame.columns == [
        "antecedents",
        "consequents",
        "support",
        "confidence",
        "lift",
        "leverage",
        "conviction",
    ]
    assert frame.height == 5_668
    assert frame.row(0)[:2] == ("Instant food products|soda", "hamburger meat")


def test_rules_on_transactions_and_bad_support(tmp_path, capsys):
    out = tmp_path / "rules.csv"
    assert (
        main(
            [
                "rules",
                "--min-support",
                "0.02",
                "--min-confidence",
                "0.5",
                "--algorithm",
                "apriori",
                "--output",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "postage/fee lines left out" in printed
    assert pl.read_csv(out).height > 0
    assert main(["rules", "--min-support", "2", "--output", str(out)]) == 1
    assert (
        "The 'min_support' parameter must be a float in (0, 1]. Got 2.0 instead."
        in capsys.readouterr().err
    )


def test_basket_file_read_as_transactions_gets_a_hint(capsys):
    from analytics.datasets import data_dir

    assert (
        main(["rules", "--input", str(data_dir() / "groceries.csv.gz"), "--output", "x.csv"]) == 1
    )
    assert "read it as baskets (--format baskets)" in capsys.readouterr().err


def test_rules_filters(tmp_path, capsys):
    out = tmp_path / "rules.csv"
    code = main(
        [
            "rules",
            "--country",
            "Germany",
            "--start",
            "2011-01-01",
            "--end",
            "2011-12-31",
            "--min-support",
            "0.05",
            "--max-basket-size",
            "40",
            "--output",
            str(out),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "baskets over 40 items dropped" in printed
    baskets = int(printed.split(" baskets")[0].replace(",", ""))
    assert 100 < baskets < 1_000
    assert main(["rules", "--start", "01/01/2011", "--output", str(out)]) == 1
    assert (
        "--start must be a date written YYYY-MM-DD. Got '01/01/2011' instead."
        in capsys.readouterr().err
    )


GOLDEN = Path(__file__).resolve().parent.parent / "golden"


def test_run_writes_every_result_unchanged_from_the_single_commands(tmp_path, capsys):
    """`run` on the bundled data: segments exactly as `segment --k auto` wrote them before, rules
    exactly as mlxtend gave them, features exactly as before (tests/golden/README.md)."""
    out = tmp_path / "all"
    assert main(["run", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["files"]) == {
        "cleaning_report.json",
        "features.parquet",
        "segments.parquet",
        "segment_profiles.parquet",
        "predictions.parquet",
        "rules.csv",
    }
    # the same customers in the same segments as before; the persona names are issue 8's
    # truthful ones now, as `segment` and the app give them
    segments = pl.read_parquet(out / "segments.parquet")
    golden_segments = pl.read_parquet(GOLDEN / "bundled_segments_auto.parquet")
    assert segments.select("customer_id", "segment").equals(
        golden_segments.select("customer_id", "segment")
    )
    assert segments["segment_name"].null_count() == 0
    golden_rules = pl.read_parquet(GOLDEN / "bundled_rules_s0.01_c0.3.parquet")
    rules = pl.read_csv(out / "rules.csv")
    assert rules.equals(golden_rules.filter(pl.col("lift") >= 1.0).select(rules.columns))
    golden_features = pl.read_parquet(GOLDEN / "bundled_features.parquet")
    features = pl.read_parquet(out / "features.parquet")
    # sums may differ from the golden run's in the last bits (addition order), nothing more
    assert_frame_equal(
        features.select(golden_features.columns), golden_features, rel_tol=1e-9, abs_tol=1e-9
    )
    assert {"r_score", "rfm_segment"} <= set(features.columns)
    report = json.loads((GOLDEN / "bundled_cleaning_report.json").read_text())
    # issue 9's checks (non-finite, implausible, out-of-range rows) find nothing here
    hostile = {"non-finite number", "implausible number", "date out of range"}
    steps = json.loads((out / "cleaning_report.json").read_text())["steps"]
    assert [s for s in steps if s["step"] not in hostile] == report["steps"]
    assert all(s["rows"] == 0 for s in steps if s["step"] in hostile)
    predictions = pl.read_parquet(out / "predictions.parquet")
    assert predictions.height == summary["customers"] == golden_features.height == 5_878
    assert summary["segments"]["k"] == 4 and summary["rules"]["itemsets"] == 1_342
    assert summary["rules"]["rules"] == rules.height
    # the printed summary says the same numbers
    assert "1,044,847 rows read, 1,027,016 kept, 5,878 customers" in printed
    assert f"Segments: k = 4 ({summary['segments']['k_reason']})" in printed
    assert f"Rules: 1,342 frequent itemsets, {rules.height:,} rules at support 0.01" in printed


def test_run_output_must_be_a_folder(tmp_path, capsys):
    target = tmp_path / "file.txt"
    target.write_text("x")
    assert main(["run", "--output", str(target)]) == 1
    assert (
        capsys.readouterr().err.strip()
        == f"error: --output must be a folder. {str(target)!r} is a file."
    )
