"""Grid columns and number formats shared by every page (AG Grid column definitions).

A format is a JavaScript ``valueFormatter`` built on d3-format, which dash-ag-grid bundles: the
cell keeps its number (so it sorts and filters as a number) and only its display changes.
"""

from __future__ import annotations

import json

FONT = "Lato, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
HEADER_STYLE = {"fontWeight": "600", "backgroundColor": "#f4f6f8"}
# dash-ag-grid evaluates these with its own expression parser: keep to plain operators,
# d3.format and Math (``Number.isNaN`` is not available there and blanks the column)
_BLANK = "params.value == null ? ''"


def _formatter(expression: str) -> dict:
    return {"function": f"{_BLANK} : {expression}"}


def text(name: str, field: str, *, min_width: int = 150, **extra) -> dict:
    """A text column (left-aligned, wraps, text filter)."""
    return {
        "headerName": name,
        "field": field,
        "minWidth": min_width,
        "filter": "agTextColumnFilter",
        **extra,
    }


def num(name: str, field: str, fmt: dict, **extra) -> dict:
    """A numeric column (sorts and filters as numbers) with a display format."""
    return {
        "headerName": name,
        "field": field,
        "type": "numericColumn",
        "filter": "agNumberColumnFilter",
        "minWidth": 130,
        "valueFormatter": fmt,
        **extra,
    }


def count() -> dict:
    """Whole numbers with thousands separators: ``12,345``."""
    return _formatter("d3.format(',.0f')(params.value)")


def percent(precision: int = 1) -> dict:
    """``12.3%`` (a value that rounds to zero shows ``0.0%``, never ``-0.0%``)."""
    return _formatter(
        f"d3.format('.{precision}%')(Math.abs(params.value) < 0.5e-{precision + 2} ? 0 : params.value)"
    )


def fixed(precision: int = 2, *, grouped: bool = False) -> dict:
    spec = f"{',' if grouped else ''}.{precision}f"
    return _formatter(f"d3.format('{spec}')(params.value)")


def money(currency: str, precision: int = 0) -> dict:
    """``£1,234`` / ``-£56`` (the sign before the symbol; no ``-£0``)."""
    digits = f"d3.format(',.{precision}f')(Math.abs(params.value))"
    zero = f"Math.abs(params.value) < 0.5e-{precision}"
    return _formatter(
        f"(params.value < 0 && !({zero}) ? '-' : '') + {json.dumps(currency, ensure_ascii=False)} + {digits}"
    )


def p_value() -> dict:
    """As :func:`dashboard.formatting.fmt_p_value`: ``3.2e-12``, ``0.041``, ``< 1e-300``."""
    return _formatter(
        "params.value < 1e-300 ? '< 1e-300' : params.value >= 1e-3 "
        "? d3.format('.2~g')(params.value) : d3.format('.1e')(params.value)"
    )
