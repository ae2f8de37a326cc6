"""Number formatting for cards, tables and hover text (thousands separators, currency, percent)."""

from __future__ import annotations

import math
import re
from urllib.parse import quote


def fmt_count(value: float | None) -> str:
    return "–" if value is None or math.isnan(value) else f"{value:,.0f}"


def fmt_money(value: float | None, currency: str = "£", *, compact: bool = True) -> str:
    """``£1,234`` (``£1.23M`` / ``£12.3k`` when compact and large)."""
    if value is None or math.isnan(value):
        return "–"
    sign = "-" if value < 0 else ""
    size = abs(value)
    if compact and size >= 1_000_000:
        return f"{sign}{currency}{size / 1_000_000:,.2f}M"
    if compact and size >= 100_000:
        return f"{sign}{currency}{size / 1_000:,.1f}k"
    if size >= 100:
        return f"{sign}{currency}{size:,.0f}"
    return f"{sign}{currency}{size:,.2f}"


def fmt_percent(value: float | None, digits: int = 1) -> str:
    return "–" if value is None or math.isnan(value) else f"{value * 100:.{digits}f}%"


def fmt_value(value: float | None, kind: str, currency: str = "£") -> str:
    """Format by KPI kind: ``count``, ``currency`` or ``percent``."""
    if kind == "currency":
        return fmt_money(value, currency)
    if kind == "percent":
        return fmt_percent(value)
    return fmt_count(value)


def fmt_change(change: float | None) -> str:
    """``▲ 12.3%`` / ``▼ 4.0%`` / ``no earlier period``."""
    if change is None:
        return "no earlier period to compare"
    arrow = "▲" if change > 0 else "▼" if change < 0 else "■"
    return f"{arrow} {abs(change) * 100:.1f}% vs previous period"


# Markdown's special characters (CommonMark backslash escapes): text shown inside a link label.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~\"'&:])")


def escape_markdown(text: str) -> str:
    """``text`` shown literally by a Markdown renderer (every special character backslashed)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("\n", " ").replace("\r", " ")


def customer_link(customer_id: str) -> str:
    """A Markdown link to the customer page whose label and URL an id cannot break out of.

    The label is Markdown-escaped and the id is percent-encoded in the URL, so an id such as
    ``c148](https://evil.example/phish)`` shows as text and still links to its own page.
    """
    return f"[{escape_markdown(customer_id)}](/customer?id={quote(customer_id, safe='')})"
