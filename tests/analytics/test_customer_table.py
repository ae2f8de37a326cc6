import polars as pl
import pytest

from analytics.cli import main
from analytics.customer_table import load_customer_table, needs_transactions, segment_table
from analytics.datasets import data_dir
from analytics.errors import DataError, SchemaError

MALL = str(data_dir() / "mall_customers.csv.gz")
BEHAVIOURS = str(data_dir() / "customer_purchasing_behaviors.csv.gz")


def test_mall_columns_as_written_and_categoricals_encoded():
    table = load_customer_table(MALL)
    assert table.frame["customer_id"][:2].to_list() == ["0001", "0002"]  # zero padding kept
    assert table.numeric == ["Age", "Annual Income (k$)", "Spending Score (1-100)"]
    assert table.categorical == ["Genre"]
    assert table.matrix_columns[-2:] == ["Genre=Female", "Genre=Male"]
    assert table.matrix.shape == (200, 5)
    assert table.matrix[:, 3].sum() == 112  # Female 112 / Male 88


def test_names_follow_the_numbers(tmp_path):
    # two obvious groups: young low spenders in the North, older high spenders in the South
    rows = ["id,age,spend,region"]
    rows += [f"a{i},{20 + i % 3},{100 + i},North" for i in range(10)]
    rows += [f"b{i},{60 + i % 3},{1000 + i},South" for i in range(10)]
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(rows) + "\n")
    result = segment_table(load_customer_table(path), 2)
    names = dict(result.profile.select("segment", "name").iter_rows())
    by_first = {
        r["customer_id"]: r["segment_name"] for r in result.assignments.iter_rows(named=True)
    }
    # overall mean spend 554.75: group a is 0.19x (low), group b 1.81x (high); age 0.52x / 1.48x
    assert by_first["a0"] == "Low spend, low age, mostly region North"
    assert by_first["b0"] == "High spend, high age, mostly region South"
    assert sorted(names.values()) == sorted(set(by_first.values()))
    shares = result.profile.filter(pl.col("name") == by_first["a0"]).row(0, named=True)
    assert shares["region=North"] == 1.0 and shares["customers"] == 10


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ("name,age\nx,1\ny,2\n", SchemaError, "has no customer id column"),
        ("id,age\nx,1\nx,2\n", DataError, "not one row per customer: id 'x' appears 2 times"),
        ("id,age\nx,1\ny,\nz,3\n", DataError, "Column 'age' of t.csv has 1 empty value; fill it"),
        ("id\nx\ny\n", SchemaError, "has no column besides the id"),
    ],
)
def test_bad_tables(tmp_path, text, error, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(error, match=message):
        load_customer_table(path)


def test_cli_segment_customer_table(tmp_path, capsys):
    out = tmp_path / "seg.csv"
    args = ["segment", "--format", "customers", "--input", BEHAVIOURS, "--k", "3"]
    assert main([*args, "--output", str(out)]) == 0
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.columns == ["customer_id", "segment", "segment_name"]
    assert frame.height == 238
    assert "region=East" in capsys.readouterr().out
    assert main([*args[:-2], "--k", "auto", "--output", str(out)]) == 1
    assert "--format customers takes a whole number for --k" in capsys.readouterr().err


def test_transaction_analyses_say_they_need_a_log(capsys):
    assert "Churn and CLV needs a transaction log" in str(needs_transactions("Churn and CLV"))
    code = main(["predict", "--format", "customers", "--input", MALL, "--output", "x.csv"])
    assert code == 1
    assert "Churn and CLV needs a transaction log" in capsys.readouterr().err


def test_features_join_customer_attributes(tmp_path, capsys):
    log = tmp_path / "orders.csv"
    log.write_text("Client,OrderedAt,Total\n00001,2011-01-05,10\n00002,2011-02-01,20\n")
    crm = tmp_path / "crm.csv"
    crm.write_text("Client ID,Loyalty (pts),Region\n00001,5,North\n00003,7,South\n")
    out = tmp_path / "f.csv"
    code = main(
        [
            "features",
            "--input",
            str(log),
            "--columns",
            "customer_id=Client,invoice_date=OrderedAt,amount=Total",
            "--customers",
            str(crm),
            "--output",
            str(out),
        ]
    )
    assert code == 0
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert frame.select("customer_id", "Loyalty (pts)", "Region").rows() == [
        ("00001", 5.0, "North"),
        ("00002", None, None),
    ]
    assert "Joined 2 columns of" in capsys.readouterr().out


# -- the app's view of a table (issue 10): id recognition, encoding, profiles, personas ---------
from analytics.customer_table import (  # noqa: E402
    find_id_column,
    joined_features,
    table_features,
)
from analytics.segment_report import SegmentParams, segment_report  # noqa: E402
from analytics.segmentation import attribute_names, select_features  # noqa: E402


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["Age", "CustomerID", "id"], "CustomerID"),  # customer ids before a bare id
        (["user_id", "score"], "user_id"),
        (["Client", "Region"], "Client"),
        (["Customer No", "Age"], "Customer No"),
        (["Age", "Region"], None),
    ],
)
def test_id_column_is_recognised_by_name(columns, expected):
    assert find_id_column(columns) == expected


