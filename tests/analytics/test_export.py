import csv
import io

import polars as pl
import pytest

from analytics.export import neutralise, to_csv, write_csv


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        ('=HYPERLINK("http://x","click")', '\'=HYPERLINK("http://x","click")'),
        ("+1+2", "'+1+2"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A9)", "'@SUM(A1:A9)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("c148", "c148"),
        ("a=b", "a=b"),
        ("", ""),
    ],
)
def test_formula_leading_cells_get_a_quote_prefix(cell, written):
    frame = pl.DataFrame({"customer_id": [cell], "value": [-1.5]})
    text = to_csv(frame)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["customer_id", "value"]
    assert rows[1] == [written, "-1.5"]  # numbers stay numbers, negative or not


def test_every_text_cell_is_quoted_so_a_separator_cannot_start_a_new_cell():
    text = to_csv(pl.DataFrame({"id": ["a;=cmd|' /C calc'!A0"], "n": [3]}))
    assert text.splitlines()[1] == "\"a;=cmd|' /C calc'!A0\",3"


def test_categorical_and_list_columns_are_neutralised():
    frame = pl.DataFrame(
        {
            "c": pl.Series(["=x", "y"]).cast(pl.Categorical),
            "items": [["=a", "b"], ["c"]],
        }
    )
    out = neutralise(frame)
    assert out["c"].to_list() == ["'=x", "y"] and out["items"].to_list() == ["'=a, b", "c"]
    assert frame["c"].cast(pl.String).to_list() == ["=x", "y"]  # the input is not modified


def test_write_csv_is_private_and_atomic(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(pl.DataFrame({"id": ["=1"]}), path)
    assert path.read_text() == 'id\n"\'=1"\n'
    assert path.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]
