"""``python -m analytics``: the analytics from a shell, with the same functions the app uses."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from analytics.choices import ALGORITHMS, K_ALGORITHMS, SCALINGS
from analytics.engines import ENGINES
from analytics.errors import ParameterError, SegmentaError, set_audience
from analytics.schema import parse_column_mapping

# Each command imports what it needs when it runs (scikit-learn, scipy and LightGBM alone take
# seconds to import), so `clean` does not pay for `predict`.
if TYPE_CHECKING:
    import polars as pl

    from analytics.datasets import Dataset


def _add_input(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--input",
        metavar="FILE|URL",
        help="transaction log: CSV (.csv/.csv.gz), Excel (.xlsx) or Parquet, or a PostgreSQL "
        "database postgresql://user@host:port/db with --table or --query (password from "
        "SEGMENTA_PG_PASSWORD, PGPASSWORD or ~/.pgpass); default: the bundled UCI Online Retail "
        "data",
    )
    parser.add_argument(
        "--table",
        metavar="NAME",
        help="with a postgresql:// --input: read this table (NAME or SCHEMA.NAME)",
    )
    parser.add_argument(
        "--query",
        metavar="SQL",
        help="with a postgresql:// --input: read the rows of this one SELECT (read-only)",
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


def _source(args: argparse.Namespace):
    """``--input`` as a file path, or a :class:`PostgresSource` for a ``postgresql://`` URL."""
    from analytics.postgres import PostgresSource, is_postgres_url

    table, query = getattr(args, "table", None), getattr(args, "query", None)
    if is_postgres_url(args.input):
        return PostgresSource(args.input, table=table, query=query)
    if table or query:
        flag = "--table" if table else "--query"
        raise ParameterError(
            f"{flag} reads from a database: give --input postgresql://user@host:port/db with it "
            f"(got --input {args.input or '(none)'}).",
            "table" if table else "query",
        )
    return args.input


def _file_only(args: argparse.Namespace, what: str) -> None:
    """Refuse a ``postgresql://`` --input where only files are read (baskets, customer tables)."""
    from analytics.postgres import is_postgres_url, mask_url

    if is_postgres_url(args.input):
        raise ParameterError(
            f"{what} reads a file, not a database (--input {mask_url(args.input)}). Export the "
            "table to CSV or Parquet, or read the transaction log from the database.",
            "input",
        )


def _add_engine(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="polars",
        help="where the transaction-level work runs: 'polars' on this host (default) or 'spark' "
        "on the cluster named by SEGMENTA_SPARK_MASTER (reads a Parquet file or directory; "
        "needs requirements-spark.txt and Java 17+)",
    )


def _spark_open(args: argparse.Namespace):
    """The Spark engine's cleaned log (:class:`analytics.engines.spark.SparkDataset`)."""
    if args.date_format:
        raise ParameterError(
            "--date-format is for dates written as text; the Spark engine reads Parquet whose "
            "dates are stored as dates. Leave out --date-format, or use --engine polars."
        )
    from analytics.engines import spark

    return spark.open_dataset(args.input, parse_column_mapping(args.columns))


def _features(args: argparse.Namespace) -> pl.DataFrame:
    """Customer features of ``--input`` as of ``--as-of``, computed by the chosen engine."""
    if args.engine == "spark":
        from analytics.engines import spark

        dataset = _spark_open(args)
        print(dataset.report)
        return spark.customer_features(dataset.transactions, args.as_of)
    from analytics.features import customer_features

    return customer_features(_open(args).transactions, args.as_of)


def _open(args: argparse.Namespace) -> Dataset:
    from analytics.datasets import open_dataset

    return open_dataset(
        _source(args), parse_column_mapping(args.columns), date_format=args.date_format
    )


def check_output(args: argparse.Namespace) -> None:
    """Refuse an ``--output`` we cannot or must not write, before any work is done.

    It must end in .csv or .parquet, must not be the ``--input`` file (that would destroy the
    data being read), and its folder must exist or be creatable and be writable.
    """
    output = getattr(args, "output", None)
    if output is None or getattr(args, "output_is_folder", False):
        return  # `run` writes a folder of results and checks it itself
    path = Path(output)
    suffixes = getattr(args, "output_suffixes", (".csv", ".parquet"))
    if path.suffix.lower() not in suffixes:
        raise ParameterError(
            f"--output must end in {' or '.join(suffixes)}. Got {output!r} instead."
        )
    source = getattr(args, "input", None)
    if (
        source
        and "://" not in source
        and Path(source).exists()
        and path.exists()
        and path.samefile(source)
    ):
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
    from analytics.export import write_csv

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
    if args.engine == "spark":
        if not args.output.lower().endswith(".parquet"):
            raise ParameterError(
                f"clean --output must end in .parquet. Got {args.output!r} instead."
            )
        dataset = _spark_open(args)
        print(dataset.report)
        # a Parquet directory, written by the executors (the log may not fit this host)
        dataset.transactions.write.mode("errorifexists").parquet(args.output)
        print(f"Wrote {dataset.report.rows_out:,} rows to {args.output} (a Parquet directory)")
        return
    dataset = _open(args)
    print(dataset.report)
    if not args.output.lower().endswith(".parquet"):
        raise ParameterError(f"clean --output must end in .parquet. Got {args.output!r} instead.")
    _write(dataset.transactions, args.output)


