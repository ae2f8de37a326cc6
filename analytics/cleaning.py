"""Cleaning a canonical transaction log, with a report of exactly what each step did.

Steps, in order (each counts the rows it touched):

1. rows without a readable date: removed (they cannot be placed in time);
2. exact duplicate rows: removed, first copy kept;
3. non-positive prices (``unit_price <= 0``; ``amount == 0`` when the log has no prices): removed,
   they are write-offs, samples and bad-debt adjustments, not sales;
4. returns and cancellations (invoice id starting with ``C``, negative quantity or amount):
   kept and flagged ``is_return`` so features count them per customer;
5. rows without a customer id: kept (they still count for basket analysis) and flagged; customer
   analytics exclude them.

The input frame is never modified; a new frame is returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from analytics.errors import DataError


@dataclass(frozen=True)
class CleaningStep:
    """One rule applied to the log."""

    name: str
    rows: int
    action: str  # "removed" or "flagged"
    detail: str


@dataclass(frozen=True)
class CleaningReport:
    """What cleaning did, step by step, and what is left."""

    rows_in: int
    rows_out: int
    steps: list[CleaningStep] = field(default_factory=list)
    customers: int = 0
    #: customers with at least one purchase: the ones customer analytics describes
    buyers: int = 0
    first_date: object = None
    last_date: object = None

    def step(self, name: str) -> CleaningStep:
        return next(s for s in self.steps if s.name == name)

    def customers_sentence(self) -> str:
        """How many customers there are, and why the analysed count can be smaller.

        Customer analytics describes customers with at least one purchase; a customer whose
        only rows are returns is in the log but not in any segment, score or chart.
        """
        only_returned = self.customers - self.buyers
        if not only_returned:
            return f"{self.customers:,} customers, all with at least one purchase"
        return (
            f"{self.customers:,} customers in the cleaned log; {self.buyers:,} with at least "
            f"one purchase (analysed on every page), {only_returned:,} only returned goods"
        )

    def to_rows(self) -> list[dict]:
        return [
            {"step": s.name, "rows": s.rows, "action": s.action, "detail": s.detail}
            for s in self.steps
        ]

    def __str__(self) -> str:
        width = max(len(s.name) for s in self.steps)
        lines = [f"Rows read: {self.rows_in:,}"]
        for s in self.steps:
            lines.append(f"  {s.name:<{width}}  {s.rows:>10,}  {s.action:<7}  {s.detail}")
        lines.append(
            f"Rows kept: {self.rows_out:,} ({self.customers_sentence()}; "
            f"{self.first_date} to {self.last_date})"
        )
        return "\n".join(lines)


def first_copies(frame: pl.DataFrame) -> pl.Series:
    """True for the first copy of each distinct row: what ``frame.unique(maintain_order=True,
    keep="first")`` keeps, found ~3x faster and in less memory by hashing whole rows.

    Every row whose hash was seen before is checked column by column against the first row with
    that hash; should two different rows ever share a hash, the exact (slower) way is used.
    """
    hashes = frame.hash_rows()
    first = hashes.is_first_distinct()
    if first.all():
        return first
    indexed = frame.with_columns(_hash=hashes)
    copies = indexed.filter(~first).join(
        indexed.filter(first), on="_hash", how="left", suffix="_first"
    )
    same = pl.all_horizontal(pl.col(c).eq_missing(pl.col(f"{c}_first")) for c in frame.columns)
    if copies.select(same.all()).item():
        return first
    exact = frame.with_row_index("_row").unique(
        subset=frame.columns, maintain_order=True, keep="first"
    )
    return pl.Series(np.isin(np.arange(frame.height), exact.get_column("_row").to_numpy()))


def clean_transactions(
    transactions: pl.DataFrame, *, source: str = "the file"
) -> tuple[pl.DataFrame, CleaningReport]:
    """Apply the cleaning rules and report what each one did.

    Parameters
    ----------
    transactions
        A canonical log (see :data:`analytics.schema.CANONICAL`).
    source
        File name used in error messages.

    Returns
    -------
    (cleaned, report)
        ``cleaned`` has the canonical columns plus ``is_return`` (bool).

    Raises
    ------
    DataError
        When no row is left for customer analytics after cleaning.
    """
    rows_in = transactions.height
    steps: list[CleaningStep] = []
    frame = transactions

    undated = frame.get_column("invoice_date").is_null()
    steps.append(
        CleaningStep(
            "missing or unreadable date",
            int(undated.sum()),
            "removed",
            "rows that cannot be placed in time",
        )
    )
    frame = frame.filter(~undated)

    before = frame.height
    frame = frame.filter(first_copies(frame))
    steps.append(
        CleaningStep(
            "exact duplicate rows",
            before - frame.height,
            "removed",
            "identical to an earlier row in every column; the first copy is kept",
        )
    )

    has_price = frame.get_column("unit_price").is_not_null().any()
    if has_price:
        bad_price = pl.col("unit_price").fill_null(1.0) <= 0
        detail = "unit price zero or negative (write-offs, samples, bad-debt adjustments)"
    else:
        bad_price = pl.col("amount").fill_null(1.0) == 0
        detail = "amount zero (the log has no prices)"
    before = frame.height
    frame = frame.filter(~bad_price)
    steps.append(CleaningStep("non-positive price", before - frame.height, "removed", detail))

    missing_amount = frame.get_column("amount").is_null()
    steps.append(
        CleaningStep(
            "missing amount",
            int(missing_amount.sum()),
            "removed",
            "no amount, or no quantity or price to compute it from",
        )
    )
    frame = frame.filter(~missing_amount)

    is_return = (
        pl.col("invoice_id").str.starts_with("C").fill_null(False)
        | (pl.col("quantity").fill_null(0) < 0)
        | (pl.col("amount") < 0)
    )
    frame = frame.with_columns(is_return.alias("is_return"))
    steps.append(
        CleaningStep(
            "returns and cancellations",
            int(frame.get_column("is_return").sum()),
            "flagged",
            "invoice id starting with C or negative quantity; kept and counted as returns",
        )
    )
    anonymous = int(frame.get_column("customer_id").is_null().sum())
    steps.append(
        CleaningStep(
            "no customer id",
            anonymous,
            "flagged",
            "kept for basket analysis, left out of customer analytics",
        )
    )

    customers = frame.get_column("customer_id").drop_nulls()
    if frame.height == 0 or customers.len() == 0:
        raise DataError(
            f"No rows are left for customer analytics in {source} after cleaning "
            f"({rows_in:,} rows read: "
            + "; ".join(f"{s.name} {s.rows:,}" for s in steps if s.rows)
            + "). Check that the customer, date and amount columns are the right ones."
        )
    dates = frame.get_column("invoice_date")
    report = CleaningReport(
        rows_in=rows_in,
        rows_out=frame.height,
        steps=steps,
        customers=customers.n_unique(),
        buyers=frame.filter(~pl.col("is_return")).get_column("customer_id").drop_nulls().n_unique(),
        first_date=dates.min(),
        last_date=dates.max(),
    )
    return frame, report
