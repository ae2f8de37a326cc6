"""Segment migration: who moved between segments from one date to another.

Two segmentations can be compared:

- ``"rfm"``: the named RFM segments (:mod:`analytics.rfm`) scored as of each date.
- ``"segment"``: the analyst's clustering. It is fitted on the customers as of the earlier date;
  as of the later date every customer is assigned to those *earlier* segments by a classifier
  trained on the earlier segmentation (:class:`analytics.explain.SegmentSurrogate`, LightGBM), so
  both dates speak of the same segments. The classifier's cross-validated accuracy on the earlier
  customers (``agreement``) says how well that assignment reproduces the earlier segments.

Every customer known at either date gets a row. A customer with no purchase before the earlier
date comes ``from`` :data:`NEW`; a customer who bought nothing between the dates keeps the segment
their history gives at the later date (recency grows, so they may still move).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl

from analytics.errors import ParameterError
from analytics.features import as_of_datetime, customer_features, default_as_of
from analytics.rfm import SEGMENT_ORDER, rfm_table

BY = ("rfm", "segment")
NEW = "New"


def last_quarter_end(as_of: dt.datetime) -> dt.datetime:
    """The as-of instant that closes the last full quarter before ``as_of``: midnight starting the
    quarter that contains the day before ``as_of`` (``2011-12-10`` -> ``2011-10-01``)."""
    day = (as_of - dt.timedelta(microseconds=1)).date()
    return dt.datetime(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def default_dates(transactions: pl.DataFrame) -> tuple[dt.datetime, dt.datetime]:
    """``(last quarter end, today)``: today is midnight after the last transaction."""
    to = default_as_of(transactions)
    return last_quarter_end(to), to


def rfm_segments(features: pl.DataFrame) -> pl.DataFrame:
    """``customer_id, segment`` with the RFM segment names."""
    return rfm_table(features).select("customer_id", segment="rfm_segment")


@dataclass(frozen=True)
class Migration:
    """Segments of every customer at two dates.

    Attributes
    ----------
    moves : ``customer_id, from_segment, to_segment, revenue`` (net spend between the dates)
    order : segment names in display order (``New`` first)
    agreement : for ``by="segment"``, cross-validated accuracy of the classifier that assigns
        customers to the earlier segments; None for RFM (scored by rule at both dates)
    """

    from_date: dt.datetime
    to_date: dt.datetime
    by: str
    moves: pl.DataFrame
    order: list[str]
    agreement: float | None = None

    def flows(self) -> pl.DataFrame:
        """``from_segment, to_segment, customers, revenue``, one row per non-empty cell."""
        return (
            self.moves.group_by("from_segment", "to_segment")
            .agg(customers=pl.len(), revenue=pl.col("revenue").sum())
            .with_columns(
                _f=pl.col("from_segment").replace_strict(
                    {n: i for i, n in enumerate(self.order)}, return_dtype=pl.Int64
                ),
                _t=pl.col("to_segment").replace_strict(
                    {n: i for i, n in enumerate(self.order)}, return_dtype=pl.Int64
                ),
            )
            .sort("_f", "_t")
            .drop("_f", "_t")
        )

    def matrix(self, value: str = "customers") -> pl.DataFrame:
        """Transition matrix: ``from_segment`` rows, one column per ``to_segment``, zeros filled.

        ``value`` is ``"customers"`` or ``"revenue"``.
        """
        if value not in ("customers", "revenue"):
            raise ParameterError(
                f"The 'value' parameter must be customers or revenue. Got {value!r} instead."
            )
        flows = self.flows()
        rows = [n for n in self.order if n in set(flows["from_segment"])]
        cols = [n for n in self.order if n in set(flows["to_segment"])]
        cells = {(f, t): v for f, t, v in flows.select("from_segment", "to_segment", value).rows()}
        zero = 0 if value == "customers" else 0.0
        return pl.DataFrame(
            {
                "from_segment": rows,
                **{t: [cells.get((f, t), zero) for f in rows] for t in cols},
            }
        )

    def movers(self) -> pl.DataFrame:
        """Customers whose segment changed (``New`` customers excluded), biggest spenders first."""
        return self.moves.filter(
            (pl.col("from_segment") != pl.col("to_segment")) & (pl.col("from_segment") != NEW)
        ).sort(["revenue", "customer_id"], descending=[True, False])

    def stayed_share(self) -> float:
        """Share of customers known at the earlier date who are in the same segment at the later."""
        known = self.moves.filter(pl.col("from_segment") != NEW)
        if known.height == 0:
            return float("nan")
        return float((known["from_segment"] == known["to_segment"]).mean())


def _check_dates(start: dt.datetime, end: dt.datetime) -> None:
    if start >= end:
        raise ParameterError(
            f"The 'from' date must be before the 'to' date. Got from {start:%Y-%m-%d} and to "
            f"{end:%Y-%m-%d} instead."
        )


def _spend_between(tx: pl.DataFrame, start: dt.datetime, end: dt.datetime) -> pl.DataFrame:
    return (
        tx.filter(
            pl.col("customer_id").is_not_null()
            & (pl.col("invoice_date") >= start)
            & (pl.col("invoice_date") < end)
        )
        .group_by("customer_id")
        .agg(revenue=pl.col("amount").sum())
    )


def segment_assigner(
    features: Sequence[str] | None = None,
    scaling: str = "log-standard",
    algorithm: str = "kmeans",
    n_clusters: int = 4,
    **segmenter_params,
):
    """Fit the analyst's clustering on the earlier features and train a classifier to reuse it.

    Returns a function ``fit(features_at_from) -> (segments_at_from, assign, agreement, names)``
    where ``assign(features_at_any_date)`` gives ``customer_id, segment`` in the earlier
    segments' names, ``agreement`` is the classifier's cross-validated accuracy and ``names``
    lists the segment names in segment order.
    """
    from analytics.explain import SegmentSurrogate
    from analytics.profiles import profile_segments
    from analytics.segmentation import Segmenter

    def fit(frame: pl.DataFrame):
        seg = Segmenter(
            features=features,
            scaling=scaling,
            algorithm=algorithm,
            n_clusters=n_clusters,
            **segmenter_params,
        ).fit(frame)
        names = profile_segments(frame, seg.labels_).names()
        surrogate = SegmentSurrogate().fit(frame, seg.labels_, seg.features_)

        def assign(later: pl.DataFrame) -> pl.DataFrame:
            X = later.select(surrogate.features_).to_pandas()
            labels = surrogate.model_.predict(X)
            return pl.DataFrame(
                {
                    "customer_id": later["customer_id"],
                    "segment": [names[int(label)] for label in labels],
                }
            )

        earlier = seg.assignments(names).select("customer_id", segment="segment_name")
        return earlier, assign, surrogate.accuracy_, [names[k] for k in sorted(names)]

    return fit


def migrate(
    transactions: pl.DataFrame,
    from_date: str | dt.date | dt.datetime | None = None,
    to_date: str | dt.date | dt.datetime | None = None,
    by: str = "rfm",
    *,
    segmentation: dict | None = None,
) -> Migration:
    """Segments of every customer at two dates, and what they spent in between.

    Parameters
    ----------
    transactions
        A cleaned log.
    from_date, to_date
        As-of instants (only earlier purchases count). Defaults: :func:`default_dates`.
    by : {"rfm", "segment"}
    segmentation
        For ``by="segment"``: keyword arguments of :func:`segment_assigner` (``features``,
        ``scaling``, ``algorithm``, ``n_clusters``, ...). Default: K-Means, k=4, every feature.

    Returns
    -------
    Migration

    Raises
    ------
    ParameterError
        ``by`` unknown, or ``from_date`` not before ``to_date``.
    InsufficientDataError
        Nobody bought before ``from_date``.
    """
    if by not in BY:
        raise ParameterError(f"The 'by' parameter must be rfm or segment. Got {by!r} instead.")
    default_from, default_to = default_dates(transactions)
    end = as_of_datetime(to_date, transactions) if to_date is not None else default_to
    start = as_of_datetime(from_date, transactions) if from_date is not None else default_from
    _check_dates(start, end)
    before = customer_features(transactions, start)
    after = customer_features(transactions, end)
    agreement = None
    if by == "rfm":
        earlier, later = rfm_segments(before), rfm_segments(after)
        order = [NEW, *SEGMENT_ORDER]
    else:
        earlier, assign, agreement, names = segment_assigner(**(segmentation or {}))(before)
        later = assign(after)
        order = [NEW, *names]
    moves = (
        later.rename({"segment": "to_segment"})
        .join(earlier.rename({"segment": "from_segment"}), on="customer_id", how="left")
        .with_columns(pl.col("from_segment").fill_null(NEW))
        .join(_spend_between(transactions, start, end), on="customer_id", how="left")
        .with_columns(pl.col("revenue").fill_null(0.0))
        .select("customer_id", "from_segment", "to_segment", "revenue")
        .sort("customer_id")
    )
    return Migration(start, end, by, moves, order, agreement)


def monthly_snapshots(transactions: pl.DataFrame, months: int = 12) -> list[dt.datetime]:
    """The first day of each of the last ``months`` months, and the default as-of date."""
    end = default_as_of(transactions)
    first = transactions.get_column("invoice_date").min()
    dates = []
    year, month = end.year, end.month
    for _ in range(months):
        start = dt.datetime(year, month, 1)
        if start <= first:
            break
        if start < end:
            dates.append(start)
        month -= 1
        if month == 0:
            year, month = year - 1, 12
    return sorted(dates) + [end]


def segment_sizes(
    transactions: pl.DataFrame,
    dates: Sequence[dt.datetime],
    by: str = "rfm",
    *,
    segmentation: dict | None = None,
) -> pl.DataFrame:
    """Customers per segment at each date: ``date, segment, customers, share``.

    For ``by="segment"`` the clustering is fitted at the last date and earlier snapshots are
    assigned to its segments by the same kind of classifier as :func:`migrate` uses.
    """
    if by not in BY:
        raise ParameterError(f"The 'by' parameter must be rfm or segment. Got {by!r} instead.")
    dates = sorted(dates)
    frames = {d: customer_features(transactions, d) for d in dates}
    if by == "rfm":
        labelled = {d: rfm_segments(f) for d, f in frames.items()}
    else:
        last, assign, _, _ = segment_assigner(**(segmentation or {}))(frames[dates[-1]])
        labelled = {d: (last if d == dates[-1] else assign(f)) for d, f in frames.items()}
    return pl.concat(
        [
            seg.group_by("segment")
            .agg(customers=pl.len())
            .with_columns(date=pl.lit(d.date()), share=pl.col("customers") / seg.height)
            .select("date", "segment", "customers", "share")
            for d, seg in labelled.items()
        ]
    ).sort("date", "segment")
