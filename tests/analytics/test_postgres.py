"""PostgreSQL as a source: a real server (tests/postgres_server.py) holding the bundled log.

The table gives exactly the Parquet file's rows, cleaning report and customer features; nothing
we send can write; passwords never appear in any output; errors say what is wrong.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analytics.cli import main
from analytics.datasets import bundled_path, open_dataset
from analytics.errors import DataError, ParameterError
from analytics.features import customer_features
from analytics.postgres import PostgresSource, connect, load_postgres, mask_url, read_table
from tests.postgres_server import ANALYST_PASSWORD, TABLE, free_port

PW = ANALYST_PASSWORD


@pytest.fixture
def pg_env(monkeypatch, pg_shop):
    """The analyst's password in the environment, as a user of the CLI would set it."""
    monkeypatch.setenv("SEGMENTA_PG_PASSWORD", PW)
    return pg_shop


def _rows(server) -> int:
    with server.connect(database="shop") as conn:
        return conn.execute(f"SELECT count(*) FROM {TABLE}", prepare=False).fetchone()[0]


# -- the same data as the file ------------------------------------------------------------------
def test_table_gives_the_parquet_files_rows_report_and_features(pg_env, bundled):
    dataset = open_dataset(PostgresSource(pg_env.url(), table=TABLE))
    assert_frame_equal(dataset.transactions, bundled.transactions)
    assert dataset.report.to_rows() == bundled.report.to_rows()
    assert (dataset.report.rows_in, dataset.report.rows_out, dataset.report.customers) == (
        bundled.report.rows_in,
        bundled.report.rows_out,
        bundled.report.customers,
    )
    assert dataset.log.mapping == bundled.log.mapping
    ours, theirs = customer_features(dataset.transactions), customer_features(bundled.transactions)
    assert_frame_equal(ours, theirs, check_exact=False, rel_tol=1e-9, abs_tol=1e-9)
    assert dataset.log.source == f"table orders in {pg_env.url()}"


def test_cli_features_from_a_query_equal_the_files(pg_env, tmp_path, capsys):
    """Same command, same column mapping, same numbers: a query on the table vs the Parquet file
    filtered to the same customers."""
    customers = ("12347", "12348", "13047", "17850")
    query = f'select * from orders where "CustomerID" in {customers!r};'
    out_db, out_file = tmp_path / "db.parquet", tmp_path / "file.parquet"
    subset = tmp_path / "subset.parquet"
    pl.read_parquet(bundled_path()).filter(pl.col("CustomerID").is_in(customers)).write_parquet(
        subset
    )
    mapping = "customer_id=CustomerID,invoice_date=InvoiceDate"
    args = ["--columns", mapping, "--as-of", "2011-12-10"]
    cmd = ["features", "--input", pg_env.url(), "--query", query, "--output", str(out_db)]
    assert main([*cmd, *args]) == 0
    db_out = capsys.readouterr()
    assert main(["features", "--input", str(subset), "--output", str(out_file), *args]) == 0
    assert_frame_equal(pl.read_parquet(out_db), pl.read_parquet(out_file))
    assert pl.read_parquet(out_db).height == len(customers)
    assert PW not in db_out.out + db_out.err


def test_batches_give_the_same_rows_as_one_fetch(pg_env):
    source = PostgresSource(
        pg_env.url(), query='select * from orders order by "InvoiceNo" limit 2500'
    )
    assert_frame_equal(read_table(source, batch_size=700), read_table(source, batch_size=10_000))
    assert read_table(source, batch_size=700).height == 2500
    # a query is sent as written: % is not a placeholder, a trailing ; is dropped
    like = PostgresSource(pg_env.url(), query="select * from orders where \"Country\" like 'Fr%';")
    assert read_table(like).get_column("Country").unique().to_list() == ["France"]


# -- nothing can be written ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "query, said",
    [
        ("delete from orders", "starts with 'delete'"),
        ('  -- tidy up\n UPDATE orders SET "Quantity" = 0', "starts with 'update'"),
        ("insert into orders select * from orders", "starts with 'insert'"),
        ("drop table orders", "starts with 'drop'"),
        ("truncate orders", "starts with 'truncate'"),
        ("begin; delete from orders; commit", "starts with 'begin'"),
        ("copy orders from program 'true'", "starts with 'copy'"),
    ],
)
def test_a_query_that_is_not_a_read_is_refused_before_it_is_sent(query, said):
    with pytest.raises(ParameterError, match="one read query") as caught:
        PostgresSource("postgresql://analyst@127.0.0.1:1/shop", query=query)
    assert said in str(caught.value)
    assert "nothing was sent" in str(caught.value)


@pytest.mark.parametrize(
    "query, said",
    [
        ("select 1 as a; delete from orders", "multiple commands"),
        ("select * from orders limit 1; drop table orders;", "multiple commands"),
        ("with gone as (delete from orders returning *) select * from gone", "data-modifying"),
        ("select segmenta_wipe()", "read-only transaction"),
    ],
)
def test_postgresql_refuses_writes_hidden_in_a_read(pg_env, query, said):
    """Writes the first-word check cannot see: PostgreSQL refuses them (cursor, read-only)."""
    with pg_env.connect(database="shop") as conn:  # a function that writes, made by the owner
        conn.execute(
            "CREATE OR REPLACE FUNCTION segmenta_wipe() RETURNS int LANGUAGE sql AS "
            "'DELETE FROM orders; SELECT 1'"
        )
    before = _rows(pg_env)
    with pytest.raises(DataError, match="only ever reads your database") as caught:
        read_table(PostgresSource(pg_env.url(), query=query))
    assert said in str(caught.value)
    assert _rows(pg_env) == before > 1_000_000


