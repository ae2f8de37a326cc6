from pathlib import Path

from selenium.webdriver.common.by import By

from tests.browser.helpers import click, load_button, modebar_overlaps, wait_until
from tests.browser.test_data import _write_log


def test_ovw001_overview_renders_kpis_from_bundled_data(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#overview-kpi-revenue", "£7.98M", timeout=60)
    dash_duo.wait_for_text_to_equal("#overview-kpi-active_customers", "4,264")
    assert len(dash_duo.find_elements(".kpi-card")) == 8
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "UCI Online Retail 2009-2011 (bundled)")
    dash_duo.wait_for_element("#overview-trend .main-svg")
    assert len(dash_duo.driver.find_elements(By.CSS_SELECTOR, "#overview-rfm .bars path")) >= 11
    assert modebar_overlaps(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


def test_ovw002_unknown_page_shows_404(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/no-such-page")
    dash_duo.wait_for_text_to_equal("h3", "Page not found")


def test_ovw003_running_total_and_partial_month_are_labelled(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#overview-kpi-revenue", "£7.98M", timeout=60)
    kpis = dash_duo.find_element("#overview-kpis").text
    assert "CUSTOMERS TO DATE" in kpis.upper() and "(a running total)" in kpis
    # 9 Dec 2011 is the last day of data: December is drawn as a partial month, not a collapse
    dash_duo.wait_for_contains_text("#overview-trend", "9 of 31 days")
    assert "Revenue, partial month" in dash_duo.find_element("#overview-trend").text
    assert "-0.0%" not in kpis
    assert dash_duo.get_logs() == []


def test_ovw004_upload_with_short_history_and_no_country(dash_duo, app, tmp_path):
    """The synthetic log starts 2 Jan 2022: a year before the default period is one day short."""
    path = _write_log(tmp_path / "shop.csv")
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_contains_text("#data-current-label", "bundled", timeout=60)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    dash_duo.wait_for_contains_text("#data-upload-summary", "3 columns found", timeout=30)
    click(dash_duo.driver, load_button(dash_duo.driver))
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "shop.csv", timeout=90)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "shop.csv", timeout=30)
    change = dash_duo.wait_for_element("#overview-kpi-revenue-change", timeout=60)
    wait_until(lambda: "in the last 364 days vs the 364 before" in change.text)
    assert "no earlier period" not in dash_duo.find_element("#overview-kpis").text
    assert "No country on this period's rows" in dash_duo.find_element("#overview-countries").text
    assert dash_duo.get_logs() == []


def test_ovw_report_download_arrives(dash_duo, app):
    """Download report builds the period's report in a job and the browser receives the file."""
    import os

    dash_duo.start_server(app)
    dash_duo.wait_for_text_to_equal("#overview-kpi-revenue", "£7.98M", timeout=60)
    click(dash_duo.driver, dash_duo.find_element("#overview-report-button"))
    folder = dash_duo.download_path

    def arrived():
        names = [n for n in os.listdir(folder) if not n.endswith(".crdownload")]
        return names or None

    names = wait_until(arrived, timeout=300, interval=1)
    assert names == ["segmenta-report-2010-12-10-to-2011-12-09.html"]
    text = (Path(folder) / names[0]).read_text()
    assert "Executive report, 10 Dec 2010 – 09 Dec 2011" in text
    assert '<div class="value">£7.98M</div>' in text  # the card's own string
    assert not list((app.server.config["SEGMENTA_SETTINGS"].cache_dir / "reports").glob("*"))

    # the PDF of the same period, from the results the first report cached
    click(
        dash_duo.driver,
        dash_duo.find_element("label[for='_dbcprivate_radioitems_overview-report-kind_input_pdf']"),
    )
    click(dash_duo.driver, dash_duo.find_element("#overview-report-button"))
    pdf = "segmenta-report-2010-12-10-to-2011-12-09.pdf"
    wait_until(lambda: pdf in os.listdir(folder), timeout=120, interval=1)
    assert (Path(folder) / pdf).read_bytes()[:5] == b"%PDF-"
    assert dash_duo.get_logs() == []