def cmd_features(args: argparse.Namespace) -> None:
    from analytics.rfm import rfm_table

    features = _features(args)
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
    _file_only(args, "--format customers")
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
    from analytics.segmentation import sweep_k

    features = _features(args)
    table = None
    if args.customers:
        from analytics.customer_table import joined_features, load_customer_table

        table = load_customer_table(args.customers, args.id_column)
        buyers = features.height
        features = joined_features(features, table)
        print(
            f"Joined {len(table.matrix_columns)} columns of {args.customers}: clustering the "
            f"{features.height:,} of {buyers:,} customers it describes"
        )
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
    from analytics.segment_report import SegmentParams, segment_report

    report = segment_report(
        features,
        SegmentParams(
            features=tuple(names) if names else None,
            scaling=args.scaling,
            algorithm=args.algorithm,
            k=k,
            eps=args.eps,
            min_samples=args.min_samples,
        ),
        table,
    )
    m = report.metrics
    print(
        f"Segmented {report.assignments.height:,} customers on {', '.join(report.features)} "
        f"({args.algorithm}, {args.scaling} scaling)"
    )
    print(f"  segments: {m.n_segments}   outliers: {m.outlier_share:.1%}")
    if m.silhouette is not None:
        print(
            f"  silhouette: {m.silhouette:.3f} (on a random sample of {m.silhouette_sample_size:,})"
            f"   Davies-Bouldin: {m.davies_bouldin:.3f}   Calinski-Harabasz: {m.calinski_harabasz:,.0f}"
            f"   inertia: {m.inertia:,.0f}"
        )
    if report.tree is not None and report.tree.accuracy is not None:
        top = sorted(report.tree.importance.items(), key=lambda t: -t[1])[:3]
        print(
            f"  a depth-{report.tree.depth} decision tree reproduces {report.tree.accuracy:.1%} of "
            f"held-out customers' segments; it splits mostly on "
            + ", ".join(f"{name} ({share:.0%})" for name, share in top)
        )
    for p in report.profile.personas:
        print(
            f"  [{p.segment:>2}] {p.name:<45} {p.customers:>8,} customers  {p.share:6.1%}  revenue {p.revenue_share:6.1%}  -> {p.action}"
        )
    _write(report.assignments, args.output)


