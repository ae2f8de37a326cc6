"""The executive report: every number and sentence of one period's report, as one data object.

:func:`build_report` assembles a :class:`Report` from results the app already computes (the
Overview's :class:`~analytics.kpis.Overview`, the Segments page's :class:`SegmentReport`, the
Churn & CLV page's :class:`~analytics.predict.Predictions`, the Lifecycle page's cohorts and
migration, the Baskets page's rules), so the report can never disagree with the pages.
:func:`compute_report` computes those results from a log with the same functions and defaults
(the CLI's path; the app goes through its cache). Rendering to HTML or PDF lives outside
``analytics/`` (``dashboard/report_render.py``): this module imports neither dash nor plotly.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from analytics.basket_analysis import BasketParams
from analytics.errors import DataError, InsufficientDataError, ParameterError
from analytics.kpis import Kpi, Overview, period_bounds
from analytics.periods import default_period
from analytics.segment_report import SegmentParams, SegmentReport
from analytics.words import count_of

if TYPE_CHECKING:
    from analytics.baskets import Rules
    from analytics.migration import Migration
    from analytics.predict import Predictions

#: Rows of the "customers most at risk" table (the Churn & CLV page shows the same order).
AT_RISK_ROWS = 10
#: Rules in the "strongest basket rules" table (the first rows of the Baskets page's rules).
TOP_RULES = 10
#: The horizon of the churn and CLV predictions (the Churn & CLV page's default).
HORIZON_DAYS = 90

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class CohortHighlights:
    """Monthly cohorts whose first month lies in the period, and their early retention.

    ``table``: ``cohort, cohort_size, month_1, month_3`` (retention; null where the data end
    before that month).
    """

    table: pl.DataFrame
    new_customers: int
    mean_month_1: float | None  # customer-weighted, over the period's cohorts with a month 1
    all_month_1: float | None  # the same over every cohort of the data, for comparison


@dataclass(frozen=True)
class MigrationHighlights:
    """RFM segments at the start of the period against the day after its end."""

    from_date: dt.datetime
    to_date: dt.datetime
    flows: pl.DataFrame  # from_segment, to_segment, customers, revenue
    order: list[str]  # segment names in display order
    stayed_share: float
    movers: int  # customers known at the start whose segment changed
    new_customers: int  # customers with no purchase before the start


@dataclass(frozen=True)
class RiskHighlights:
    """Churn and CLV as the Churn & CLV page shows them (as of the end of the data)."""

    cutoff: dt.datetime
    horizon_days: int
    threshold: float
    customers_scored: int
    expected_to_churn: int
    revenue_at_risk: float
    predicted_clv: float
    at_risk: (
        pl.DataFrame
    )  # customer_id, churn_probability, predicted_clv, revenue_at_risk, quadrant
    quadrants: pl.DataFrame  # analytics.predict.quadrant_summary


@dataclass(frozen=True)
class Report:
    """One period's executive report: the numbers, and the sentences made from them."""

    dataset: str
    start: dt.date
    end: dt.date
    generated: dt.datetime
    currency: str
    overview: Overview
    segmentation: SegmentReport
    risk: RiskHighlights | None  # None when the data cannot be scored (risk_note says why)
    risk_note: str
    cohorts: CohortHighlights
    migration: MigrationHighlights | None
    migration_note: str
    rules: pl.DataFrame | None  # the strongest: antecedents, consequents, support, confidence, lift
    rules_baskets: int
    rules_params: BasketParams
    rules_note: str
    highlights: list[str]

    def kpi(self, key: str) -> Kpi:
        return next(k for k in self.overview.kpis if k.key == key)


# -- sentences -----------------------------------------------------------------------------------
def money(value: float, currency: str) -> str:
    """``£1,234`` (whole units); the renderer's tables use the app's own formatting."""
    sign = "-" if value < 0 and round(value) else ""
    return f"{sign}{currency}{abs(value):,.0f}"


