"""Shared fixtures: the bundled dataset (loaded once) and toy-log helpers."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from analytics.cleaning import clean_transactions
from analytics.datasets import open_dataset
from analytics.io import to_canonical


@pytest.fixture(scope="session")
def bundled():
    """The bundled UCI Online Retail data, loaded and cleaned."""
    return open_dataset()


def toy_log(rows: list[tuple]) -> pl.DataFrame:
    """A cleaned canonical log from ``(customer, invoice, 'YYYY-MM-DD', product, qty, price)`` rows."""
    raw = pl.DataFrame(
        {
            "CustomerID": [r[0] for r in rows],
            "InvoiceNo": [r[1] for r in rows],
            "InvoiceDate": [dt.datetime.fromisoformat(r[2]) for r in rows],
            "StockCode": [r[3] for r in rows],
            "Quantity": [r[4] for r in rows],
            "UnitPrice": [r[5] for r in rows],
            "Country": ["United Kingdom"] * len(rows),
        },
        schema_overrides={"CustomerID": pl.String},
    )
    canonical, _, _ = to_canonical(raw)
    cleaned, _ = clean_transactions(canonical)
    return cleaned


@pytest.fixture(autouse=True)
def _cli_audience():
    """Messages name CLI flags unless a test builds the app (which says "web" for its process)."""
    from analytics.errors import set_audience

    set_audience("cli")
    yield
    set_audience("cli")


@pytest.fixture(scope="session")
def pg_shop():
    """A real PostgreSQL server (Debian's package) whose ``shop`` database holds the bundled log.

    The ``orders`` table has the bundled Parquet file's columns and types, loaded with COPY; the
    ``analyst`` account owns it (its password is ``postgres_server.ANALYST_PASSWORD``).
    """
    from analytics.datasets import bundled_path
    from tests import postgres_server

    bindir = postgres_server.find_bindir()
    if bindir is None:
        pytest.fail(
            "PostgreSQL is not installed: apt-get install postgresql (.ci/run installs it)."
        )
    server = postgres_server.start(bindir)
    try:
        postgres_server.create_shop(server)
        postgres_server.load_frame(server, pl.read_parquet(bundled_path()))
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def spark():
    """Spark in local mode (two cores, four shuffle partitions, no UI), once per test session.

    The Spark engine's code asks for ``spark_session()`` and gets this one (Spark keeps one
    session per process).
    """
    from analytics.engines import spark as S

    session = S.spark_session(
        "local[2]",
        **{"spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "4"},
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def pytest_sessionfinish(session, exitstatus):
    """Stop the background-job processes the in-process test servers forked and left running
    (a test that timed out while its job ran): at exit, multiprocess joins each of them and the
    run would wait for them, or forever for one that is stuck."""
    import multiprocess

    for child in multiprocess.active_children():
        child.kill()
        child.join(timeout=5)