def _print_backtest(result) -> None:
    from analytics.predict import CHOICE_RULE

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
        f"  {'CLV':<26} {'MAE':>9} {'RMSE':>9} {'R2':>7} {'Spearman':>9} {'Gini':>7} {'total':>8} {'top10%':>8}"
    )
    for name, m in bt.clv.items():
        mark = " *" if name == bt.clv_winner else ""
        print(
            f"  {name + mark:<26} {m['mae']:9,.1f} {m['rmse']:9,.1f} {m['r2']:7.3f} {m['spearman']:9.3f} "
            f"{m['gini']:7.3f} {m['aggregate_error']:+8.1%} {m['top10_capture']:8.1%}"
        )
    print(f"  * chosen by the rule: {CHOICE_RULE}")
    print(
        "    (total = predicted total spend vs actual; top10% = share of revenue in the top tenth)"
    )
    print(f"  {bt.clv_sentence()}")
    if bt.intervals is not None:
        print(
            f"  CLV intervals: {bt.intervals.level:.0%} nominal, {bt.intervals.coverage:.1%} measured "
            f"coverage on held-out backtest customers (mean width {bt.intervals.mean_width:,.0f})"
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
        evaluate=True,  # the backtest chooses the CLV model and sizes clv_low, clv_high
        shap_sample=0,
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
        result.table.select(
            "customer_id", "churn_probability", "predicted_clv", "clv_low", "clv_high", "quadrant"
        ).join(
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

    if args.engine == "spark" and args.algorithm != "fpgrowth":
        raise ParameterError(
            "The Spark engine mines with FP-Growth only (Spark MLlib has no Apriori). "
            "Use --algorithm fpgrowth, or --engine polars for Apriori."
        )
    if args.format == "baskets" and args.engine == "spark":
        raise ParameterError(
            "--engine spark reads transaction logs; a basket-per-line file is mined on this "
            "host. Leave out --engine spark, or give a transaction log."
        )
    if args.format == "baskets":
        _file_only(args, "--format baskets")
        source = args.input or data_dir() / "groceries.csv.gz"
        baskets = baskets_from_lists(
            load_baskets(source),
            min_item_baskets=args.min_item_baskets,
            max_basket_size=args.max_basket_size,
        )
    elif args.engine == "spark":
        from analytics.engines import spark

        dataset = _spark_open(args)
        baskets = spark.baskets_from_transactions(
            dataset.transactions,
            start=_date_arg(args.start, "--start"),
            end=_date_arg(args.end, "--end"),
            country=args.country,
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
    miner = mine_rules
    if args.engine == "spark":
        from analytics.engines import spark

        miner = spark.mine_rules
    rules = miner(
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
    import polars as pl

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


# -- run: the whole pipeline in one process -----------------------------------------------------


def run_pipeline(
    output: str | Path,
    path: str | Path | None = None,
    columns: dict[str, str] | None = None,
    *,
    date_format: str | None = None,
    k: int | str = "auto",
    horizon_days: int = 90,
    min_support: float = 0.01,
    min_confidence: float = 0.3,
    min_lift: float = 1.0,
    echo=print,
    engine: str = "polars",
) -> dict:
    """Clean, features + RFM, segments (k swept when ``k='auto'``), churn/CLV with a backtest and
    association rules, each result written into ``output``; returns the summary (also written
    as ``summary.json``). The log is read and cleaned once, and every step calls the same
    function as its own command and the dashboard.

    With ``engine="spark"`` the log is read, cleaned, described per customer and mined on Spark;
    churn and CLV are skipped (their training snapshots and BG/NBD fits read the whole log on
    this host), and the summary says so."""
    import json
    import time

    from threadpoolctl import threadpool_limits

    from analytics.baskets import baskets_from_transactions, mine_rules, rules_csv_frame
    from analytics.datasets import open_dataset
    from analytics.export import write_csv
    from analytics.features import customer_features
    from analytics.predict import predict
    from analytics.rfm import rfm_table
    from analytics.segment_report import SegmentParams, segment_report
    from analytics.segmentation import sweep_k

    out = Path(output)
    if out.exists() and not out.is_dir():
        raise ParameterError(f"--output must be a folder. {str(out)!r} is a file.")
    out.mkdir(parents=True, exist_ok=True)
    seconds: dict[str, float] = {}
    files: dict[str, str] = {}
    started = time.perf_counter()
    clock = [started]

    def lap(step: str) -> None:
        now = time.perf_counter()
        seconds[step] = round(now - clock[0], 3)
        clock[0] = now

    def write(frame, name: str) -> None:
        target = out / name
        if name.endswith(".csv"):
            write_csv(frame, target)  # formula-leading cells neutralised, as every export
        else:
            frame.write_parquet(target)
        files[name] = f"{frame.height:,} rows"

    if engine == "spark":
        from analytics.engines import spark

        if date_format:
            raise ParameterError(
                "--date-format is for dates written as text; the Spark engine reads Parquet "
                "whose dates are stored as dates. Leave out --date-format, or use --engine polars."
            )
        dataset = spark.open_dataset(path, columns)
        tx, report, source = dataset.transactions, dataset.report, dataset.source
    else:
        dataset = open_dataset(path, columns, date_format=date_format)
        tx, report, source = dataset.transactions, dataset.report, dataset.log.source
    (out / "cleaning_report.json").write_text(
        json.dumps(
            {
                "source": source,
                "rows_in": report.rows_in,
                "rows_out": report.rows_out,
                "customers": report.customers,
                "first_date": str(report.first_date),
                "last_date": str(report.last_date),
                "steps": report.to_rows(),
            },
            indent=2,
        )
    )
    files["cleaning_report.json"] = f"{len(report.steps)} steps"
    lap("load and clean")

    features = spark.customer_features(tx) if engine == "spark" else customer_features(tx)
    rfm = rfm_table(features)
    write(
        features.join(rfm.drop("recency_days", "frequency", "monetary"), on="customer_id"),
        "features.parquet",
    )
    lap("features and RFM")

    sweep = None
    # A few thousand customers cluster faster on one thread than on several: with every core
    # busy, OpenMP's threads wait for each other (the k sweep took 75 s on a loaded 2-core
    # machine, 9.8 s on one thread, 1.3 CPU-s instead of 7.5; same labels, tests/golden).
    with threadpool_limits(1):
        if k == "auto":
            sweep = sweep_k(features)
            k = sweep.recommended_k
        segmentation = segment_report(features, SegmentParams(k=k))  # as `segment` and the app do
    profile = segmentation.profile
    write(segmentation.assignments, "segments.parquet")
    write(profile.table, "segment_profiles.parquet")
    lap("segments")

    result = None
    if engine != "spark":
        result = predict(tx, None, horizon_days, evaluate=True)
        write(
            result.table.select("customer_id", "churn_probability", "predicted_clv", "quadrant"),
            "predictions.parquet",
        )
        lap("churn and CLV")

    if engine == "spark":
        baskets = spark.baskets_from_transactions(tx)
        rules = spark.mine_rules(baskets, min_support, min_confidence, min_lift)
    else:
        baskets = baskets_from_transactions(tx)
        rules = mine_rules(baskets, min_support, min_confidence, min_lift)
    write(rules_csv_frame(rules), "rules.csv")
    lap("rules")

    summary = {
        "input": source,
        "engine": engine,
        "rows_read": report.rows_in,
        "rows_kept": report.rows_out,
        "customers": features.height,
        "period": [str(report.first_date), str(report.last_date)],
        "segments": {
            "k": int(k),
            "k_reason": sweep.reason if sweep else "given with --k",
            "silhouette": segmentation.metrics.silhouette,
            "personas": [
                {
                    "segment": p.segment,
                    "name": p.name,
                    "customers": p.customers,
                    "share": p.share,
                    "revenue_share": p.revenue_share,
                }
                for p in profile.personas
            ],
        },
        "predictions": _predictions_summary(result),
        "rules": {
            "baskets": baskets.n_baskets,
            "items": len(baskets.items),
            "min_support": min_support,
            "min_confidence": min_confidence,
            "min_lift": min_lift,
            "itemsets": rules.itemsets.height,
            "rules": rules.rules.height,
        },
        "seconds": {**seconds, "total": round(time.perf_counter() - started, 3)},
        "files": files,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    echo(f"{report.rows_in:,} rows read, {report.rows_out:,} kept, {features.height:,} customers")
    echo(f"Segments: k = {k} ({summary['segments']['k_reason']})")
    for p in profile.personas:
        echo(
            f"  [{p.segment:>2}] {p.name:<45} {p.customers:>8,} customers  revenue {p.revenue_share:6.1%}"
        )
    echo(f"Churn and CLV: {summary['predictions']['method']}")
    echo(
        f"Rules: {rules.itemsets.height:,} frequent itemsets, {rules.rules.height:,} rules "
        f"at support {min_support:g}"
    )
    echo("Seconds: " + ", ".join(f"{step} {t:.1f}" for step, t in summary["seconds"].items()))
    echo(f"Wrote {', '.join(files)} and summary.json to {out}")
    return summary


#: Why ``run --engine spark`` leaves out churn and CLV (said in the summary and on screen).
SPARK_SKIPS_PREDICT = (
    "skipped with --engine spark: churn and CLV train on snapshots of the whole log on this "
    "host; run `python -m analytics predict` on a host that holds the log"
)


def _predictions_summary(result) -> dict:
    from analytics.predict import quadrant_summary

    if result is None:
        return {"method": SPARK_SKIPS_PREDICT}
    bt = result.backtest
    return {
        "cutoff": str(result.cutoff),
        "horizon_days": result.horizon_days,
        "method": result.method,
        "backtest": None
        if bt is None
        else {"churn": bt.churn, "clv": bt.clv, "clv_winner": bt.clv_winner},
        "quadrants": quadrant_summary(result.table).to_dicts(),
    }


def cmd_run(args: argparse.Namespace) -> None:
    run_pipeline(
        args.output,
        _source(args),
        parse_column_mapping(args.columns),
        date_format=args.date_format,
        k=args.k,
        horizon_days=args.horizon_days,
        min_support=args.min_support,
        min_confidence=args.min_confidence,
        min_lift=args.min_lift,
        engine=args.engine,
    )


# -- the executive report (issue 11) -----------------------------------------------------------
def cmd_report(args: argparse.Namespace) -> None:
    from analytics.report import compute_report

    start, end = _date_arg(args.start, "--start"), _date_arg(args.end, "--end")
    if (start is None) != (end is None):
        raise ParameterError(
            "Give both --start and --end, or neither for the last 12 months of data."
        )
    if start is not None and end < start:
        raise ParameterError(
            f"--end ({end}) is before --start ({start}). Give an end on or after the start."
        )
    if Path(args.output).suffix.lower() == ".pdf":
        # the renderer lives with the app's figures (plotly, no dash); find Chromium before
        # the minute of work, so a missing printer is said at once
        from dashboard.report_render import find_chromium

        find_chromium()
    dataset = _open(args)
    report = compute_report(
        dataset.transactions,
        start,
        end,
        dataset=dataset.log.source,
        currency=args.currency,
        progress=lambda done, total, text: print(f"  [{done}/{total}] {text}", file=sys.stderr),
    )
    from dashboard.report_render import write_report

    try:
        path = write_report(report, args.output)
    except OSError as error:
        raise ParameterError(
            f"Cannot write --output {args.output}: {error.strerror or error}. "
            "Choose an --output in a folder you can write to."
        ) from error
    print(f"Report for {report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}:")
    for line in report.highlights:
        print(f"  {line}")
    print(f"Wrote {path}")


def _add_report(sub) -> None:
    report = sub.add_parser(
        "report", help="the executive report of a period, as self-contained HTML or PDF"
    )
    _add_input(report)
    report.add_argument(
        "--start", metavar="DATE", help="first day, YYYY-MM-DD (default: the last 12 months)"
    )
    report.add_argument("--end", metavar="DATE", help="last day, YYYY-MM-DD (inclusive)")
    report.add_argument(
        "--currency", default="£", metavar="SYMBOL", help="money symbol (default £)"
    )
    report.add_argument(
        "--output",
        required=True,
        metavar="FILE",
        help="report.html (opens with no network) or report.pdf (printed with Chromium)",
    )
    report.set_defaults(run=cmd_report, output_suffixes=(".html", ".htm", ".pdf"))


def _add_run(sub) -> None:
    run = sub.add_parser(
        "run", help="the whole pipeline in one process: clean, features, segments, predict, rules"
    )
    _add_input(run)
    run.add_argument("--output", required=True, metavar="DIR", help="folder for every result")
    run.add_argument(
        "--k", default="auto", type=_parse_k, metavar="N|auto", help="segments (default auto)"
    )
    run.add_argument("--horizon-days", type=int, default=90, metavar="H", help="default 90")
    run.add_argument("--min-support", type=float, default=0.01, metavar="S", help="default 0.01")
    run.add_argument("--min-confidence", type=float, default=0.3, metavar="C", help="default 0.3")
    run.add_argument("--min-lift", type=float, default=1.0, metavar="L", help="default 1.0")
    _add_engine(run)
    run.set_defaults(run=cmd_run, output_is_folder=True)


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
    _add_engine(clean)
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
    _add_engine(features)
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
        "--customers",
        metavar="FILE",
        help="a one-row-per-customer table joined to the log's features by id: its columns "
        "are clustered on too (name them in --features), for the customers it describes",
    )
    segment.add_argument(
        "--id-column",
        metavar="NAME",
        help="--format customers / --customers: the table's id column (default: recognised)",
    )
    _add_engine(segment)
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
        "--evaluate",
        action="store_true",
        help="print the backtest: every CLV model side by side, the choice and interval coverage",
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
    _add_engine(rules)
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
    _add_run(sub)
    _add_report(sub)
    return parser


#: Parameters whose flag is not ``--`` + the name with dashes.
FLAG_NAMES = {"n_clusters": "--k"}


def _flag_for(parser: argparse.ArgumentParser, argv: Sequence[str], parameter: str | None):
    """The command-line flag that sets ``parameter`` for the command in ``argv``, if any."""
    if not parameter:
        return None
    flag = FLAG_NAMES.get(parameter, "--" + parameter.replace("_", "-"))
    subparsers = next(
        (a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None
    )
    command = next((a for a in argv if a in (subparsers.choices if subparsers else {})), None)
    if command is None:
        return None
    options = {o for a in subparsers.choices[command]._actions for o in a.option_strings}
    return flag if flag in options else None


def main(argv: Sequence[str] | None = None) -> int:
    set_audience("cli")
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        check_output(args)
        args.run(args)
    except SegmentaError as error:
        flag = _flag_for(parser, argv, getattr(error, "parameter", None))
        print(f"error: {flag + ': ' if flag else ''}{error}", file=sys.stderr)
        return 1
    return 0
