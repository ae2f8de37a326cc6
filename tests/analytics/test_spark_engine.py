"""The Spark engine gives the polars engine's results: cleaning report, features, itemsets, rules.

Spark runs in local mode (two cores, four shuffle partitions, no UI), started once per session
(the ``spark`` fixture of ``tests/conftest.py``).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analytics.baskets import baskets_from_transactions, mine_rules
from analytics.cleaning import clean_transactions
from analytics.cli import main
from analytics.datasets import bundled_path
from analytics.engines import check_engine, engine_from_env
from analytics.engines import spark as S
from analytics.errors import DataError, ParameterError
from analytics.features import customer_features
from analytics.io import to_canonical

SUPPORT = 0.02
TOLERANCE = {"check_exact": False, "rel_tol": 1e-9, "abs_tol": 1e-9}


@pytest.fixture(scope="module")
def spark_bundled(spark):
    return S.open_dataset(bundled_path(), spark=spark)


def test_cleaning_report_equals_polars(spark_bundled, bundled):
    assert spark_bundled.report == bundled.report
    assert spark_bundled.report.step("exact duplicate rows").rows > 0  # the rule was exercised


@pytest.mark.parametrize("as_of", [None, "2011-06-30"])
def test_features_equal_polars_to_1e9(spark_bundled, bundled, as_of):
    ours = S.customer_features(spark_bundled.transactions, as_of)
    expected = customer_features(bundled.transactions, as_of)
    assert ours.height == expected.height > 4000
    assert_frame_equal(ours, expected, **TOLERANCE)


def test_itemsets_and_rules_equal_polars(spark_bundled, bundled):
    baskets = S.baskets_from_transactions(spark_bundled.transactions)
    expected_baskets = baskets_from_transactions(bundled.transactions)
    assert (baskets.n_baskets, baskets.items, baskets.excluded_rows) == (
        expected_baskets.n_baskets,
        expected_baskets.items,
        expected_baskets.excluded_rows,
    )
    # MLlib's FP-Growth spends most of its time sizing its trees (Spark's SizeEstimator), and the
    # trees grow fast as support falls: 2% keeps this test to a minute on two cores.
    ours = S.mine_rules(baskets, SUPPORT, 0.3, 1.0)
    expected = mine_rules(expected_baskets, SUPPORT, 0.3, 1.0)
    assert ours.itemsets.height == expected.itemsets.height > 100
    assert ours.rules.height > 50
    assert_frame_equal(ours.itemsets, expected.itemsets)
    assert_frame_equal(ours.rules, expected.rules)


def _raw_toy() -> pl.DataFrame:
    """Every cleaning rule once, and the feature edge cases, small enough to check by hand."""
    d = dt.datetime
    rows = [
        # customer, invoice, date, product, description, qty, price
        ("1", "A1", d(2011, 1, 3), "P1", " Mug ", 2, 1.5),
        ("1", "A1", d(2011, 1, 3), "P1", " Mug ", 2, 1.5),  # exact duplicate
        ("1", "A2", d(2011, 3, 1), "P2", "Cup", 1, 4.0),
        ("1", "C3", d(2011, 3, 2), "P2", "Cup", -1, 4.0),  # return
        ("2", None, d(2011, 2, 1), "P1", "Mug", 1, 1.5),  # order without id: counts once
        ("2", "B1", d(2011, 2, 5), "POST", "Postage", 1, 18.0),  # fee, not a product
        ("2", "B1", d(2011, 2, 5), "P3", None, 3, 2.0),
        ("2", "B2", d(2011, 4, 1), "P1", "Mug", 1, 0.0),  # non-positive price
        ("3", "D1", d(1900, 1, 1), "P1", "Mug", 1, 1.5),  # date out of range
        ("3", "D2", None, "P1", "Mug", 1, 1.5),  # no date
        ("3", "D3", d(2011, 5, 1), "P1", "Mug", 1, float("nan")),  # non-finite
        ("3", "D4", d(2011, 5, 1), "P1", "Mug", 1e7, 1.0),  # implausible
        ("3", "D5", d(2011, 5, 2), "P3", "Bowl", 2, 2.0),
        ("4", "E1", d(2011, 5, 3), "P2", "Cup", -2, 4.0),  # only a return
        (None, "F1", d(2011, 5, 4), "P1", "Mug", 1, 1.5),  # anonymous
    ]
    names = ["CustomerID", "InvoiceNo", "InvoiceDate", "StockCode", "Description"]
    names += ["Quantity", "UnitPrice"]
    frame = pl.DataFrame(
        rows, schema=names, orient="row", schema_overrides={"Quantity": pl.Float64}
    )
    return frame.with_columns(Country=pl.lit("France"))


def test_toy_log_every_rule_equals_polars(spark, tmp_path):
    path = tmp_path / "toy.parquet"
    _raw_toy().write_parquet(path)
    frame, _ = S.read_transactions(spark, path)
    cleaned, report = S.clean_transactions(frame, source="toy.parquet")
    polars_clean, expected = clean_transactions(to_canonical(_raw_toy())[0], source="toy.parquet")
    assert report == expected
    assert {s.name: s.rows for s in report.steps} == {
        "missing or unreadable date": 1,
        "date out of range": 1,
        "non-finite number": 1,
        "implausible number": 1,
        "exact duplicate rows": 1,
        "non-positive price": 1,
        "missing amount": 0,
        "returns and cancellations": 2,
        "no customer id": 1,
    }
    assert_frame_equal(S.customer_features(cleaned), customer_features(polars_clean), **TOLERANCE)
    baskets = S.baskets_from_transactions(cleaned)
    assert baskets.items == ["Bowl", "Cup", "Mug"]  # P3: "Bowl" once, no description once
    assert baskets.excluded_rows == 1
    ours = S.mine_rules(baskets, 0.2, 0.1, 0.0)
    expected_rules = mine_rules(baskets_from_transactions(polars_clean), 0.2, 0.1, 0.0)
    assert_frame_equal(ours.itemsets, expected_rules.itemsets)
    assert_frame_equal(ours.rules, expected_rules.rules)


def test_basket_size_cap_is_checked_as_by_polars(spark, tmp_path):
    path = tmp_path / "toy.parquet"
    _raw_toy().write_parquet(path)
    cleaned, _ = S.clean_transactions(S.read_transactions(spark, path)[0], source="toy.parquet")
    with pytest.raises(ParameterError) as info:
        S.baskets_from_transactions(cleaned, max_basket_size=0)
    assert str(info.value) == "The 'max_basket_size' parameter must be an int >= 1. Got 0 instead."


def test_cli_features_with_spark_equal_polars(tmp_path, spark, capsys):
    spark_out, polars_out = tmp_path / "spark.parquet", tmp_path / "polars.parquet"
    assert main(["features", "--engine", "spark", "--output", str(spark_out)]) == 0
    assert main(["features", "--output", str(polars_out)]) == 0
    assert "Rows kept: 1,027,016" in capsys.readouterr().out
    assert_frame_equal(pl.read_parquet(spark_out), pl.read_parquet(polars_out), **TOLERANCE)


def test_pyspark_is_not_imported_by_default():
    code = (
        "import sys, analytics.cli, analytics.engines, dashboard.service; "
        "sys.exit('pyspark' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"SEGMENTA_ENGINE": "dask"}, "The SEGMENTA_ENGINE setting must be one of 'polars', "),
        ({"SEGMENTA_ENGINE": ""}, None),
        ({"SEGMENTA_ENGINE": " Spark "}, None),
    ],
)
def test_engine_from_env(environ, message):
    if message is None:
        assert engine_from_env(environ) in ("polars", "spark")
        return
    with pytest.raises(ParameterError, match=message):
        engine_from_env(environ)


def test_check_engine_names_the_value():
    with pytest.raises(ParameterError, match=r"Got 'ray' instead\."):
        check_engine("ray")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"min_support": 0},
            "The 'min_support' parameter must be a float in (0, 1]. Got 0 instead.",
        ),
        ({"min_lift": -1}, "The 'min_lift' parameter must be a number >= 0. Got -1 instead."),
        (
            {"algorithm": "apriori"},
            "The Spark engine mines with FP-Growth only (Spark MLlib has no Apriori). Got "
            "algorithm 'apriori': use 'fpgrowth', or the polars engine for Apriori.",
        ),
        # the algorithm is checked before the length, as by the polars engine
        (
            {"algorithm": "eclat", "max_len": 0},
            "The Spark engine mines with FP-Growth only (Spark MLlib has no Apriori). Got "
            "algorithm 'eclat': use 'fpgrowth', or the polars engine for Apriori.",
        ),
        ({"max_len": 0}, "The 'max_len' parameter must be an int >= 1. Got 0 instead."),
    ],
)
def test_mining_arguments_are_checked_before_spark_runs(kwargs, message):
    """The polars engine's checks in its order (Apriori refused in the Spark engine's words),
    before any cluster is asked for anything."""
    nothing = S.SparkBaskets(frame=None, items=[], n_baskets=10)
    with pytest.raises(ParameterError) as info:
        S.mine_rules(nothing, **kwargs)
    assert str(info.value) == message


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["features", "--engine", "spark", "--date-format", "%d/%m/%Y"],
            "--date-format is for dates written as text",
        ),
        (["rules", "--engine", "spark", "--format", "baskets"], "--engine spark reads transaction"),
        (["rules", "--engine", "spark", "--algorithm", "apriori"], "FP-Growth only"),
    ],
)
def test_spark_cli_refusals(args, message, tmp_path, capsys):
    assert main([*args, "--output", str(tmp_path / "out.csv")]) == 1
    assert message in capsys.readouterr().err


def test_text_dates_are_refused_with_a_fix(spark, tmp_path):
    path = tmp_path / "text.parquet"
    pl.DataFrame(
        {"CustomerID": ["1"], "InvoiceDate": ["2011-01-01"], "Amount": [1.0]}
    ).write_parquet(path)
    with pytest.raises(DataError, match="reads dates stored as Parquet dates or timestamps"):
        S.read_transactions(spark, path)


def test_cli_rules_with_spark_equal_polars(tmp_path, spark, capsys):
    spark_out, polars_out = tmp_path / "spark.csv", tmp_path / "polars.csv"
    common = ["rules", "--min-support", "0.04", "--min-confidence", "0.2"]
    assert main([*common, "--engine", "spark", "--output", str(spark_out)]) == 0
    spark_said = capsys.readouterr().out
    assert main([*common, "--output", str(polars_out)]) == 0
    polars_said = capsys.readouterr().out
    # the same counts printed ("39,516 baskets, 4,879 items; ... N frequent itemsets, M rules")
    assert spark_said.splitlines()[-3:-1] == polars_said.splitlines()[-3:-1]
    assert_frame_equal(pl.read_csv(spark_out), pl.read_csv(polars_out))


@pytest.mark.parametrize(
    ("master", "partitions"),
    [
        ("local", "2"),
        ("local[3]", "6"),
        ("local[4,2]", "8"),
        ("local[*]", str(2 * (__import__("os").cpu_count() or 1))),
        ("spark://spark-master:7077", None),  # a cluster keeps its own settings
    ],
)
def test_local_mode_gets_a_few_shuffle_partitions_per_core(master, partitions):
    defaults = S._local_defaults(master)
    assert defaults.get("spark.sql.shuffle.partitions") == partitions
