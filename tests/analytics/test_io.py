import datetime as dt
import gzip

import polars as pl
import pytest

from analytics.datasets import data_dir
from analytics.errors import DataError, SchemaError
from analytics.io import (
    PEAK_BYTES_PER_ROW,
    check_memory,
    load_baskets,
    load_transactions,
    read_columns,
    read_table,
)
from analytics.schema import parse_column_mapping

UCI_HEADER = "InvoiceNo,StockCode,Description,Quantity,InvoiceDate,UnitPrice,CustomerID,Country\n"
UCI_ROWS = (
    "536365,85123A,WHITE HANGING HEART T-LIGHT HOLDER,6,2010-12-01 08:26:00,2.55,17850,United Kingdom\n"
    "C536379,D,Discount,-1,2010-12-01 09:41:00,27.5,00017,United Kingdom\n"
    "536380,22961,JAM MAKING SET PRINTED,24,2010-12-01 09:41:00,1.45,,France\n"
)


def write(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_uci_csv_is_recognised_and_ids_stay_text(tmp_path):
    log = load_transactions(write(tmp_path / "retail.csv", UCI_HEADER + UCI_ROWS))
    tx = log.transactions
    assert tx.columns == [
        "customer_id",
        "invoice_id",
        "invoice_date",
        "product_id",
        "description",
        "quantity",
        "unit_price",
        "amount",
        "country",
    ]
    assert tx["customer_id"].to_list() == ["17850", "00017", None]
    assert tx["invoice_id"].to_list() == ["536365", "C536379", "536380"]
    assert tx["amount"].to_list() == pytest.approx([15.3, -27.5, 34.8])
    assert tx["invoice_date"][0] == dt.datetime(2010, 12, 1, 8, 26)
    assert log.encoding == "utf-8"


def test_online_retail_ii_names(tmp_path):
    header = "Invoice,StockCode,Description,Quantity,InvoiceDate,Price,Customer ID,Country\n"
    log = load_transactions(write(tmp_path / "ii.csv", header + UCI_ROWS))
    assert log.mapping["customer_id"] == "Customer ID"
    assert log.mapping["unit_price"] == "Price"
    assert log.transactions["customer_id"][0] == "17850"


def test_latin1_and_cp1252_gzip(tmp_path):
    text = (
        UCI_HEADER + "536365,85123A,Gift Voucher £10,1,2010-12-01 08:26:00,10,17850,Côte d'Ivoire\n"
    )
    path = tmp_path / "latin.csv.gz"
    path.write_bytes(gzip.compress(text.encode("latin-1")))
    log = load_transactions(path)
    assert log.encoding == "cp1252"
    assert log.transactions["description"][0] == "Gift Voucher £10"
    assert log.transactions["country"][0] == "Côte d'Ivoire"


def test_utf8_bom_semicolons_and_decimal_commas(tmp_path):
    text = "\ufeffKunde;Datum;Betrag\nA1;31/12/2011 17:05;2,55\nA2;01/12/2011 09:00;10\n"
    log = load_transactions(
        write(tmp_path / "de.csv", text),
        parse_column_mapping("customer_id=Kunde,invoice_date=Datum,amount=Betrag"),
    )
    tx = log.transactions
    assert tx["amount"].to_list() == [2.55, 10.0]
    assert tx["invoice_date"].to_list() == [
        dt.datetime(2011, 12, 31, 17, 5),
        dt.datetime(2011, 12, 1, 9),
    ]
    assert log.date_format == "day-first"


def test_minimal_log_customer_date_amount(tmp_path):
    text = "Client,OrderedAt,Total\n00017,2011-01-05,10.5\n00017,2011-02-05,4\n"
    log = load_transactions(
        write(tmp_path / "min.csv", text),
        {"customer_id": "Client", "invoice_date": "OrderedAt", "amount": "Total"},
    )
    tx = log.transactions
    assert tx["customer_id"].to_list() == ["00017", "00017"]
    assert tx["invoice_id"].null_count() == 2
    assert tx["amount"].to_list() == [10.5, 4.0]
    assert not log.has_products


def test_excel_and_parquet(tmp_path):
    frame = pl.DataFrame(
        {
            "CustomerID": [17850, None],
            "InvoiceNo": ["C536379", "536365"],
            "InvoiceDate": [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2011, 1, 1)],
            "Quantity": [6, 2],
            "UnitPrice": [2.55, 1.0],
        }
    )
    frame.write_excel(tmp_path / "log.xlsx")
    frame.with_columns(pl.col("CustomerID").cast(pl.Float64)).write_parquet(
        tmp_path / "log.parquet"
    )
    for name in ("log.xlsx", "log.parquet"):
        tx = load_transactions(tmp_path / name).transactions
        assert tx["customer_id"].to_list() == ["17850", None], name
        assert tx["invoice_id"].to_list() == ["C536379", "536365"], name
        assert tx["invoice_date"][0] == dt.datetime(2010, 12, 1, 8, 26), name
        assert tx["amount"].to_list() == pytest.approx([15.3, 2.0]), name


