"""Lifecycle analytics on the bundled data (5,878 customers, 1.04M rows). Prints figures only.

Usage: python benchmarks/bench_lifecycle.py
What the page needs: cohorts and anomalies are normal callbacks (targets < 1 s and < 10 s, cached
after the first call); migration and the monthly snapshots run as one background job.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    from analytics.alive import alive_table, p_alive_history
    from analytics.anomalies import find_anomalies
    from analytics.cohorts import cohort_retention
    from analytics.datasets import open_dataset
    from analytics.migration import migrate, monthly_snapshots, segment_sizes

    tx = open_dataset().transactions
    rows = []
    cells, t = timed(lambda: cohort_retention(tx, "month"))
    rows.append(("cohorts, monthly", t, f"{cells.height:,} cells"))
    cells, t = timed(lambda: cohort_retention(tx, "quarter"))
    rows.append(("cohorts, quarterly", t, f"{cells.height:,} cells"))
    m, t = timed(lambda: migrate(tx, by="rfm"))
    rows.append(("migration, RFM", t, f"{m.moves.height:,} customers"))
    m, t = timed(lambda: migrate(tx, by="segment"))
    rows.append(("migration, k-means k=4 + classifier", t, f"agreement {m.agreement:.3f}"))
    dates = monthly_snapshots(tx)
    s, t = timed(lambda: segment_sizes(tx, dates, "rfm"))
    rows.append((f"segment sizes, RFM, {len(dates)} snapshots", t, f"{s.height:,} rows"))
    alive, t = timed(lambda: alive_table(tx))
    rows.append(("P(alive) + next order (BG/NBD fit)", t, f"{alive.table.height:,} customers"))
    h, t = timed(lambda: p_alive_history(tx, "12347", alive))
    rows.append(("P(alive) history, one customer", t, f"{h.height:,} days"))
    found, t = timed(lambda: find_anomalies(tx))
    rows.append(("anomalies (own history + Isolation Forest)", t, f"{found.height:,} rows"))
    print(f"{'step':<48} {'seconds':>8}  result")
    for name, seconds, what in rows:
        print(f"{name:<48} {seconds:8.2f}  {what}")


if __name__ == "__main__":
    main()
