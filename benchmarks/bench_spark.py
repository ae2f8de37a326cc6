"""The Spark engine beside the polars engine: the same transaction-level work, timed per step.

Usage: python benchmarks/bench_spark.py [--customers N] [--skip-large] [--master URL]
       [--support S (default 0.02)]

Rows, each case in a fresh process (so one engine's caches and JVM never help the other):
1. the bundled data (1.04M rows): read + clean, customer features, baskets + FP-Growth itemsets and
   rules at ``--support``;
2. the synthetic log (10.2M rows / ~1M customers at the default ``--customers``, as
   ``bench_pipeline.py`` makes it): read + clean, customer features, baskets + itemsets.

Spark runs on ``--master`` (default ``SEGMENTA_SPARK_MASTER`` or ``local[*]``); its session start
(JVM launch) is reported apart. On one host Spark is expected to be slower than polars: what it buys
is a log that no single host can hold, spread over a cluster's executors. Prints figures; asserts
nothing but that both engines found the same customers and itemsets.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _clock():
    marks = [time.perf_counter()]

    def lap() -> float:
        now = time.perf_counter()
        seconds = now - marks[0]
        marks[0] = now
        return seconds

    return lap


def case_polars(path: str, support: float) -> dict:
    from analytics.baskets import baskets_from_transactions, mine_rules
    from analytics.datasets import open_dataset
    from analytics.features import customer_features

    lap = _clock()
    dataset = open_dataset(path)
    clean = lap()
    features = customer_features(dataset.transactions)
    feats = lap()
    rules = mine_rules(baskets_from_transactions(dataset.transactions), support, 0.3, 1.0)
    mining = lap()
    return {
        "rows": dataset.report.rows_in,
        "customers": features.height,
        "itemsets": rules.itemsets.height,
        "rules": rules.rules.height,
        "clean": clean,
        "features": feats,
        "rules_s": mining,
    }


def case_spark(path: str, support: float, master: str) -> dict:
    lap = _clock()
    from analytics.engines import spark

    # local mode runs the executors inside the driver's JVM: give it room for the 10M-row log
    session = spark.spark_session(
        master, **{"spark.ui.enabled": "false", "spark.driver.memory": "6g"}
    )
    session.sparkContext.setLogLevel("ERROR")
    start = lap()
    dataset = spark.open_dataset(path, spark=session)
    clean = lap()
    features = spark.customer_features(dataset.transactions)
    feats = lap()
    rules = spark.mine_rules(
        spark.baskets_from_transactions(dataset.transactions), support, 0.3, 1.0
    )
    mining = lap()
    return {
        "rows": dataset.report.rows_in,
        "customers": features.height,
        "itemsets": rules.itemsets.height,
        "rules": rules.rules.height,
        "start": start,
        "clean": clean,
        "features": feats,
        "rules_s": mining,
        "parallelism": session.sparkContext.defaultParallelism,
    }


def child(*args: str) -> dict:
    command = [sys.executable, __file__, "--case", *args]
    done = subprocess.run(command, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(label: str, path: str, support: float, master: str) -> None:
    ours = child("polars", path, str(support))
    theirs = child("spark", path, str(support), master)
    same = all(ours[k] == theirs[k] for k in ("rows", "customers", "itemsets", "rules"))
    print(
        f"\n{label}: {ours['rows']:,} rows, {ours['customers']:,} customers, "
        f"{ours['itemsets']:,} itemsets / {ours['rules']:,} rules at support {support:g} "
        f"(engines agree: {'yes' if same else 'NO: ' + json.dumps([ours, theirs])})"
    )
    print("| step | polars | spark | spark / polars |")
    print("| --- | --- | --- | --- |")
    for key, name in (
        ("clean", "read + clean"),
        ("features", "customer features"),
        ("rules_s", "baskets + itemsets + rules"),
    ):
        print(
            f"| {name} | {ours[key]:.2f} s | {theirs[key]:.2f} s | {theirs[key] / ours[key]:.1f}x |"
        )
    total_p = ours["clean"] + ours["features"] + ours["rules_s"]
    total_s = theirs["clean"] + theirs["features"] + theirs["rules_s"]
    print(
        f"| total (session start apart) | {total_p:.2f} s | {total_s:.2f} s | "
        f"{total_s / total_p:.1f}x |"
    )
    print(
        f"Spark session start (JVM): {theirs['start']:.1f} s; master {master}, "
        f"{theirs['parallelism']} cores"
    )


def main(args: argparse.Namespace) -> None:
    from analytics.datasets import bundled_path

    master = args.master or os.environ.get("SEGMENTA_SPARK_MASTER") or "local[*]"
    print("Spark engine vs polars engine; each case in a fresh process")
    compare("Bundled data", str(bundled_path()), args.support, master)
    if not args.skip_large:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "synthetic.parquet"
            # made in a child, as bench_pipeline.py makes it, so this process stays small
            subprocess.run(
                [sys.executable, __file__, "--case", "make", str(args.customers), str(path)],
                check=True,
                cwd=ROOT,
            )
            compare("Synthetic log", str(path), args.support, master)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--case":
        name, rest = sys.argv[2], sys.argv[3:]
        if name == "make":
            from analytics.synthetic import synthetic_log

            synthetic_log(int(rest[0]), seed=1)[0].write_parquet(rest[1])
            sys.exit(0)
        if name == "polars":
            result = case_polars(rest[0], float(rest[1]))
        else:
            result = case_spark(rest[0], float(rest[1]), rest[2])
        print(json.dumps(result))
        sys.exit(0)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--master", help="Spark master URL (default local[*])")
    parser.add_argument(
        "--support",
        type=float,
        default=0.02,
        help="FP-Growth support (default 0.02: MLlib's trees at 0.01 on the bundled data take "
        "minutes to size on two cores)",
    )
    main(parser.parse_args())