def _crm(tmp_path):
    # two obvious groups: young low spenders in the North, older high spenders in the South
    rows = ["Client,Age (years),spend,region"]
    rows += [f"a{i},{20 + i % 3},{100 + i},North" for i in range(10)]
    rows += [f"b{i},{60 + i % 3},{1000 + i},South" for i in range(10)]
    path = tmp_path / "crm file.csv"
    path.write_text("\n".join(rows) + "\n")
    return load_customer_table(path)


def test_table_features_are_the_columns_as_written_and_one_hot(tmp_path):
    table = _crm(tmp_path)
    frame = table_features(table)
    assert frame.columns == [
        "customer_id",
        "Age (years)",
        "spend",
        "region=North",
        "region=South",
    ]
    assert frame.get_column("region=North").sum() == 10
    assert attribute_names(frame) == frame.columns[1:]
    assert select_features(frame, None) == frame.columns[1:]
    with pytest.raises(Exception, match="Unknown feature 'age'"):
        select_features(frame, ["age"])


def test_report_on_a_table_names_personas_from_its_numbers(tmp_path):
    table = _crm(tmp_path)
    report = segment_report(table_features(table), SegmentParams(scaling="standard", k=2), table)
    by_name = {p.name: p for p in report.profile.personas}
    # overall mean spend 554.75: group a is 0.19x, group b 1.81x; age 0.52x / 1.48x
    low, high = (
        "Low spend, low Age (years), mostly region North",
        ("High spend, high Age (years), mostly region South"),
    )
    assert set(by_name) == {low, high}
    assert by_name[high].revenue_share is None  # a table has no spend to share out
    assert "spend 1.81×" in by_name[high].description
    assert "region South 100%" in by_name[high].description
    row = report.profile.table.filter(pl.col("name") == low).row(0, named=True)
    assert row["region=North"] == 1.0 and row["region=North_ratio"] == 2.0
    assert row["spend_mean"] == pytest.approx(104.5)
    # the CLI's segment_table agrees with the report on the same settings
    cli = segment_table(table, 2)
    assert sorted(cli.profile["name"].to_list()) == sorted(by_name)
    assert report.tree is not None and report.tree.importance


def test_names_follow_the_numbers_when_they_change(tmp_path):
    rows = ["Client,Age (years),spend,region"]
    # the same people, but now the South group is the young, low-spending one
    rows += [f"a{i},{60 + i % 3},{1000 + i},North" for i in range(10)]
    rows += [f"b{i},{20 + i % 3},{100 + i},South" for i in range(10)]
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(rows) + "\n")
    table = load_customer_table(path)
    report = segment_report(table_features(table), SegmentParams(scaling="standard", k=2), table)
    names = {p.name for p in report.profile.personas}
    assert names == {
        "High spend, high Age (years), mostly region North",
        "Low spend, low Age (years), mostly region South",
    }


def test_joined_features_keep_the_customers_the_table_describes(tmp_path):
    table = _crm(tmp_path)
    features = pl.DataFrame({"customer_id": ["a0", "b1", "zz"], "monetary": [10.0, 20.0, 30.0]})
    joined = joined_features(features, table)
    assert joined["customer_id"].to_list() == ["a0", "b1"]
    assert joined.columns[:3] == ["customer_id", "monetary", "Age (years)"]
    with pytest.raises(DataError, match="No customer of the log is in the customer table"):
        joined_features(features.with_columns(customer_id=pl.lit("x")), table)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "CustomerID,InvoiceDate,Amount\nc1,2011-01-05 10:00,5\nc1,2011-02-05 10:00,7\n",
            "looks like a transaction log, not a customer table: customer 'c1' appears 2 times "
            "and column 'InvoiceDate' holds dates",
        ),
        ("id,age\nx,1\nx,2\n", "not one row per customer: id 'x' appears 2 times"),
    ],
)
def test_a_log_given_as_a_table_is_named_as_such(tmp_path, text, message):
    path = tmp_path / "t.csv"
    path.write_text(text)
    with pytest.raises(DataError, match=message):
        load_customer_table(path)


