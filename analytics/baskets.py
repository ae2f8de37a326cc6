"""Market-basket analysis: baskets, frequent itemsets, association rules and cross-sell.

Baskets stay sparse end to end (a scipy CSR matrix handed to mlxtend as a sparse DataFrame), so
the full bundled log (tens of thousands of invoices, thousands of products) fits in memory.
Before mining, the number of frequent item pairs is counted exactly from the sparse co-occurrence
matrix; a support so low that it would explode is refused with a safer value instead of running
out of memory.

Definitions (as in R's arules): support(X) = share of baskets containing X; confidence(X->Y) =
support(X u Y) / support(X); lift = confidence / support(Y); leverage = support(X u Y) -
support(X) support(Y); conviction = (1 - support(Y)) / (1 - confidence).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from mlxtend.frequent_patterns import apriori, association_rules, fpgrowth
from scipy import sparse

from analytics.errors import InsufficientDataError, ParameterError

ALGORITHMS = ("fpgrowth", "apriori")
#: UCI Online Retail codes that are fees, postage or adjustments rather than products.
NON_PRODUCT_CODES = frozenset(
    {
        "POST",
        "DOT",
        "M",
        "m",
        "C2",
        "D",
        "S",
        "B",
        "BANK CHARGES",
        "AMAZONFEE",
        "CRUK",
        "PADS",
        "ADJUST",
        "ADJUST2",
        "TEST001",
        "TEST002",
    }
)
NON_PRODUCT_PATTERN = re.compile(r"^(gift_\d+_\d+|DCGS\w*)$")
#: Frequent item pairs above which mining is refused (itemsets and rules grow faster still).
MAX_PAIRS = 150_000
RULE_COLUMNS = [
    "antecedents",
    "consequents",
    "support",
    "confidence",
    "lift",
    "leverage",
    "conviction",
]


@dataclass(frozen=True)
class Baskets:
    """A sparse basket x item matrix with labels, and what building it did."""

    matrix: sparse.csr_matrix  # bool, baskets x items
    items: list[str]
    basket_ids: list[str]
    excluded_rows: int = 0  # non-product lines left out
    capped_baskets: int = 0  # baskets dropped for being larger than the cap
    rare_items: int = 0  # items dropped for appearing in too few baskets

    @property
    def n_baskets(self) -> int:
        return self.matrix.shape[0]

    def one_hot(self) -> pd.DataFrame:
        """The sparse boolean DataFrame mlxtend expects."""
        return pd.DataFrame.sparse.from_spmatrix(self.matrix, columns=self.items)


def _from_pairs(
    baskets: Sequence[str], items: Sequence[str], basket_ids: list[str], labels: list[str]
) -> sparse.csr_matrix:
    row = {b: i for i, b in enumerate(basket_ids)}
    col = {label: j for j, label in enumerate(labels)}
    data = np.ones(len(baskets), dtype=bool)
    matrix = sparse.csr_matrix(
        (data, ([row[b] for b in baskets], [col[i] for i in items])),
        shape=(len(basket_ids), len(labels)),
        dtype=bool,
    )
    matrix.sum_duplicates()
    matrix.data[:] = True
    return matrix


def _finish(
    matrix, items, basket_ids, *, min_item_baskets: int, max_basket_size: int | None, excluded: int
) -> Baskets:
    capped = 0
    if max_basket_size is not None:
        if max_basket_size < 1:
            raise ParameterError(
                f"The 'max_basket_size' parameter must be an int >= 1. Got {max_basket_size!r} instead."
            )
        sizes = np.asarray(matrix.sum(axis=1)).ravel()
        keep = sizes <= max_basket_size
        capped = int((~keep).sum())
        matrix = matrix[keep]
        basket_ids = [b for b, k in zip(basket_ids, keep, strict=True) if k]
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    frequent = counts >= min_item_baskets
    rare = int((~frequent).sum())
    matrix = matrix[:, frequent]
    items = [i for i, f in zip(items, frequent, strict=True) if f]
    nonempty = np.asarray(matrix.sum(axis=1)).ravel() > 0
    matrix = matrix[nonempty].tocsr()
    basket_ids = [b for b, k in zip(basket_ids, nonempty, strict=True) if k]
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InsufficientDataError(
            "No baskets are left after the filters. Widen the date range, scope or item frequency."
        )
    return Baskets(matrix, items, basket_ids, excluded, capped, rare)


def product_labels(tx: pl.DataFrame) -> pl.DataFrame:
    """``product_id -> item`` label: the product's most common description (trimmed), made unique."""
    described = tx.filter(pl.col("product_id").is_not_null()).with_columns(
        label=pl.coalesce(
            pl.col("description").str.strip_chars().replace("", None), pl.col("product_id")
        )
    )
    best = (
        described.group_by("product_id", "label")
        .len()
        .sort(["product_id", "len", "label"], descending=[False, True, False])
        .unique("product_id", keep="first")
    )
    dup = pl.col("label").is_duplicated()
    return best.select(
        "product_id",
        item=pl.when(dup)
        .then(pl.format("{} ({})", "label", "product_id"))
        .otherwise(pl.col("label")),
    )


