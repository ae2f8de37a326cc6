"""DataTable columns and styles shared by every page."""

from __future__ import annotations

from dash.dash_table.Format import Format, Group, Scheme, Symbol

FONT = "Lato, -apple-system, 'Segoe UI', Roboto, Arial, sans-serif"
CELL_STYLE = {
    "fontFamily": FONT,
    "fontSize": 13,
    "padding": "5px",
    "whiteSpace": "normal",
    "height": "auto",
}
HEADER_STYLE = {"fontWeight": "600", "backgroundColor": "#f4f6f8"}


def num(name: str, column_id: str, fmt: Format) -> dict:
    """A numeric column (sorts and filters as numbers) with a display format."""
    return {"name": name, "id": column_id, "type": "numeric", "format": fmt}


def percent(precision: int = 1) -> Format:
    return Format(precision=precision, scheme=Scheme.percentage)


def fixed(precision: int = 2, *, grouped: bool = False) -> Format:
    return Format(
        precision=precision, scheme=Scheme.fixed, group=Group.yes if grouped else Group.no
    )


def money(currency: str, precision: int = 0) -> Format:
    return Format(
        precision=precision,
        scheme=Scheme.fixed,
        group=Group.yes,
        symbol=Symbol.yes,
        symbol_prefix=currency,
    )


def left_aligned(*column_ids: str, min_width: str = "150px") -> list[dict]:
    """``style_cell_conditional`` entries for text columns."""
    return [
        {"if": {"column_id": c}, "textAlign": "left", "minWidth": min_width} for c in column_ids
    ]
