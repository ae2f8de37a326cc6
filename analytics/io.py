"""Reading transaction logs (CSV, Excel, Parquet) and basket files into the canonical schema.

The source file is only ever read. Every value is first read as text so that ids keep their exact
spelling (``00017``, ``C100045``); numbers and dates are then converted with checks whose messages
name the file, the column and the first bad row.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl

from analytics.dates import parse_datetimes
from analytics.errors import WEB_COLUMNS, DataError, SchemaError, fix
from analytics.schema import (
    CANONICAL,
    NUMERIC,
    check_unique_headers,
    resolve_columns,
    suggest_columns,
)

CSV_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
ENCODINGS = ("utf-8-sig", "cp1252", "latin-1")
#: Peak memory per row of loading, cleaning and describing a log (setting). Measured with
#: ``benchmarks/bench_pipeline.py`` (peak VmHWM of the child / rows read): the synthetic
#: 10.2M-row / 996k-customer log peaked 2.16-2.25 GB, 227-236 bytes a row (2026-11-22 09:50-10:00,
#: after cleaning took the raw log over column by column and the features were grouped in parts;
#: it was 350 before), and a 51M-row / 5M-customer log 7.09 GB, 146 bytes a row (the process's
#: own ~0.3 GB counts less). Rounded up ~6% from the highest: a 50M-row log is let in where
#: ~11.6 GB are free.
PEAK_BYTES_PER_ROW = 250


@dataclass(frozen=True)
class LoadedLog:
    """A transaction log in the canonical schema, with how it was read."""

    transactions: pl.DataFrame
    source: str
    mapping: dict[str, str]
    encoding: str | None = None
    date_format: str | None = None
    present: frozenset[str] = field(default_factory=frozenset)

    @property
    def has_products(self) -> bool:
        return "product_id" in self.present or "description" in self.present


def _suffixes(path: Path) -> list[str]:
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    return suffixes


#: Decompression bounds (gzip bombs): at most this many bytes out of one file ...
MAX_DECOMPRESSED_BYTES = 1 * 2**30
#: ... and at most this many times the compressed size (real CSV logs compress 4-15x; a bomb
#: 1000x). Files whose output stays under ``RATIO_FREE_BYTES`` are never refused for their ratio.
MAX_COMPRESSION_RATIO = 100
RATIO_FREE_BYTES = 16 * 2**20


def _read_bytes(
    path: Path,
    max_bytes: int | None = None,
    max_ratio: float | None = None,
) -> bytes:
    """The file's bytes, gunzipped when it starts with the gzip magic number.

    Decompression streams and stops as soon as the output passes ``max_bytes`` (default
    :data:`MAX_DECOMPRESSED_BYTES`) or ``max_ratio`` (default :data:`MAX_COMPRESSION_RATIO`)
    times the compressed size, so a gzip bomb costs a few megabytes, never its expanded size.
    """
    with open(path, "rb") as handle:
        magic = handle.read(2)
        handle.seek(0)
        if magic != b"\x1f\x8b":
            return handle.read()
        return _gunzip_bounded(handle, path, max_bytes, max_ratio)


def _gunzip_bounded(
    handle, path: Path, max_bytes: int | None, max_ratio: float | None
) -> bytearray:
    max_bytes = MAX_DECOMPRESSED_BYTES if max_bytes is None else max_bytes
    max_ratio = MAX_COMPRESSION_RATIO if max_ratio is None else max_ratio
    compressed = path.stat().st_size
    limit = min(max_bytes, max(int(compressed * max_ratio), RATIO_FREE_BYTES))
    data = bytearray()  # grown in place: no second copy of the output at the end
    size = 0
    try:
        with gzip.GzipFile(fileobj=handle) as stream:
            while chunk := stream.read(min(2**20, limit + 1 - size)):
                size += len(chunk)
                if size > limit:
                    why = (
                        f"more than {max_bytes / 2**20:,.0f} MB"
                        if limit == max_bytes
                        else f"more than {max_ratio:g} times its compressed size"
                    )
                    raise DataError(
                        f"{path.name} expands to {why} when decompressed, which this app refuses "
                        "(it looks like a decompression bomb). Upload the uncompressed file, or "
                        "split it into smaller files."
                    )
                data += chunk
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(_damaged_gzip(path.name)) from exc
    return data


def _damaged_gzip(name: str) -> str:
    # zlib's own words ("Error -3 while decompressing data: invalid block type") mean nothing
    # to a user; the chained exception keeps them for the log
    return (
        f"{name} looks gzip-compressed but is damaged (cut short or corrupted). Compress the "
        "file again, or upload it uncompressed."
    )


#: First bytes of the binary formats: a file named .xlsx or .parquet must really be one.
_MAGIC = {
    ".xlsx": (b"PK\x03\x04",),
    ".xlsm": (b"PK\x03\x04",),
    ".xls": (b"\xd0\xcf\x11\xe0", b"PK\x03\x04"),
    ".parquet": (b"PAR1",),
    ".pq": (b"PAR1",),
}


def _check_magic(path: Path, kind: str) -> None:
    """Refuse a file whose content is not the format its name says (e.g. a CSV named .xlsx)."""
    with open(path, "rb") as handle:
        head = handle.read(8)
    if any(head.startswith(magic) for magic in _MAGIC.get(kind, (head[:0],))):
        return
    looks = "text (a CSV?)" if head and b"\x00" not in head else "another kind of file"
    fmt = "an Excel workbook" if kind in EXCEL_SUFFIXES else "a Parquet file"
    raise DataError(
        f"{path.name} is named {kind} but is not {fmt}: its content looks like {looks}. "
        "Rename it to .csv if it is a CSV, or export it again in the format its name says."
    )


def decode_text(data: bytes, name: str) -> tuple[str, str]:
    """Decode bytes as UTF-8 (with or without BOM), else Windows-1252, else ISO-8859-1."""
    if b"\x00" in data[:4096]:
        raise DataError(
            f"{name} is not a text file (it contains NUL bytes). Export it as CSV, Excel or Parquet; "
            "UTF-16 CSV exports must be saved as UTF-8."
        )
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding.replace("-sig", "")
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def _sniff_delimiter(text: str) -> str:
    sample = text[:20_000]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        first = sample.splitlines()[0] if sample else ""
        return max(",;\t|", key=first.count)


def check_memory(rows: int, name: str, available: int | None = None) -> None:
    """Refuse a log that would not fit in memory, naming the memory it needs.

    ``available`` defaults to the memory the operating system reports free right now.
    """
    if available is None:
        import psutil

        available = psutil.virtual_memory().available
    needed = rows * PEAK_BYTES_PER_ROW
    if needed > available:
        raise DataError(
            f"{name} has {rows:,} rows: loading, cleaning and describing its customers needs about "
            f"{needed / 2**30:.1f} GB of memory, and this machine has {available / 2**30:.1f} GB "
            "free. Run it on a machine with more memory, or split the log by date (e.g. one file "
            "per year) and analyse each part."
        )


def _header_as_written(frame: pl.DataFrame, text: str, separator: str) -> pl.DataFrame:
    """The column names as the file writes them: polars 2.1 keeps the doubled quotes of a quoted
    header field (the CSV field for ``say "hi"`` stays ``say ""hi""``); the csv module does not."""
    import csv

    first = text.split("\n", 1)[0].rstrip("\r")
    try:
        names = next(csv.reader([first], delimiter=separator))
    except (csv.Error, StopIteration):
        return frame
    if len(names) != frame.width or len(set(names)) != len(names) or names == frame.columns:
        return frame
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def read_table(path: str | Path) -> tuple[pl.DataFrame, str | None]:
    """Read a CSV (plain or .gz), Excel or Parquet file as it is, ids and text columns as strings.

    Returns the frame and the text encoding used (None for binary formats).
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: {path}. Check the path and try again.")
    suffixes = _suffixes(path)
    kind = suffixes[-1] if suffixes else ""
    try:
        if kind in PARQUET_SUFFIXES:
            _check_magic(path, kind)
            import pyarrow.parquet as pq

            check_memory(pq.ParquetFile(path).metadata.num_rows, path.name)
            return pl.read_parquet(path), None
        if kind in EXCEL_SUFFIXES:
            _check_magic(path, kind)
            try:
                return pl.read_excel(path, infer_schema_length=0), None
            except Exception as exc:  # fastexcel's own error classes (CalamineError, ...)
                if type(exc).__module__.split(".")[0] not in {"fastexcel", "_fastexcel"}:
                    raise
                raise DataError(
                    f"Cannot read {path.name} as an Excel workbook: it is damaged or saved in "
                    "a format this app does not read. Open it in a spreadsheet and save it "
                    "again as .xlsx, or export it as CSV."
                ) from exc
        if kind in CSV_SUFFIXES or not kind:
            text, encoding = decode_text(_read_bytes(path), path.name)
            if not text.strip():
                raise DataError(f"{path.name} is empty.")
            separator = _sniff_delimiter(text)
            frame = pl.read_csv(
                text.encode("utf-8"),
                separator=separator,
                infer_schema=False,
                truncate_ragged_lines=False,
            )
            return _header_as_written(frame, text, separator), encoding
    except DataError:
        raise
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        # the parser's own text ("found more fields than defined in 'Schema'...") is kept in
        # the chained exception for the log; the user reads what is wrong and what to do
        if "more fields" in str(exc) or "ragged" in str(exc):
            why = (
                "its lines have different numbers of fields. If each line is one basket of "
                "comma-separated items, read it as baskets (--format baskets)."
            )
        else:
            why = (
                "it is not text with one header row and one record per line. Export it again "
                "as CSV (UTF-8, one header row)."
            )
        raise DataError(f"Cannot read {path.name}: {why}") from exc
    raise DataError(
        f"{path.name}: unsupported file type {kind!r}. Use CSV (.csv, .csv.gz), Excel (.xlsx) or "
        "Parquet (.parquet)."
    )