def baskets_from_transactions(
    tx: pl.DataFrame,
    *,
    start: dt.date | None = None,
    end: dt.date | None = None,
    country: str | None = None,
    customers: Iterable[str] | None = None,
    min_item_baskets: int = 1,
    max_basket_size: int | None = None,
    exclude_non_products: bool = True,
) -> Baskets:
    """One basket per invoice (purchases only; anonymous invoices included), items by product.

    Parameters
    ----------
    start, end
        Inclusive date range of the invoices.
    country, customers
        Keep invoices from one country, or from these customers (e.g. one segment).
    min_item_baskets
        Drop items bought in fewer baskets than this.
    max_basket_size
        Drop baskets with more distinct items than this (the number dropped is reported).
    exclude_non_products
        Leave out postage, fees and adjustments (:data:`NON_PRODUCT_CODES`).
    """
    if (
        tx.get_column("product_id").null_count() == tx.height
        and tx.get_column("description").null_count() == tx.height
    ):
        raise InsufficientDataError(
            "This log has no product column, so there are no baskets to analyse. Map a product or description column."
        )
    frame = tx.filter(~pl.col("is_return"))
    if start is not None:
        frame = frame.filter(pl.col("invoice_date") >= dt.datetime.combine(start, dt.time()))
    if end is not None:
        frame = frame.filter(
            pl.col("invoice_date") < dt.datetime.combine(end + dt.timedelta(days=1), dt.time())
        )
    if country:
        frame = frame.filter(pl.col("country") == country)
    if customers is not None:
        frame = frame.filter(pl.col("customer_id").is_in(list(customers)))
    excluded = 0
    if exclude_non_products:
        non_product = pl.col("product_id").is_in(list(NON_PRODUCT_CODES)) | pl.col(
            "product_id"
        ).str.contains(NON_PRODUCT_PATTERN.pattern)
        excluded = int(frame.select(non_product.fill_null(False).sum()).item())
        frame = frame.filter(~non_product.fill_null(False))
    frame = frame.with_columns(
        product_id=pl.coalesce("product_id", pl.col("description").str.strip_chars())
    )
    labelled = (
        frame.join(product_labels(frame), on="product_id", how="inner")
        .select(
            basket=pl.coalesce(
                pl.col("invoice_id"),
                pl.col("customer_id") + "@" + pl.col("invoice_date").cast(pl.String),
            ),
            item="item",
        )
        .unique()
    )
    if labelled.height == 0:
        raise InsufficientDataError(
            "No purchases match these filters. Widen the date range, scope or country."
        )
    basket_ids = labelled.get_column("basket").unique(maintain_order=True).to_list()
    labels = sorted(labelled.get_column("item").unique().to_list())
    matrix = _from_pairs(
        labelled.get_column("basket").to_list(),
        labelled.get_column("item").to_list(),
        basket_ids,
        labels,
    )
    return _finish(
        matrix,
        labels,
        basket_ids,
        min_item_baskets=min_item_baskets,
        max_basket_size=max_basket_size,
        excluded=excluded,
    )


def baskets_from_lists(
    lists: Sequence[Sequence[str]], *, min_item_baskets: int = 1, max_basket_size: int | None = None
) -> Baskets:
    """Baskets from a basket-per-line file (:func:`analytics.io.load_baskets`)."""
    basket_ids = [str(i) for i in range(len(lists))]
    pairs = [(str(i), item) for i, basket in enumerate(lists) for item in dict.fromkeys(basket)]
    labels = sorted({item for _, item in pairs})
    matrix = _from_pairs([b for b, _ in pairs], [i for _, i in pairs], basket_ids, labels)
    return _finish(
        matrix,
        labels,
        basket_ids,
        min_item_baskets=min_item_baskets,
        max_basket_size=max_basket_size,
        excluded=0,
    )


def _check_fraction(name: str, value: object, *, low_open: bool = True) -> None:
    ok = (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and (0 < value <= 1 if low_open else 0 <= value <= 1)
    )
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1]"
        raise ParameterError(
            f"The '{name}' parameter must be a float in {interval}. Got {value!r} instead."
        )


def frequent_pair_count(baskets: Baskets, min_support: float) -> int:
    """Exact number of item pairs with support >= ``min_support`` (sparse co-occurrence)."""
    threshold = int(np.ceil(min_support * baskets.n_baskets - 1e-9))
    counts = np.asarray(baskets.matrix.sum(axis=0)).ravel()
    frequent = np.flatnonzero(counts >= threshold)
    if len(frequent) < 2:
        return 0
    sub = baskets.matrix[:, frequent].astype(np.int32)
    co = sparse.triu(sub.T @ sub, k=1).tocsr()
    return int((co.data >= threshold).sum())


