"""The app on the Spark engine (``SEGMENTA_ENGINE=spark``): the same cleaning report, log,
features and rules as on polars, with the transaction-level work done by Spark (local mode)."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analytics.basket_analysis import BasketParams
from analytics.datasets import BUNDLED_ID
from analytics.errors import ParameterError
from dashboard.jobs import run_task
from dashboard.service import Service
from dashboard.settings import Settings

TOLERANCE = {"check_exact": False, "rel_tol": 1e-9, "abs_tol": 1e-9}


def _on_spark(settings: Settings) -> Settings:
    return dataclasses.replace(
        settings,
        engine="spark",
        spark_master="local[2]",
        cache_dir=settings.cache_dir.with_name("spark-cache"),
    )


def test_the_engine_is_read_from_the_environment(tmp_path):
    env = {"SEGMENTA_CACHE_DIR": str(tmp_path)}
    assert Settings.from_env(env).engine == "polars"
    on_spark = Settings.from_env(
        {**env, "SEGMENTA_ENGINE": " Spark ", "SEGMENTA_SPARK_MASTER": "spark://m:7077"}
    )
    assert (on_spark.engine, on_spark.spark_master) == ("spark", "spark://m:7077")
    with pytest.raises(ValueError, match="^The SEGMENTA_ENGINE setting must be one of 'polars', "):
        Settings.from_env({**env, "SEGMENTA_ENGINE": "dask"})
    # a job process gets the engine with the rest of the settings
    assert Settings.from_json(on_spark.to_json()) == on_spark


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    root = tmp_path_factory.mktemp("engines")
    polars_settings = Settings.from_env(
        {"SEGMENTA_CACHE_DIR": str(root / "cache"), "SEGMENTA_WARM_UP": "0"}
    )
    return Service(polars_settings), Service(_on_spark(polars_settings))


def test_spark_cleans_the_log_as_polars_does(spark, both):
    on_polars, on_spark = both
    assert on_spark.report(BUNDLED_ID) == on_polars.report(BUNDLED_ID)
    # Spark's executors wrote the cleaned log (a Parquet directory); polars reads it as one
    assert on_spark._clean_path(BUNDLED_ID).is_dir()
    assert not on_polars._clean_path(BUNDLED_ID).is_dir()
    ours, theirs = on_spark.transactions(BUNDLED_ID), on_polars.transactions(BUNDLED_ID)
    assert ours.height == theirs.height > 390_000
    order = list(theirs.columns)
    assert_frame_equal(
        ours.select(order).sort(order, nulls_last=True),
        theirs.sort(order, nulls_last=True),
    )


@pytest.mark.parametrize("as_of", [None, "2011-06-30"])
def test_spark_features_equal_polars_to_1e9(spark, both, as_of):
    import datetime as dt

    on_polars, on_spark = both
    when = dt.datetime.fromisoformat(as_of) if as_of else None
    ours, theirs = on_spark.features(BUNDLED_ID, when), on_polars.features(BUNDLED_ID, when)
    assert ours.height == theirs.height > 3000
    assert_frame_equal(ours, theirs, **TOLERANCE)


def test_spark_mines_the_same_itemsets_and_rules(spark, both):
    on_polars, on_spark = both
    params = BasketParams(min_support=0.02, min_confidence=0.3)
    seen = []
    ours = on_spark.rules(BUNDLED_ID, params, progress=lambda *a: seen.append(a))
    theirs = on_polars.rules(BUNDLED_ID, params)
    assert seen == [(0, 1, "Counting baskets and mining itemsets on Spark")]
    assert ours.itemsets.height == theirs.itemsets.height > 50
    assert ours.rules.height == theirs.rules.height > 10

    def key(frame: pl.DataFrame) -> list:
        return sorted(
            tuple(
                sorted(v) if isinstance(v, list) else round(v, 12) if isinstance(v, float) else v
                for v in row
            )
            for row in frame.iter_rows()
        )

    assert key(ours.itemsets) == key(theirs.itemsets)
    assert key(ours.rules) == key(theirs.rules)
    # a lower confidence is derived from the stored itemsets, not mined again
    lower = on_spark.rules(BUNDLED_ID, dataclasses.replace(params, min_confidence=0.1))
    assert seen == [(0, 1, "Counting baskets and mining itemsets on Spark")]
    assert lower.rules.height > ours.rules.height


def test_apriori_on_spark_is_refused_with_the_fix(spark, both):
    _, on_spark = both
    with pytest.raises(ParameterError, match=r"Spark MLlib has no Apriori\). Choose FP-Growth"):
        on_spark.rules(BUNDLED_ID, BasketParams(min_support=0.05, algorithm="apriori"))


def test_a_job_process_starts_spark_under_its_memory_cap(settings):
    """The JVM reserves more address space than a job's cap (RLIMIT_AS) allows: it is launched
    with the cap lifted, and the job's own Python stays under it."""
    capped = dataclasses.replace(_on_spark(settings), job_memory_mb=2048, job_timeout_s=300)
    result = run_task(capped, "ingest", dataset_id=BUNDLED_ID)
    assert result["customers"] > 4000
    service = Service(capped)
    assert service._clean_path(BUNDLED_ID).is_dir()  # Spark wrote it, in the job