#: How much of a file :func:`read_columns` reads (after decompression) to find the header.
HEADER_BYTES = 2**20


def read_columns(path: str | Path) -> list[str]:
    """The column names of a CSV, Excel or Parquet file, reading as little as possible.

    CSV: the first :data:`HEADER_BYTES` (decompressed); Parquet: the schema; Excel: the first
    row. Raises :class:`DataError` (wrong content for the name, unreadable, empty) and
    :class:`SchemaError` for a header naming a column twice.
    """
    path = Path(path)
    suffixes = _suffixes(path)
    kind = suffixes[-1] if suffixes else ""
    if kind in PARQUET_SUFFIXES | EXCEL_SUFFIXES:
        _check_magic(path, kind)
        try:
            if kind in PARQUET_SUFFIXES:
                columns = list(pl.read_parquet_schema(path))
            else:
                columns = pl.read_excel(
                    path, infer_schema_length=0, read_options={"n_rows": 1}
                ).columns
        except Exception as exc:  # polars and fastexcel errors: the file is not what it says
            raise DataError(
                f"Cannot read the column names of {path.name}: the file is damaged or cut "
                "short. Export it again, or as CSV."
            ) from exc
    else:
        with open(path, "rb") as handle:
            if handle.read(2) == b"\x1f\x8b":
                handle.seek(0)
                try:
                    with gzip.GzipFile(fileobj=handle) as stream:
                        head = stream.read(HEADER_BYTES)
                except (OSError, EOFError) as exc:
                    raise DataError(_damaged_gzip(path.name)) from exc
            else:
                handle.seek(0)
                head = handle.read(HEADER_BYTES)
        text, _ = decode_text(head.rsplit(b"\n", 1)[0] if b"\n" in head else head, path.name)
        if not text.strip():
            raise DataError(f"{path.name} is empty.")
        first = text.lstrip("\ufeff").splitlines()[0]
        columns = next(csv.reader([first], delimiter=_sniff_delimiter(text)))
    check_unique_headers(columns, where=path.name)
    return columns


