"""The executive report as a file: self-contained HTML (charts inlined) and PDF.

:func:`render_html` turns an :class:`analytics.report.Report` into one HTML file that opens with
no network: plotly.js is inlined once, every chart is the app's own figure, numbers are
formatted by the app's own formatting (a report number reads exactly as on the page).
:func:`html_to_pdf` prints that file with headless Chromium, which runs the charts' JavaScript
(a renderer without JavaScript, such as WeasyPrint, would print empty chart boxes).
This module imports plotly but not dash, so the CLI can use it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import plotly.io as pio
from jinja2 import Environment, select_autoescape
from markupsafe import Markup

from analytics.errors import SegmentaError
from analytics.report import Report
from dashboard.figures.lifecycle import migration_sankey
from dashboard.figures.overview import rfm_figure, trend_figure
from dashboard.formatting import fmt_change, fmt_count, fmt_money, fmt_percent, fmt_value

#: Executables tried in order when ``SEGMENTA_CHROMIUM`` does not name one.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Chart width in CSS pixels: fits an A4 page inside its margins.
CHART_WIDTH = 700


class ReportToolMissing(SegmentaError):
    """No Chromium to print the PDF with."""


def _points(kpi) -> float | None:
    """A rate's change in percentage points, as the Overview's KPI cards show it."""
    if kpi.kind != "percent" or kpi.previous is None:
        return None
    return kpi.compared - kpi.previous


def kpi_rows(report: Report) -> list[dict]:
    """Each KPI's label, value, change and previous value: the Overview card's strings."""
    c = report.currency
    rows = []
    for kpi in report.overview.kpis:
        change = kpi.change
        tone = "muted"
        if change:
            tone = "good" if (change > 0) == kpi.higher_is_better else "bad"
        if kpi.previous is None:
            previous = ""
        elif kpi.window_days is None:
            previous = f"previous: {fmt_value(kpi.previous, kpi.kind, c)}"
        else:
            previous = (
                f"last {kpi.window_days:,} days: {fmt_value(kpi.compared, kpi.kind, c)}; "
                f"the {kpi.window_days:,} before: {fmt_value(kpi.previous, kpi.kind, c)}"
            )
        rows.append(
            {
                "key": kpi.key,
                "label": kpi.label,
                "value": fmt_value(kpi.value, kpi.kind, c),
                "change": fmt_change(change, kpi.window_days, _points(kpi)),
                "tone": tone,
                "previous": previous,
                "definition": kpi.definition,
            }
        )
    return rows


def _chart(fig, first: bool, height: int = 340) -> Markup:
    fig.update_layout(width=CHART_WIDTH, height=height, autosize=False)
    return Markup(
        pio.to_html(
            fig,
            full_html=False,
            include_plotlyjs=bool(first),  # inlined once per file: no network to open it
            config={"staticPlot": True, "displayModeBar": False},
            default_width=f"{CHART_WIDTH}px",
            default_height=f"{height}px",
        )
    )


def _trend(report: Report):
    """The Overview's trend chart, its date axis held to the period's months (a static page
    cannot be zoomed back in, and autorange padded it by months on each side)."""
    trend = report.overview.trend
    fig = trend_figure(trend, report.currency)
    if trend.height:
        months = trend.get_column("month")
        half = dt.timedelta(days=16)
        fig.update_xaxes(range=[months.min() - half, months.max() + half])
    return fig


TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{{ title }}</title>
<style>
@page { size: A4; margin: 14mm 12mm; }
body { font-family: "Helvetica Neue", Arial, sans-serif; color: #212529; margin: 24px auto;
       max-width: 760px; font-size: 13px; line-height: 1.4; }
@media print { body { margin: 0; max-width: none; } }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 22px 0 6px;
  border-bottom: 1px solid #dee2e6; padding-bottom: 3px; break-after: avoid; }
.muted { color: #6c757d; } .good { color: #198754; } .bad { color: #dc3545; }
.small { font-size: 11px; }
.kpis { display: grid; grid-template-columns: repeat(4, 1fr); gap: 8px; }
.kpi { border: 1px solid #dee2e6; border-radius: 6px; padding: 6px 8px; break-inside: avoid; }
.kpi .label { font-size: 10px; text-transform: uppercase; color: #6c757d; }
.kpi .value { font-size: 18px; font-weight: 700; }
table { border-collapse: collapse; width: 100%; margin: 4px 0; break-inside: auto; }
th, td { border-bottom: 1px solid #e9ecef; padding: 3px 5px; text-align: left; vertical-align: top; }
th { background: #f8f9fa; font-size: 11px; } td.n, th.n { text-align: right; white-space: nowrap; }
tr { break-inside: avoid; }
ul.highlights li { margin-bottom: 3px; }
.chart { break-inside: avoid; margin: 4px 0; }
</style></head>
<body>
<h1>{{ title }}</h1>
<div class="muted" id="report-period">{{ report.start.strftime('%d %b %Y') }} – {{ report.end.strftime('%d %b %Y') }}
 · {{ report.dataset }} · generated {{ report.generated.strftime('%d %b %Y %H:%M') }}</div>

<h2>Highlights</h2>
<ul class="highlights">{% for h in report.highlights %}<li>{{ h }}</li>{% endfor %}</ul>

<h2>Key figures</h2>
<p class="small muted">Against the period of equal length just before it, as on the Overview page.</p>
<div class="kpis">{% for k in kpis %}
<div class="kpi" id="kpi-{{ k.key }}"><div class="label">{{ k.label }}</div>
<div class="value">{{ k.value }}</div><div class="small {{ k.tone }}">{{ k.change }}</div>
<div class="small muted">{{ k.previous }}</div></div>{% endfor %}
</div>

<h2>Revenue and active customers by month</h2>
<div class="chart">{{ trend }}</div>

<h2>RFM segments</h2>
<p class="small muted">Scored as of the end of the period; revenue earned in the period.</p>
<div class="chart">{{ rfm }}</div>

<h2>Customer segments</h2>
<p class="small muted">{{ segments_note }}</p>
<table id="segments"><tr><th>Segment</th><th class="n">Customers</th><th class="n">Share</th>
<th class="n">Revenue share</th><th>Recommended action</th></tr>
{% for p in personas %}<tr><td><b>{{ p.name }}</b><br><span class="small muted">{{ p.description }}</span></td>
<td class="n">{{ p.customers }}</td><td class="n">{{ p.share }}</td><td class="n">{{ p.revenue_share }}</td>
<td class="small">{{ p.action }}</td></tr>{% endfor %}</table>

<h2>Customers most at risk</h2>
{% if report.risk %}<p class="small muted">{{ risk_note }}</p>
<table id="at-risk"><tr><th>Customer</th><th class="n">Churn probability</th>
<th class="n">Predicted CLV ({{ report.risk.horizon_days }} d)</th><th class="n">Revenue at risk</th><th>Quadrant</th></tr>
{% for r in at_risk %}<tr><td>{{ r.customer_id }}</td><td class="n">{{ r.churn }}</td><td class="n">{{ r.clv }}</td>
<td class="n">{{ r.risk }}</td><td class="small">{{ r.quadrant }}</td></tr>{% endfor %}</table>
{% else %}<p class="muted" id="at-risk-note">{{ report.risk_note }}</p>{% endif %}

<h2>Segment migration</h2>
{% if migration %}<p class="small muted">{{ migration_note }}</p>
<div class="chart">{{ migration }}</div>
{% else %}<p class="muted">{{ report.migration_note }}</p>{% endif %}

<h2>Cohorts that started in the period</h2>
<table id="cohorts"><tr><th>First purchase</th><th class="n">Customers</th>
<th class="n">Bought again, month 2</th><th class="n">Bought again, month 4</th></tr>
{% for c in cohorts %}<tr><td>{{ c.cohort }}</td><td class="n">{{ c.size }}</td><td class="n">{{ c.m1 }}</td>
<td class="n">{{ c.m3 }}</td></tr>{% endfor %}</table>

<h2>Strongest basket rules</h2>
{% if report.rules is not none %}<p class="small muted">{{ rules_note }}</p>
<table id="rules"><tr><th>Bought</th><th>Also bought</th><th class="n">Support</th>
<th class="n">Confidence</th><th class="n">Lift</th></tr>
{% for r in rules %}<tr><td class="small">{{ r.antecedents }}</td><td class="small">{{ r.consequents }}</td>
<td class="n">{{ r.support }}</td><td class="n">{{ r.confidence }}</td><td class="n">{{ r.lift }}</td></tr>{% endfor %}
</table>
{% else %}<p class="muted" id="rules-note">{{ report.rules_note }}</p>{% endif %}
</body></html>
"""

