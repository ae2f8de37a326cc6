"""One customer's story: orders over time and top products."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl

from analytics.errors import DataError


@dataclass(frozen=True)
class CustomerHistory:
    customer_id: str
    orders: pl.DataFrame  # invoice_id, invoice_date, amount, items, is_return
    monthly: pl.DataFrame  # month, spend, orders
    top_products: pl.DataFrame  # product, quantity, spend


def customer_history(tx: pl.DataFrame, customer_id: str, top: int = 10) -> CustomerHistory:
    """Orders, monthly spend and the most bought products of one customer.

    Raises
    ------
    DataError
        When the id is not in the data.
    """
    rows = tx.filter(pl.col("customer_id") == customer_id)
    if rows.height == 0:
        raise DataError(
            f"No customer with id {customer_id!r} in this dataset. Check the id (ids are matched exactly, e.g. 12347)."
        )
    order_key = pl.coalesce(pl.col("invoice_id"), pl.col("invoice_date").cast(pl.String))
    orders = (
        rows.with_columns(order=order_key)
        .group_by("order")
        .agg(
            invoice_date=pl.col("invoice_date").min(),
            amount=pl.col("amount").sum(),
            items=pl.len(),
            is_return=pl.col("is_return").all(),
        )
        .rename({"order": "invoice_id"})
        .sort("invoice_date")
    )
    monthly = (
        orders.with_columns(month=pl.col("invoice_date").dt.truncate("1mo"))
        .group_by("month")
        .agg(spend=pl.col("amount").sum(), orders=(~pl.col("is_return")).sum())
        .sort("month")
    )
    label = pl.coalesce(pl.col("description").str.strip_chars(), pl.col("product_id"))
    top_products = (
        rows.filter(~pl.col("is_return") & label.is_not_null())
        .group_by(label.alias("product"))
        .agg(quantity=pl.col("quantity").sum(), spend=pl.col("amount").sum())
        .sort(["spend", "product"], descending=[True, False])
        .head(top)
    )
    return CustomerHistory(customer_id, orders, monthly, top_products)


def search_customers(ids: list[str], text: str | None, limit: int = 20) -> list[str]:
    """Ids starting with ``text`` (then containing it), sorted, at most ``limit``."""
    text = (text or "").strip()
    if not text:
        return sorted(ids)[:limit]
    starts = sorted(i for i in ids if i.startswith(text))
    if len(starts) >= limit:
        return starts[:limit]
    contains = sorted(i for i in ids if text in i and not i.startswith(text))
    return (starts + contains)[:limit]
