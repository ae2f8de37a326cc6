from selenium.webdriver.common.by import By

from tests.browser.helpers import modebar_overlaps


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
