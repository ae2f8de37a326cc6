"""Reading date-time columns whose format is not declared.

Formats are tried in three families (ISO year-first, day-first, month-first). A column is read
without help when one family reads every value, or when the data rule one order out (a day above 12).
When day-first and month-first read the same values differently, the caller must name the format.
"""

from __future__ import annotations

import polars as pl

from analytics.errors import WEB_DATE_FORMAT, DataError, fix

_TIMES = (" %H:%M:%S%.f", " %H:%M", " %I:%M:%S %p", " %I:%M %p", "")

ISO_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
)
DAY_FIRST_FORMATS = tuple(
    f"%d{sep}%m{sep}{year}{time}" for sep in "/.-" for year in ("%Y", "%y") for time in _TIMES
)
MONTH_FIRST_FORMATS = tuple(
    f"%m{sep}%d{sep}{year}{time}" for sep in "/-" for year in ("%Y", "%y") for time in _TIMES
)
FAMILIES = {
    "year-first (ISO)": ISO_FORMATS,
    "day-first": DAY_FIRST_FORMATS,
    "month-first": MONTH_FIRST_FORMATS,
}

#: Above this share of unreadable values the column is rejected rather than cleaned.
MAX_UNREADABLE_SHARE = 0.10


def _parse_with(values: pl.Series, formats: tuple[str, ...]) -> pl.Series:
    frame = pl.DataFrame({"v": values})
    parsed = frame.select(
        pl.coalesce([pl.col("v").str.to_datetime(f, strict=False, time_unit="us") for f in formats])
    )
    return parsed.to_series()


def parse_datetimes(
    values: pl.Series,
    date_format: str | None = None,
    *,
    column: str = "date",
    where: str = "the file",
) -> tuple[pl.Series, str]:
    """Parse a text column into datetimes.

    Parameters
    ----------
    values
        Text values (nulls allowed).
    date_format
        A strftime-style format (``"%d/%m/%Y %H:%M"``); when None, the format is inferred.
    column, where
        Column and file names used in error messages.

    Returns
    -------
    (datetimes, description)
        ``datetimes`` has the same length as ``values`` with null where a value could not be read;
        ``description`` says which format or family was used.

    Raises
    ------
    DataError
        No value can be read, more than 10 % cannot, or day-first and month-first readings both fit.
    """
    text = (
        pl.DataFrame({"v": values.cast(pl.String).str.strip_chars()})
        .select(pl.when(pl.col("v") != "").then(pl.col("v")))
        .to_series()
    )
    uniques = text.drop_nulls().unique(maintain_order=True)
    if uniques.len() == 0:
        raise DataError(f"Column {column!r} in {where} is empty: every row needs a date.")

    if date_format is not None:
        parsed = _parse_with(uniques, (date_format,))
        used = fix(f"--date-format {date_format}", f"date format {date_format}")
        if parsed.null_count() == uniques.len():
            raise DataError(
                f"No value of column {column!r} in {where} matches "
                + fix(f"--date-format {date_format!r} ", f"the date format {date_format!r} ")
                + f"(e.g. {uniques[0]!r}). Check the format: %d day, %m month, %Y year, %H:%M time."
            )
    else:
        readings = {name: _parse_with(uniques, fmts) for name, fmts in FAMILIES.items()}
        scores = {name: uniques.len() - s.null_count() for name, s in readings.items()}
        best = max(scores.values())
        if best == 0:
            raise DataError(
                f"Cannot read the dates in column {column!r} of {where} (e.g. {uniques[0]!r}). "
                + fix(
                    "Pass the format with --date-format, e.g. --date-format '%d/%m/%Y %H:%M'.",
                    f"Type the format in {WEB_DATE_FORMAT}, e.g. %d/%m/%Y %H:%M.",
                )
            )
        winners = [name for name, score in scores.items() if score == best]
        if "year-first (ISO)" in winners:
            used = "year-first (ISO)"
        elif len(winners) == 2 and not readings["day-first"].equals(readings["month-first"]):
            example = _ambiguous_example(uniques, readings)
            raise DataError(
                f"The dates in column {column!r} of {where} can be read day-first or month-first "
                f"(e.g. {example!r}), and no value settles which. "
                + fix(
                    "Pass --date-format '%d/%m/%Y %H:%M' (day first) or "
                    "--date-format '%m/%d/%Y %H:%M' (month first).",
                    f"Type %d/%m/%Y %H:%M (day first) or %m/%d/%Y %H:%M (month first) in "
                    f"{WEB_DATE_FORMAT}.",
                )
            )
        else:
            used = winners[0]
        parsed = readings[used]

    unreadable = uniques.filter(parsed.is_null())
    mapping = pl.DataFrame({"v": uniques, "parsed": parsed})
    result = (
        pl.DataFrame({"v": text})
        .join(mapping, on="v", how="left", maintain_order="left")
        .get_column("parsed")
    )
    bad_rows = result.is_null().sum() - text.is_null().sum()
    non_null = text.len() - text.is_null().sum()
    if unreadable.len() and bad_rows > MAX_UNREADABLE_SHARE * non_null:
        row = int(pl.arg_where(result.is_null() & text.is_not_null(), eager=True)[0])
        raise DataError(
            f"{bad_rows:,} of {non_null:,} values in column {column!r} of {where} are not dates "
            f"read as {used} (first at data row {row + 1}: {text[row]!r}). Fix those rows, or "
            + fix("pass the right --date-format.", f"type the right format in {WEB_DATE_FORMAT}.")
        )
    return result.alias(values.name), used


def _ambiguous_example(uniques: pl.Series, readings: dict[str, pl.Series]) -> str:
    differs = readings["day-first"].ne_missing(readings["month-first"])
    return str(uniques.filter(differs)[0])