@pytest.mark.parametrize(
    ("values", "expected", "family"),
    [
        (
            ["2011-12-31 17:05:00", "2011-01-02 08:00:00"],
            [dt.datetime(2011, 12, 31, 17, 5), dt.datetime(2011, 1, 2, 8)],
            "year-first (ISO)",
        ),
        (
            ["31/12/2011 17:05", "01/02/2011 08:00"],
            [dt.datetime(2011, 12, 31, 17, 5), dt.datetime(2011, 2, 1, 8)],
            "day-first",
        ),
        (
            ["12/31/2011 5:05 PM", "1/2/2011 8:00 AM"],
            [dt.datetime(2011, 12, 31, 17, 5), dt.datetime(2011, 1, 2, 8)],
            "month-first",
        ),
        (
            ["12/1/2010 8:26", "12/13/2010 9:00"],
            [dt.datetime(2010, 12, 1, 8, 26), dt.datetime(2010, 12, 13, 9)],
            "month-first",
        ),
        (
            ["20111231", "20110102"],
            [dt.datetime(2011, 12, 31), dt.datetime(2011, 1, 2)],
            "year-first (ISO)",
        ),
        (
            ["2011-12-31", "2011-12-30 10:00"],
            [dt.datetime(2011, 12, 31), dt.datetime(2011, 12, 30, 10)],
            "year-first (ISO)",
        ),
    ],
)
def test_date_forms_read_without_help(tmp_path, values, expected, family):
    text = "customer_id,invoice_date,amount\n" + "".join(
        f"c{i},{v},1\n" for i, v in enumerate(values)
    )
    log = load_transactions(write(tmp_path / "d.csv", text))
    assert log.transactions["invoice_date"].to_list() == expected
    assert log.date_format == family


def test_explicit_date_format_settles_ambiguity(tmp_path):
    text = "customer_id,invoice_date,amount\nc1,01/02/2011,1\nc2,03/04/2011,1\n"
    log = load_transactions(write(tmp_path / "d.csv", text), date_format="%m/%d/%Y")
    assert log.transactions["invoice_date"].to_list() == [
        dt.datetime(2011, 1, 2),
        dt.datetime(2011, 3, 4),
    ]


def test_few_unreadable_dates_are_kept_as_null_for_cleaning(tmp_path):
    rows = "".join(f"c{i},2011-01-{i + 1:02d},1\n" for i in range(20)) + "c99,not a date,1\n"
    tx = load_transactions(
        write(tmp_path / "d.csv", "customer_id,invoice_date,amount\n" + rows)
    ).transactions
    assert tx.height == 21
    assert tx["invoice_date"].null_count() == 1


