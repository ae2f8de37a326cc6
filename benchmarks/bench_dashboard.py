"""Server-side time of the dashboard's callbacks on the bundled data. Prints figures only.

Usage: python benchmarks/bench_dashboard.py

Each callback is called as the plain function Dash runs (JSON encoding of its response
included), with a fresh cache folder. "cold" means the analytics result was not cached yet (a new
k, a new period); "cached" is a repeat visit. These figures explain; the user-end figures are
``bench_browser.py``'s (click to settled in Chromium against gunicorn) and ``bench_load.py``'s.
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
    from dash._callback_context import context_value
    from dash._utils import AttributeDict, to_json

    from analytics.datasets import BUNDLED_ID
    from dashboard.app import create_app
    from dashboard.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            Settings.from_env(
                {
                    "SEGMENTA_CACHE_DIR": tmp,
                    "SEGMENTA_LOG_LEVEL": "WARNING",
                    "SEGMENTA_WARM_UP": "0",
                }
            )
        )
        pages = {
            p["module"].rsplit(".", 1)[-1]: sys.modules[p["module"]]
            for p in dash.page_registry.values()
        }
        overview, segments = pages["overview"], pages["segments"]
        service = app.server.config["SEGMENTA_SERVICE"]
        t_clean = timed(lambda: service.transactions(BUNDLED_ID))
        t_features = timed(lambda: service.features(BUNDLED_ID))

        def run(trigger: str, fn, *args):
            context_value.set(
                AttributeDict(triggered_inputs=[{"prop_id": trigger}], updated_props={})
            )
            with app.server.app_context():
                return to_json(fn(*args))

        def recluster(k, view="3d", box="monetary", trigger="segments-k.value", tab="map"):
            args = (None, "log-standard", "kmeans", k, 1.0, 10, None, view, box, tab, BUNDLED_ID)
            return run(trigger, segments.recluster, *args)

        cold = [timed(lambda k=k: recluster(k)) for k in range(3, 9)]
        cached = [timed(lambda k=k: recluster(k)) for k in range(3, 9)]
        cold_2d = timed(lambda: recluster(9, "2d"))
        box = timed(
            lambda: recluster(
                4, box="frequency", trigger="segments-box-feature.value", tab="drivers"
            )
        )
        size = len(recluster(10))

        periods = [
            (dt.date(2011, 1, 1), dt.date(2011, 12, 9)),
            (dt.date(2010, 12, 10), dt.date(2011, 11, 9)),
            (dt.date(2011, 6, 1), dt.date(2011, 8, 31)),
        ]

        def overview_for(start, end):
            return run(
                "overview-dates.start_date",
                overview.update_overview,
                BUNDLED_ID,
                str(start),
                str(end),
                None,
            )

        t_dates = timed(lambda: service.date_range(BUNDLED_ID))
        ov_cold = [timed(lambda s=s, e=e: overview_for(s, e)) for s, e in periods]
        ov_cached = [timed(lambda s=s, e=e: overview_for(s, e)) for s, e in periods]

    print("Dashboard callbacks, bundled data (5,878 customers, 1.03M cleaned rows)")
    print(f"  one-off: clean + store dataset        {t_clean:6.3f} s   (first visit after install)")
    print(f"  one-off: customer features            {t_features:6.3f} s")
    print(
        f"  recluster K-Means, new k (median of 6) {statistics.median(cold):6.3f} s   max {max(cold):.3f} s"
    )
    print(f"  recluster, cached settings (median)   {statistics.median(cached):6.3f} s")
    print(f"  recluster, new k, 2D view             {cold_2d:6.3f} s")
    print(f"  box plot feature change               {box:6.3f} s")
    print(f"  recluster response (JSON)             {size / 1024:6.0f} KB")
    print(f"  overview: date range                  {t_dates:6.3f} s")
    print(
        f"  overview, new period (median of 3)    {statistics.median(ov_cold):6.3f} s   max {max(ov_cold):.3f} s"
    )
    print(f"  overview, cached period (median)      {statistics.median(ov_cached):6.3f} s")


if __name__ == "__main__":
    main()