def safer_support(baskets: Baskets, max_pairs: int = MAX_PAIRS) -> float:
    """The lowest support (in whole baskets) whose frequent pairs stay within ``max_pairs``."""
    sub = baskets.matrix.astype(np.int32)
    co = sparse.triu(sub.T @ sub, k=1).tocsr()
    counts = np.sort(co.data)[::-1]
    if len(counts) <= max_pairs:
        return 1 / baskets.n_baskets
    needed = counts[max_pairs] + 1
    return float(needed / baskets.n_baskets)


@dataclass(frozen=True)
class Rules:
    """Frequent itemsets and association rules, items joined by '|' in sorted order."""

    itemsets: pl.DataFrame  # itemset, items (list), size, support, count
    rules: (
        pl.DataFrame
    )  # antecedents, consequents, support, confidence, lift, leverage, conviction, ...
    n_baskets: int
    min_support: float
    min_confidence: float
    min_lift: float
    algorithm: str


def mine_rules(
    baskets: Baskets,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    min_lift: float = 1.0,
    *,
    algorithm: str = "fpgrowth",
    max_len: int | None = None,
    single_consequent: bool = False,
    progress: Callable[[int, int, str], None] | None = None,
) -> Rules:
    """Mine frequent itemsets (FP-Growth or Apriori) and association rules.

    Both algorithms give exactly the same itemsets and rules for the same thresholds.
    ``single_consequent`` keeps only one-item consequents, as R's arules reports them.

    Raises
    ------
    ParameterError
        For out-of-range thresholds, or a support so low that the itemsets would explode (the
        message names the lowest safe support).
    """
    _check_fraction("min_support", min_support)
    _check_fraction("min_confidence", min_confidence, low_open=False)
    if isinstance(min_lift, bool) or not isinstance(min_lift, (int, float)) or min_lift < 0:
        raise ParameterError(
            f"The 'min_lift' parameter must be a number >= 0. Got {min_lift!r} instead."
        )
    if algorithm not in ALGORITHMS:
        raise ParameterError(
            f"The 'algorithm' parameter must be one of 'fpgrowth', 'apriori'. Got {algorithm!r} instead."
        )
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ParameterError(
            f"The 'max_len' parameter must be an int >= 1. Got {max_len!r} instead."
        )
    step = progress or (lambda *_: None)
    step(0, 3, "Counting frequent item pairs")
    pairs = frequent_pair_count(baskets, min_support)
    if pairs > MAX_PAIRS:
        safe = safer_support(baskets)
        raise ParameterError(
            f"A minimum support of {min_support:g} gives {pairs:,} frequent item pairs in {baskets.n_baskets:,} "
            f"baskets, and the itemsets would not fit in memory. Use a minimum support of at least {safe:.4f}."
        )
    step(1, 3, f"Mining frequent itemsets ({algorithm})")
    # Items below the support threshold cannot be in any frequent itemset: leave them out early.
    threshold = int(np.ceil(min_support * baskets.n_baskets - 1e-9))
    keep = np.flatnonzero(np.asarray(baskets.matrix.sum(axis=0)).ravel() >= threshold)
    frame = pd.DataFrame.sparse.from_spmatrix(
        baskets.matrix[:, keep], columns=[baskets.items[i] for i in keep]
    )
    if algorithm == "fpgrowth":
        found = fpgrowth(frame, min_support=min_support, use_colnames=True, max_len=max_len)
    else:
        found = apriori(
            frame, min_support=min_support, use_colnames=True, max_len=max_len, low_memory=True
        )
    step(2, 3, "Deriving association rules")
    itemsets = (
        pl.DataFrame(
            {
                "items": [sorted(s) for s in found["itemsets"]],
                "support": found["support"].to_numpy(dtype=float),
            },
            schema={"items": pl.List(pl.String), "support": pl.Float64},
        )
        .with_columns(
            itemset=pl.col("items").list.join("|"),
            size=pl.col("items").list.len(),
            count=(pl.col("support") * baskets.n_baskets).round(0).cast(pl.Int64),
        )
        .sort(["size", "support", "itemset"], descending=[False, True, False])
        .select("itemset", "items", "size", "support", "count")
    )
    rules = _rules(found, baskets.n_baskets, min_confidence)
    if single_consequent:
        rules = rules.filter(pl.col("consequents").str.contains(r"\|").not_())
    rules = rules.filter(pl.col("lift") >= min_lift).sort(
        ["lift", "confidence", "antecedents", "consequents"], descending=[True, True, False, False]
    )
    step(3, 3, "Done")
    return Rules(
        itemsets, rules, baskets.n_baskets, min_support, min_confidence, min_lift, algorithm
    )


