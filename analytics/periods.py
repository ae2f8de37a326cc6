"""Reporting periods: the presets an executive picks from, relative to the data's last day.

A log's "today" is its last transaction date (a 2011 log has no use for the calendar's today), so
"last 30 days" ends on the last day with data. Every preset is clipped to the data's range.
"""

from __future__ import annotations

import datetime as dt

from analytics.errors import ParameterError

#: Preset id -> label, in the order the page shows them.
PRESETS = {
    "last-30": "Last 30 days",
    "last-90": "Last 90 days",
    "qtd": "Quarter to date",
    "ytd": "Year to date",
    "last-12m": "Last 12 months",
    "last-year": "Same period last year",
    "all": "All data",
}


def _years_back(day: dt.date, years: int = 1) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def default_period(first: dt.date, last: dt.date) -> tuple[dt.date, dt.date]:
    """The last 12 months of data (or all of it when shorter)."""
    return preset_period("last-12m", first, last)


def preset_period(
    preset: str,
    first: dt.date,
    last: dt.date,
    current: tuple[dt.date, dt.date] | None = None,
) -> tuple[dt.date, dt.date]:
    """The inclusive ``(start, end)`` of a preset for data running from ``first`` to ``last``.

    ``"last-year"`` shifts ``current`` (default: the last 12 months) back one year.

    Raises
    ------
    ParameterError
        For an unknown preset, or when the shifted period lies wholly before the data starts.
    """
    if preset not in PRESETS:
        raise ParameterError(
            f"The 'preset' parameter must be one of {', '.join(map(repr, PRESETS))}. "
            f"Got {preset!r} instead.",
            parameter="preset",
        )
    if preset == "last-30":
        start, end = last - dt.timedelta(days=29), last
    elif preset == "last-90":
        start, end = last - dt.timedelta(days=89), last
    elif preset == "qtd":
        start, end = dt.date(last.year, 3 * ((last.month - 1) // 3) + 1, 1), last
    elif preset == "ytd":
        start, end = dt.date(last.year, 1, 1), last
    elif preset == "last-12m":
        start, end = last - dt.timedelta(days=364), last
    elif preset == "all":
        start, end = first, last
    else:
        base = current or (last - dt.timedelta(days=364), last)
        start, end = _years_back(base[0]), _years_back(base[1])
        if end < first:
            raise ParameterError(
                f"A year before {base[0]:%d %b %Y} – {base[1]:%d %b %Y} is before the data starts "
                f"({first:%d %b %Y}): there is no same period last year to show.",
                parameter="preset",
            )
    return max(start, first), min(end, last)