def _as_text(series: pl.Series) -> pl.Series:
    """Ids as text exactly as written; whole floats (17850.0 from spreadsheets) lose the '.0'."""
    if series.dtype.is_float():
        whole = series.drop_nulls()
        if whole.len() and (whole == whole.round(0)).all():
            series = series.cast(pl.Int64)
    out = series.cast(pl.String)
    return pl.DataFrame({"v": out}).select(pl.when(pl.col("v") != "").then(pl.col("v"))).to_series()


def _as_number(series: pl.Series, column: str, where: str) -> pl.Series:
    if series.dtype.is_numeric():
        return series.cast(pl.Float64)
    text = series.cast(pl.String).str.strip_chars()
    parsed = text.cast(pl.Float64, strict=False)
    bad = parsed.is_null() & text.is_not_null() & (text != "")
    if bad.any():
        # European exports write 2,55 for 2.55: accept it when it explains every failure.
        comma = text.str.replace_all(r"^(-?\d+),(\d+)$", "$1.$2").cast(pl.Float64, strict=False)
        if not (comma.is_null() & text.is_not_null() & (text != "")).any():
            return comma
        row = int(pl.arg_where(bad, eager=True)[0])
        raise DataError(
            f"Column {column!r} in {where} must hold numbers, but data row {row + 1} has "
            f"{text[row]!r} ({int(bad.sum()):,} such rows). Fix those values in the file, or "
            + fix(
                "map the right column with --columns.", f"choose the right column in {WEB_COLUMNS}."
            )
        )
    return parsed


