"""A small synthetic dataset served as the API's dataset, for the API's contract tests."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analytics.datasets import BUNDLED_NAME
from analytics.synthetic import synthetic_log
from dashboard.settings import Settings

#: A customer id a spreadsheet would run as a formula: exports must neutralise it.
FORMULA_ID = "=HYPERLINK(1)"


def write_dataset(folder: Path, customers: int = 600) -> pl.DataFrame:
    """Write a synthetic log (plus one customer with a formula-like id) as the 'bundled' file."""
    tx, _ = synthetic_log(customers, seed=1)
    tx = tx.with_columns(
        customer_id=pl.when(pl.col("customer_id") == "010001")
        .then(pl.lit(FORMULA_ID))
        .otherwise(pl.col("customer_id"))
    )
    folder.mkdir(parents=True, exist_ok=True)
    tx.write_parquet(folder / BUNDLED_NAME)
    return tx


def api_settings(root: Path, **env: str) -> Settings:
    return Settings.from_env(
        {
            "SEGMENTA_CACHE_DIR": str(root / "cache"),
            "SEGMENTA_DATA_DIR": str(root / "data"),
            "SEGMENTA_WARM_UP": "0",
            **env,
        }
    )
