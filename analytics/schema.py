"""The canonical transaction schema and how source columns map onto it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

import polars as pl

from analytics.errors import WEB_COLUMNS, SchemaError, fix

#: Canonical columns in order, with their polars types after loading.
CANONICAL: dict[str, pl.DataType] = {
    "customer_id": pl.String(),
    "invoice_id": pl.String(),
    "invoice_date": pl.Datetime("us"),
    "product_id": pl.String(),
    "description": pl.String(),
    "quantity": pl.Float64(),
    "unit_price": pl.Float64(),
    "amount": pl.Float64(),
    "country": pl.String(),
}
REQUIRED = ("customer_id", "invoice_date")
NUMERIC = ("quantity", "unit_price", "amount")

#: Source names recognised without help (compared after lower-casing and removing non-letters):
#: UCI Online Retail, UCI Online Retail II, and common export spellings.
ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": ("customerid", "customer", "customerno", "customernumber", "clientid"),
    "invoice_id": ("invoiceno", "invoice", "invoiceid", "invoicenumber", "orderid", "orderno"),
    "invoice_date": ("invoicedate", "orderdate", "transactiondate", "date"),
    "product_id": ("stockcode", "productid", "sku", "productcode", "itemid"),
    "description": ("description", "productname", "itemname", "product"),
    "quantity": ("quantity", "qty"),
    "unit_price": ("unitprice", "price"),
    "amount": ("amount", "revenue", "sales", "total", "linetotal", "ordervalue"),
    "country": ("country",),
}


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def parse_column_mapping(text: str | None) -> dict[str, str]:
    """Parse ``"customer_id=Client,invoice_date=OrderedAt"`` into ``{canonical: source}``.

    Raises
    ------
    SchemaError
        When a pair is not ``canonical=source``, names an unknown canonical column, or repeats one.
    """
    if not text:
        return {}
    mapping: dict[str, str] = {}
    for pair in text.split(","):
        if not pair.strip():
            continue
        if "=" not in pair:
            raise SchemaError(
                f"Column mapping {pair.strip()!r} is not of the form canonical=source "
                "(e.g. customer_id=Client)."
            )
        canonical, source = (part.strip() for part in pair.split("=", 1))
        if canonical not in CANONICAL:
            raise SchemaError(
                f"Unknown column {canonical!r} in the column mapping. "
                f"Known columns: {', '.join(CANONICAL)}."
            )
        if canonical in mapping:
            raise SchemaError(f"Column {canonical!r} is mapped twice in the column mapping.")
        if not source:
            raise SchemaError(f"Column {canonical!r} is mapped to an empty source name.")
        mapping[canonical] = source
    return mapping


def suggest_columns(source_columns: Iterable[str]) -> dict[str, str]:
    """The canonical columns recognised by name alone (never raises): ``{canonical: source}``."""
    taken: set[str] = set()
    by_norm: dict[str, str] = {}
    for column in source_columns:
        by_norm.setdefault(_norm(column), column)
    found = {}
    for canonical, aliases in ALIASES.items():
        for alias in aliases:
            source = by_norm.get(alias)
            if source is not None and source not in taken:
                found[canonical] = source
                taken.add(source)
                break
    return found


def resolve_columns(
    source_columns: Iterable[str],
    mapping: Mapping[str, str] | None = None,
    *,
    where: str = "the file",
) -> dict[str, str]:
    """Decide which source column feeds each canonical column.

    Explicit ``mapping`` entries win; other canonical columns are recognised by :data:`ALIASES`
    (UCI Online Retail / Online Retail II names need no mapping). Returns ``{canonical: source}``
    for the columns found.

    Raises
    ------
    SchemaError
        When a mapped source column does not exist, or a required column cannot be found; the
        message suggests the closest existing column names.
    """
    columns = list(source_columns)
    check_unique_headers(columns, where=where)
    mapping = dict(mapping or {})
    check_mapping_targets(mapping)
    for canonical, source in mapping.items():
        if source not in columns:
            raise SchemaError(
                f"The column mapping says {canonical}={source}, but {where} has no column "
                f"{source!r}.{_suggest(source, columns)}"
            )
    taken = set(mapping.values())
    by_norm = {}
    for column in columns:
        by_norm.setdefault(_norm(column), column)
    resolved = dict(mapping)
    for canonical, aliases in ALIASES.items():
        if canonical in resolved:
            continue
        for alias in aliases:
            source = by_norm.get(alias)
            if source is not None and source not in taken:
                resolved[canonical] = source
                taken.add(source)
                break
    missing = [c for c in REQUIRED if c not in resolved]
    if "amount" not in resolved and not {"quantity", "unit_price"} <= resolved.keys():
        missing.append("amount (or quantity and unit_price)")
    if missing:
        hints = " ".join(
            f"For {name.split(' ')[0]}:{_suggest(name.split(' ')[0], columns)}"
            for name in missing
            if _suggest(name.split(" ")[0], columns)
        )
        raise SchemaError(
            f"{_start(where)} has no column for {', '.join(missing)}. "
            f"Its columns are: {', '.join(columns)}. "
            + fix(
                "Map them with --columns canonical=source pairs, e.g. "
                "--columns customer_id=Client,invoice_date=OrderedAt.",
                f"Choose them in {WEB_COLUMNS}.",
            )
            + (f" {hints}" if hints else "")
        )
    return resolved


def check_unique_headers(columns: Iterable[str], *, where: str = "the file") -> None:
    """Refuse a header that names two columns the same (one of them would be silently lost).

    Raises
    ------
    SchemaError
        Naming the repeated header and the fix.
    """
    seen: dict[str, int] = {}
    for column in columns:
        seen[column] = seen.get(column, 0) + 1
    # polars renames a repeated CSV header "x" to "x_duplicated_0"
    renamed = [c for c in seen if re.search(r"_duplicated_\d+$", c)]
    repeated = [c for c, n in seen.items() if n > 1] or [
        re.sub(r"_duplicated_\d+$", "", c) for c in renamed
    ]
    if repeated:
        raise SchemaError(
            f"{_start(where)} has more than one column named "
            + " and ".join(repr(c) for c in dict.fromkeys(repeated))
            + ", so it is unclear which one holds the data. Rename the repeated columns in the "
            "file's header so every column name is different, then load it again."
        )


def check_mapping_targets(mapping: Mapping[str, str]) -> None:
    """Refuse a mapping that feeds one source column into two canonical columns.

    Raises
    ------
    SchemaError
        Naming the source column, both canonical columns and the fix.
    """
    by_source: dict[str, list[str]] = {}
    for canonical, source in mapping.items():
        by_source.setdefault(source, []).append(canonical)
    for source, canonicals in by_source.items():
        if len(canonicals) > 1:
            raise SchemaError(
                f"Column {source!r} is chosen for both "
                + " and ".join(canonicals)
                + "; each column of the file can feed only one of them. "
                + fix(
                    "Map each canonical column to a different source column in --columns.",
                    f"Choose a different column for one of them in {WEB_COLUMNS}.",
                )
            )


def _suggest(name: str, columns: list[str]) -> str:
    wanted = {_norm(name), *ALIASES.get(name, ())}
    by_norm = {_norm(c): c for c in columns}
    close: list[str] = []
    for target in wanted:
        for hit in difflib.get_close_matches(target, list(by_norm), n=3, cutoff=0.6):
            if by_norm[hit] not in close:
                close.append(by_norm[hit])
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close[:3]) + "?"


def _start(where: str) -> str:
    """``where`` at the start of a sentence: "The file", but a file name keeps its spelling."""
    return where[:1].upper() + where[1:] if where.startswith("the ") else where
