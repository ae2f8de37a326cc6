"""Hostile and broken inputs through the CLI: a clear message, exit code 1, the input untouched."""

from __future__ import annotations

import gzip
import hashlib

import polars as pl
import pytest

from analytics.cli import main

LOG = "Client,OrderedAt,Total\n" + "".join(
    f"{c:05d},2011-{m:02d}-03,{(c % 7 + 1) * 10 + m}\n" for c in range(1, 41) for m in range(1, 5)
)
MAPPING = "customer_id=Client,invoice_date=OrderedAt,amount=Total"


def _bomb() -> bytes:
    """48 MB of CSV rows in ~50 kB of gzip: a ratio near 1000."""
    return gzip.compress(b"Client,OrderedAt,Total\n" + b"c1,2011-01-01,1\n" * 3_000_000)


FILES = {
    "orders.csv": LOG.encode(),
    "fake.xlsx": LOG.encode(),
    "fake.parquet": LOG.encode(),
    "bomb.csv.gz": None,  # built lazily (slow-ish)
    "damaged.csv.gz": gzip.compress(LOG.encode())[:40],
    "dupe_header.csv": b"Client,OrderedAt,Total,Total\nc1,2011-01-01,5,7\nc2,2011-01-02,6,8\n",
    "tiny.csv": b"Client,OrderedAt,Total\nc1,2011-01-01,5\nc2,2011-01-02,6\nc3,2011-01-03,7\n",
    "log_as_baskets.csv": b"Invoice,StockCode,Customer ID,InvoiceDate\n1,A,c1,2011-01-01\n",
}


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        (
            "fake.xlsx",
            ["clean", "--output", "{tmp}/o.parquet"],
            "fake.xlsx is named .xlsx but is not an Excel workbook: its content looks like text "
            "(a CSV?). Rename it to .csv",
        ),
        (
            "fake.parquet",
            ["clean", "--output", "{tmp}/o.parquet"],
            "fake.parquet is named .parquet but is not a Parquet file",
        ),
        (
            "bomb.csv.gz",
            ["clean", "--output", "{tmp}/o.parquet"],
            "bomb.csv.gz expands to more than 100 times its compressed size when decompressed",
        ),
        (
            "damaged.csv.gz",
            ["clean", "--output", "{tmp}/o.parquet"],
            "damaged.csv.gz looks gzip-compressed but is damaged",
        ),
        (
            "dupe_header.csv",
            ["clean", "--output", "{tmp}/o.parquet"],
            "dupe_header.csv has more than one column named 'Total', so it is unclear which one "
            "holds the data. Rename the repeated columns",
        ),
        (
            "orders.csv",
            ["clean", "--columns", MAPPING + ",country=Client", "--output", "{tmp}/o.parquet"],
            "Column 'Client' is chosen for both customer_id and country; each column of the file "
            "can feed only one of them. Map each canonical column to a different source column "
            "in --columns.",
        ),
        (
            "orders.csv",
            ["features", "--columns", MAPPING, "--output", "{input}"],
            "is the --input file: writing it would destroy your data. Choose another --output",
        ),
        (
            "orders.csv",
            ["features", "--columns", MAPPING, "--output", "{input}/sub/out.csv"],
            "is not writable. Choose an --output in a folder you can write to.",
        ),
        (
            "orders.csv",
            ["features", "--columns", MAPPING, "--output", "{tmp}/out.xlsx"],
            "--output must end in .csv or .parquet. Got",
        ),
        (
            "tiny.csv",
            ["segment", "--columns", MAPPING, "--k", "2", "--output", "{tmp}/s.csv"],
            "3 customers are too few for 2 segments: segmenting needs at least 4 customers",
        ),
        (
            "log_as_baskets.csv",
            ["rules", "--format", "baskets", "--output", "{tmp}/r.csv"],
            "log_as_baskets.csv looks like a transaction log, not one basket per line: its first "
            "line is a header naming 'Customer ID', 'Invoice', 'InvoiceDate'. Read it as a log "
            "with --format transactions",
        ),
        (
            "orders.csv",
            ["clean", "--output", "{tmp}/o.parquet"],
            "Map them with --columns canonical=source pairs",
        ),
    ],
)
def test_hostile_input_gets_message_exit_1_and_input_unchanged(
    name, args, message, tmp_path, capsys
):
    path = tmp_path / name
    path.write_bytes(FILES[name] if FILES[name] is not None else _bomb())
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    argv = [a.format(tmp=tmp_path, input=path) for a in args]
    argv[1:1] = ["--input", str(path)]
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("error: ")
    assert message in err
    assert "Traceback" not in err
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not (tmp_path / "o.parquet").exists()


def test_formula_cells_are_neutralised_in_cli_csv(tmp_path):
    path = tmp_path / "evil.csv"
    path.write_text(
        "Client,OrderedAt,Total\n"
        '"=HYPERLINK(""http://x"",""click"")",2011-01-01,5\n'
        "+cmd,2011-01-02,6\n@SUM(A1),2011-01-03,7\nplain,2011-01-04,8\n"
    )
    out = tmp_path / "features.csv"
    assert main(["features", "--input", str(path), "--columns", MAPPING, "--output", str(out)]) == 0
    text = out.read_text()
    assert '"\'=HYPERLINK(""http://x"",""click"")"' in text
    assert '"\'+cmd"' in text and '"\'@SUM(A1)"' in text and '"plain"' in text
    for line in text.splitlines()[1:]:
        assert line[0] == '"' and line[1] not in "=+-@\t\r"


def test_nan_and_inf_prices_never_reach_the_output(tmp_path, capsys):
    path = tmp_path / "nan.csv"
    path.write_text(
        "Client,OrderedAt,Qty,Price\nc1,2011-01-01,1,5\nc1,2011-02-01,1,NaN\n"
        "c2,2011-01-03,1,inf\nc2,2011-01-04,2,3\nc3,1900-01-01,1,1\nc3,2011-01-05,1,1e308\n"
        "c3,2011-03-01,1,4\n"
    )
    out = tmp_path / "f.csv"
    mapping = "customer_id=Client,invoice_date=OrderedAt,quantity=Qty,unit_price=Price"
    assert main(["features", "--input", str(path), "--columns", mapping, "--output", str(out)]) == 0
    frame = pl.read_csv(out)
    numeric = frame.select(pl.selectors.numeric())
    assert all(numeric[c].is_finite().all() for c in numeric.columns)
    assert sorted(frame["monetary"].to_list()) == [4.0, 5.0, 6.0]
    clean_out = tmp_path / "c.parquet"
    main(["clean", "--input", str(path), "--columns", mapping, "--output", str(clean_out)])
    report = capsys.readouterr().out
    assert "non-finite number" in report and "date out of range" in report
