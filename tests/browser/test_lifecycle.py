"""User stories of the Lifecycle page and the Customer page's Alive-or-gone section."""

import pytest
from selenium.webdriver.common.by import By

from dashboard.settings import Settings
from tests.browser.helpers import (
    choose,
    click,
    column_values,
    modebar_overlaps,
    search_and_choose,
    table_rows,
    wait_until,
)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module: the migration computed by the first story serves the next."""
    return tmp_path_factory.mktemp("lifecycle-cache")


@pytest.fixture
def app(shared_cache):
    from dashboard.app import create_app

    return create_app(
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(shared_cache), "SEGMENTA_WARM_UP": "0"})
    )


def _open_lifecycle(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/lifecycle")


def _settled(dash_duo):
    """Wait for every view of the page, so no server thread is stopped in the middle of work."""
    dash_duo.wait_for_contains_text("#lifecycle-anomaly-counts", "Outlier", timeout=180)
    dash_duo.wait_for_contains_text("#lifecycle-migration-stayed", "customers", timeout=180)


def _heatmap_rows(driver) -> int:
    return len(
        driver.find_elements(By.CSS_SELECTOR, "#lifecycle-cohort-heatmap .yaxislayer-above .ytick")
    )


def test_cus002_customer_alive_section(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/customer")
    dash_duo.wait_for_element("#customer-search", timeout=30)
    search_and_choose(dash_duo.driver, "customer-search", "12347")
    dash_duo.wait_for_text_to_equal("#customer-alive-band", "Low", timeout=180)
    assert dash_duo.find_element("#customer-alive-p").text == "99%"
    assert dash_duo.find_element("#customer-alive-as-of").text == "10 Dec 2011"
    assert dash_duo.find_element("#customer-alive-next").text.endswith("2012")
    wait_until(
        lambda: len(dash_duo.find_elements("#customer-alive-curve .scatterlayer .trace")) == 2
    )
    # a fresh cache has no churn model yet: the explanation job trains it, and its end redraws
    # the profile and the risk comparison (they said "once trained" until the next lookup)
    dash_duo.wait_for_element("#customer-explain-churn", timeout=240)
    wait_until(lambda: "appear once" not in dash_duo.find_element("#customer-profile").text, 30)
    assert "Churn risk" in dash_duo.find_element("#customer-profile").text
    wait_until(
        lambda: "once it is trained" not in dash_duo.find_element("#customer-alive-facts").text, 30
    )
    assert dash_duo.get_logs() == []


def test_lif001_cohort_heatmap_toggles_month_and_quarter(dash_duo, app):
    _open_lifecycle(dash_duo, app)
    # 25 monthly cohorts (Dec 2009 .. Dec 2011), the first 955 customers strong
    wait_until(lambda: _heatmap_rows(dash_duo.driver) == 25, timeout=60)
    labels = [t.text for t in dash_duo.find_elements("#lifecycle-cohort-heatmap .ytick text")]
    assert "2009-12 (955)" in labels and "2011-12 (28)" in labels
    click(
        dash_duo.driver,
        dash_duo.driver.find_element(
            By.CSS_SELECTOR,
            "label[for='_dbcprivate_radioitems_lifecycle-cohort-period_input_quarter']",
        ),
    )
    wait_until(lambda: _heatmap_rows(dash_duo.driver) == 9, timeout=30)
    labels = [t.text for t in dash_duo.find_elements("#lifecycle-cohort-heatmap .ytick text")]
    assert "2009-Q4 (955)" in labels
    _settled(dash_duo)
    assert dash_duo.get_logs() == []


def test_lif002_migration_sankey_matrix_and_movers(dash_duo, app):
    _open_lifecycle(dash_duo, app)
    dash_duo.wait_for_contains_text(
        "#lifecycle-migration-stayed", "5,878 customers: 5,438 known on 01 Oct 2011", timeout=180
    )
    assert "440 are new" in dash_duo.find_element("#lifecycle-migration-stayed").text
    wait_until(lambda: dash_duo.find_elements("#lifecycle-sankey .sankey-node"), timeout=30)
    assert len(dash_duo.find_elements("#lifecycle-sankey .sankey-node")) == 12 + 11
    # the mode bar covered the later date's label above the Sankey
    assert not [hit for hit in modebar_overlaps(dash_duo.driver) if "sankey" in hit]
    # the matrix has one row per earlier segment (New + 11 RFM segments)
    assert table_rows(dash_duo.driver, "lifecycle-matrix-table") == 12
    driver = dash_duo.driver
    first = (
        column_values(driver, "lifecycle-movers-table", "from_segment")[0],
        column_values(driver, "lifecycle-movers-table", "to_segment")[0],
    )
    assert first == ("Loyal Customers", "Champions")
    assert table_rows(dash_duo.driver, "lifecycle-movers-table") >= 10
    wait_until(lambda: dash_duo.find_elements("#lifecycle-sizes .scatterlayer .trace"), timeout=30)
    assert len(dash_duo.find_elements("#lifecycle-sizes .scatterlayer .trace")) == 11
    _settled(dash_duo)
    assert dash_duo.get_logs() == []


def test_lif003_unusual_customers_filter_by_kind(dash_duo, app):
    _open_lifecycle(dash_duo, app)
    dash_duo.wait_for_contains_text("#lifecycle-anomaly-counts", "Outlier: 59", timeout=120)
    wait_until(lambda: table_rows(dash_duo.driver, "lifecycle-anomalies-table") >= 10)
    choose(dash_duo.driver, "lifecycle-anomaly-kind", "Spend spiked")
    driver = dash_duo.driver
    wait_until(
        lambda: set(column_values(driver, "lifecycle-anomalies-table", "kind")) == {"Spend spiked"},
        timeout=30,
    )
    assert "times the" in column_values(driver, "lifecycle-anomalies-table", "reason")[0]
    _settled(dash_duo)
    assert dash_duo.get_logs() == []
