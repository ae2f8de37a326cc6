"""The lifecycle commands: cohorts, migration, anomalies (column contracts from issue 10)."""

import polars as pl
import pytest

from analytics.cli import main

# Client 1 buys in Jan and Mar, client 2 in Jan only, client 3 in Feb and Mar (ISO dates).
LOG = """Client,OrderedAt,Total
00001,2011-01-05,10
00001,2011-03-07,30
00002,2011-01-20,5
00003,2011-02-01,7
00003,2011-03-15,3
"""
MAPPING = "customer_id=Client,invoice_date=OrderedAt,amount=Total"


@pytest.fixture
def log_file(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text(LOG)
    return path


def test_cohorts_csv_by_hand(log_file, tmp_path, capsys):
    out = tmp_path / "cohorts.csv"
    args = ["cohorts", "--input", str(log_file), "--columns", MAPPING, "--output", str(out)]
    assert main(args) == 0
    frame = pl.read_csv(out)
    assert frame.columns == ["cohort", "period_index", "customers", "retention", "revenue"]
    assert frame.rows() == [
        ("2011-01", 0, 2, 1.0, 15.0),
        ("2011-01", 1, 0, 0.0, 0.0),
        ("2011-01", 2, 1, 0.5, 30.0),
        ("2011-02", 0, 1, 1.0, 7.0),
        ("2011-02", 1, 1, 1.0, 3.0),
    ]
    assert "2 monthly cohorts, 3 customers" in capsys.readouterr().out
    assert main([*args[:-2], "--period", "quarter", "--output", str(out)]) == 0
    assert pl.read_csv(out).rows() == [("2011-Q1", 0, 3, 1.0, 55.0)]


def test_migration_csv_by_hand(log_file, tmp_path, capsys):
    out = tmp_path / "moves.csv"
    args = ["migration", "--input", str(log_file), "--columns", MAPPING]
    code = main([*args, "--from", "2011-02-01", "--to", "2011-04-01", "--output", str(out)])
    assert code == 0
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.columns == ["customer_id", "from_segment", "to_segment"]
    # before 2011-02-01 only clients 1 and 2 had bought; client 3 is New
    assert frame["customer_id"].to_list() == ["00001", "00002", "00003"]
    assert frame["from_segment"][2] == "New"
    printed = capsys.readouterr().out
    assert "as of 2011-02-01 -> 2011-04-01: 3 customers" in printed
    assert printed.splitlines()[1].startswith("from \\ to")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["--from", "2011-04-01", "--to", "2011-02-01"],
            "'from' date must be before the 'to' date",
        ),
        (["--from", "1/2/2011"], "--from must be a date written YYYY-MM-DD. Got '1/2/2011'"),
    ],
)
def test_migration_bad_dates(log_file, tmp_path, capsys, argv, message):
    args = ["migration", "--input", str(log_file), "--columns", MAPPING, *argv]
    assert main([*args, "--output", str(tmp_path / "m.csv")]) == 1
    assert message in capsys.readouterr().err


def test_anomalies_on_bundled_data(tmp_path, capsys):
    out = tmp_path / "anomalies.csv"
    assert main(["anomalies", "--output", str(out)]) == 0
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.columns == ["customer_id", "kind", "score", "reason"]
    assert set(frame["kind"]) == {"spend_drop", "spend_spike", "overdue", "outlier"}
    assert "outlier" in capsys.readouterr().out


def test_help_on_lifecycle_commands(capsys):
    for command in ("cohorts", "migration", "anomalies"):
        with pytest.raises(SystemExit) as info:
            main([command, "--help"])
        assert info.value.code == 0
        assert "--output" in capsys.readouterr().out
