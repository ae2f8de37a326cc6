import pytest

from dashboard.settings import Settings
from tests.browser.helpers import (
    click,
    clipped_labels,
    column_values,
    modebar_overlaps,
    search_and_choose,
    table_rows,
    wait_until,
)


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module: the models trained by the first story serve the second."""
    return tmp_path_factory.mktemp("churn-cache")


@pytest.fixture
def app(shared_cache):
    from dashboard.app import create_app

    return create_app(Settings.from_env({"SEGMENTA_CACHE_DIR": str(shared_cache)}))


def test_chu001_training_shows_metrics_against_baselines(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/churn")
    dash_duo.wait_for_element("#churn-metrics-table", timeout=180)
    assert "LightGBM (calibrated)" in dash_duo.find_element("#churn-method").text
    models = column_values(dash_duo.driver, "churn-metrics-table", "model")
    assert [
        m.startswith(name) for m, name in zip(models, ("LightGBM", "Recency baseline"), strict=True)
    ] == [True, True]
    assert table_rows(dash_duo.driver, "churn-clv-table") == 3
    assert "Churn model beats recency" in dash_duo.find_element("#churn-content").text
    assert dash_duo.find_element("#churn-quadrant-loyal").text.endswith("customers")
    wait_until(lambda: table_rows(dash_duo.driver, "churn-at-risk-table") > 10)
    assert modebar_overlaps(dash_duo.driver) == []
    assert dash_duo.get_logs() == []


def test_cus001_customer_lookup_shows_explanations(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/customer")
    search_and_choose(dash_duo.driver, "customer-search", "12347")
    dash_duo.wait_for_text_to_equal("#customer-rfm", "Champions (545)", timeout=60)
    dash_duo.wait_for_contains_text(
        "#customer-explain-churn", "probability of no purchase in the next 90 days", timeout=180
    )
    dash_duo.wait_for_contains_text("#customer-explain-clv", "expected net spend", timeout=30)
    dash_duo.wait_for_contains_text("#customer-explain-segment", "surrogate confidence", timeout=30)
    bars = dash_duo.find_elements("#customer-explanations .bars path")
    assert len(bars) >= 12
    assert modebar_overlaps(dash_duo.driver) == []
    assert clipped_labels(dash_duo.driver, "#customer-explanations") == []  # LIME sentences
    assert dash_duo.get_logs() == []


def test_cus002_at_risk_link_opens_that_customer(dash_duo, app):
    """A customer link in the at-risk table navigates in-app and fills the Customer page."""
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/churn")
    link = wait_until(
        lambda: next(
            iter(dash_duo.find_elements("#churn-at-risk-table a[href^='/customer']")), None
        ),
        timeout=180,
    )
    customer_id = link.text.strip()
    click(dash_duo.driver, link)
    wait_until(lambda: dash_duo.driver.current_url.endswith(f"/customer?id={customer_id}"))
    dash_duo.wait_for_element("#customer-rfm", timeout=60)
    assert dash_duo.find_element("#customer-search").text.strip() == customer_id
    assert dash_duo.get_logs() == []