def to_canonical(
    frame: pl.DataFrame,
    mapping: dict[str, str] | None = None,
    *,
    date_format: str | None = None,
    where: str = "the file",
) -> tuple[pl.DataFrame, dict[str, str], str]:
    """Map a raw table onto the canonical schema.

    Returns ``(transactions, resolved_mapping, date_description)``. Columns the source lacks are
    null; ``amount`` is ``quantity * unit_price`` unless the source has an amount column.
    """
    resolved = resolve_columns(frame.columns, mapping, where=where)
    columns: dict[str, pl.Series] = {}
    for canonical in CANONICAL:
        source = resolved.get(canonical)
        if source is None:
            continue
        raw = frame.get_column(source)
        if canonical == "invoice_date":
            if raw.dtype.is_temporal():
                columns[canonical] = raw.cast(pl.Datetime("us"))
                date_used = "native date type"
            else:
                columns[canonical], date_used = parse_datetimes(
                    raw, date_format, column=source, where=where
                )
        elif canonical in NUMERIC:
            columns[canonical] = _as_number(raw, source, where)
        else:
            columns[canonical] = _as_text(raw)
    if "amount" not in columns:
        columns["amount"] = columns["quantity"] * columns["unit_price"]
    height = frame.height
    out = pl.DataFrame(
        [
            columns[name].alias(name)
            if name in columns
            else pl.Series(name, [None] * height, dtype)
            for name, dtype in CANONICAL.items()
        ]
    )
    return out, resolved, date_used


def load_transactions(
    path: str | Path, columns: dict[str, str] | None = None, *, date_format: str | None = None
) -> LoadedLog:
    """Load a transaction log file into the canonical schema.

    Parameters
    ----------
    path
        CSV (any of UTF-8, Windows-1252, ISO-8859-1; comma, semicolon, tab or pipe separated;
        optionally .gz), Excel (.xlsx) or Parquet.
    columns
        Explicit ``{canonical: source}`` mapping; UCI Online Retail (I and II) names need none.
    date_format
        strftime format of the date column when it cannot be inferred.

    Returns
    -------
    LoadedLog

    Raises
    ------
    SchemaError, DataError
        With a message naming the file, column and row at fault.

    Examples
    --------
    >>> log = load_transactions("orders.csv", {"customer_id": "Client"})  # doctest: +SKIP
    """
    path = Path(path)
    frame, encoding = read_table(path)
    return loaded_log(
        frame,
        path.name,
        columns,
        date_format=date_format,
        encoding=encoding,
        empty=f"{path.name} has a header but no rows.",
    )


def loaded_log(
    frame: pl.DataFrame,
    source: str,
    columns: dict[str, str] | None = None,
    *,
    date_format: str | None = None,
    encoding: str | None = None,
    empty: str,
) -> LoadedLog:
    """A raw table read from ``source`` (a file, a database table or query) as a :class:`LoadedLog`.

    Parameters
    ----------
    frame
        The table as read, every column as the source has it.
    source
        What messages and the log call the source (a file name, ``table orders in ...``).
    columns, date_format
        As for :func:`to_canonical`.
    encoding
        The text encoding the source was read with, if it is text.
    empty
        The message for a table without rows.

    Raises
    ------
    DataError
        When the table has no rows (``empty``), or as :func:`to_canonical`.
    SchemaError
        As :func:`to_canonical`.
    """
    if frame.height == 0:
        raise DataError(empty)
    transactions, resolved, date_used = to_canonical(
        frame, columns, date_format=date_format, where=source
    )
    return LoadedLog(
        transactions=transactions,
        source=source,
        mapping=resolved,
        encoding=encoding,
        date_format=date_used,
        present=frozenset(resolved),
    )


def load_baskets(path: str | Path) -> list[list[str]]:
    """Read a basket-per-line file (items comma-separated, no header) such as the Groceries data.

    Items keep their exact spelling; empty fields are skipped and an item repeated within one
    basket is kept once.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"File not found: {path}. Check the path and try again.")
    text, _ = decode_text(_read_bytes(path), path.name)
    baskets = []
    for row in csv.reader(io.StringIO(text)):
        items = list(dict.fromkeys(item for item in row if item.strip()))
        if items:
            baskets.append(items)
    if not baskets:
        raise DataError(
            f"{path.name} has no baskets: expected one basket per line, items separated by commas."
        )
    check_not_a_log(baskets[0], path.name)
    return baskets


def check_not_a_log(first_row: list[str], name: str) -> None:
    """Refuse a transaction log given as baskets: its header would be mined as a basket.

    A first line naming a date column and a customer or invoice column (as
    :func:`analytics.schema.suggest_columns` recognises them) is a log's header, not a basket.
    """
    found = suggest_columns(first_row)
    if "invoice_date" in found and ({"customer_id", "invoice_id"} & found.keys()):
        named = ", ".join(
            repr(found[c]) for c in ("customer_id", "invoice_id", "invoice_date") if c in found
        )
        raise DataError(
            f"{name} looks like a transaction log, not one basket per line: its first line is a "
            f"header naming {named}. Read it as a log with --format transactions (the default); "
            "baskets are then built from its invoices."
        )


__all__ = [
    "LoadedLog",
    "SchemaError",
    "DataError",
    "load_baskets",
    "load_transactions",
    "read_table",
]
