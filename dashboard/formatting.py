"""Number formatting for cards, tables and hover text (thousands separators, currency, percent)."""

from __future__ import annotations

import math


def fmt_count(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.0f}"


def fmt_money(value: float | None, currency: str = "£", *, compact: bool = True) -> str:
    """``£1,234`` (``£1.23M`` / ``£12.3k`` when compact and large)."""
    if value is None or math.isnan(value):
        return "–"
    size = abs(value)
    shown = round(size, 2 if size < 100 else 0)
    sign = "-" if value < 0 and shown else ""
    if compact and size >= 1_000_000:
        return f"{sign}{currency}{size / 1_000_000:,.2f}M"
    if compact and size >= 100_000:
        return f"{sign}{currency}{size / 1_000:,.1f}k"
    if size >= 100:
        return f"{sign}{currency}{size:,.0f}"
    return f"{sign}{currency}{size:,.2f}"


def fmt_percent(value: float | None, digits: int = 1) -> str:
    """``12.3%``; zero prints ``0.0%`` (never ``-0.0%``); a share too small to show, ``<0.1%``."""
    if value is None or math.isnan(value):
        return "–"
    shown = round(value * 100, digits) + 0.0
    if shown == 0 and value > 0:
        return f"<{10.0**-digits:.{digits}f}%"
    return f"{shown:.{digits}f}%"


def fmt_value(value: float | None, kind: str, currency: str = "£") -> str:
    """Format by KPI kind: ``count``, ``currency`` or ``percent``."""
    if kind == "currency":
        return fmt_money(value, currency)
    if kind == "percent":
        return fmt_percent(value)
    return fmt_count(value)


def fmt_change(
    change: float | None, window_days: int | None = None, points: float | None = None
) -> str:
    """``▲ 12.3% vs previous period`` / ``▼ 4.0% …`` / ``■ 0.0% …`` / ``no earlier period``.

    With ``window_days`` the change is between two shorter equal windows, and says so. A rate
    (repeat rate 25.1% -> 33.0%) changes by ``points``: ``▲ 7.9 pts``, not a relative ``31.6%``.
    """
    if change is None:
        return "no earlier period to compare"
    if points is not None:
        shown = round(abs(points) * 100, 1)
        arrow = "■" if shown == 0 else "▲" if points > 0 else "▼"
        unit = " pts"
    else:
        shown = round(abs(change) * 100, 1)
        arrow = "■" if shown == 0 else "▲" if change > 0 else "▼"
        unit = "%"
    against = (
        "vs previous period"
        if window_days is None
        else f"in the last {window_days:,} days vs the {window_days:,} before "
        "(too little history for a full previous period)"
    )
    return f"{arrow} {shown:.1f}{unit} {against}"


def fmt_p_value(p: float | None) -> str:
    """``3.2e-12``, ``0.041``; a p-value below the smallest float prints ``< 1e-300``."""
    if p is None or math.isnan(p):
        return "–"
    if p < 1e-300:
        return "< 1e-300"
    return f"{p:.2g}" if p >= 1e-3 else f"{p:.1e}"