@pytest.mark.parametrize(
    ("text", "kwargs", "error", "message"),
    [
        (
            "Client,When,Total\nA,2011-01-01,1\n",
            {},
            SchemaError,
            "has no column for customer_id, invoice_date",
        ),
        (
            "Custmer_Id,InvoiceDate,Amount\nA,2011-01-01,1\n",
            {},
            SchemaError,
            "Did you mean 'Custmer_Id'?",
        ),
        (
            "CustomerID,InvoiceDate,Amount\nA,2011-01-01,1\n",
            {"columns": {"amount": "Totl"}},
            SchemaError,
            "The column mapping says amount=Totl, but d.csv has no column 'Totl'",
        ),
        (
            "CustomerID,InvoiceDate,Quantity,UnitPrice\nA,2011-01-01,1,2\nB,2011-01-02,six,2\n",
            {},
            DataError,
            "Column 'Quantity' in d.csv must hold numbers, but data row 2 has 'six'",
        ),
        (
            "CustomerID,InvoiceDate,Amount\nA,01/02/2011,1\nB,03/04/2011,1\n",
            {},
            DataError,
            "can be read day-first or month-first (e.g. '01/02/2011')",
        ),
        (
            "CustomerID,InvoiceDate,Amount\nA,yesterday,1\nB,today,1\n",
            {},
            DataError,
            "Cannot read the dates in column 'InvoiceDate' of d.csv (e.g. 'yesterday'). Pass the format with --date-format",
        ),
        (
            "CustomerID,InvoiceDate,Amount\nA,2011-01-01,1\n",
            {"date_format": "%d.%m.%Y"},
            DataError,
            "No value of column 'InvoiceDate' in d.csv matches --date-format '%d.%m.%Y'",
        ),
        ("CustomerID,InvoiceDate,Amount\n", {}, DataError, "d.csv has a header but no rows."),
        ("", {}, DataError, "d.csv is empty."),
    ],
)
def test_error_messages(tmp_path, text, kwargs, error, message):
    path = write(tmp_path / "d.csv", text)
    with pytest.raises(error) as info:
        load_transactions(path, kwargs.get("columns"), date_format=kwargs.get("date_format"))
    assert message in str(info.value)


def test_half_unreadable_dates_are_rejected(tmp_path):
    text = "CustomerID,InvoiceDate,Amount\nA,2011-01-01,1\nB,soon,1\n"
    with pytest.raises(
        DataError,
        match=r"1 of 2 values in column 'InvoiceDate' of d.csv are not dates .* data row 2: 'soon'",
    ):
        load_transactions(write(tmp_path / "d.csv", text))


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("customer_id", "is not of the form canonical=source"),
        ("shopper=Client", "Unknown column 'shopper' in the column mapping"),
        ("customer_id=A,customer_id=B", "Column 'customer_id' is mapped twice"),
    ],
)
def test_column_mapping_errors(mapping, message):
    with pytest.raises(SchemaError, match=message):
        parse_column_mapping(mapping)


def test_missing_file_and_unsupported_type(tmp_path):
    with pytest.raises(DataError, match="File not found"):
        load_transactions(tmp_path / "nope.csv")
    (tmp_path / "x.json").write_text("{}")
    with pytest.raises(DataError, match="unsupported file type '.json'"):
        load_transactions(tmp_path / "x.json")


def test_source_file_is_not_modified(tmp_path):
    path = write(tmp_path / "retail.csv", UCI_HEADER + UCI_ROWS)
    before = path.read_bytes()
    load_transactions(path)
    assert path.read_bytes() == before


def test_basket_file_groceries(tmp_path):
    path = tmp_path / "b.csv"
    path.write_text("citrus fruit,semi-finished bread,margarine\nwhole milk,whole milk,\n\n")
    assert load_baskets(path) == [
        ["citrus fruit", "semi-finished bread", "margarine"],
        ["whole milk"],
    ]


def test_bundled_groceries_baskets():
    baskets = load_baskets(data_dir() / "groceries.csv.gz")
    assert len(baskets) == 9835
    assert sum(len(b) for b in baskets) == 43367


@pytest.mark.parametrize(
    ("rows", "available", "message"),
    [
        # 50M rows x 250 bytes = 11.6 GB, with 8 GB free
        (
            50_000_000,
            8 * 2**30,
            "big.parquet has 50,000,000 rows: loading, cleaning and describing its customers "
            "needs about 11.6 GB of memory, and this machine has 8.0 GB free. Run it on a "
            "machine with more memory, or split the log by date (e.g. one file per year) and "
            "analyse each part.",
        ),
        (50_000_000, 12 * 2**30, None),  # 11.6 GB fits in 12 (measured: 7.1 GB at 51M rows)
        (10_200_000, 12 * 2**30, None),  # 2.4 GB fits
    ],
)
def test_memory_check_names_what_a_log_needs(rows, available, message):
    if message is None:
        check_memory(rows, "big.parquet", available)
        return
    with pytest.raises(DataError) as info:
        check_memory(rows, "big.parquet", available)
    assert str(info.value) == message


