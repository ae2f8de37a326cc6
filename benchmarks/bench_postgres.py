"""Reading the bundled log from a real PostgreSQL: seconds and peak memory per batch size.

Usage (from the repository root; needs Debian's ``postgresql`` package, as the tests)::

    python benchmarks/bench_postgres.py                    # bundled log, batches 10k/50k/200k
    python benchmarks/bench_postgres.py --copies 3 --batches 50000

Untimed preparation: a throwaway server (``tests/postgres_server.py``: initdb + postgres on a
free port, as the tests start it) and an ``orders`` table with the bundled Parquet file's rows
(``--copies`` times, for a bigger table). Each timed read runs in a fresh interpreter and prints
its wall time, rows per second and peak RSS (``ru_maxrss``): ``analytics.postgres.read_table``
(psycopg 3 server-side cursor, the batch size given) and, for reference, ``pl.read_parquet`` of
the same rows. If ``adbc_driver_postgresql`` is installed (not a dependency) its Arrow read of
the same table is timed too, to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, {root!r})
kind, arg = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if kind == "psycopg":
    from analytics.postgres import PostgresSource, read_table
    frame = read_table(PostgresSource(os.environ["BENCH_URL"], table="orders"), batch_size=int(arg))
    rows = frame.height
elif kind == "adbc":
    import adbc_driver_postgresql.dbapi as adbc
    url = os.environ["BENCH_URL"].replace("@", ":" + os.environ["SEGMENTA_PG_PASSWORD"] + "@", 1)
    with adbc.connect(url) as conn, conn.cursor() as cur:
        cur.execute("SELECT * FROM orders")
        rows = cur.fetch_arrow_table().num_rows
else:
    import polars as pl
    rows = pl.read_parquet(arg).height
seconds = time.perf_counter() - started
print(json.dumps({{"rows": rows, "seconds": seconds,
                  "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def _timed(kind: str, arg: str, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", CHILD.format(root=str(ROOT)), kind, arg],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    import tempfile

    import polars as pl

    from analytics.datasets import bundled_path
    from benchmarks.harness import machine
    from tests import postgres_server as pg

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", type=int, default=1, help="the bundled rows this many times")
    parser.add_argument("--batches", default="10000,50000,200000", help="batch sizes to time")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    bindir = pg.find_bindir()
    if bindir is None:
        sys.exit("PostgreSQL is not installed: apt-get install postgresql")
    server = pg.start(bindir)
    try:
        pg.create_shop(server)
        frame = pl.read_parquet(bundled_path())
        frame = pl.concat([frame] * args.copies)
        pg.load_frame(server, frame)
        with tempfile.TemporaryDirectory() as tmp:
            parquet = Path(tmp) / "orders.parquet"
            frame.write_parquet(parquet)
            env = {
                **os.environ,
                "BENCH_URL": server.url(),
                "SEGMENTA_PG_PASSWORD": pg.ANALYST_PASSWORD,
            }
            print(f"{frame.height:,} rows x {frame.width} columns in PostgreSQL {bindir.parts[-2]}")
            print(f"{'reader':<40} {'seconds':>8} {'rows/s':>12} {'peak MB':>8}")
            runs = [("parquet", str(parquet), "pl.read_parquet (reference)")]
            runs += [
                ("psycopg", size, f"psycopg server-side cursor, batch {int(size):,}")
                for size in args.batches.split(",")
            ]
            try:
                import adbc_driver_postgresql  # noqa: F401

                runs.append(("adbc", "-", "ADBC Arrow (adbc_driver_postgresql)"))
            except ImportError:
                print("(adbc_driver_postgresql not installed: ADBC not timed)")
            for kind, arg, label in runs:
                result = _timed(kind, arg, env)
                assert result["rows"] == frame.height, result
                print(
                    f"{label:<40} {result['seconds']:>8.2f} "
                    f"{result['rows'] / result['seconds']:>12,.0f} {result['peak_mb']:>8,.0f}"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
