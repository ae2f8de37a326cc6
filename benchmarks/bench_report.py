"""The executive report on the bundled data (5,878 customers, 1.04M rows). Prints figures only.

Usage: python benchmarks/bench_report.py [--runs N]

What the user waits for after pressing Download report: on a cold cache the report trains the
churn and CLV models (the Churn & CLV page's own cached result); once the pages' results are
cached, building the report, rendering the HTML and printing the PDF are what remain. Also prints
the file sizes and the PDF's page count.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="warm repetitions (default 3)")
    runs = parser.parse_args().runs

    import pypdfium2 as pdfium

    from analytics.datasets import BUNDLED_ID
    from dashboard.report_render import find_chromium, html_to_pdf, render_html
    from dashboard.service import Service
    from dashboard.settings import Settings

    with tempfile.TemporaryDirectory(prefix="bench-report-") as tmp:
        service = Service(
            Settings.from_env({"SEGMENTA_CACHE_DIR": f"{tmp}/cache", "SEGMENTA_WARM_UP": "0"})
        )
        report, cold = timed(lambda: service.executive_report(BUNDLED_ID, None, None))
        warm, html_s, pdf_s = [], [], []
        html = ""
        pdf = Path(tmp) / "report.pdf"
        for _ in range(runs):
            report, t = timed(lambda: service.executive_report(BUNDLED_ID, None, None))
            warm.append(t)
            html, t = timed(lambda r=report: render_html(r))
            html_s.append(t)
            _, t = timed(lambda h=html: html_to_pdf(h, pdf))
            pdf_s.append(t)
        pages = len(pdfium.PdfDocument(str(pdf)))
        print(f"Executive report, {report.start} to {report.end}, bundled data")
        print(f"  Chromium: {find_chromium()}")
        print(f"  {'step':<48} {'median s':>9} {'min s':>8}")
        print(
            f"  {'build, cold cache (trains churn/CLV, mines rules)':<48} {cold:9.2f} {cold:8.2f}"
        )
        for name, values in (
            ("build, warm cache (the pages' cached results)", warm),
            ("render HTML (plotly.js inlined once)", html_s),
            ("print PDF (headless Chromium)", pdf_s),
        ):
            print(f"  {name:<48} {statistics.median(values):9.2f} {min(values):8.2f}")
        print(
            f"  HTML size: {len(html.encode()) / 2**20:.2f} MB; PDF size: "
            f"{pdf.stat().st_size / 2**10:,.0f} KB, {pages} pages ({runs} warm runs)"
        )


if __name__ == "__main__":
    main()
