"""What decides a basket analysis: its parameters, validated once, and which baskets it reads.

:class:`BasketParams` is the cache key of a basket analysis (JSON-safe: the app passes it to jobs
and through URLs). :func:`scoped_baskets` turns a cleaned log and the parameters into the baskets
to mine: all of them, one country's, or one segment's (the caller gives the segment's members).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import polars as pl

from analytics.baskets import Baskets, baskets_from_transactions
from analytics.errors import ParameterError
from analytics.segment_report import SegmentParams
from analytics.segmentation import _check_choice, _check_float, _check_int

BASKET_SCOPES = ("all", "segment", "country")


@dataclass(frozen=True)
class BasketParams:
    """Everything that decides a basket analysis (the cache key); validated on creation.

    The mining algorithm's own name is checked by the miner (it knows its engines).
    """

    min_support: float = 0.01
    min_confidence: float = 0.3
    min_lift: float = 1.0
    algorithm: str = "fpgrowth"
    scope: str = "all"  # "all", "segment" or "country"
    scope_value: str | None = None  # segment number or country name
    segmentation: dict | None = None  # SegmentParams.to_dict() for scope "segment"
    start: str | None = None  # ISO dates, inclusive
    end: str | None = None
    min_item_baskets: int = 1
    max_basket_size: int | None = None

    def __post_init__(self) -> None:
        # values that went through JSON (1.0 -> 1) must give the same cache key
        for name in ("min_support", "min_confidence", "min_lift"):
            value = getattr(self, name)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                object.__setattr__(self, name, float(value))
        _check_float("min_support", self.min_support, 0.0, 1.0)
        if not isinstance(self.min_confidence, float) or not 0.0 <= self.min_confidence <= 1.0:
            raise ParameterError(
                "The 'min_confidence' parameter must be a number in [0, 1]. "
                f"Got {self.min_confidence!r} instead.",
                parameter="min_confidence",
            )
        if not isinstance(self.min_lift, float) or not 0.0 <= self.min_lift <= 1e6:
            raise ParameterError(
                f"The 'min_lift' parameter must be a number >= 0. Got {self.min_lift!r} instead.",
                parameter="min_lift",
            )
        _check_choice("scope", self.scope, BASKET_SCOPES)
        if self.scope == "all" and self.scope_value is not None:
            raise ParameterError(
                "A scope value only goes with the 'segment' or 'country' scope.",
                parameter="scope_value",
            )
        if self.scope == "segment":
            if not (isinstance(self.scope_value, str) and self.scope_value.lstrip("-").isdigit()):
                raise ParameterError(
                    f"The segment must be a segment number. Got {self.scope_value!r} instead.",
                    parameter="scope_value",
                )
            SegmentParams.from_dict(self.segmentation or {})
        dates = []
        for name in ("start", "end"):
            value = getattr(self, name)
            try:
                dates.append(dt.date.fromisoformat(value) if value is not None else None)
            except (TypeError, ValueError):
                raise ParameterError(
                    f"The '{name}' date must be written YYYY-MM-DD. Got {value!r} instead.",
                    parameter=name,
                ) from None
        if None not in dates and dates[1] < dates[0]:
            raise ParameterError(
                f"The period ends ({self.end}) before it starts ({self.start}).", parameter="end"
            )
        _check_int("min_item_baskets", self.min_item_baskets, 1, 10_000_000)
        if self.max_basket_size is not None:
            _check_int("max_basket_size", self.max_basket_size, 1, 10_000_000)

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def to_dict(self) -> dict:
        return asdict(self)

    def overall(self) -> BasketParams:
        """The same analysis over all baskets (for comparing a segment with everyone)."""
        return BasketParams(
            self.min_support,
            self.min_confidence,
            self.min_lift,
            self.algorithm,
            start=self.start,
            end=self.end,
            min_item_baskets=self.min_item_baskets,
            max_basket_size=self.max_basket_size,
        )

    def basket_filters(self) -> dict:
        return {
            "start": dt.date.fromisoformat(self.start) if self.start else None,
            "end": dt.date.fromisoformat(self.end) if self.end else None,
            "min_item_baskets": self.min_item_baskets,
            "max_basket_size": self.max_basket_size,
        }


def scoped_baskets(
    tx: pl.DataFrame,
    params: BasketParams,
    members: Sequence[str] | None = None,
    build: Callable[..., Baskets] = baskets_from_transactions,
) -> Baskets:
    """The baskets ``params`` asks for: every basket, one country's, or ``members``' (segment).

    ``build`` makes them from ``tx`` (the Spark engine passes its own, with a Spark log).

    Raises
    ------
    ParameterError
        For scope "segment" without its members.
    """
    filters = params.basket_filters()
    if params.scope == "country":
        return build(tx, country=params.scope_value, **filters)
    if params.scope == "segment":
        if members is None:
            raise ParameterError("A segment's baskets need the segment's customers.")
        return build(tx, customers=list(members), **filters)
    return build(tx, **filters)
