from tests.browser.helpers import (
    click,
    clipped_labels,
    load_button,
    modebar_overlaps,
    search_and_choose,
    set_slider,
    table_rows,
    wait_until,
)
from tests.browser.test_data import _write_log


def test_bsk001_mine_rules_then_cross_sell(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/baskets")
    dash_duo.wait_for_contains_text("#baskets-summary-badges", "971 rules (FP-Growth)", timeout=120)
    assert "39,516 baskets" in dash_duo.find_element("#baskets-summary-badges").text
    assert table_rows(dash_duo.driver, "baskets-rules-table") >= 12
    wait_until(lambda: len(dash_duo.find_elements("#baskets-network .scatterlayer .point")) > 5)
    assert modebar_overlaps(dash_duo.driver) == []
    # every product name in the network and the pairs chart is inside its chart
    assert clipped_labels(dash_duo.driver, "#baskets-network") == []
    assert clipped_labels(dash_duo.driver, "#baskets-pairs") == []
    search_and_choose(dash_duo.driver, "baskets-customer", "12347")
    wait_until(lambda: table_rows(dash_duo.driver, "baskets-cross-sell-table") >= 1, timeout=30)
    # a stricter lift threshold mines again in the background and leaves fewer rules
    set_slider(dash_duo.driver, "baskets-lift", 20, step=0.5)
    dash_duo.wait_for_contains_text("#baskets-summary-badges", "(FP-Growth)", timeout=120)
    wait_until(
        lambda: "971 rules" not in dash_duo.find_element("#baskets-summary-badges").text,
        timeout=120,
    )
    assert dash_duo.get_logs() == []


def test_bsk002_a_failed_mining_run_says_so(dash_duo, app, tmp_path):
    """A log without products cannot be mined: the charts say why instead of "Mining…" forever."""
    path = _write_log(tmp_path / "no_products.csv")
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_contains_text("#data-current-label", "bundled", timeout=60)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    dash_duo.wait_for_contains_text("#data-upload-summary", "3 columns found", timeout=30)
    click(dash_duo.driver, load_button(dash_duo.driver))
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "no_products.csv", timeout=90)
    dash_duo.driver.get(dash_duo.server_url + "/baskets")
    dash_duo.wait_for_element("#baskets-alert", timeout=60)
    wait_until(lambda: "No rules:" in dash_duo.find_element("#baskets-network").text, timeout=90)
    for figure_id in ("baskets-scatter", "baskets-pairs"):
        assert "No rules:" in dash_duo.find_element(f"#{figure_id}").text
    assert "Mining" not in dash_duo.find_element("#baskets-pairs").text
