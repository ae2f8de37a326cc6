"""Market-basket analysis: baskets, frequent itemsets, association rules and cross-sell.

Baskets are a sparse scipy CSR matrix; itemsets are mined by Christian Borgelt's C FP-Growth
(PyPI ``pyfim``, chosen on measurements in ``benchmarks/bench_pipeline.py``: 9-14x faster than
mlxtend on the bundled data with exactly the same itemsets). Rules are derived here from the
itemsets exactly as mlxtend derived them (every split of an itemset, multi-item consequents included).

Before mining, the output is estimated (:func:`estimate_output`): the engine counts the frequent
itemsets of every length (no itemset is built) at supports from coarse to fine, in a child process
with a time budget. A request whose itemsets or candidate rules exceed the ceilings below is refused
with a message naming a safer support or a shorter ``max_len``, before any memory is spent.

Definitions (as in R's arules): support(X) = share of baskets containing X; confidence(X->Y) =
support(X u Y) / support(X); lift = confidence / support(Y); leverage = support(X u Y) -
support(X) support(Y); conviction = (1 - support(Y)) / (1 - confidence).
"""

from __future__ import annotations

import datetime as dt
import itertools
import multiprocessing
import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
from scipy import sparse

from analytics.errors import InsufficientDataError, ParameterError, fix

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
#: Frequent item pairs above which mining is refused (kept for :func:`safer_support`).
MAX_PAIRS = 150_000
#: Ceilings on what one mining request may produce (settings: raise them for a bigger machine).
#: Frequent itemsets of every length (the bundled data has 197,573 at support 0.002).
MAX_ITEMSETS = 200_000
#: Candidate rules, i.e. splits of the itemsets into antecedent and consequent, before the
#: confidence filter (the bundled data has 2,083,478 multi-consequent candidates at 0.002).
MAX_RULE_CANDIDATES = 1_000_000
#: Seconds the engine may spend estimating the output before the request is refused.
ESTIMATE_SECONDS = 10.0
#: The estimate counts itemsets at the asked support times these factors, coarse to fine.
_LADDER = (64, 32, 16, 8, 4, 2, 1)
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
    rare_items: int = 0  # items dropped for appearing in too few of the kept baskets
    capped_items: int = 0  # items found only in the baskets over the cap (gone with them)

    @property
    def n_baskets(self) -> int:
        return self.matrix.shape[0]

    def one_hot(self) -> pd.DataFrame:
        """The sparse boolean DataFrame mlxtend expects."""
        return pd.DataFrame.sparse.from_spmatrix(self.matrix, columns=self.items)


def _from_pairs(
    baskets: pl.Series, items: pl.Series, basket_ids: list[str], labels: list[str]
) -> sparse.csr_matrix:
    """The boolean basket x item matrix of the (basket, item) pairs (a pair may repeat).

    Rows follow ``basket_ids`` and columns ``labels``; ids become positions in polars (a Python
    dict lookup per pair took 0.3-0.6 s for the bundled data's million pairs).
    """
    rows = baskets.replace_strict(
        pl.Series(basket_ids, dtype=pl.String), pl.int_range(len(basket_ids), eager=True)
    ).to_numpy()
    columns = items.replace_strict(
        pl.Series(labels, dtype=pl.String), pl.int_range(len(labels), eager=True)
    ).to_numpy()
    matrix = sparse.csr_matrix(
        (np.ones(len(rows), dtype=bool), (rows, columns)),
        shape=(len(basket_ids), len(labels)),
        dtype=bool,
    )
    matrix.sum_duplicates()
    matrix.data[:] = True
    return matrix


def check_max_basket_size(max_basket_size: int) -> None:
    """Refuse a basket-size cap below one item, as every engine building baskets does."""
    if max_basket_size < 1:
        raise ParameterError(
            f"The 'max_basket_size' parameter must be an int >= 1. Got {max_basket_size!r} instead."
        )