def kpi_sentence(kpi: Kpi, currency: str) -> str:
    """``Revenue: £1,234, up 5.0% on the previous period.`` (the words follow the numbers)."""
    value = (
        money(kpi.value, currency)
        if kpi.kind == "currency"
        else f"{kpi.value:.1%}"
        if kpi.kind == "percent"
        else f"{kpi.value:,.0f}"
    )
    head = f"{kpi.label}: {value}"
    change = kpi.change
    if change is None:
        return f"{head}; there is no earlier period to compare with."
    against = (
        "the previous period"
        if kpi.window_days is None
        else f"the {kpi.window_days:,} days before the period's last {kpi.window_days:,}"
    )
    if kpi.kind == "percent":
        points = (kpi.compared - kpi.previous) * 100
        if round(points, 1) == 0:
            return f"{head}, level with {against}."
        return f"{head}, {'up' if points > 0 else 'down'} {abs(points):.1f} points on {against}."
    if round(change * 100, 1) == 0:
        return f"{head}, level with {against}."
    return f"{head}, {'up' if change > 0 else 'down'} {abs(change):.1%} on {against}."


def risk_sentence(
    expected: int, scored: int, at_risk: float, threshold: float, horizon: int, currency: str
) -> str:
    if expected == 0:
        return (
            f"No customer is at or above {threshold:.0%} churn risk over the next {horizon} days."
        )
    return (
        f"{expected:,} of {scored:,} customers ({expected / scored:.1%}) are at or above "
        f"{threshold:.0%} churn risk; at their past rate they would spend "
        f"{money(at_risk, currency)} over the next {horizon} days."
    )


def migration_sentence(m: MigrationHighlights) -> str:
    return (
        f"{m.stayed_share:.1%} of the customers known on {m.from_date:%d %b %Y} kept their RFM "
        f"segment to {m.to_date:%d %b %Y}; {m.movers:,} moved and {m.new_customers:,} were new."
    )


def cohort_sentence(c: CohortHighlights) -> str:
    if c.table.height == 0:
        return "No monthly cohort started in the period."
    months = count_of(c.table.height, "monthly cohort")
    text = f"{c.new_customers:,} customers made their first purchase in the period ({months})"
    if c.mean_month_1 is None:
        return text + "; the data end before their second month."
    comparison = ""
    if c.all_month_1 is not None:
        comparison = f" (all cohorts: {c.all_month_1:.1%})"
    return text + f"; {c.mean_month_1:.1%} bought again in their second month{comparison}."


def rule_sentence(rules: pl.DataFrame) -> str:
    if rules.height == 0:
        return "No basket rule reached the Baskets page's default thresholds in the period."
    top = rules.row(0, named=True)
    return (
        f"Strongest basket rule: customers who buy {top['antecedents'].replace('|', ' + ')} "
        f"also buy {top['consequents'].replace('|', ' + ')} in {top['confidence']:.0%} of "
        f"baskets ({top['lift']:.1f}× the usual rate)."
    )


# -- pieces --------------------------------------------------------------------------------------
def most_at_risk(table: pl.DataFrame, threshold: float, n: int | None = AT_RISK_ROWS):
    """Customers at or above ``threshold``, most revenue at risk first (the Churn page's list)."""
    top = table.filter(pl.col("churn_probability") >= threshold).sort(
        "revenue_at_risk", "value_at_risk", descending=True
    )
    return top if n is None else top.head(n)


def cohort_highlights(cohorts: pl.DataFrame, start: dt.date, end: dt.date) -> CohortHighlights:
    """The monthly cohorts (``cohort_retention(..., "month")``) that started in ``start..end``."""
    first, last = f"{start:%Y-%m}", f"{end:%Y-%m}"

    def at(index: int) -> pl.DataFrame:
        return cohorts.filter(pl.col("period_index") == index).select(
            "cohort",
            pl.col("retention").alias(f"month_{index}"),
            pl.col("customers").alias(f"_c{index}"),
        )

    sizes = cohorts.filter(pl.col("period_index") == 0).select("cohort", "cohort_size")
    table = (
        sizes.join(at(1), on="cohort", how="left")
        .join(at(3), on="cohort", how="left")
        .sort("cohort")
    )
    in_period = table.filter(pl.col("cohort").is_between(pl.lit(first), pl.lit(last)))

    def weighted(frame: pl.DataFrame) -> float | None:
        known = frame.filter(pl.col("_c1").is_not_null())
        size = known["cohort_size"].sum()
        return float(known["_c1"].sum() / size) if size else None

    return CohortHighlights(
        table=in_period.select("cohort", "cohort_size", "month_1", "month_3"),
        new_customers=int(in_period["cohort_size"].sum()),
        mean_month_1=weighted(in_period),
        all_month_1=weighted(table),
    )


