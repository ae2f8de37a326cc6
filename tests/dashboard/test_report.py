"""The executive report on the bundled data: its numbers are the pages' numbers, its HTML opens
offline, its PDF prints and renders, and the CLI writes the same report."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser

import pytest

from analytics.basket_analysis import BasketParams
from analytics.datasets import BUNDLED_ID
from analytics.periods import default_period
from analytics.predict import revenue_at_risk
from analytics.report import AT_RISK_ROWS, TOP_RULES, most_at_risk
from dashboard.report_render import ReportToolMissing, find_chromium, html_to_pdf, render_html
from dashboard.settings import Settings


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    from dashboard.service import Service

    cache = tmp_path_factory.mktemp("report") / "cache"
    return Service(Settings.from_env({"SEGMENTA_CACHE_DIR": str(cache), "SEGMENTA_WARM_UP": "0"}))


@pytest.fixture(scope="module")
def period(service):
    return default_period(*service.date_range(BUNDLED_ID))  # what the Overview opens on


@pytest.fixture(scope="module")
def report(service, period):
    return service.executive_report(BUNDLED_ID, *period)


@pytest.fixture(scope="module")
def html(report):
    return render_html(report)


def test_period_is_the_overviews_default(report):
    assert (report.start, report.end) == (dt.date(2010, 12, 10), dt.date(2011, 12, 9))


def test_kpis_trend_and_rfm_equal_the_overview(service, report, period):
    shown = service.overview(BUNDLED_ID, *period)  # the Overview callback's call
    assert report.overview.kpis == shown.kpis
    assert report.overview.trend.equals(shown.trend)
    assert report.overview.rfm.equals(shown.rfm)


def test_kpi_strings_equal_the_overview_cards(report, html):
    from dashboard.components.cards import create_kpi_card

    for kpi in report.overview.kpis:
        card = create_kpi_card(kpi, "£").children.children
        value, change = card[1].children, card[2].children
        assert f'<div class="value">{value}</div>' in html, kpi.key
        assert change in html, kpi.key
    assert '<div class="value">£7.98M</div>' in html  # the page test's revenue (test_ovw001)
    assert '<div class="value">4,264</div>' in html


def test_segments_are_the_segments_pages_default(service, report):
    from dashboard.segment_settings import params_from_saved

    page = service.segmentation(BUNDLED_ID, params_from_saved(None))
    assert report.segmentation.params == params_from_saved(None)
    assert report.segmentation.profile.personas == page.profile.personas


def test_segment_table_shows_every_persona(report, html):
    for p in report.segmentation.profile.personas:
        assert p.name in html and f"{p.customers:,}" in html
        assert p.action.replace("'", "&#39;") in html or p.action in html


def test_at_risk_equals_the_churn_page(service, report):
    result = service.predictions(BUNDLED_ID, 90)  # the Churn & CLV page's default horizon
    page_list = most_at_risk(result.table, result.threshold, 200)  # the page's grid rows
    risk = report.risk
    assert risk.at_risk["customer_id"].to_list() == (
        page_list["customer_id"].head(AT_RISK_ROWS).to_list()
    )
    assert risk.at_risk["revenue_at_risk"].to_list() == (
        page_list["revenue_at_risk"].head(AT_RISK_ROWS).to_list()
    )
    assert risk.revenue_at_risk == revenue_at_risk(result.table, result.threshold)
    assert risk.customers_scored == result.table.height
    assert risk.cutoff == result.cutoff


def test_migration_equals_the_lifecycle_page_at_the_periods_dates(service, report):
    moved = service.migration(BUNDLED_ID, report.start, report.end + dt.timedelta(days=1), "rfm")
    from polars.testing import assert_frame_equal

    # the same flows; revenue sums may differ in the last bits (a parallel sum's order)
    assert_frame_equal(report.migration.flows, moved.flows(), check_exact=False, rel_tol=1e-9)
    assert report.migration.stayed_share == moved.stayed_share()
    assert report.migration.movers == moved.movers().height


def test_cohorts_equal_the_lifecycle_triangle(service, report):
    import polars as pl

    cells = service.cohorts(BUNDLED_ID, "month")
    first = cells.filter((pl.col("period_index") == 0) & (pl.col("cohort") >= "2010-12"))
    assert report.cohorts.table["cohort"].to_list() == first["cohort"].to_list()
    assert report.cohorts.new_customers == first["cohort_size"].sum()


def test_rules_are_the_baskets_pages_strongest_for_the_period(service, report):
    params = BasketParams(start=report.start.isoformat(), end=report.end.isoformat())
    rules = service.rules(BUNDLED_ID, params).rules.head(TOP_RULES)
    assert report.rules["antecedents"].to_list() == rules["antecedents"].to_list()
    assert report.rules["lift"].to_list() == rules["lift"].to_list()


def test_highlights_are_made_from_the_numbers(report):
    revenue = report.kpi("revenue")
    assert report.highlights[1] == (
        f"Revenue: £{revenue.value:,.0f}, down {abs(revenue.change):.1%} on the previous period."
    )
    assert (
        f"{report.risk.expected_to_churn:,} of {report.risk.customers_scored:,} customers"
        in (report.highlights[3])
    )


class _Links(HTMLParser):
    """Every src/href/action of a real element (script text is not parsed as tags)."""

    def __init__(self):
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.urls += [v for k, v in attrs if k in ("src", "href", "action") and v]


def test_html_is_self_contained(html):
    links = _Links()
    links.feed(html)
    external = [u for u in links.urls if u.startswith(("http:", "https:", "//"))]
    assert external == []
    assert html.count("plotly.js v") >= 1  # the library itself is inlined ...
    assert html.count('src="https://cdn.plot.ly') == 0  # ... not fetched
    assert links.scripts >= 4  # plotly + trend, RFM mix and migration charts


def test_pdf_prints_and_its_first_page_renders(html, tmp_path):
    import pypdfium2 as pdfium

    out = tmp_path / "report.pdf"
    html_to_pdf(html, out)
    assert out.read_bytes()[:5] == b"%PDF-"
    pdf = pdfium.PdfDocument(str(out))
    assert len(pdf) >= 2
    page = pdf[0]
    assert "Executive report, 10 Dec 2010 – 09 Dec 2011" in page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    image.save(tmp_path / "page1.png")
    dark = sum(image.histogram()[:128])
    assert dark > 0.01 * image.width * image.height  # text and a drawn chart, not a blank page


def test_no_chromium_is_said_clearly(monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("SEGMENTA_CHROMIUM", raising=False)
    with pytest.raises(ReportToolMissing, match="A PDF report needs Chromium, and none was found"):
        find_chromium()
    monkeypatch.setenv("SEGMENTA_CHROMIUM", "/no/such/chrome")
    with pytest.raises(ReportToolMissing, match="SEGMENTA_CHROMIUM is set to '/no/such/chrome'"):
        find_chromium()


def test_cli_writes_the_same_report(report, tmp_path, capsys):
    from analytics.cli import main

    out = tmp_path / "weekly" / "report.html"
    assert main(["report", "--output", str(out)]) == 0
    printed = capsys.readouterr().out
    for line in report.highlights:  # the app's sentences, word for word
        assert line in printed
    text = out.read_text()
    assert "Executive report, 10 Dec 2010 – 09 Dec 2011" in text
    assert '<div class="value">£7.98M</div>' in text


def test_report_job_writes_a_pdf_in_a_fresh_process(service, report):
    """The Overview button's job (``dashboard.jobs``), on the cache the pages filled."""
    from pathlib import Path

    from dashboard.jobs import run_task

    steps = []
    made = run_task(
        service.settings,
        "report",
        progress=lambda done, total, text: steps.append(text),
        dataset_id=BUNDLED_ID,
        start=report.start.isoformat(),
        end=report.end.isoformat(),
        kind="pdf",
    )
    path = Path(made["path"])
    assert path.parent == service.settings.cache_dir / "reports"
    assert made["filename"] == "segmenta-report-2010-12-10-to-2011-12-09.pdf"
    assert path.read_bytes()[:5] == b"%PDF-"
    assert steps[-2:] == ["Printing the PDF", "Done"]
    path.unlink()


def test_report_job_without_chromium_says_so(service, report, monkeypatch):
    """The Overview's PDF job fails at once with the message its alert shows."""
    from analytics.errors import SegmentaError
    from dashboard.jobs import run_task

    monkeypatch.setenv("SEGMENTA_CHROMIUM", "/no/such/chromium")
    steps = []
    with pytest.raises(SegmentaError, match="SEGMENTA_CHROMIUM is set to '/no/such/chromium'"):
        run_task(
            service.settings,
            "report",
            progress=lambda done, total, text: steps.append(text),
            dataset_id=BUNDLED_ID,
            start=report.start.isoformat(),
            end=report.end.isoformat(),
            kind="pdf",
        )
    assert steps == []  # refused before any work


def test_names_from_the_data_are_escaped(report):
    """A product or sentence holding markup is shown as text, never run."""
    import dataclasses

    import polars as pl

    evil = dataclasses.replace(
        report,
        rules=report.rules.with_columns(antecedents=pl.lit("<img src=x onerror=alert(1)>")),
        highlights=["<script>alert('x')</script>"],
    )
    page = render_html(evil)
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<script>alert(" not in page
