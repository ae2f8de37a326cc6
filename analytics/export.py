"""The one CSV writer for everything Segmenta exports (CLI ``--output`` and every app download).

Spreadsheets run a cell as a formula when it starts with ``=``, ``+``, ``-`` or ``@`` (and some
also after a tab or a carriage return), so a customer id such as ``=HYPERLINK("http://x","y")``
in an exported CSV becomes a live link or worse. Following OWASP's "CSV Injection" guidance, every
text cell starting with one of those characters is prefixed with a single quote ``'`` (shown as
text, never evaluated) and every text cell is double-quoted with inner quotes doubled. Numeric
columns are written as numbers: a negative number is data, not a formula.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import polars as pl

#: First characters that make a spreadsheet evaluate a cell (OWASP CSV Injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_FORMULA_START = r"^[=+\-@\t\r]"


def neutralise(frame: pl.DataFrame) -> pl.DataFrame:
    """A copy of ``frame`` whose text cells can never start a spreadsheet formula.

    Text, categorical and list-of-text columns become text; a cell starting with one of
    :data:`FORMULA_PREFIXES` gets a leading ``'``. Other columns are unchanged.

    Examples
    --------
    >>> neutralise(pl.DataFrame({"id": ["=1+2", "c1"]}))["id"].to_list()
    ["'=1+2", 'c1']
    """
    exprs = []
    for name, dtype in frame.schema.items():
        if dtype == pl.String or isinstance(dtype, (pl.Categorical, pl.Enum)):
            text = pl.col(name).cast(pl.String)
        elif isinstance(dtype, pl.List):
            text = pl.col(name).cast(pl.List(pl.String)).list.join(", ")
        elif dtype == pl.Object:
            text = pl.col(name).map_elements(str, return_dtype=pl.String)
        else:
            continue
        exprs.append(
            pl.when(text.str.contains(_FORMULA_START))
            .then(pl.lit("'") + text)
            .otherwise(text)
            .alias(name)
        )
    return frame.with_columns(exprs) if exprs else frame


def to_csv(frame: pl.DataFrame) -> str:
    """``frame`` as CSV text, text cells neutralised and quoted (see the module docstring).

    The header row is written plainly (quoted only where needed), as spreadsheets and CRMs
    expect; its names are neutralised too.
    """
    header = io.StringIO()
    names = ["'" + n if n.startswith(FORMULA_PREFIXES) else n for n in frame.columns]
    csv.writer(header, lineterminator="\n").writerow(names)
    body = neutralise(frame).write_csv(include_header=False, quote_style="non_numeric")
    return header.getvalue() + body


def iter_csv(frame: pl.DataFrame, rows: int = 1000):
    """:func:`to_csv` in pieces of ``rows`` rows (the header with the first), for streaming."""
    yield to_csv(frame.head(rows))
    for start in range(rows, frame.height, rows):
        yield neutralise(frame.slice(start, rows)).write_csv(
            include_header=False, quote_style="non_numeric"
        )


def write_csv(frame: pl.DataFrame, path: str | Path) -> None:
    """Write :func:`to_csv` to ``path`` atomically, readable by its owner only (0600).

    A temporary file in the same folder is renamed into place, so a failed write leaves no
    half-written file and never truncates an existing one first.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(to_csv(frame))
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
