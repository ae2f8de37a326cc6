"""Peak memory of the worst hostile inputs. Prints figures; asserts nothing.

Usage: python benchmarks/bench_hostile.py [--bomb-mb 1024] [--upload-mb 300]

Each case runs in a fresh process, so its peak resident size (``ru_maxrss``) is its own; the
baseline is a process that only imports the same modules.

1. gzip bomb (``--bomb-mb`` expanded, ~1000:1) read as a log: refused by the bounded gunzip.
2. the same bomb's header read at upload time (``read_columns``).
3. an upload at the size limit streamed to disk (``Service.store_upload``, 1 MB chunks).
4. an upload over the limit: refused after the limit, nothing left on disk.
5. a 1M-row export with formula-leading ids through the one CSV writer.
6. a log of NaN / inf / 1e308 prices and 1900/2090 dates cleaned (rows removed and counted).
"""

from __future__ import annotations

import argparse
import gzip
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PRELUDE = """
import io, json, resource, sys, time
sys.path.insert(0, {root!r})
import polars as pl
from analytics.errors import SegmentaError
from analytics.io import _read_bytes, read_columns, load_transactions
from analytics.export import to_csv
from analytics.cleaning import clean_transactions
from dashboard.service import Service
from dashboard.settings import Settings
def peak(): return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
start = time.perf_counter()
outcome = "ok"
"""

CASES = {
    "baseline (imports only)": "pass",
    "gzip bomb read as a log": """
try:
    _read_bytes(__import__('pathlib').Path({bomb!r}))
except SegmentaError as e:
    outcome = "refused: " + str(e)[:70]
""",
    "gzip bomb header at upload": "outcome = 'columns: ' + ','.join(read_columns({bomb!r}))",
    "upload at the limit, streamed": """
class Zeros:
    def __init__(self, n): self.left = n
    def read(self, k):
        k = min(k, self.left); self.left -= k
        return b"c1,2011-01-01,1\\n" * (k // 16) + b"x" * (k % 16)
s = Service(Settings.from_env({{"SEGMENTA_CACHE_DIR": {cache!r}}}))
i = s.store_upload(Zeros({upload}), "big.csv", "o" * 32, {upload})
s.discard_upload(i)
""",
    "upload over the limit, refused": """
class Zeros:
    def __init__(self, n): self.left = n
    def read(self, k):
        k = min(k, self.left); self.left -= k
        return b"c1,2011-01-01,1\\n" * (k // 16) + b"x" * (k % 16)
s = Service(Settings.from_env({{"SEGMENTA_CACHE_DIR": {cache!r}}}))
try:
    s.store_upload(Zeros({upload} + 2**20), "big.csv", "o" * 32, {upload})
except SegmentaError as e:
    outcome = "refused: " + str(e)[:60]
import os
left = os.listdir(os.path.join({cache!r}, "uploads"))
outcome += f"; upload folders left: {{len(left)}}"
""",
    "1M-row export, formula ids": """
n = 1_000_000
frame = pl.DataFrame({{"customer_id": ["=HYPERLINK(\\"http://x\\")" if i % 3 else f"c{{i}}" for i in range(n)],
                      "value": [float(i) for i in range(n)]}})
text = to_csv(frame)
outcome = f"{{len(text) / 2**20:,.0f}} MB of CSV"
""",
    "NaN/inf/absurd/1900 log cleaned": """
n = 1_000_000
raw = "Client,OrderedAt,Qty,Price\\n" + "".join(
    f"c{{i % 5000}},{{'1900-01-01' if i % 97 == 0 else '2011-01-02'}},1,{{['NaN', 'inf', '1e308', '3.5'][i % 4]}}\\n"
    for i in range(n))
path = {cache!r} + "/nan.csv"
open(path, "w").write(raw)
log = load_transactions(path, {{"customer_id": "Client", "invoice_date": "OrderedAt", "quantity": "Qty", "unit_price": "Price"}})
_, report = clean_transactions(log.transactions)
outcome = ", ".join(f"{{s.name}} {{s.rows:,}}" for s in report.steps if s.rows and s.action == "removed")
""",
}


def make_bomb(path: Path, expanded_mb: int) -> None:
    member = gzip.compress(b"c1,2011-01-01,1\n" * 2**20, compresslevel=9)  # 16 MB each
    with open(path, "wb") as handle:
        handle.write(gzip.compress(b"Customer,Date,Total\n"))
        for _ in range(max(expanded_mb // 16, 1)):
            handle.write(member)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bomb-mb", type=int, default=1024)
    parser.add_argument("--upload-mb", type=int, default=300)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        bomb = Path(tmp) / "bomb.csv.gz"
        make_bomb(bomb, args.bomb_mb)
        print(
            f"bomb: {bomb.stat().st_size / 2**20:.1f} MB on disk, {args.bomb_mb:,} MB expanded; "
            f"upload limit {args.upload_mb} MB"
        )
        print(f"{'case':<34} {'peak RSS MB':>12} {'seconds':>8}  outcome")
        for name, body in CASES.items():
            cache = Path(tmp) / "cache"
            cache.mkdir(exist_ok=True)
            code = (
                PRELUDE.format(root=str(ROOT))
                + body.format(bomb=str(bomb), cache=str(cache), upload=args.upload_mb * 2**20)
                + "\nprint(json.dumps({'peak': peak(), 's': time.perf_counter() - start, "
                "'outcome': outcome}))\n"
            )
            started = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT
            )
            if done.returncode != 0:
                print(f"{name:<34} FAILED after {time.perf_counter() - started:.1f} s")
                print(done.stderr[-1500:])
                continue
            result = json.loads(done.stdout.strip().splitlines()[-1])
            print(f"{name:<34} {result['peak']:>12,.0f} {result['s']:>8.2f}  {result['outcome']}")


if __name__ == "__main__":
    main()
