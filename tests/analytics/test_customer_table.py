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
        ("id,age\nx,1\ny,\nz,3\n", DataError, "Column 'age' of t.csv has 1 empty values"),
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