def test_the_connection_itself_cannot_write(pg_env):
    import psycopg

    conn = connect(PostgresSource(pg_env.url(), table=TABLE))
    with conn:
        assert conn.execute("SHOW default_transaction_read_only").fetchone() == ("on",)
        assert conn.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("DELETE FROM orders")
        conn.rollback()
        with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
            conn.execute("CREATE TABLE segmenta_was_here (a int)")
    assert _rows(pg_env) > 1_000_000


def test_a_table_name_is_quoted_not_run(pg_env):
    before = _rows(pg_env)
    with pytest.raises(DataError, match="No table named 'orders; drop table orders'"):
        read_table(PostgresSource(pg_env.url(), table="orders; drop table orders"))
    assert _rows(pg_env) == before


# -- passwords ----------------------------------------------------------------------------------
def test_a_password_in_the_url_is_refused_and_not_repeated():
    with pytest.raises(ParameterError, match="do not put the password in the URL") as caught:
        PostgresSource("postgresql://analyst:hunter2-xyz@db.example:5432/shop", table="orders")
    assert "hunter2-xyz" not in str(caught.value)
    with pytest.raises(ParameterError, match="do not put the password in the URL") as caught:
        PostgresSource("postgresql://analyst@db.example/shop?password=hunter2-xyz", table="t")
    assert "hunter2-xyz" not in str(caught.value)
    assert mask_url("postgresql://a:hunter2-xyz@h:1/d") == "postgresql://a@h:1/d"


def test_a_typed_password_is_not_in_the_repr_or_label():
    source = PostgresSource("postgresql://a@h:1/d", table="orders", password="typed-pw-123")
    assert "typed-pw-123" not in repr(source) + source.label


def test_cli_output_never_holds_the_password(pg_env, tmp_path, capsys):
    code = main(
        ["clean", "--input", pg_env.url(), "--table", "no_such_table"]
        + ["--output", str(tmp_path / "x.parquet")]
    )
    out = capsys.readouterr()
    assert code == 1
    assert "No table named 'no_such_table'" in out.err
    assert PW not in out.out + out.err


# -- errors say what is wrong -------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_url, password, said",
    [
        (lambda s: s.url(), "wrong-password-42", "refused the password"),
        (lambda s: s.url("nobody_here"), PW, "refused the password"),
        (lambda s: s.url(database="no_such_db"), PW, "no such database"),
        (lambda s: "postgresql://analyst@no-such-host.invalid:5432/shop", PW, "Unknown host"),
        (lambda s: f"postgresql://analyst@127.0.0.1:{free_port()}/shop", PW, "Nothing answers"),
    ],
)
def test_connection_errors_say_what_is_wrong(pg_shop, make_url, password, said):
    source = PostgresSource(make_url(pg_shop), table=TABLE, password=password)
    with pytest.raises(DataError, match=said) as caught:
        read_table(source)
    assert password not in str(caught.value)
    assert mask_url(source.url) in str(caught.value)


@pytest.mark.parametrize(
    "argv, said",
    [
        (["--input", "postgresql://a@h/db"], "needs exactly one of --table NAME or --query"),
        (
            ["--input", "postgresql://a@h/db", "--table", "t", "--query", "select 1"],
            "Got both",
        ),
        (["--table", "orders"], "--table reads from a database"),
        (["--input", "postgresql://a@h/db", "--table", "a.b.c"], "is not a table name"),
    ],
)
def test_cli_source_flags_are_checked(argv, said, tmp_path, capsys):
    assert main(["clean", *argv, "--output", str(tmp_path / "x.parquet")]) == 1
    assert said in capsys.readouterr().err


def test_baskets_format_reads_files_only(tmp_path, capsys):
    argv = ["rules", "--format", "baskets", "--input", "postgresql://a@h/db", "--table", "t"]
    assert main([*argv, "--output", str(tmp_path / "r.csv")]) == 1
    assert "--format baskets reads a file, not a database" in capsys.readouterr().err


# -- ceilings -----------------------------------------------------------------------------------
def test_a_result_over_the_row_ceiling_is_refused_naming_it(pg_env):
    source = PostgresSource(pg_env.url(), query="select * from orders limit 5000")
    with pytest.raises(DataError, match="more than 1,200 rows, this app's limit"):
        read_table(source, batch_size=500, max_rows=1200)
    with pytest.raises(DataError, match="more than 0 MB of memory"):
        read_table(source, batch_size=500, max_bytes=1000)


def test_a_query_without_rows_is_refused_naming_it(pg_env):
    source = PostgresSource(pg_env.url(), query="select * from orders where false")
    with pytest.raises(DataError) as info:
        load_postgres(source)
    assert str(info.value) == f"The query on {pg_env.url()} returned no rows."
