"""REST API latency under ``gunicorn -w 2`` on the bundled data: p50/p95 of
``GET /api/v1/customers/{id}`` (target: p95 < 100 ms), plus ``POST /api/v1/score`` and the
streamed ``GET /api/v1/segments?format=csv`` for reference.

Usage (from the repository root)::

    python benchmarks/bench_api.py                      # 300 sequential + 300 by 2 clients
    python benchmarks/bench_api.py --requests 100 --cache-dir /tmp/api-bench-cache

Untimed preparation, in a fresh cache (or ``--cache-dir``, reused if already prepared): the churn
and CLV models are trained and the default basket rules mined in job processes, as the Churn & CLV
and Baskets pages do; an API key is created. Then ``gunicorn -w 2 wsgi:server`` serves that cache
(``SEGMENTA_WARM_UP=0``; a rate limit high enough not to refuse the benchmark, so the limiter's
own disk transaction is inside every timed request). The first requests (the segmentation,
P(alive) and the API's customer table computed once, then loaded by each worker) are timed apart
and reported as the cold start; the timed requests ask for
customers drawn at random (seeded) from the whole dataset, over keep-alive-less HTTP/1.1 on
loopback, as a CRM would.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.harness import gunicorn, log, machine, percentile  # noqa: E402

TARGET_P95_MS = 100.0


def _get(url: str, key: str) -> tuple[int, float, bytes]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, (time.perf_counter() - start) * 1000, body


def _post(url: str, key: str, payload: dict) -> tuple[int, float, bytes]:
    request = urllib.request.Request(
        url,
        data=json.dumps(payload).encode(),
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        method="POST",
    )
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=120) as response:
            body, status = response.read(), response.status
    except urllib.error.HTTPError as error:
        body, status = error.read(), error.code
    return status, (time.perf_counter() - start) * 1000, body


def _prepare(cache_dir: Path) -> tuple[str, list[str], list[dict]]:
    """Train, mine and create a key (untimed); return the key, every customer id, and one
    customer's transactions as a /score body."""
    import polars as pl

    from analytics.basket_analysis import BasketParams
    from analytics.datasets import BUNDLED_ID
    from dashboard.api_keys import KeyStore
    from dashboard.jobs import run_task
    from dashboard.service import Service
    from dashboard.settings import Settings

    settings = Settings.from_env({**os.environ, "SEGMENTA_CACHE_DIR": str(cache_dir)})
    service = Service(settings)
    start = time.perf_counter()
    if service.cached_predictions(BUNDLED_ID, 90) is None:
        run_task(settings, "train", dataset_id=BUNDLED_ID, horizon_days=90)
    if service.quick_rules(BUNDLED_ID, BasketParams()) is None:
        run_task(settings, "rules", dataset_id=BUNDLED_ID, params=BasketParams().to_dict())
    log(
        f"untimed preparation (train + mine, in job processes): {time.perf_counter() - start:.1f} s"
    )
    ids = service.features(BUNDLED_ID).get_column("customer_id").to_list()
    _, key = KeyStore.for_settings(settings).create(f"bench-{time.time_ns()}")
    one = service.transactions(BUNDLED_ID).filter(pl.col("customer_id") == ids[0])
    rows = [
        {
            "invoice_id": r["invoice_id"],
            "invoice_date": r["invoice_date"].isoformat(),
            "product_id": r["product_id"],
            "description": r["description"],
            "quantity": r["quantity"],
            "unit_price": r["unit_price"],
        }
        for r in one.iter_rows(named=True)
    ]
    return key, ids, rows


def _report(label: str, times: list[float], statuses: list[int]) -> float:
    bad = sum(s != 200 for s in statuses)
    p95 = percentile(times, 95)
    print(
        f"{label:<46} n={len(times):4d}  p50 {percentile(times, 50):7.1f} ms  "
        f"p95 {p95:7.1f} ms  max {max(times):7.1f} ms  non-200: {bad}"
    )
    return p95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="timed GETs per phase")
    parser.add_argument("--cache-dir", help="prepared cache to reuse (default: a fresh one)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="segmenta-bench-api-") as tmp:
        cache_dir = Path(args.cache_dir or Path(tmp) / "cache").resolve()
        os.environ["SEGMENTA_WARM_UP"] = "0"
        os.environ["SEGMENTA_API_RATE"] = "1000000"
        os.environ["SEGMENTA_API_BURST"] = "1000000"
        key, ids, rows = _prepare(cache_dir)
        rng = random.Random(args.seed)
        with gunicorn("wsgi:server", workers=2, label="api", cache_dir=str(cache_dir)) as url:
            base = f"{url}/api/v1"
            status, _, _ = _get(f"{base}/segments?format=json", "wrong")
            assert status == 401, status
            cold = [_get(f"{base}/customers/{rng.choice(ids)}", key) for _ in range(6)]
            print(
                "Cold start (first requests: segmentation, P(alive) and the API table computed once, then each worker loads them): "
                + ", ".join(f"{ms:.0f}" for _, ms, _ in cold)
                + " ms"
            )
            sample = [rng.choice(ids) for _ in range(args.requests)]
            results = [_get(f"{base}/customers/{cid}", key) for cid in sample]
            p95 = _report(
                "GET /customers/{id}, 1 client",
                [ms for _, ms, _ in results],
                [s for s, _, _ in results],
            )
            body = json.loads(results[0][2])
            assert body["churn"]["probability"] is not None and body["cross_sell"] is not None

            shared: list[tuple[int, float, bytes]] = []
            lock = threading.Lock()

            def client(ids_: list[str]) -> None:
                for cid in ids_:
                    answer = _get(f"{base}/customers/{cid}", key)
                    with lock:
                        shared.append(answer)

            sample = [rng.choice(ids) for _ in range(args.requests)]
            threads = [threading.Thread(target=client, args=(sample[i::2],)) for i in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            p95_two = _report(
                "GET /customers/{id}, 2 concurrent clients",
                [ms for _, ms, _ in shared],
                [s for s, _, _ in shared],
            )
            payload = {"customer_id": "bench-posted", "transactions": rows}
            scored = [_post(f"{base}/score", key, payload) for _ in range(20)]
            _report(
                f"POST /score ({len(rows)} transactions)",
                [ms for _, ms, _ in scored],
                [s for s, _, _ in scored],
            )
            csv = [_get(f"{base}/segments?format=csv", key) for _ in range(5)]
            _report(
                f"GET /segments?format=csv ({len(ids):,} customers)",
                [ms for _, ms, _ in csv],
                [s for s, _, _ in csv],
            )
    verdict = "met" if max(p95, p95_two) < TARGET_P95_MS else "NOT met"
    print(
        f"Target p95 < {TARGET_P95_MS:.0f} ms for GET /customers/{{id}}: {verdict} "
        f"(1 client {p95:.1f} ms, 2 clients {p95_two:.1f} ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
