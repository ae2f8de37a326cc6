"""Synthetic transaction logs with planted customer groups, for tests and benchmarks.

Four groups behave differently enough that a good segmentation must find them again:

- ``champions``: many orders over the whole period, large baskets;
- ``regulars``: a handful of orders over the whole period, medium baskets;
- ``newcomers``: one or two orders in the last two months;
- ``lapsed``: one to three orders in the first nine months only.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl

GROUPS = ("champions", "regulars", "newcomers", "lapsed")
_SHARE = np.array([0.15, 0.35, 0.2, 0.3])
_ORDERS = np.array([20.0, 5.0, 0.5, 1.0])  # Poisson mean, on top of the minimum below
_MIN_ORDERS = np.array([3, 2, 1, 1])
_WINDOW = np.array([[0, 730], [0, 730], [670, 730], [0, 270]])  # order days after the start
_QUANTITY = np.array([12.0, 6.0, 3.0, 3.0])
_COUNTRIES = np.array(["United Kingdom", "Germany", "France", "Netherlands", "Spain"])
START = dt.datetime(2022, 1, 1)


def synthetic_log(
    n_customers: int = 2_000,
    *,
    seed: int = 0,
    lines_per_order: float = 0.5,
    n_products: int = 500,
    return_share: float = 0.01,
    anonymous_share: float = 0.02,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Generate ``(transactions, truth)``.

    ``transactions`` uses canonical column names (no ``amount``: it is quantity x unit price) and
    spans two years from 2022-01-01. ``truth`` has ``customer_id, group``. About
    ``n_customers * 10`` rows come out with the default ``lines_per_order``.
    """
    rng = np.random.default_rng(seed)
    group = rng.choice(len(GROUPS), size=n_customers, p=_SHARE)
    orders = _MIN_ORDERS[group] + rng.poisson(_ORDERS[group])
    order_customer = np.repeat(np.arange(n_customers), orders)
    order_group = group[order_customer]
    low, high = _WINDOW[order_group, 0], _WINDOW[order_group, 1]
    order_seconds = ((low + rng.random(len(order_group)) * (high - low)) * 86_400).astype(np.int64)
    lines = 1 + rng.poisson(lines_per_order, size=len(order_customer))
    line_order = np.repeat(np.arange(len(order_customer)), lines)
    line_customer = order_customer[line_order]
    n_lines = len(line_order)
    product = rng.integers(0, n_products, size=n_lines)
    catalogue = np.round(np.exp(rng.normal(1.0, 0.7, size=n_products)), 2)
    quantity = 1 + rng.poisson(_QUANTITY[group[line_customer]])
    is_return = rng.random(n_lines) < return_share
    quantity = np.where(is_return, -quantity, quantity)
    invoice_number = np.char.zfill(line_order.astype(str), 8)
    customer_ids = np.char.zfill((10_000 + np.arange(n_customers)).astype(str), 6)
    customer = customer_ids[line_customer].astype(object)
    customer[rng.random(n_lines) < anonymous_share] = None
    country_of = rng.choice(len(_COUNTRIES), size=n_customers, p=[0.8, 0.06, 0.06, 0.04, 0.04])
    transactions = pl.DataFrame(
        {
            "invoice_id": np.char.add(np.where(is_return, "C", ""), invoice_number),
            "product_id": np.char.add("P", np.char.zfill(product.astype(str), 4)),
            "description": np.char.add("Product ", product.astype(str)),
            "quantity": quantity,
            "invoice_date": pl.Series(
                (order_seconds[line_order] + int(START.replace(tzinfo=dt.UTC).timestamp()))
                * 1_000_000
            ).cast(pl.Datetime("us")),
            "unit_price": catalogue[product],
            "customer_id": pl.Series(customer, dtype=pl.String),
            "country": _COUNTRIES[country_of[line_customer]],
        }
    ).sort("invoice_date", maintain_order=True)
    truth = pl.DataFrame({"customer_id": customer_ids, "group": np.asarray(GROUPS)[group]})
    return transactions, truth