_ENV = Environment(autoescape=select_autoescape(default=True, default_for_string=True))


def report_title(report: Report) -> str:
    return f"Executive report, {report.start:%d %b %Y} – {report.end:%d %b %Y}"


def render_html(report: Report) -> str:
    """The report as one self-contained HTML page (plotly.js inlined once, no external links)."""
    c = report.currency
    seg = report.segmentation
    params = seg.params
    personas = [
        {
            "name": p.name,
            "description": p.description,
            "action": p.action,
            "customers": fmt_count(p.customers),
            "share": fmt_percent(p.share),
            "revenue_share": fmt_percent(p.revenue_share),
        }
        for p in seg.profile.personas
    ]
    risk = report.risk
    at_risk = [
        {
            "customer_id": r["customer_id"],
            "churn": fmt_percent(r["churn_probability"], 0),
            "clv": fmt_money(r["predicted_clv"], c),
            "risk": fmt_money(r["revenue_at_risk"], c),
            "quadrant": r["quadrant"],
        }
        for r in (risk.at_risk.iter_rows(named=True) if risk else ())
    ]
    cohorts = [
        {
            "cohort": r["cohort"],
            "size": fmt_count(r["cohort_size"]),
            "m1": fmt_percent(r["month_1"]),
            "m3": fmt_percent(r["month_3"]),
        }
        for r in report.cohorts.table.iter_rows(named=True)
    ]
    rules = [
        {
            "antecedents": r["antecedents"].replace("|", " + "),
            "consequents": r["consequents"].replace("|", " + "),
            "support": fmt_percent(r["support"]),
            "confidence": fmt_percent(r["confidence"]),
            "lift": f"{r['lift']:.2f}",
        }
        for r in (report.rules.iter_rows(named=True) if report.rules is not None else ())
    ]
    migration = None
    migration_note = ""
    if report.migration is not None:
        m = report.migration
        start, end = f"{m.from_date:%d %b %Y}", f"{m.to_date:%d %b %Y}"
        migration = _chart(migration_sankey(m.flows, m.order, start, end), False, 640)
        migration_note = (
            f"RFM segments as of {start} (left) and {end} (right), as on the Lifecycle page "
            "with these dates. “New” customers had not bought before the period."
        )
    rp = report.rules_params
    return _ENV.from_string(TEMPLATE).render(
        title=report_title(report),
        report=report,
        kpis=kpi_rows(report),
        trend=_chart(_trend(report), True),
        rfm=_chart(rfm_figure(report.overview.rfm, c), False),
        personas=personas,
        segments_note=(
            f"The Segments page's default segmentation ({params.algorithm}, k = {params.k}, "
            f"{params.scaling} scaling, on {', '.join(seg.features)}) of every customer as of the "
            "end of the data."
        ),
        at_risk=at_risk,
        risk_note=(
            f"Churn and CLV as of {risk.cutoff:%d %b %Y} (the end of the data), as on the Churn "
            f"& CLV page: {fmt_count(risk.expected_to_churn)} of "
            f"{fmt_count(risk.customers_scored)} customers at or above {risk.threshold:.0%} "
            f"churn risk, revenue at risk {fmt_money(risk.revenue_at_risk, c)}; the "
            f"{len(at_risk)} with most revenue at risk are listed."
        )
        if risk
        else "",
        migration=migration,
        migration_note=migration_note,
        cohorts=cohorts,
        rules=rules,
        rules_note=(
            f"{fmt_count(report.rules_baskets)} baskets of the period, the Baskets page's default "
            f"thresholds (support {rp.min_support:.0%}, confidence {rp.min_confidence:.0%}, lift "
            f"{rp.min_lift:g}), highest lift first."
        ),
    )