def test_loading_a_table_does_not_change_the_file(tmp_path):
    table = _crm(tmp_path)
    before = (tmp_path / "crm file.csv").read_bytes()
    segment_report(table_features(table), SegmentParams(k=2), table)
    assert (tmp_path / "crm file.csv").read_bytes() == before


def test_cli_segment_clusters_a_log_and_its_joined_table(tmp_path, capsys):
    from analytics.synthetic import synthetic_log

    tx, _ = synthetic_log(300, seed=3)
    log = tmp_path / "orders.csv"
    tx.filter(pl.col("customer_id").is_not_null()).select(
        Client="customer_id",
        OrderedAt=pl.col("invoice_date").dt.strftime("%Y-%m-%d %H:%M"),
        Total=pl.col("quantity") * pl.col("unit_price"),
    ).write_csv(log)
    ids = tx.get_column("customer_id").drop_nulls().unique().sort().to_list()
    crm = tmp_path / "crm.csv"
    described = ids[: len(ids) // 2]
    pl.DataFrame(
        {
            "Client ID": described,
            "Tier (CRM)": ["Gold" if i % 2 else "Basic" for i in range(len(described))],
        }
    ).write_csv(crm)
    out = tmp_path / "seg.csv"
    args = ["segment", "--input", str(log), "--columns"]
    args += ["customer_id=Client,invoice_date=OrderedAt,amount=Total", "--customers", str(crm)]
    args += ["--features", "monetary,Tier (CRM)=Gold", "--k", "2", "--output", str(out)]
    assert main(args) == 0
    printed = capsys.readouterr().out
    frame = pl.read_csv(out, schema_overrides={"customer_id": pl.String})
    assert f"clustering the {frame.height:,} of" in printed
    assert set(frame["customer_id"]) <= set(described)
    assert "on monetary, Tier (CRM)=Gold" in printed


def test_a_signed_column_is_named_by_its_distance_not_a_ratio(tmp_path):
    """A balance that averages below zero: a segment at -19 is HIGHER than the average (-110),
    although its ratio to it (0.17) would read "low"; no "×" ratio is shown for such a column."""
    rows = ["Client,balance,visits"]
    rows += [f"a{i},{-20 + i % 3},{5 + i % 4}" for i in range(10)]
    rows += [f"b{i},{-200 - i % 3},{5 + i % 4}" for i in range(10)]
    path = tmp_path / "crm.csv"
    path.write_text("\n".join(rows) + "\n")
    table = load_customer_table(path)
    report = segment_report(table_features(table), SegmentParams(scaling="standard", k=2), table)
    by_name = {p.name: p for p in report.profile.personas}
    assert set(by_name) == {"High balance", "Low balance"}
    assert "balance -19.10 (average -110.00)" in by_name["High balance"].description
    assert "balance" not in by_name["High balance"].description.split("×")[0]
    profile = report.profile.table
    assert profile.get_column("balance_ratio").is_null().all()
    assert profile.get_column("visits_ratio").is_not_null().all()
    # the CLI names them the same way
    assert sorted(segment_table(table, 2).profile["name"].to_list()) == sorted(by_name)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (1, "1 customer is too few for 2 segments: each segment needs at least two. Use at most 1"),
        (
            3,
            "3 customers are too few for 2 segments: each segment needs at least two. Use at most 1",
        ),
    ],
)
def test_too_small_a_table_says_how_many_segments_it_can_hold(tmp_path, rows, message):
    from analytics.errors import InsufficientDataError

    path = tmp_path / "t.csv"
    path.write_text("id,age\n" + "".join(f"c{i},{20 + i}\n" for i in range(rows)))
    with pytest.raises(InsufficientDataError, match=message):
        segment_table(load_customer_table(path), 2)
