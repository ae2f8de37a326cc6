from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.helpers import (
    choose,
    modebar_overlaps,
    set_slider,
    slider_value,
    table_rows,
    wait_until,
)


def _open_segments(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/segments")
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 4, timeout=60)


def test_seg001_changing_k_reclusters_plot_and_table(dash_duo, app):
    _open_segments(dash_duo, app)
    assert len(dash_duo.find_elements("#segments-pca .legendtext")) == 4
    set_slider(dash_duo.driver, "segments-k", 6)
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 6)
    wait_until(lambda: len(dash_duo.find_elements("#segments-pca .legendtext")) == 6)
    assert len(dash_duo.find_elements(".persona-card")) == 6
    assert modebar_overlaps(dash_duo.driver) == []
    # the choice survives a reload (session storage)
    dash_duo.driver.refresh()
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 6, timeout=60)
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
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 7)
    dash_duo.find_element("#segments-sweep-apply").click()
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 4)
    assert dash_duo.get_logs() == []


def test_seg003_invalid_parameter_shows_the_alert(dash_duo, app):
    _open_segments(dash_duo, app)
    choose(dash_duo.driver, "segments-algorithm", "DBSCAN (density, finds outliers)")
    eps = wait_until(
        lambda: (
            dash_duo.driver.find_element(By.ID, "segments-eps").is_displayed()
            and dash_duo.driver.find_element(By.ID, "segments-eps")
        )
    )
    eps.send_keys(Keys.BACKSPACE * 4, "0", Keys.TAB)
    dash_duo.wait_for_contains_text(
        "#app-alert", "The 'eps' parameter must be a number in (0.0, 100.0]", timeout=30
    )
    assert table_rows(dash_duo.driver, "segments-profile-table") == 4  # the last good result stays


def test_seg004_single_feature_draws_a_strip_not_a_crash(dash_duo, app):
    _open_segments(dash_duo, app)
    choose(dash_duo.driver, "segments-features", "Net spend (after returns)")
    dash_duo.wait_for_contains_text(
        "#segments-pca-caption", "Clustered on one feature (net spend", timeout=60
    )
    wait_until(lambda: len(dash_duo.find_elements("#segments-pca .legendtext")) == 4)
    assert dash_duo.get_logs() == []


def test_seg005_persona_names_and_heatmap_tell_the_truth(dash_duo, app):
    _open_segments(dash_duo, app)
    set_slider(dash_duo.driver, "segments-k", 2)
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") == 2)
    names = [c.text.split("\n")[0] for c in dash_duo.find_elements(".persona-card")]
    # at k=2 half the customers share a segment: no "VIP" label for half the base
    assert not any("VIP" in name for name in names), names
    assert "Versus the average customer:" in dash_duo.find_element("#segments-personas").text
    choose(dash_duo.driver, "segments-algorithm", "DBSCAN (density, finds outliers)")
    wait_until(lambda: "Outliers" in dash_duo.find_element("#segments-personas").text, timeout=60)
    heatmap = wait_until(lambda: dash_duo.find_element("#segments-heatmap").text)
    assert "nan" not in heatmap and "0.00×" in heatmap
    assert dash_duo.get_logs() == []
