"""Opening a dataset: the bundled default or a user's file, loaded, mapped and cleaned."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, replace
from pathlib import Path

import polars as pl

from analytics.cleaning import CleaningReport, clean_transactions
from analytics.io import LoadedLog, load_transactions
from analytics.postgres import PostgresSource

BUNDLED_NAME = "online_retail_2009_2011.parquet"
#: Fixed id of the bundled dataset; uploads get random ids.
BUNDLED_ID = "uci-online-retail"


def data_dir() -> Path:
    """Folder of the bundled data: ``SEGMENTA_DATA_DIR`` or the repository's ``data/``."""
    return Path(
        os.environ.get("SEGMENTA_DATA_DIR") or Path(__file__).resolve().parent.parent / "data"
    )


def bundled_path() -> Path:
    return data_dir() / BUNDLED_NAME


@dataclass(frozen=True)
class Dataset:
    """A cleaned transaction log with the story of how it was read and cleaned."""

    transactions: pl.DataFrame
    report: CleaningReport
    log: LoadedLog  # how the file was read; its ``transactions`` is empty (the cleaned rows are above)


def open_dataset(
    path: str | Path | PostgresSource | None = None,
    columns: dict[str, str] | None = None,
    *,
    date_format: str | None = None,
) -> Dataset:
    """Load and clean ``path`` (default: the bundled UCI Online Retail data).

    ``path`` may also be a :class:`analytics.postgres.PostgresSource` (a table or read query in
    PostgreSQL): it is mapped and cleaned exactly as a file.

    Raises
    ------
    SchemaError, DataError
        With a message naming what is wrong and how to fix it.
    """
    if isinstance(path, PostgresSource):
        from analytics.postgres import load_postgres

        log = load_postgres(path, columns, date_format=date_format)
    else:
        log = load_transactions(path or bundled_path(), columns, date_format=date_format)
    # The uncleaned rows are handed over (emptied column by column as they are cleaned) and only
    # how the file was read is kept: holding both frames, for the cleaning or for the dataset's
    # lifetime, doubled its memory (1.1 GB more at 10M rows).
    transactions, report = clean_transactions(log.transactions, source=log.source, consume=True)
    log = replace(log, transactions=transactions.clear().drop("is_return"))
    return Dataset(transactions=transactions, report=report, log=log)


def fingerprint(
    path: str | Path, columns: dict[str, str] | None = None, date_format: str | None = None
) -> str:
    """A stable id for (file content, reading options): the cache key of everything derived."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    digest.update(json.dumps([sorted((columns or {}).items()), date_format]).encode())
    return digest.hexdigest()[:24]
