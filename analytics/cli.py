"""``python -m analytics``: the analytics from a shell, with the same functions the app uses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from analytics.datasets import Dataset, open_dataset
from analytics.errors import ParameterError, SegmentaError, set_audience
from analytics.export import write_csv
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


def check_output(args: argparse.Namespace) -> None:
    """Refuse an ``--output`` we cannot or must not write, before any work is done.

    It must end in .csv or .parquet, must not be the ``--input`` file (that would destroy the
    data being read), and its folder must exist or be creatable and be writable.
    """
    output = getattr(args, "output", None)
    if output is None:
        return
    path = Path(output)
    if path.suffix.lower() not in (".csv", ".parquet"):
        raise ParameterError(f"--output must end in .csv or .parquet. Got {output!r} instead.")
    source = getattr(args, "input", None)
    if source and Path(source).exists() and path.exists() and path.samefile(source):
        raise ParameterError(
            f"--output {output} is the --input file: writing it would destroy your data. "
            "Choose another --output file name."
        )
    if path.is_dir():
        raise ParameterError(f"--output {output} is a folder; give a file name inside it.")
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise ParameterError(
            f"Cannot write --output {output}: the folder {folder} is not writable. "
            "Choose an --output in a folder you can write to."
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ParameterError(
            f"Cannot write --output {output}: the file is read-only. Choose another --output."
        )


def _write(frame: pl.DataFrame, output: str) -> None:
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix.lower() == ".csv":
            write_csv(frame, path)
        else:
            frame.write_parquet(path)
    except OSError as error:
        raise ParameterError(
            f"Cannot write --output {output}: {error.strerror or error}. "
            "Choose an --output in a folder you can write to."
        ) from error
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


def cmd_segment(args: argparse.Namespace) -> None:
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
    _write(
        result.table.select("customer_id", "churn_probability", "predicted_clv", "quadrant"),
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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    set_audience("cli")
    args = build_parser().parse_args(argv)
    try:
        check_output(args)
        args.run(args)
    except SegmentaError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