def _finish(
    matrix, items, basket_ids, *, min_item_baskets: int, max_basket_size: int | None, excluded: int
) -> Baskets:
    capped = 0
    if max_basket_size is not None:
        check_max_basket_size(max_basket_size)
        sizes = np.asarray(matrix.sum(axis=1)).ravel()
        keep = sizes <= max_basket_size
        capped = int((~keep).sum())
        matrix = matrix[keep]
        basket_ids = [b for b, k in zip(basket_ids, keep, strict=True) if k]
    counts = np.asarray(matrix.sum(axis=0)).ravel()
    frequent = counts >= min_item_baskets
    present = counts > 0  # items only in capped baskets are gone with them: not "rare"
    rare = int((present & ~frequent).sum())
    matrix = matrix[:, frequent]
    items = [i for i, f in zip(items, frequent, strict=True) if f]
    nonempty = np.asarray(matrix.sum(axis=1)).ravel() > 0
    matrix = matrix[nonempty].tocsr()
    basket_ids = [b for b, k in zip(basket_ids, nonempty, strict=True) if k]
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        raise InsufficientDataError(
            "No baskets are left after the filters. Widen the date range, scope or item frequency."
        )
    return Baskets(
        matrix, items, basket_ids, excluded, capped, rare, capped_items=int((~present).sum())
    )


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
    basket = pl.col("invoice_id")
    if frame.get_column("invoice_id").null_count():  # else the fallback costs a date-to-text cast
        basket = pl.coalesce(
            basket, pl.col("customer_id") + "@" + pl.col("invoice_date").cast(pl.String)
        )
    labelled = (
        frame.join(product_labels(frame), on="product_id", how="inner")
        .select(basket=basket, item="item")
        .unique()
    )
    if labelled.height == 0:
        raise InsufficientDataError(
            "No purchases match these filters. Widen the date range, scope or country."
        )
    basket_ids = labelled.get_column("basket").unique(maintain_order=True).to_list()
    labels = sorted(labelled.get_column("item").unique().to_list())
    matrix = _from_pairs(
        labelled.get_column("basket"), labelled.get_column("item"), basket_ids, labels
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
    matrix = _from_pairs(
        pl.Series([b for b, _ in pairs], dtype=pl.String),
        pl.Series([i for _, i in pairs], dtype=pl.String),
        basket_ids,
        labels,
    )
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


def _check_rule_thresholds(min_confidence: object, min_lift: object) -> None:
    _check_fraction("min_confidence", min_confidence, low_open=False)
    if isinstance(min_lift, bool) or not isinstance(min_lift, (int, float)) or min_lift < 0:
        raise ParameterError(
            f"The 'min_lift' parameter must be a number >= 0. Got {min_lift!r} instead."
        )


def check_mining_arguments(
    min_support: object,
    min_confidence: object,
    min_lift: object,
    *,
    algorithm: object,
    max_len: object,
    algorithms: Sequence[str] = ALGORITHMS,
    refuse_algorithm: Callable[[object], ParameterError] | None = None,
) -> None:
    """Check a mining request's arguments, in this order, as every mining engine does.

    Parameters
    ----------
    algorithms
        The algorithms the engine mines with (default: all of :data:`ALGORITHMS`).
    refuse_algorithm
        The error for an algorithm not in ``algorithms``, for an engine that says why it cannot
        mine with it (default: the list of allowed names).

    Raises
    ------
    ParameterError
        Naming the first argument out of range, the rule and the value.
    """
    _check_fraction("min_support", min_support)
    _check_rule_thresholds(min_confidence, min_lift)
    if algorithm not in algorithms:
        if refuse_algorithm is not None:
            raise refuse_algorithm(algorithm)
        names = ", ".join(repr(name) for name in algorithms)
        raise ParameterError(
            f"The 'algorithm' parameter must be one of {names}. Got {algorithm!r} instead."
        )
    if max_len is not None and (
        isinstance(max_len, bool) or not isinstance(max_len, int) or max_len < 1
    ):
        raise ParameterError(
            f"The 'max_len' parameter must be an int >= 1. Got {max_len!r} instead."
        )


def frequent_pair_count(baskets: Baskets, min_support: float) -> int:
    """Exact number of item pairs with support >= ``min_support`` (sparse co-occurrence)."""
    threshold = min_count(min_support, baskets.n_baskets)
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


def min_count(min_support: float, n_baskets: int) -> int:
    """Smallest basket count that can reach ``min_support`` (the exact float test comes after)."""
    return max(1, int(np.ceil(min_support * n_baskets - 1e-9)))


def _rule_candidates(sizes: dict[int, int], single_consequent: bool) -> int:
    """Splits of itemsets into antecedent -> consequent: 2^k - 2 per k-itemset (k per k-itemset
    with one-item consequents)."""
    if single_consequent:
        return sum(n * k for k, n in sizes.items() if k > 1)
    return sum(n * (2**k - 2) for k, n in sizes.items() if k > 1)


@dataclass(frozen=True)
class OutputEstimate:
    """How many itemsets (by length) and candidate rules a mining request produces.

    ``complete`` is False when the estimate ran out of time before reaching ``min_support``;
    ``counted`` maps each support that was fully counted to its itemsets by length.
    """

    min_support: float
    counted: dict[float, dict[int, int]]
    complete: bool
    seconds: float
    budget: float = ESTIMATE_SECONDS

    @property
    def itemsets_by_size(self) -> dict[int, int]:
        return self.counted.get(self.min_support, {}) if self.complete else {}

    @property
    def itemsets(self) -> int:
        return sum(self.itemsets_by_size.values())

    def rule_candidates(self, single_consequent: bool = False) -> int:
        return _rule_candidates(self.itemsets_by_size, single_consequent)


def _spectrum_worker(transactions, thresholds, zmax, algorithm, conn) -> None:
    """Child process: count frequent itemsets by length at each threshold, sending each count
    as soon as it is known (the parent stops us when a count is too large or time runs out)."""
    import fim

    mine = fim.fpgrowth if algorithm == "fpgrowth" else fim.apriori
    limit = {} if zmax is None else {"zmax": zmax}
    counts = np.bincount(np.fromiter(itertools.chain.from_iterable(transactions), dtype=np.int64))
    for threshold in thresholds:
        # Reading the baskets is most of the engine's fixed cost: give it the frequent items only.
        frequent = counts >= threshold
        rows = transactions
        if not frequent.all():
            rows = [r for r in ([i for i in row if frequent[i]] for row in transactions) if r]
        spectrum = mine(rows, supp=-threshold, report="#", **limit) or {}
        sizes: dict[int, int] = {}
        for (size, _support), count in spectrum.items():
            sizes[size] = sizes.get(size, 0) + int(count)
        conn.send((threshold, sizes))
    conn.close()


def _frequent_baskets(baskets: Baskets, threshold: int) -> tuple[np.ndarray, list[list[int]]]:
    """Columns of the items in at least ``threshold`` baskets, and the baskets as lists of
    positions in those columns (what the engine reads)."""
    keep = np.flatnonzero(np.asarray(baskets.matrix.sum(axis=0)).ravel() >= threshold)
    return keep, _transactions(baskets, keep)


def _transactions(baskets: Baskets, keep: np.ndarray | None = None) -> list[list[int]]:
    matrix = baskets.matrix if keep is None else baskets.matrix[:, keep].tocsr()
    matrix.sort_indices()
    return [row.tolist() for row in np.split(matrix.indices, matrix.indptr[1:-1]) if len(row)]


def _count_itemsets(
    baskets: Baskets,
    supports: list[float],
    seconds: float,
    max_len: int | None,
    algorithm: str,
    max_itemsets: int,
    max_rule_candidates: int,
    single_consequent: bool,
    prepared: tuple[np.ndarray, list[list[int]]] | None = None,
) -> dict[float, dict[int, int]]:
    """Itemsets by length at each support (descending), in a child process killed after
    ``seconds`` or at the first support whose counts exceed the ceilings."""
    if not supports:
        return {}
    n = baskets.n_baskets
    thresholds = [min_count(s, n) for s in supports]
    by_threshold = dict(zip(thresholds, supports, strict=False))
    if prepared is None:
        prepared = _frequent_baskets(baskets, min(thresholds))
    transactions = prepared[1]
    counted: dict[float, dict[int, int]] = {}
    start = time.perf_counter()
    # fork: the child only runs the C miner on Python lists (no polars, no OpenMP), and fork
    # avoids re-importing anything; it is killed when it has said enough or runs out of time.
    context = multiprocessing.get_context("fork")
    parent, child = context.Pipe(duplex=False)
    order = sorted(set(thresholds), reverse=True)
    worker = context.Process(
        target=_spectrum_worker,
        args=(transactions, order, max_len, algorithm, child),
        daemon=True,
    )
    worker.start()
    child.close()
    try:
        while len(counted) < len(order):
            left = seconds - (time.perf_counter() - start)
            if left <= 0 or not parent.poll(left):
                break
            try:
                got, sizes = parent.recv()
            except EOFError:
                worker.join()
                raise RuntimeError(
                    f"The itemset count failed in its child process (exit code {worker.exitcode})."
                ) from None
            counted[by_threshold[got]] = sizes
            if (
                sum(sizes.values()) > max_itemsets
                or _rule_candidates(sizes, single_consequent) > max_rule_candidates
            ):
                break
    finally:
        if worker.is_alive():
            worker.kill()
        worker.join()
        parent.close()
    return counted


def estimate_output(
    baskets: Baskets,
    min_support: float,
    *,
    max_len: int | None = None,
    algorithm: str = "fpgrowth",
    max_itemsets: int = MAX_ITEMSETS,
    max_rule_candidates: int = MAX_RULE_CANDIDATES,
    single_consequent: bool = False,
    seconds: float = ESTIMATE_SECONDS,
    prepared: tuple[np.ndarray, list[list[int]]] | None = None,
) -> OutputEstimate:
    """Count the frequent itemsets of every length before mining them.

    The engine counts (without building itemsets) at ``min_support`` in a child process that is
    stopped after ``seconds``. When the output is too large, it also counts at ``min_support``
    x 64, 32, ..., 2 (coarse to fine, stopping at the first that exceeds the ceilings: lower
    supports only have more) so that a refusal can name a support that fits.
    """
    start = time.perf_counter()
    counted = _count_itemsets(
        baskets,
        [min_support],
        seconds,
        max_len,
        algorithm,
        max_itemsets,
        max_rule_candidates,
        single_consequent,
        prepared,
    )
    sizes = counted.get(min_support)
    if sizes is None or (
        sum(sizes.values()) > max_itemsets
        or _rule_candidates(sizes, single_consequent) > max_rule_candidates
    ):
        # Too large: count at coarser supports (cheap), coarse to fine, to name a safe one.
        ladder = [min_support * f for f in _LADDER[:-1] if min_support * f <= 1]
        counted.update(
            _count_itemsets(
                baskets,
                ladder,
                seconds,
                max_len,
                algorithm,
                max_itemsets,
                max_rule_candidates,
                single_consequent,
            )
        )
    return OutputEstimate(
        min_support=min_support,
        counted=counted,
        complete=min_support in counted,
        seconds=time.perf_counter() - start,
        budget=seconds,
    )


def _refusal(
    estimate: OutputEstimate,
    baskets: Baskets,
    *,
    max_len: int | None,
    max_itemsets: int,
    max_rule_candidates: int,
    single_consequent: bool,
) -> str | None:
    """The message refusing a request the estimate shows too large, or None when it fits."""

    def fits(sizes: dict[int, int]) -> bool:
        return (
            sum(sizes.values()) <= max_itemsets
            and _rule_candidates(sizes, single_consequent) <= max_rule_candidates
        )

    if estimate.complete and fits(estimate.itemsets_by_size):
        return None
    s = estimate.min_support
    if estimate.complete:
        sizes = estimate.itemsets_by_size
        what = (
            f"A minimum support of {s:g} gives {sum(sizes.values()):,} frequent itemsets "
            f"and {_rule_candidates(sizes, single_consequent):,} candidate rules in "
            f"{baskets.n_baskets:,} baskets (ceilings: {max_itemsets:,} itemsets, "
            f"{max_rule_candidates:,} candidate rules)."
        )
    else:
        what = (
            f"Counting the frequent itemsets at a minimum support of {s:g} in "
            f"{baskets.n_baskets:,} baskets did not finish within {estimate.budget:g} s, "
            "so mining them would take too long and too much memory."
        )
    safe = [support for support, sizes in estimate.counted.items() if fits(sizes)]
    advice = []
    if safe:
        advice.append(
            fix(
                f"use a minimum support of at least {min(safe):g}",
                f"set “Minimum support” to at least {min(safe):.1%}",
            )
        )
    if estimate.complete:
        sizes = estimate.itemsets_by_size
        longest = [
            k
            for k in sorted(sizes)
            if fits({j: n for j, n in sizes.items() if j <= k}) and k < max(sizes)
        ]
        # the page has no itemset-length control: only the command line offers this way out
        if longest and longest[-1] > 1 and fix("cli", "web") == "cli":
            advice.append(f"keep the support and limit itemsets to max_len={longest[-1]} items")
    if not advice:
        advice.append(
            fix("use a higher minimum support or a shorter max_len", "raise “Minimum support”")
        )
    return what + " To mine safely, " + ", or ".join(advice) + "."


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
    max_itemsets: int = MAX_ITEMSETS,
    max_rule_candidates: int = MAX_RULE_CANDIDATES,
    estimate_seconds: float = ESTIMATE_SECONDS,
    progress: Callable[[int, int, str], None] | None = None,
) -> Rules:
    """Mine frequent itemsets (FP-Growth or Apriori) and association rules.

    Both algorithms give exactly the same itemsets and rules for the same thresholds, and the
    same as mlxtend 0.25's ``fpgrowth`` + ``association_rules`` did (tests compare).
    ``single_consequent`` keeps only one-item consequents, as R's arules reports them.

    Parameters
    ----------
    max_itemsets, max_rule_candidates, estimate_seconds
        Ceilings checked by :func:`estimate_output` before mining (default: the module settings).

    Raises
    ------
    ParameterError
        For out-of-range thresholds, or a request whose output would exceed the ceilings (the
        message names a safer support or a shorter ``max_len``).
    """
    check_mining_arguments(
        min_support, min_confidence, min_lift, algorithm=algorithm, max_len=max_len
    )
    step = progress or (lambda *_: None)
    step(0, 3, "Estimating the number of itemsets")
    prepared = _frequent_baskets(baskets, min_count(min_support, baskets.n_baskets))
    estimate = estimate_output(
        baskets,
        min_support,
        max_len=max_len,
        algorithm=algorithm,
        max_itemsets=max_itemsets,
        max_rule_candidates=max_rule_candidates,
        single_consequent=single_consequent,
        seconds=estimate_seconds,
        prepared=prepared,
    )
    message = _refusal(
        estimate,
        baskets,
        max_len=max_len,
        max_itemsets=max_itemsets,
        max_rule_candidates=max_rule_candidates,
        single_consequent=single_consequent,
    )
    if message:
        raise ParameterError(message)
    step(1, 3, f"Mining frequent itemsets ({algorithm})")
    found = _mine(baskets, min_support, max_len, algorithm, prepared)
    step(2, 3, "Deriving association rules")
    n = baskets.n_baskets
    labels = pa.array(baskets.items, pa.large_string())
    itemsets = itemsets_table(_label_lists([s for s, _ in found], labels), [c for _, c in found], n)
    rules = _ranked(_rules(found, labels, n, min_confidence, single_consequent), min_lift)
    step(3, 3, "Done")
    return Rules(
        itemsets, rules, baskets.n_baskets, min_support, min_confidence, min_lift, algorithm
    )


