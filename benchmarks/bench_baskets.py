"""Basket mining time and peak memory. Prints figures only.

Usage: python benchmarks/bench_baskets.py
Each case runs in a fresh process so its peak memory (ru_maxrss) is its own.
Target: the bundled data at support 0.01 under 10 s and 2 GB.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

CASES = [
    ("bundled", 0.01, "fpgrowth"),
    ("bundled", 0.01, "apriori"),
    ("bundled", 0.005, "fpgrowth"),
    ("bundled", 0.005, "apriori"),
    ("groceries", 0.001, "fpgrowth"),
    ("groceries", 0.001, "apriori"),
]


def run_case(data: str, support: float, algorithm: str) -> None:
    from analytics.baskets import baskets_from_lists, baskets_from_transactions, mine_rules
    from analytics.datasets import data_dir, open_dataset
    from analytics.io import load_baskets

    start = time.perf_counter()
    if data == "bundled":
        baskets = baskets_from_transactions(open_dataset().transactions)
    else:
        baskets = baskets_from_lists(load_baskets(data_dir() / "groceries.csv.gz"))
    built = time.perf_counter() - start
    start = time.perf_counter()
    rules = mine_rules(
        baskets, support, 0.3 if data == "bundled" else 0.5, 0.0, algorithm=algorithm
    )
    mined = time.perf_counter() - start
    print(
        json.dumps(
            {
                "baskets": baskets.n_baskets,
                "items": len(baskets.items),
                "build": built,
                "mine": mined,
                "itemsets": rules.itemsets.height,
                "rules": rules.rules.height,
                "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            }
        )
    )


def main() -> None:
    print(
        f"{'data':<10} {'support':>8} {'algorithm':<9} {'baskets':>8} {'items':>6} {'load+baskets':>13} {'mining':>8} {'itemsets':>9} {'rules':>7} {'peak MB':>8}"
    )
    for data, support, algorithm in CASES:
        out = subprocess.run(
            [sys.executable, __file__, "--case", data, str(support), algorithm],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        print(
            f"{data:<10} {support:>8} {algorithm:<9} {f['baskets']:>8,} {f['items']:>6,} {f['build']:>12.2f}s {f['mine']:>7.2f}s {f['itemsets']:>9,} {f['rules']:>7,} {f['peak_mb']:>8,.0f}"
        )
    print(
        "Target: bundled at support 0.01 under 10 s and 2 GB (confidence 0.3 bundled, 0.5 Groceries; rules with any lift)."
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--case":
        run_case(sys.argv[2], float(sys.argv[3]), sys.argv[4])
    else:
        main()
