from tests.browser.helpers import search_and_choose, set_slider, table_rows, wait_until


def test_bsk001_mine_rules_then_cross_sell(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/baskets")
    dash_duo.wait_for_contains_text("#baskets-summary-badges", "971 rules (FP-Growth)", timeout=120)
    assert "39,516 baskets" in dash_duo.find_element("#baskets-summary-badges").text
    assert table_rows(dash_duo.driver, "baskets-rules-table") >= 12
    wait_until(lambda: len(dash_duo.find_elements("#baskets-network .scatterlayer .point")) > 5)
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