def itemsets_table(items: pl.Series, counts: Sequence[int], n_baskets: int) -> pl.DataFrame:
    """The ``itemsets`` frame of :class:`Rules`, whichever engine mined them.

    Parameters
    ----------
    items
        Each itemset's items (``List(String)``), each list sorted.
    counts
        Each itemset's number of baskets.
    n_baskets
        The number of baskets mined.

    Returns
    -------
    polars.DataFrame
        ``itemset`` (items joined by '|'), ``items``, ``size``, ``support``, ``count``; by size,
        then support (highest first), then itemset.
    """
    n = n_baskets
    return (
        pl.DataFrame(
            {"items": items, "support": np.array(counts, dtype=float) / float(n)},
            schema={"items": pl.List(pl.String), "support": pl.Float64},
        )
        .with_columns(
            itemset=pl.col("items").list.join("|"),
            size=pl.col("items").list.len(),
            count=(pl.col("support") * n).round(0).cast(pl.Int64),
        )
        .sort(["size", "support", "itemset"], descending=[False, True, False])
        .select("itemset", "items", "size", "support", "count")
    )


def _ranked(rules: pl.DataFrame, min_lift: float) -> pl.DataFrame:
    """Rules with enough lift, the strongest first."""
    return rules.filter(pl.col("lift") >= min_lift).sort(
        ["lift", "confidence", "antecedents", "consequents"], descending=[True, True, False, False]
    )