def test_parquet_too_big_for_free_memory_is_refused_before_reading(tmp_path, monkeypatch):
    import psutil

    path = tmp_path / "log.parquet"
    pl.DataFrame({"CustomerID": ["1"] * 10, "InvoiceDate": ["2011-01-01"] * 10}).write_parquet(path)
    free = type("Free", (), {"available": 10 * PEAK_BYTES_PER_ROW - 1})
    monkeypatch.setattr(psutil, "virtual_memory", lambda: free)
    with pytest.raises(DataError, match=r"log.parquet has 10 rows: .* needs about 0.0 GB"):
        load_transactions(path)


# -- read_columns: the header only (what an upload request reads) --------------------------
def test_read_columns_of_every_format(tmp_path):
    import gzip as _gzip

    from analytics.io import read_columns

    frame = pl.DataFrame({"Client": ["c1", "c2"], "OrderedAt": ["2011-01-01"] * 2, "Total": [1, 2]})
    frame.write_parquet(tmp_path / "a.parquet")
    frame.write_excel(tmp_path / "a.xlsx")
    (tmp_path / "a.csv").write_text("Client;OrderedAt;Total\nc1;2011-01-01;1\n")
    (tmp_path / "a.csv.gz").write_bytes(
        _gzip.compress(b"\xef\xbb\xbfClient,OrderedAt,Total\nc1,x,1\n")
    )
    for name in ("a.parquet", "a.xlsx", "a.csv", "a.csv.gz"):
        assert read_columns(tmp_path / name) == ["Client", "OrderedAt", "Total"], name


LOG_TEXT = "CustomerID,InvoiceDate,Amount\nA,2011-01-01,1\nB,2011-01-02,2\n"
#: words of the libraries underneath (zlib, polars, fastexcel, pyarrow) that reached users
LIBRARY_WORDS = ("Error -", "zlib", "Schema", "Calamine", "PAR1", "Parquet magic", "polars")


@pytest.mark.parametrize(
    ("name", "content", "reader", "message"),
    [
        (
            "d.csv.gz",
            gzip.compress(LOG_TEXT.encode())[:25],
            read_table,
            "d.csv.gz looks gzip-compressed but is damaged (cut short or corrupted). Compress "
            "the file again, or upload it uncompressed.",
        ),
        (
            "d.csv.gz",
            gzip.compress(LOG_TEXT.encode())[:25],
            read_columns,
            "d.csv.gz looks gzip-compressed but is damaged (cut short or corrupted). Compress "
            "the file again, or upload it uncompressed.",
        ),
        (
            "d.xlsx",
            b"PK\x03\x04" + b"not really a zip" * 20,
            read_table,
            "Cannot read d.xlsx as an Excel workbook: it is damaged or saved in a format this "
            "app does not read. Open it in a spreadsheet and save it again as .xlsx, or export "
            "it as CSV.",
        ),
        (
            "d.parquet",
            b"PAR1" + b"\x00" * 64,
            read_columns,
            "Cannot read the column names of d.parquet: the file is damaged or cut short. "
            "Export it again, or as CSV.",
        ),
        (
            "d.csv",
            b"a,b\n1,2\n3,4,5,6\n",
            read_table,
            "Cannot read d.csv: its lines have different numbers of fields. If each line is one "
            "basket of comma-separated items, read it as baskets (--format baskets).",
        ),
    ],
)
def test_damaged_files_are_described_in_plain_words(tmp_path, name, content, reader, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(DataError) as info:
        reader(path)
    assert str(info.value) == message
    assert not any(word in str(info.value) for word in LIBRARY_WORDS)
    assert info.value.__cause__ is not None  # the library's own error stays for the log


def test_quoted_header_names_are_read_as_written(tmp_path):
    """A header field quoted with doubled quotes (say "hi") and one with the separator inside
    keep the names a spreadsheet shows, not the CSV escaping."""
    from analytics.io import read_table

    path = tmp_path / "crm.csv"
    path.write_text('id,"say ""hi""","a,b",plain\n1,2,3,4\n')
    frame, _ = read_table(path)
    assert frame.columns == ["id", 'say "hi"', "a,b", "plain"]
    assert frame.row(0) == ("1", "2", "3", "4")
