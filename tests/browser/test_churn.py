import pytest

from dashboard.settings import Settings
from tests.browser.helpers import search_and_choose, wait_until


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
    rows = dash_duo.find_elements("#churn-metrics-table tr")
    assert [
        r.text.startswith(name)
        for r, name in zip(rows[1:], ("LightGBM", "Recency baseline"), strict=True)
    ] == [True, True]
    assert len(dash_duo.find_elements("#churn-clv-table tr")) == 4
    assert "Churn model beats recency" in dash_duo.find_element("#churn-content").text
    assert dash_duo.find_element("#churn-quadrant-loyal").text.endswith("customers")
    wait_until(lambda: len(dash_duo.find_elements("#churn-at-risk-table tbody tr")) > 10)
    link = dash_duo.find_elements("#churn-at-risk-table tbody a")[0]
    assert link.get_attribute("href").endswith(f"/customer?id={link.text}")
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
    assert dash_duo.get_logs() == []
