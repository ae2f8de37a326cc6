"""Words derived from numbers: one rule for a count and its noun, shared by every message."""

from __future__ import annotations


def plural(n: int, word: str) -> str:
    """``word`` as a count of ``n`` needs it: "customer" for 1, "customers" otherwise."""
    return word if n == 1 else word + "s"


def count_of(n: int, word: str) -> str:
    """``n`` with thousands separators and its noun: "1 basket", "36,308 baskets"."""
    return f"{n:,} {plural(n, word)}"
