"""``python -m analytics``: the analytics from a shell, with the same functions the app uses."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from analytics.datasets import Dataset, open_dataset
from analytics.errors import ParameterError, SegmentaError
from analytics.features import customer_features
from analytics.profiles import profile_segments
from analytics.rfm import rfm_table
from analytics.schema import parse_column_mapping
from analytics.segmentation import ALGORITHMS, K_ALGORITHMS, SCALINGS, Segmenter, sweep_k


def _add_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        metavar="FILE",
        help="transaction log: CSV (.csv/.csv.gz), Excel (.xlsx) or Parquet; default: the bundled "
        "UCI Online Retail data",
    )
    parser.add_argument(
        "--columns",
        metavar="MAPPING",
        help="map your columns: canonical=source pairs, comma-separated, e.g. "
        "customer_id=Client,invoice_date=OrderedAt,amount=Total",
    )
    parser.add_argument(
        "--date-format",
        metavar="FMT",
        help="date format when it cannot be inferred, e.g. '%%d/%%m/%%Y %%H:%%M'",
    )


def _open(args: argparse.Namespace) -> Dataset:
    return open_dataset(
        args.input, parse_column_mapping(args.columns), date_format=args.date_format
    )


def _write(frame: pl.DataFrame, output: str) -> None:
    path = Path(output)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ParameterError(f"--output must end in .csv or .parquet. Got {output!r} instead.")
    path.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        frame.write_csv(path)
    else:
        frame.write_parquet(path)
    print(f"Wrote {frame.height:,} rows to {path}")


def cmd_clean(args: argparse.Namespace) -> None:
    dataset = _open(args)
    print(dataset.report)
    if not args.output.lower().endswith(".parquet"):
        raise ParameterError(f"clean --output must end in .parquet. Got {args.output!r} instead.")
    _write(dataset.transactions, args.output)


def cmd_features(args: argparse.Namespace) -> None:
    dataset = _open(args)
    features = customer_features(dataset.transactions, args.as_of)
    features = features.join(
        rfm_table(features).drop("recency_days", "frequency", "monetary"), on="customer_id"
    )
    if args.customers:
        from analytics.customer_table import join_attributes, load_customer_table

        table = load_customer_table(args.customers, args.id_column)
        features = join_attributes(features, table)
        matched = features.height - features.get_column(table.frame.columns[1]).null_count()
        print(
            f"Joined {table.frame.width - 1} columns of {args.customers}: {matched:,} of {features.height:,} customers matched"
        )
    _write(features, args.output)


def _parse_k(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--k must be a whole number or 'auto'. Got {text!r} instead."
        ) from None


def _segment_customer_table(args: argparse.Namespace) -> None:
    from analytics.customer_table import load_customer_table, segment_table

    if not args.input:
        raise ParameterError(
            "--format customers needs --input FILE (a one-row-per-customer table)."
        )
    if args.k == "auto":
        raise ParameterError(
            "--format customers takes a whole number for --k (no 'auto' sweep yet)."
        )
    table = load_customer_table(args.input, args.id_column)
    scaling = "standard" if args.scaling == "log-standard" else args.scaling
    result = segment_table(table, args.k, scaling=scaling, algorithm=args.algorithm)
    print(
        f"Segmented {table.frame.height:,} customers on {', '.join(table.matrix_columns)} "
        f"({args.algorithm}, {scaling} scaling)"
    )
    for row in result.profile.iter_rows(named=True):
        print(
            f"  [{row['segment']:>2}] {row['name']:<60} {row['customers']:>7,}  {row['share']:6.1%}"
        )
    _write(result.assignments, args.output)


def cmd_segment(args: argparse.Namespace) -> None:
    if getattr(args, "format", "transactions") == "customers":
        _segment_customer_table(args)
        return
    dataset = _open(args)
    features = customer_features(dataset.transactions, args.as_of)
    names = args.features.split(",") if args.features else None
    k = args.k
    if k == "auto":
        sweep = sweep_k(
            features,
            feature_names=names,
            scaling=args.scaling,
            algorithm=args.algorithm if args.algorithm in K_ALGORITHMS else "kmeans",
        )
        print(sweep.table)
        print(f"Recommended k = {sweep.recommended_k}: {sweep.reason}")
        k = sweep.recommended_k
    seg = Segmenter(
        features=names,
        scaling=args.scaling,
        algorithm=args.algorithm,
        n_clusters=k,
        eps=args.eps,
        min_samples=args.min_samples,
    ).fit(features)
    profile = profile_segments(features, seg.labels_, seg.features_)
    m = seg.metrics_
    print(
        f"Segmented {len(seg.labels_):,} customers on {', '.join(seg.features_)} ({args.algorithm}, {args.scaling} scaling)"
    )
    print(f"  segments: {m.n_segments}   outliers: {m.outlier_share:.1%}")
    if m.silhouette is not None:
        print(
            f"  silhouette: {m.silhouette:.3f} (on a random sample of {m.silhouette_sample_size:,})"
            f"   Davies-Bouldin: {m.davies_bouldin:.3f}   Calinski-Harabasz: {m.calinski_harabasz:,.0f}"
            f"   inertia: {m.inertia:,.0f}"
        )
    for p in profile.personas:
        print(
            f"  [{p.segment:>2}] {p.name:<45} {p.customers:>8,} customers  {p.share:6.1%}  revenue {p.revenue_share:6.1%}  -> {p.action}"
        )
    _write(seg.assignments(profile.names()), args.output)


def _print_backtest(result) -> None:
    bt = result.backtest
    if bt is None:
        print(result.backtest_note or "No backtest.")
        return
    print(
        f"Backtest: trained before {bt.holdout_cutoff:%Y-%m-%d}, scored the next {bt.horizon_days} days "
        f"({bt.customers:,} customers, {bt.churn_rate:.1%} churned)"
    )
    print(
        f"  {'churn':<24} {'ROC-AUC':>8} {'PR-AUC':>8} {'Brier':>8} {'precision':>10} {'recall':>8}   (threshold {bt.threshold})"
    )
    for name, m in bt.churn.items():
        print(
            f"  {name:<24} {m['roc_auc']:8.3f} {m['pr_auc']:8.3f} {m['brier']:8.3f} {m['precision']:10.3f} {m['recall']:8.3f}"
        )
    print(
        f"  {'CLV':<24} {'MAE':>9} {'RMSE':>9} {'Spearman':>9} {'top10%':>8} {'top20%':>8}  (share of holdout revenue captured)"
    )
    for name, m in bt.clv.items():
        print(
            f"  {name:<24} {m['mae']:9,.1f} {m['rmse']:9,.1f} {m['spearman']:9.3f} "
            f"{m['top10_capture']:8.1%} {m['top20_capture']:8.1%}"
        )
    wins = bt.beats_baselines()
    print("  beats baselines: " + ", ".join(f"{k} {'yes' if v else 'NO'}" for k, v in wins.items()))


def cmd_predict(args: argparse.Namespace) -> None:
    from analytics.predict import predict, quadrant_summary

    if args.format == "customers":
        from analytics.customer_table import needs_transactions

        raise needs_transactions("Churn and CLV")

    dataset = _open(args)
    result = predict(
        dataset.transactions,
        args.cutoff,
        args.horizon_days,
        threshold=args.threshold,
        evaluate=args.evaluate,
    )
    print(f"Predictions as of {result.cutoff:%Y-%m-%d} for the next {result.horizon_days} days")
    print(f"Method: {result.method}")
    if args.evaluate:
        _print_backtest(result)
    for row in quadrant_summary(result.table).iter_rows(named=True):
        print(
            f"  {row['quadrant']:<28} {row['customers']:>7,} customers  predicted CLV {row['predicted_clv']:>14,.0f}"
        )
    from analytics.alive import alive_table, band_thresholds

    alive = alive_table(dataset.transactions, result.cutoff).table
    print(band_thresholds())
    _write(
        result.table.select("customer_id", "churn_probability", "predicted_clv", "quadrant").join(
            alive.select("customer_id", "p_alive", "expected_next_order", "churn_band"),
            on="customer_id",
            how="left",
            maintain_order="left",
        ),
        args.output,
    )


def _date_arg(text: str | None, flag: str):
    import datetime as dt

    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ParameterError(
            f"{flag} must be a date written YYYY-MM-DD. Got {text!r} instead."
        ) from None


def cmd_rules(args: argparse.Namespace) -> None:
    from analytics.baskets import (
        baskets_from_lists,
        baskets_from_transactions,
        mine_rules,
        rules_csv_frame,
    )
    from analytics.datasets import data_dir
    from analytics.io import load_baskets

    if args.format == "baskets":
        source = args.input or data_dir() / "groceries.csv.gz"
        baskets = baskets_from_lists(
            load_baskets(source),
            min_item_baskets=args.min_item_baskets,
            max_basket_size=args.max_basket_size,
        )
    else:
        baskets = baskets_from_transactions(
            _open(args).transactions,
            start=_date_arg(args.start, "--start"),
            end=_date_arg(args.end, "--end"),
            country=args.country,
            min_item_baskets=args.min_item_baskets,
            max_basket_size=args.max_basket_size,
        )
    rules = mine_rules(
        baskets,
        args.min_support,
        args.min_confidence,
        args.min_lift,
        algorithm=args.algorithm,
        max_len=args.max_len,
        single_consequent=args.single_consequent,
    )
    print(f"{baskets.n_baskets:,} baskets, {len(baskets.items):,} items", end="")
    if baskets.excluded_rows:
        print(f"; {baskets.excluded_rows:,} postage/fee lines left out", end="")
    if baskets.capped_baskets:
        print(
            f"; {baskets.capped_baskets:,} baskets over {args.max_basket_size} items dropped",
            end="",
        )
    print(
        f"\n{rules.itemsets.height:,} frequent itemsets, {rules.rules.height:,} rules ({rules.algorithm})"
    )
    _write(rules_csv_frame(rules), args.output)


# -- lifecycle: cohorts, migration, anomalies -------------------------------------------------
def cmd_cohorts(args: argparse.Namespace) -> None:
    from analytics.cohorts import cohort_retention

    cells = cohort_retention(_open(args).transactions, args.period)
    first = cells.filter(pl.col("period_index") == 1)
    print(
        f"{cells['cohort'].n_unique():,} {args.period}ly cohorts, "
        f"{cells.filter(pl.col('period_index') == 0)['customers'].sum():,} customers"
    )
    if first.height:
        mean = first["customers"].sum() / first["cohort_size"].sum()
        print(f"  bought again in the {args.period} after their first: {mean:.1%} (all cohorts)")
    _write(cells.select("cohort", "period_index", "customers", "retention", "revenue"), args.output)


def _print_matrix(matrix: pl.DataFrame) -> None:
    names = matrix.columns[1:]
    width = max(len(n) for n in [*matrix["from_segment"], "from \\ to"]) + 2
    cell = max(8, *(min(len(n), 14) + 1 for n in names))
    print("from \\ to".ljust(width) + "".join(n[: cell - 1].rjust(cell) for n in names))
    for row in matrix.iter_rows():
        print(str(row[0]).ljust(width) + "".join(f"{v:>{cell},}" for v in row[1:]))


def cmd_migration(args: argparse.Namespace) -> None:
    from analytics.migration import migrate

    segmentation = None
    if args.by == "segment":
        segmentation = {
            "features": args.features.split(",") if args.features else None,
            "scaling": args.scaling,
            "algorithm": args.algorithm,
            "n_clusters": args.k,
        }
    m = migrate(
        _open(args).transactions,
        _date_arg(args.from_date, "--from"),
        _date_arg(args.to_date, "--to"),
        args.by,
        segmentation=segmentation,
    )
    print(
        f"Segments ({'RFM' if m.by == 'rfm' else 'clusters'}) as of {m.from_date:%Y-%m-%d} -> "
        f"{m.to_date:%Y-%m-%d}: {m.moves.height:,} customers, "
        f"{m.stayed_share():.1%} of those known at the start stayed in their segment"
    )
    if m.agreement is not None:
        print(
            f"  later customers are assigned to the earlier segments by a classifier that "
            f"reproduces them with {m.agreement:.1%} cross-validated accuracy"
        )
    _print_matrix(m.matrix())
    _write(m.moves.select("customer_id", "from_segment", "to_segment"), args.output)


def cmd_anomalies(args: argparse.Namespace) -> None:
    from analytics.anomalies import find_anomalies

    found = find_anomalies(_open(args).transactions, args.as_of)
    for kind, n in found.group_by("kind", maintain_order=True).len().iter_rows():
        print(f"  {kind:<12} {n:>6,} customers")
    _write(found, args.output)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analytics", description="Segmenta analytics from the command line."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    clean = sub.add_parser("clean", help="load and clean a log, print the cleaning report")
    _add_input(clean)
    clean.add_argument(
        "--output", required=True, metavar="FILE.parquet", help="cleaned log (Parquet)"
    )
    clean.set_defaults(run=cmd_clean)

    features = sub.add_parser("features", help="customer features and RFM scores as of a date")
    _add_input(features)
    features.add_argument(
        "--as-of", metavar="DATE", help="YYYY-MM-DD; default: the day after the last transaction"
    )
    features.add_argument(
        "--customers",
        metavar="FILE",
        help="a one-row-per-customer table whose columns are joined to the features by id",
    )
    features.add_argument(
        "--id-column", metavar="NAME", help="--customers: its id column (default: recognised)"
    )
    features.add_argument("--output", required=True, metavar="FILE", help=".csv or .parquet")
    features.set_defaults(run=cmd_features)

    segment = sub.add_parser("segment", help="cluster customers and name the segments")
    _add_input(segment)
    segment.add_argument(
        "--features", metavar="F1,F2,...", help="features to cluster on (default: all)"
    )
    segment.add_argument("--algorithm", default="kmeans", choices=ALGORITHMS)
    segment.add_argument("--scaling", default="log-standard", choices=SCALINGS)
    segment.add_argument(
        "--k",
        default="4",
        type=_parse_k,
        metavar="N|auto",
        help="number of segments, or 'auto' to sweep k=2..10 (default 4)",
    )
    segment.add_argument(
        "--eps", default=1.0, type=float, help="DBSCAN radius in scaled units (default 1.0)"
    )
    segment.add_argument(
        "--min-samples", default=10, type=int, help="DBSCAN core size (default 10)"
    )
    segment.add_argument(
        "--as-of", metavar="DATE", help="YYYY-MM-DD; default: the day after the last transaction"
    )
    segment.add_argument(
        "--output", required=True, metavar="FILE", help="segments .csv or .parquet"
    )
    segment.add_argument(
        "--format",
        choices=("transactions", "customers"),
        default="transactions",
        help="'customers': --input is one row per customer (id + any numeric/categorical columns)",
    )
    segment.add_argument(
        "--id-column",
        metavar="NAME",
        help="--format customers: the id column (default: recognised)",
    )
    segment.set_defaults(run=cmd_segment)

    pred = sub.add_parser("predict", help="churn probability and CLV per customer, with a backtest")
    _add_input(pred)
    pred.add_argument(
        "--cutoff",
        metavar="DATE",
        help="YYYY-MM-DD: use only transactions before it; default: end of data",
    )
    pred.add_argument(
        "--horizon-days",
        type=int,
        default=90,
        metavar="H",
        help="churn = no purchase within H days; CLV = net spend within them (default 90)",
    )
    pred.add_argument(
        "--threshold",
        type=float,
        default=0.5,
        help="churn probability counted as at risk (default 0.5)",
    )
    pred.add_argument(
        "--evaluate", action="store_true", help="print backtest metrics next to the baselines"
    )
    pred.add_argument(
        "--output", required=True, metavar="FILE", help="predictions .csv or .parquet"
    )
    pred.add_argument(
        "--format",
        choices=("transactions", "customers"),
        default="transactions",
        help="churn and CLV need a transaction log; 'customers' only explains why",
    )
    pred.set_defaults(run=cmd_predict)

    rules = sub.add_parser("rules", help="association rules from baskets (FP-Growth or Apriori)")
    _add_input(rules)
    rules.add_argument(
        "--format",
        choices=("transactions", "baskets"),
        default="transactions",
        help="'baskets': one basket per line, items comma-separated (default input then: Groceries)",
    )
    rules.add_argument("--min-support", type=float, default=0.01, metavar="S", help="default 0.01")
    rules.add_argument("--min-confidence", type=float, default=0.3, metavar="C", help="default 0.3")
    rules.add_argument("--min-lift", type=float, default=1.0, metavar="L", help="default 1.0")
    rules.add_argument("--algorithm", choices=("fpgrowth", "apriori"), default="fpgrowth")
    rules.add_argument(
        "--max-len", type=int, metavar="N", help="largest itemset size (default: no limit)"
    )
    rules.add_argument(
        "--max-basket-size", type=int, metavar="N", help="drop baskets with more items (reported)"
    )
    rules.add_argument(
        "--single-consequent", action="store_true", help="one-item consequents only, as R's arules"
    )
    rules.add_argument(
        "--min-item-baskets",
        type=int,
        default=1,
        metavar="N",
        help="drop items in fewer baskets (default 1)",
    )
    rules.add_argument(
        "--start", metavar="DATE", help="first invoice date, YYYY-MM-DD (transactions only)"
    )
    rules.add_argument(
        "--end", metavar="DATE", help="last invoice date, YYYY-MM-DD (transactions only)"
    )
    rules.add_argument(
        "--country", metavar="NAME", help="only invoices from this country (transactions only)"
    )
    rules.add_argument("--output", required=True, metavar="FILE", help="rules .csv or .parquet")
    rules.set_defaults(run=cmd_rules)

    cohorts = sub.add_parser("cohorts", help="cohort retention: share still buying per period")
    _add_input(cohorts)
    cohorts.add_argument("--period", choices=("month", "quarter"), default="month")
    cohorts.add_argument("--output", required=True, metavar="FILE", help=".csv or .parquet")
    cohorts.set_defaults(run=cmd_cohorts)

    migration = sub.add_parser(
        "migration", help="who moved between segments from one date to another"
    )
    _add_input(migration)
    migration.add_argument(
        "--from",
        dest="from_date",
        metavar="DATE",
        help="YYYY-MM-DD: segments as of this date (default: the last quarter end)",
    )
    migration.add_argument(
        "--to",
        dest="to_date",
        metavar="DATE",
        help="YYYY-MM-DD: segments as of this date (default: the day after the last transaction)",
    )
    migration.add_argument(
        "--by",
        choices=("rfm", "segment"),
        default="rfm",
        help="RFM segments, or a clustering fitted at --from (default rfm)",
    )
    migration.add_argument(
        "--features", metavar="F1,F2,...", help="--by segment: features to cluster on"
    )
    migration.add_argument("--algorithm", default="kmeans", choices=K_ALGORITHMS)
    migration.add_argument("--scaling", default="log-standard", choices=SCALINGS)
    migration.add_argument("--k", type=int, default=4, help="--by segment: segments (default 4)")
    migration.add_argument("--output", required=True, metavar="FILE", help=".csv or .parquet")
    migration.set_defaults(run=cmd_migration)

    anomalies = sub.add_parser("anomalies", help="customers unlike themselves or unlike the rest")
    _add_input(anomalies)
    anomalies.add_argument(
        "--as-of", metavar="DATE", help="YYYY-MM-DD; default: the day after the last transaction"
    )
    anomalies.add_argument("--output", required=True, metavar="FILE", help=".csv or .parquet")
    anomalies.set_defaults(run=cmd_anomalies)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except SegmentaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