def _mine(
    baskets: Baskets,
    min_support: float,
    max_len: int | None,
    algorithm: str,
    prepared: tuple[np.ndarray, list[list[int]]],
) -> list[tuple[tuple[int, ...], int]]:
    """Frequent itemsets as (item indices in label order, basket count), support tested as
    ``count / n >= min_support`` in floating point, as mlxtend did."""
    import fim

    n = baskets.n_baskets
    threshold = min_count(min_support, n)
    # Items below the support threshold cannot be in any frequent itemset: left out early.
    keep, transactions = prepared
    if len(keep) == 0:
        return []
    mine = fim.fpgrowth if algorithm == "fpgrowth" else fim.apriori
    limit = {} if max_len is None else {"zmax": max_len}
    raw = mine(transactions, supp=-threshold, report="a", **limit) or []
    # Columns of ``keep`` are in label order, so sorting local indices sorts the labels.
    order = np.argsort(np.asarray(baskets.items, dtype=object)[keep], kind="stable")
    rank = np.empty(len(keep), dtype=np.int64)
    rank[order] = np.arange(len(keep))
    label_sorted = bool((rank == np.arange(len(keep))).all())
    found = []
    for items, count in raw:
        if count / float(n) < min_support:
            continue
        local = sorted(items) if label_sorted else sorted(items, key=rank.__getitem__)
        found.append((tuple(int(keep[i]) for i in local), int(count)))
    return found