def _rules(found: pd.DataFrame, n_baskets: int, min_confidence: float) -> pl.DataFrame:
    empty = pl.DataFrame(
        schema={
            c: (pl.String if c in ("antecedents", "consequents") else pl.Float64)
            for c in RULE_COLUMNS
        }
    )
    if found.empty or (found["itemsets"].map(len) > 1).sum() == 0:
        return empty.with_columns(
            antecedent_items=pl.lit(None, pl.List(pl.String)),
            consequent_items=pl.lit(None, pl.List(pl.String)),
        )
    raw = association_rules(
        found, num_itemsets=n_baskets, metric="confidence", min_threshold=min_confidence
    )
    if raw.empty:
        return empty.with_columns(
            antecedent_items=pl.lit(None, pl.List(pl.String)),
            consequent_items=pl.lit(None, pl.List(pl.String)),
        )
    confidence = raw["confidence"].to_numpy(dtype=float)
    consequent_support = raw["consequent support"].to_numpy(dtype=float)
    with np.errstate(divide="ignore"):
        conviction = np.where(confidence >= 1, np.inf, (1 - consequent_support) / (1 - confidence))
    return (
        pl.DataFrame(
            {
                "antecedent_items": [sorted(a) for a in raw["antecedents"]],
                "consequent_items": [sorted(c) for c in raw["consequents"]],
                "support": raw["support"].to_numpy(dtype=float),
                "confidence": confidence,
                "lift": raw["lift"].to_numpy(dtype=float),
                "leverage": raw["leverage"].to_numpy(dtype=float),
                "conviction": conviction,
            },
            schema_overrides={
                "antecedent_items": pl.List(pl.String),
                "consequent_items": pl.List(pl.String),
            },
        )
        .with_columns(
            antecedents=pl.col("antecedent_items").list.join("|"),
            consequents=pl.col("consequent_items").list.join("|"),
        )
        .select(*RULE_COLUMNS, "antecedent_items", "consequent_items")
    )


def top_pairs(rules: Rules, n: int = 15) -> pl.DataFrame:
    """The most frequent two-item sets: ``item_a, item_b, support, count``."""
    pairs = (
        rules.itemsets.filter(pl.col("size") == 2)
        .sort(["support", "itemset"], descending=[True, False])
        .head(n)
    )
    return pairs.select(
        item_a=pl.col("items").list.get(0),
        item_b=pl.col("items").list.get(1),
        support="support",
        count="count",
    )


def cross_sell(rules: Rules, bought: Iterable[str], top: int = 10) -> pl.DataFrame:
    """Products to offer a customer next.

    Rules whose antecedents the customer has all bought and whose consequents they have not,
    ranked by lift x confidence; each product once, with the best rule that justifies it.
    Returns ``item, score, confidence, lift, because`` (the rule's antecedents).
    """
    owned = set(bought)
    if rules.rules.height == 0 or not owned:
        return pl.DataFrame(
            schema={
                "item": pl.String,
                "score": pl.Float64,
                "confidence": pl.Float64,
                "lift": pl.Float64,
                "because": pl.String,
            }
        )
    applicable = rules.rules.filter(
        pl.col("antecedent_items").list.eval(pl.element().is_in(list(owned))).list.all()
        & ~pl.col("consequent_items").list.eval(pl.element().is_in(list(owned))).list.any()
    )
    return (
        applicable.with_columns(score=pl.col("lift") * pl.col("confidence"))
        .explode("consequent_items")
        .sort(["score", "confidence", "antecedents"], descending=[True, True, False])
        .unique("consequent_items", keep="first", maintain_order=True)
        .head(top)
        .select(
            item="consequent_items",
            score="score",
            confidence="confidence",
            lift="lift",
            because="antecedents",
        )
    )


def segment_rules(overall: Rules, segment: Rules, min_ratio: float = 1.5) -> pl.DataFrame:
    """Rules much stronger in a segment than overall: segment lift / overall lift >= ``min_ratio``
    (or found only in the segment). Sorted by that ratio."""
    joined = segment.rules.join(
        overall.rules.select(
            "antecedents", "consequents", overall_lift="lift", overall_confidence="confidence"
        ),
        on=["antecedents", "consequents"],
        how="left",
    ).with_columns(lift_ratio=pl.col("lift") / pl.col("overall_lift"))
    return joined.filter(pl.col("lift_ratio").is_null() | (pl.col("lift_ratio") >= min_ratio)).sort(
        ["lift_ratio", "lift"], descending=[True, True], nulls_last=False
    )


def rules_csv_frame(rules: Rules) -> pl.DataFrame:
    """The columns of the CLI/CSV output."""
    return rules.rules.select(RULE_COLUMNS)