def find_chromium() -> str:
    """The Chromium to print PDFs with (``SEGMENTA_CHROMIUM``, else the first on the PATH).

    Raises
    ------
    ReportToolMissing
        None is installed: the message says what to install or set.
    """
    named = os.environ.get("SEGMENTA_CHROMIUM")
    if named:
        found = shutil.which(named)
        if found:
            return found
        raise ReportToolMissing(
            f"SEGMENTA_CHROMIUM is set to {named!r}, which is not an executable. Point it at a "
            "Chromium or Chrome binary, or unset it."
        )
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    raise ReportToolMissing(
        "A PDF report needs Chromium, and none was found on this server (looked for "
        f"{', '.join(CHROMIUM_NAMES)}). Install it (Debian: apt-get install chromium) or set "
        "SEGMENTA_CHROMIUM to its path, or ask for the HTML report instead."
    )


#: Runs a command with this process's address-space ceiling lifted to its hard limit. A report
#: job runs under ``SEGMENTA_JOB_MEMORY_MB`` of address space (RLIMIT_AS), which Chromium, whose
#: V8 reserves far more address space than it uses, cannot start under (it died with SIGTRAP).
#: An exec wrapper, not ``preexec_fn``, which is unsafe in a process with threads (polars').
_FULL_ADDRESS_SPACE = (
    sys.executable,
    "-c",
    "import os, resource, sys; "
    "_, hard = resource.getrlimit(resource.RLIMIT_AS); "
    "resource.setrlimit(resource.RLIMIT_AS, (hard, hard)); "
    "os.execv(sys.argv[1], sys.argv[1:])",
)