def _label_lists(index_lists: list[tuple[int, ...]], labels: pa.Array) -> pl.Series:
    """A ``List(String)`` column from tuples of item indices (built in Arrow: ~20x faster than
    polars from Python lists of strings)."""
    lengths = np.fromiter((len(t) for t in index_lists), dtype=np.int64, count=len(index_lists))
    offsets = np.zeros(len(index_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter(
        itertools.chain.from_iterable(index_lists), dtype=np.int64, count=offsets[-1]
    )
    array = pa.LargeListArray.from_arrays(pa.array(offsets), labels.take(pa.array(flat)))
    return pl.Series(array).cast(pl.List(pl.String))


def _empty_rules() -> pl.DataFrame:
    return pl.DataFrame(
        schema={
            **{
                c: (pl.String if c in ("antecedents", "consequents") else pl.Float64)
                for c in RULE_COLUMNS
            },
            "antecedent_items": pl.List(pl.String),
            "consequent_items": pl.List(pl.String),
        }
    )


def _rules(
    found: list[tuple[tuple[int, ...], int]],
    labels: pa.Array,
    n_baskets: int,
    min_confidence: float,
    single_consequent: bool,
) -> pl.DataFrame:
    """Every split of every itemset into antecedent -> consequent with enough confidence.

    The metrics are computed with mlxtend 0.25's formulas in the same floating-point order, so
    the numbers are bit for bit those the app showed before.
    """
    n = float(n_baskets)
    support = {items: count / n for items, count in found}
    antecedents, consequents, s_ac, s_a, s_c = [], [], [], [], []
    for items, count in found:
        k = len(items)
        if k < 2:
            continue
        whole = count / n
        sizes = range(k - 1, k) if single_consequent else range(k - 1, 0, -1)
        for size in sizes:
            for antecedent in itertools.combinations(items, size):
                consequent = tuple(i for i in items if i not in antecedent)
                sa = support[antecedent]
                if (whole * n) / (sa * n) >= min_confidence:
                    antecedents.append(antecedent)
                    consequents.append(consequent)
                    s_ac.append(whole)
                    s_a.append(sa)
                    s_c.append(support[consequent])
    if not antecedents:
        return _empty_rules()
    sAC, sA, sC = (np.array(v, dtype=float) for v in (s_ac, s_a, s_c))
    confidence = (sAC * n) / (sA * n)
    with np.errstate(divide="ignore"):
        conviction = np.where(confidence >= 1, np.inf, (1 - sC) / (1 - confidence))
    return (
        pl.DataFrame(
            {
                "antecedent_items": _label_lists(antecedents, labels),
                "consequent_items": _label_lists(consequents, labels),
                "support": sAC,
                "confidence": confidence,
                "lift": confidence / sC,
                "leverage": sAC - sA * sC,
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


def rederive_rules(mined: Rules, min_confidence: float, min_lift: float = 1.0) -> Rules:
    """The rules of itemsets already mined, at another confidence and lift: no mining again.

    Itemsets do not depend on confidence or lift, so the result equals :func:`mine_rules` with
    the same baskets, support and algorithm and the new thresholds (tested).
    """
    return rules_from_itemsets(
        mined.itemsets,
        mined.n_baskets,
        mined.min_support,
        min_confidence,
        min_lift,
        mined.algorithm,
    )


def rules_from_itemsets(
    itemsets: pl.DataFrame,
    n_baskets: int,
    min_support: float,
    min_confidence: float,
    min_lift: float,
    algorithm: str,
    *,
    single_consequent: bool = False,
) -> Rules:
    """The :class:`Rules` of frequent itemsets mined elsewhere (by another engine, or before).

    Parameters
    ----------
    itemsets
        An :func:`itemsets_table` of every frequent itemset at ``min_support``.
    n_baskets, min_support, algorithm
        How they were mined.
    min_confidence, min_lift, single_consequent
        As for :func:`mine_rules`.

    Raises
    ------
    ParameterError
        For an out-of-range confidence or lift.
    """
    _check_rule_thresholds(min_confidence, min_lift)
    names = sorted({item for items in itemsets["items"].to_list() for item in items})
    index = {name: i for i, name in enumerate(names)}
    # found tuples list their items in label order, as _mine makes them
    found = [
        (tuple(sorted(index[item] for item in items)), int(count))
        for items, count in zip(
            itemsets["items"].to_list(), itemsets["count"].to_list(), strict=True
        )
    ]
    rules = _rules(
        found, pa.array(names, pa.large_string()), n_baskets, min_confidence, single_consequent
    )
    return Rules(
        itemsets,
        _ranked(rules, min_lift),
        n_baskets,
        min_support,
        min_confidence,
        min_lift,
        algorithm,
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
