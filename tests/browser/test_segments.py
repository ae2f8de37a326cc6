from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.helpers import (
    choose,
    click,
    legend_overlaps,
    modebar_overlaps,
    open_tab,
    persona_cards,
    set_slider,
    slider_value,
    table_rows,
    truncated_texts,
    wait_until,
)


def _open_segments(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/segments")
    wait_until(lambda: persona_cards(dash_duo.driver) == 4, timeout=60)


def test_seg001_changing_k_reclusters_plot_and_table(dash_duo, app):
    _open_segments(dash_duo, app)
    assert len(dash_duo.find_elements("#segments-pca .legendtext")) == 4
    set_slider(dash_duo.driver, "segments-k", 6)
    wait_until(lambda: persona_cards(dash_duo.driver) == 6)
    wait_until(lambda: len(dash_duo.find_elements("#segments-pca .legendtext")) == 6)
    assert len(dash_duo.find_elements(".persona-card")) == 6
    assert modebar_overlaps(dash_duo.driver) == []
    # the choice survives a reload (session storage)
    dash_duo.driver.refresh()
    wait_until(lambda: persona_cards(dash_duo.driver) == 6, timeout=60)
    assert slider_value(dash_duo.driver, "segments-k") == 6
    assert dash_duo.get_logs() == []


def test_seg002_k_sweep_shows_progress_and_result(dash_duo, app):
    _open_segments(dash_duo, app)
    dash_duo.find_element("#segments-sweep-button").click()
    wait_until(lambda: dash_duo.find_element("#segments-sweep-cancel").is_enabled(), timeout=10)
    assert dash_duo.find_element("#segments-sweep-button").get_attribute("disabled") is not None
    dash_duo.wait_for_text_to_equal("#segments-sweep-apply", "Use k = 4", timeout=90)
    progress = dash_duo.find_element("#segments-sweep-progress-text").get_attribute("textContent")
    assert progress == "Tried 9 of 9 values of k"
    assert "best average rank" in dash_duo.find_element("#segments-sweep-reason").text
    assert len(dash_duo.find_elements("#segments-sweep-graph .scatterlayer .trace")) == 3
    set_slider(dash_duo.driver, "segments-k", 7)
    wait_until(lambda: persona_cards(dash_duo.driver) == 7)
    dash_duo.find_element("#segments-sweep-apply").click()
    wait_until(lambda: persona_cards(dash_duo.driver) == 4)
    assert dash_duo.get_logs() == []


def _alert_text(driver, alert_id: str) -> str:
    """The alert's text, or "" when it is closed (dbc removes a closed alert from the page)."""
    found = driver.find_elements(By.ID, alert_id)
    return found[0].text if found and found[0].is_displayed() else ""


def test_seg003_invalid_parameter_alert_names_the_field_and_clears_when_fixed(dash_duo, app):
    _open_segments(dash_duo, app)
    driver = dash_duo.driver
    choose(driver, "segments-algorithm", "DBSCAN (density, finds outliers)")
    wait_until(
        lambda: (
            driver.find_element(By.ID, "segments-eps").is_displayed()
            and driver.find_element(By.ID, "segments-eps")
        )
    )
    # the number box shows its digits (Dash 4's input + steppers squeezed in a form-control
    # showed half a "0.5" above a boxed "−")
    box = driver.find_element(By.ID, "segments-eps").size
    assert box["width"] >= 100 and box["height"] >= 30, box
    driver.find_element(By.ID, "segments-eps").send_keys(Keys.BACKSPACE * 4, "0", Keys.TAB)
    wait_until(lambda: "DBSCAN radius (eps)" in _alert_text(driver, "segments-alert"), timeout=30)
    assert "must be a number in (0.0, 100.0]" in _alert_text(driver, "segments-alert")
    assert persona_cards(driver) == 4  # the last good result stays
    # fixing the input closes the alert
    driver.find_element(By.ID, "segments-eps").send_keys(Keys.BACKSPACE * 4, "0.5", Keys.TAB)
    wait_until(lambda: _alert_text(driver, "segments-alert") == "", timeout=30)
    # a new error does not follow the user to another page
    driver.find_element(By.ID, "segments-eps").send_keys(Keys.BACKSPACE * 4, "-3", Keys.TAB)
    wait_until(lambda: "DBSCAN radius (eps)" in _alert_text(driver, "segments-alert"), timeout=30)
    driver.find_element(By.ID, "nav-overview").click()
    dash_duo.wait_for_element("#overview-kpis .kpi-card", timeout=30)
    assert _alert_text(driver, "segments-alert") == "" and _alert_text(driver, "app-alert") == ""
    assert dash_duo.get_logs() == []


def test_seg004_settings_live_in_the_url(dash_duo, app):
    _open_segments(dash_duo, app)
    driver = dash_duo.driver
    set_slider(driver, "segments-k", 5)
    wait_until(lambda: persona_cards(driver) == 5)
    wait_until(lambda: "k=5" in driver.current_url)
    assert "algorithm=kmeans" in driver.current_url
    # a link reproduces what its sender saw, in a fresh browser session
    link = dash_duo.server_url + "/segments?algorithm=gmm&k=3&view=2d"
    driver.delete_all_cookies()
    driver.execute_script("window.sessionStorage.clear()")
    driver.get(link)
    wait_until(lambda: persona_cards(driver) == 3, timeout=60)
    assert slider_value(driver, "segments-k") == 3
    assert "Gaussian mixture" in driver.find_element(By.ID, "segments-algorithm").text
    # a link with a value the page cannot use says so, and shows the default
    driver.get(dash_duo.server_url + "/segments?k=abc")
    wait_until(
        lambda: (
            "The link's Number of segments (k) (abc)" in _alert_text(driver, "segments-link-alert")
        )
    )
    wait_until(lambda: persona_cards(driver) == 4, timeout=60)
    assert dash_duo.get_logs() == []


def test_seg005_recluster_draws_the_open_tab_in_one_round_trip(dash_duo, app):
    _open_segments(dash_duo, app)
    driver = dash_duo.driver

    def requests() -> int:
        return driver.execute_script(
            "return performance.getEntriesByType('resource')"
            ".filter(e => e.name.includes('_dash-update-component')).length"
        )

    driver.execute_script("window.performance.clearResourceTimings()")
    set_slider(driver, "segments-k", 3)
    wait_until(lambda: persona_cards(driver) == 3)
    wait_until(lambda: len(dash_duo.find_elements("#segments-pca .legendtext")) == 3)
    assert requests() == 1
    # the other tabs are drawn when opened, for the settings shown
    open_tab(driver, "segments-tabs", "What defines them")
    wait_until(lambda: len(dash_duo.find_elements("#segments-box .boxlayer .trace")) == 3)
    dash_duo.wait_for_contains_text("#segments-surrogate-accuracy", "decision tree", timeout=30)
    open_tab(driver, "segments-tabs", "Profiles")
    wait_until(lambda: table_rows(driver, "segments-profile-table") == 3)
    wait_until(lambda: "tab=profiles" in driver.current_url)
    assert requests() == 3
    # going back to a tab already drawn with these settings redraws nothing
    open_tab(driver, "segments-tabs", "Map and personas")
    wait_until(lambda: "tab=" not in driver.current_url)
    assert requests() == 4  # the tab change itself, answered with no figure
    assert len(dash_duo.find_elements("#segments-pca .legendtext")) == 3
    assert dash_duo.get_logs() == []


def test_seg006_single_feature_draws_a_strip_not_a_crash(dash_duo, app):
    _open_segments(dash_duo, app)
    choose(dash_duo.driver, "segments-features", "Net spend (after returns)")
    dash_duo.wait_for_contains_text(
        "#segments-pca-caption", "Clustered on one feature (net spend", timeout=60
    )
    wait_until(lambda: len(dash_duo.find_elements("#segments-pca .legendtext")) == 4)
    assert dash_duo.get_logs() == []


def test_seg007_persona_names_and_heatmap_tell_the_truth(dash_duo, app):
    _open_segments(dash_duo, app)
    set_slider(dash_duo.driver, "segments-k", 2)
    wait_until(lambda: persona_cards(dash_duo.driver) == 2)
    names = [c.text.split("\n")[0] for c in dash_duo.find_elements(".persona-card")]
    # at k=2 half the customers share a segment: no "VIP" label for half the base
    assert not any("VIP" in name for name in names), names
    assert "Versus the average customer:" in dash_duo.find_element("#segments-personas").text
    choose(dash_duo.driver, "segments-algorithm", "DBSCAN (density, finds outliers)")
    wait_until(lambda: "Outliers" in dash_duo.find_element("#segments-personas").text, timeout=60)
    open_tab(dash_duo.driver, "segments-tabs", "Profiles")
    heatmap = wait_until(lambda: dash_duo.find_element("#segments-heatmap").text)
    assert "nan" not in heatmap and "0.00×" in heatmap
    assert dash_duo.get_logs() == []


def test_seg008_controls_and_legends_fit_at_1400px(dash_duo, app):
    """Selected values were cut to "Log + standardise (def…"; legends sat on axis titles."""
    _open_segments(dash_duo, app)
    driver = dash_duo.driver
    assert "standardise" in driver.find_element(By.ID, "segments-scaling").text
    assert truncated_texts(driver, ".dash-dropdown-value, .dash-dropdown-placeholder") == []
    assert legend_overlaps(driver, "#segments-pca") == []
    click(driver, driver.find_element(By.CSS_SELECTOR, "#segments-view input[value='2d']"))
    wait_until(lambda: dash_duo.find_elements("#segments-pca .xtitle"), timeout=60)  # 2D drawn
    wait_until(lambda: legend_overlaps(driver, "#segments-pca") == [], timeout=10)
    choose(driver, "segments-features", "Days since last purchase")
    dash_duo.wait_for_contains_text("#segments-pca-caption", "Clustered on one feature", timeout=60)
    assert truncated_texts(driver, ".dash-dropdown-value, .dash-dropdown-placeholder") == []
    wait_until(lambda: legend_overlaps(driver, "#segments-pca") == [], timeout=10)
    assert modebar_overlaps(driver) == []
    assert dash_duo.get_logs() == []