def migration_highlights(migration: Migration) -> MigrationHighlights:
    from analytics.migration import NEW

    moves = migration.moves
    return MigrationHighlights(
        from_date=migration.from_date,
        to_date=migration.to_date,
        flows=migration.flows(),
        order=list(migration.order),
        stayed_share=migration.stayed_share(),
        movers=migration.movers().height,
        new_customers=moves.filter(pl.col("from_segment") == NEW).height,
    )


def migration_dates(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """As-of days of the period's migration: its first day, and the day after its last."""
    return start, end + dt.timedelta(days=1)


def report_rule_params(start: dt.date, end: dt.date) -> BasketParams:
    """The Baskets page's default thresholds, on the period's baskets."""
    return BasketParams(start=start.isoformat(), end=end.isoformat())


def check_period(
    first: dt.date, last: dt.date, start: dt.date | None, end: dt.date | None
) -> tuple[dt.date, dt.date]:
    """The report's period: ``start..end``, or the Overview's default (the last 12 months).

    Raises
    ------
    ParameterError
        Only one of the two dates given, the end before the start, or a period with no data.
    """
    if (start is None) != (end is None):
        raise ParameterError(
            "Give both --start and --end, or neither for the last 12 months of data.",
            parameter="start" if start is None else "end",
        )
    if start is None:
        return default_period(first, last)
    period_bounds(start, end)  # the end before the start
    if end < first or start > last:
        raise ParameterError(
            f"{start:%d %b %Y} – {end:%d %b %Y} has no data: this log runs from "
            f"{first:%d %b %Y} to {last:%d %b %Y}. Pick dates inside it.",
            parameter="start",
        )
    return start, end


def risk_highlights(predictions: Predictions) -> RiskHighlights:
    """The Churn & CLV page's headline numbers and its at-risk list, from its predictions."""
    from analytics.predict import quadrant_summary, revenue_at_risk

    table, threshold = predictions.table, predictions.threshold
    return RiskHighlights(
        cutoff=predictions.cutoff,
        horizon_days=predictions.horizon_days,
        threshold=threshold,
        customers_scored=table.height,
        expected_to_churn=table.filter(pl.col("churn_probability") >= threshold).height,
        revenue_at_risk=revenue_at_risk(table, threshold),
        predicted_clv=float(table["predicted_clv"].sum()),
        at_risk=most_at_risk(table, threshold).select(
            "customer_id", "churn_probability", "predicted_clv", "revenue_at_risk", "quadrant"
        ),
        quadrants=quadrant_summary(table),
    )


def optional(compute: Callable[[], object], what: str) -> tuple[object | None, str]:
    """``compute()``, or None and why when the data cannot give it (too few customers, a short
    history, no products): the rest of the report is still worth reading."""
    try:
        return compute(), ""
    except (InsufficientDataError, DataError) as error:
        return None, f"No {what}: {error}"


# -- assembly ------------------------------------------------------------------------------------
def build_report(
    *,
    dataset: str,
    start: dt.date,
    end: dt.date,
    currency: str,
    overview: Overview,
    segmentation: SegmentReport,
    predictions: Predictions | None,
    predictions_note: str = "",
    cohorts: pl.DataFrame,
    migration: Migration | None,
    migration_note: str = "",
    rules: Rules | None,
    rules_note: str = "",
    rules_params: BasketParams,
    generated: dt.datetime | None = None,
) -> Report:
    """Assemble the report from results computed elsewhere (the app's cache or the CLI).

    ``predictions``, ``migration`` or ``rules`` is None when the data cannot give it (a short or
    small log, a log without products); its ``*_note`` then says why and the report says so.
    """
    risk = risk_highlights(predictions) if predictions is not None else None
    cohort = cohort_highlights(cohorts, start, end)
    moved = migration_highlights(migration) if migration is not None else None
    strongest = None
    if rules is not None:
        strongest = rules.rules.head(TOP_RULES).select(
            "antecedents", "consequents", "support", "confidence", "lift"
        )
    highlights = [
        kpi_sentence(k, currency)
        for k in overview.kpis
        if k.key in ("revenue", "active_customers", "repeat_rate")
    ]
    if risk is not None:
        highlights.append(
            risk_sentence(
                risk.expected_to_churn,
                risk.customers_scored,
                risk.revenue_at_risk,
                risk.threshold,
                risk.horizon_days,
                currency,
            )
        )
    if moved is not None and not math.isnan(moved.stayed_share):
        highlights.append(migration_sentence(moved))
    highlights.append(cohort_sentence(cohort))
    if strongest is not None:
        highlights.append(rule_sentence(strongest))
    return Report(
        dataset=dataset,
        start=start,
        end=end,
        generated=generated or dt.datetime.now().replace(microsecond=0),
        currency=currency,
        overview=overview,
        segmentation=segmentation,
        risk=risk,
        risk_note=predictions_note,
        cohorts=cohort,
        migration=moved,
        migration_note=migration_note,
        rules=strongest,
        rules_baskets=rules.n_baskets if rules is not None else 0,
        rules_params=rules_params,
        rules_note=rules_note,
        highlights=highlights,
    )


@dataclass(frozen=True)
class ReportSources:
    """Where a report's parts come from: the CLI computes them, the app reads its caches."""

    overview: Callable[[dt.date, dt.date], object]
    segmentation: Callable[[], object]
    predictions: Callable[[], object]
    cohorts: Callable[[], pl.DataFrame]
    migration: Callable[[dt.date, dt.date], Migration]
    rules: Callable[[BasketParams], pl.DataFrame]


def compose_report(
    sources: ReportSources,
    first: dt.date,
    last: dt.date,
    start: dt.date | None,
    end: dt.date | None,
    *,
    dataset: str,
    currency: str,
    progress: Progress | None = None,
) -> Report:
    """The report of ``start..end`` (checked against the data's ``first..last``) from ``sources``.

    The one composition of a report, so the CLI's and the app's reports cannot drift apart: the
    Overview for the period, the default segmentation, churn and CLV over :data:`HORIZON_DAYS`,
    monthly cohorts, RFM migration over the period and the Baskets page's default rules on it.
    """
    step = progress or (lambda done, total, text: None)
    start, end = check_period(first, last, start, end)
    step(0, 5, "KPIs and trend")
    overview = sources.overview(start, end)
    step(1, 5, "Segments")
    segmentation = sources.segmentation()
    step(2, 5, "Churn and CLV (the first time: training the models)")
    predictions, predictions_note = optional(sources.predictions, "churn and CLV predictions")
    step(3, 5, "Cohorts and migration")
    cohorts = sources.cohorts()
    migration, note = period_migration(sources.migration, start, end)
    step(4, 5, "Basket rules")
    params = report_rule_params(start, end)
    rules, rules_note = optional(lambda: sources.rules(params), "basket rules")
    step(5, 5, "Writing the report")
    return build_report(
        dataset=dataset,
        start=start,
        end=end,
        currency=currency,
        overview=overview,
        segmentation=segmentation,
        predictions=predictions,
        predictions_note=predictions_note,
        cohorts=cohorts,
        migration=migration,
        migration_note=note,
        rules=rules,
        rules_note=rules_note,
        rules_params=params,
    )


def compute_report(
    tx: pl.DataFrame,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    dataset: str = "",
    currency: str = "£",
    progress: Progress | None = None,
) -> Report:
    """The report of ``start..end`` computed straight from a cleaned log (the CLI's path)."""
    from analytics.basket_analysis import scoped_baskets
    from analytics.baskets import mine_rules
    from analytics.cohorts import cohort_retention
    from analytics.features import customer_features
    from analytics.kpis import invoice_table, period_overview, rfm_at_end
    from analytics.migration import migrate
    from analytics.predict import predict
    from analytics.segment_report import segment_report

    dates = tx.get_column("invoice_date")
    sources = ReportSources(
        overview=lambda a, b: period_overview(invoice_table(tx), a, b, rfm_at_end(tx, b)),
        segmentation=lambda: segment_report(customer_features(tx), SegmentParams()),
        predictions=lambda: predict(tx, horizon_days=HORIZON_DAYS),
        cohorts=lambda: cohort_retention(tx, "month"),
        migration=lambda a, b: migrate(tx, a, b, "rfm"),
        rules=lambda params: mine_rules(
            scoped_baskets(tx, params, None),
            params.min_support,
            params.min_confidence,
            params.min_lift,
            algorithm=params.algorithm,
        ),
    )
    first, last = dates.min().date(), dates.max().date()
    return compose_report(
        sources, first, last, start, end, dataset=dataset, currency=currency, progress=progress
    )


def period_migration(
    migrate: Callable[[dt.date, dt.date], Migration], start: dt.date, end: dt.date
) -> tuple[Migration | None, str]:
    """The period's RFM migration, or None and why (nobody bought before the period)."""
    a, b = migration_dates(start, end)
    try:
        return migrate(a, b), ""
    except InsufficientDataError as error:
        return None, f"No segment migration: {error}"
