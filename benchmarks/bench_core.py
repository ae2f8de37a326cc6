"""Speed and memory of the analytics core. Prints figures; asserts nothing.

Usage: python benchmarks/bench_core.py [--skip-large] [--customers N]

1. The bundled UCI data (1.04M rows, ~5,900 customers): load, clean, features, re-segment, k sweep.
2. A synthetic log of ~10M rows / 1M customers, end to end (load Parquet, clean, features,
   MiniBatch K-Means), in a fresh process so its peak memory is its own.
Targets on a 2-core machine: features < 0.5 s, re-segment < 0.3 s, 10M rows end to end < 30 s
within 6 GB.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn, repeat: int = 1):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def bundled() -> None:
    from analytics.cleaning import clean_transactions
    from analytics.datasets import bundled_path
    from analytics.features import customer_features
    from analytics.io import load_transactions
    from analytics.profiles import profile_segments
    from analytics.rfm import rfm_table
    from analytics.segmentation import Segmenter, sweep_k

    log, t_load = timed(lambda: load_transactions(bundled_path()))
    (tx, report), t_clean = timed(lambda: clean_transactions(log.transactions))
    features, t_feat = timed(lambda: customer_features(tx), repeat=5)
    _, t_rfm = timed(lambda: rfm_table(features), repeat=5)
    seg, t_seg = timed(lambda: Segmenter(n_clusters=4).fit(features), repeat=5)
    _, t_seg3 = timed(
        lambda: Segmenter(["recency_days", "frequency", "monetary"], n_clusters=5).fit(features),
        repeat=5,
    )
    _, t_prof = timed(lambda: profile_segments(features, seg.labels_), repeat=3)
    _, t_sweep = timed(lambda: sweep_k(features))
    print(f"Bundled data: {report.rows_in:,} rows, {features.height:,} customers")
    print(f"  load (Parquet -> canonical)       {t_load:7.3f} s")
    print(f"  clean                             {t_clean:7.3f} s")
    print(f"  features (median of 5)            {t_feat:7.3f} s   target < 0.5 s")
    print(f"  RFM scores + names                {t_rfm:7.3f} s")
    print(f"  re-segment, K-Means k=4, 9 feats  {t_seg:7.3f} s   target < 0.3 s")
    print(f"  re-segment, K-Means k=5, R/F/M    {t_seg3:7.3f} s   target < 0.3 s")
    print(f"  segment profiles + personas       {t_prof:7.3f} s")
    print(f"  k sweep 2..10 (K-Means)           {t_sweep:7.3f} s")
    print(f"  peak memory (process)             {peak_mb():7.0f} MB")


def large_stage(path: str) -> None:
    """Run in a child process: the 10M-row pipeline, printing one JSON line of figures."""
    from analytics.cleaning import clean_transactions
    from analytics.features import customer_features
    from analytics.io import load_transactions
    from analytics.segmentation import Segmenter

    start = time.perf_counter()
    log, t_load = timed(lambda: load_transactions(path))
    (tx, report), t_clean = timed(lambda: clean_transactions(log.transactions))
    log = None  # free the raw log before computing features
    features, t_feat = timed(lambda: customer_features(tx))
    seg, t_seg = timed(lambda: Segmenter(algorithm="minibatch-kmeans", n_clusters=5).fit(features))
    total = time.perf_counter() - start
    print(
        json.dumps(
            {
                "rows": report.rows_in,
                "customers": features.height,
                "load": t_load,
                "clean": t_clean,
                "features": t_feat,
                "segment": t_seg,
                "total": total,
                "peak_mb": peak_mb(),
            }
        )
    )


def large(customers: int) -> None:
    from analytics.synthetic import synthetic_log

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "synthetic.parquet"
        (tx, _), t_gen = timed(lambda: synthetic_log(customers, seed=1))
        tx.write_parquet(path)
        del tx
        out = subprocess.run(
            [sys.executable, __file__, "--large-stage", str(path)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    fig = json.loads(out.strip().splitlines()[-1])
    print(
        f"Synthetic log: {fig['rows']:,} rows, {fig['customers']:,} customers (generated in {t_gen:.1f} s, not counted)"
    )
    print(f"  load (Parquet -> canonical)       {fig['load']:7.2f} s")
    print(f"  clean                             {fig['clean']:7.2f} s")
    print(f"  features                          {fig['features']:7.2f} s")
    print(f"  MiniBatch K-Means k=5 + metrics   {fig['segment']:7.2f} s")
    print(f"  end to end                        {fig['total']:7.2f} s   target < 30 s")
    print(f"  peak memory (child process)       {fig['peak_mb']:7.0f} MB   target < 6,144 MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--large-stage", metavar="PATH", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.large_stage:
        large_stage(args.large_stage)
    else:
        bundled()
        if not args.skip_large:
            large(args.customers)
