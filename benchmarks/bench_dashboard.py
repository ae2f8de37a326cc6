"""Server-side time of the dashboard's callbacks on the bundled data. Prints figures only.

Usage: python benchmarks/bench_dashboard.py

Each callback is called as the plain function Dash runs, with a fresh cache folder. "cold" means
the analytics result was not cached yet (a new k, a new period); "cached" is a repeat visit.
Targets: recluster < 0.3 s, overview < 0.5 s.
"""

from __future__ import annotations

import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    import dash

    from analytics.datasets import BUNDLED_ID
    from dashboard.app import create_app
    from dashboard.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings.from_env({"SEGMENTA_CACHE_DIR": tmp, "SEGMENTA_LOG_LEVEL": "WARNING"})
        )
        pages = {
            p["module"].rsplit(".", 1)[-1]: sys.modules[p["module"]]
            for p in dash.page_registry.values()
        }
        overview, segments = pages["overview"], pages["segments"]
        service = app.server.config["SEGMENTA_SERVICE"]
        t_clean = timed(lambda: service.transactions(BUNDLED_ID))
        t_features = timed(lambda: service.features(BUNDLED_ID))

        def recluster(k, view="3d", algorithm="kmeans"):
            return segments.recluster(
                None, "log-standard", algorithm, k, 1.0, 10, None, view, BUNDLED_ID
            )

        cold = [timed(lambda k=k: recluster(k)) for k in range(3, 9)]
        cached = [timed(lambda k=k: recluster(k)) for k in range(3, 9)]
        cold_2d = timed(lambda: recluster(9, "2d"))
        box = timed(
            lambda: segments.update_box("monetary", {"dataset_id": BUNDLED_ID, "params": {"k": 4}})
        )

        periods = [
            (dt.date(2011, 1, 1), dt.date(2011, 12, 9)),
            (dt.date(2010, 12, 10), dt.date(2011, 12, 9)),
            (dt.date(2011, 6, 1), dt.date(2011, 8, 31)),
        ]
        t_dates = timed(lambda: overview.init_dates(BUNDLED_ID))
        ov_cold = [
            timed(lambda s=s, e=e: overview.update_overview(str(s), str(e), BUNDLED_ID))
            for s, e in periods
        ]
        ov_cached = [
            timed(lambda s=s, e=e: overview.update_overview(str(s), str(e), BUNDLED_ID))
            for s, e in periods
        ]

    print("Dashboard callbacks, bundled data (5,878 customers, 1.03M cleaned rows)")
    print(f"  one-off: clean + store dataset        {t_clean:6.3f} s   (first visit after install)")
    print(f"  one-off: customer features            {t_features:6.3f} s")
    print(
        f"  recluster K-Means, new k (median of 6) {statistics.median(cold):6.3f} s   max {max(cold):.3f} s   target < 0.3 s"
    )
    print(f"  recluster, cached settings (median)   {statistics.median(cached):6.3f} s")
    print(f"  recluster, new k, 2D view             {cold_2d:6.3f} s")
    print(f"  box plot                              {box:6.3f} s")
    print(f"  overview: date range                  {t_dates:6.3f} s")
    print(
        f"  overview, new period (median of 3)    {statistics.median(ov_cold):6.3f} s   max {max(ov_cold):.3f} s   target < 0.5 s"
    )
    print(f"  overview, cached period (median)      {statistics.median(ov_cached):6.3f} s")


if __name__ == "__main__":
    main()