def html_to_pdf(html: str, output: Path, timeout: float = 120.0) -> None:
    """Print ``html`` to the PDF file ``output`` with headless Chromium."""
    chromium = find_chromium()
    with tempfile.TemporaryDirectory(prefix="segmenta-report-") as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html, encoding="utf-8")
        pdf = Path(tmp) / "report.pdf"
        command = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-dev-shm-usage",
            "--no-first-run",
            f"--user-data-dir={Path(tmp) / 'profile'}",
            "--no-pdf-header-footer",
            "--virtual-time-budget=10000",  # let the charts draw before printing
            f"--print-to-pdf={pdf}",
            page.as_uri(),
        ]
        try:
            done = subprocess.run(
                [*_FULL_ADDRESS_SPACE, *command], capture_output=True, text=True, timeout=timeout
            )
        except subprocess.TimeoutExpired:
            raise SegmentaError(
                f"Chromium did not finish printing the PDF within {timeout:.0f} seconds. Try "
                "again, or ask for the HTML report."
            ) from None
        if not pdf.exists() or pdf.stat().st_size == 0:
            raise SegmentaError(
                f"Chromium could not print the PDF (exit code {done.returncode}): "
                f"{done.stderr.strip()[-300:] or 'no message'}. Ask for the HTML report instead."
            )
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(pdf), output)


def write_report(report: Report, output: str | Path) -> Path:
    """Write the report to ``output``: HTML for ``.html``/``.htm``, PDF for ``.pdf``."""
    path = Path(output)
    html = render_html(report)
    if path.suffix.lower() == ".pdf":
        html_to_pdf(html, path)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
    return path
