"""User stories of customer tables (issue 10): upload one, segment it, see the transaction pages
say they need a log, and join one to the bundled log."""

import numpy as np
import polars as pl
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from analytics.datasets import data_dir
from tests.browser.helpers import choose, click, load_button, open_tab, table_rows, wait_until

MALL = data_dir() / "mall_customers.csv.gz"


def _upload(dash_duo, path, kind_label: str) -> None:
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=60)
    label = wait_until(
        lambda: next(
            (
                e
                for e in dash_duo.driver.find_elements(By.CSS_SELECTOR, "#data-kind label")
                if e.text.startswith(kind_label)
            ),
            None,
        )
    )
    click(dash_duo.driver, label)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    dash_duo.wait_for_contains_text("#data-upload-summary", path.name, timeout=30)
    dash_duo.wait_for_element("#data-table-form", timeout=30)
    click(dash_duo.driver, load_button(dash_duo.driver))


def _choose_features(driver, *labels: str) -> None:
    """Pick several options of the multi-select (it stays open between picks)."""
    for label in labels:
        choose(driver, "segments-features", label)
        ActionChains(driver).send_keys(Keys.ESCAPE).perform()


def _screenshots(driver, name: str) -> None:
    """The whole Segments page, 1400 px wide, for a person to look at."""
    driver.set_window_size(1400, 2400)
    driver.save_screenshot(f"/tmp/{name}_segments_full.png")
    open_tab(driver, "segments-tabs", "Profiles")
    wait_until(
        lambda: driver.find_elements(By.CSS_SELECTOR, "#segments-heatmap .heatmaplayer .hm"),
        timeout=30,
    )
    driver.save_screenshot(f"/tmp/{name}_segments_profiles.png")
    open_tab(driver, "segments-tabs", "What defines them")
    wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, "#segments-box .trace"), timeout=30)
    driver.save_screenshot(f"/tmp/{name}_segments_drivers.png")
    open_tab(driver, "segments-tabs", "Map and personas")
    driver.set_window_size(1400, 1000)


def test_tab001_upload_a_customer_table_and_see_its_personas(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _upload(dash_duo, MALL, "A customer table instead")
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "mall_customers.csv.gz", timeout=90)
    dash_duo.wait_for_contains_text(
        "#data-table-summary",
        "Customer table: 200 customers; numeric columns: Age, Annual Income (k$), "
        "Spending Score (1-100); categorical columns: Genre.",
        timeout=30,
    )
    dash_duo.driver.save_screenshot("/tmp/tab001_data.png")
    dash_duo.driver.get(dash_duo.server_url + "/segments")
    dash_duo.wait_for_contains_text("#segments-metrics", "200", timeout=60)
    # personas are named from the table's columns, as the CLI names them
    dash_duo.wait_for_contains_text("#segments-personas", "Spending Score (1-100)", timeout=30)
    text = dash_duo.find_element("#segments-personas").text
    assert "mostly Genre" in text and "revenue" not in text
    # the checklist offers the table's columns as written, categories one-hot
    _choose_features(dash_duo.driver, "Annual Income (k$)", "Spending Score (1-100)")
    open_tab(dash_duo.driver, "segments-tabs", "What defines them")
    dash_duo.wait_for_contains_text(
        "#segments-surrogate-accuracy", "decision tree of depth 4", timeout=30
    )
    open_tab(dash_duo.driver, "segments-tabs", "Map and personas")
    # clustered on the two chosen columns only: the PCA axes are made of them
    wait_until(
        lambda: (
            "PC2" in dash_duo.find_element("#segments-pca-caption").text
            and "PC3" not in dash_duo.find_element("#segments-pca-caption").text
        ),
        timeout=30,
    )
    caption = dash_duo.find_element("#segments-pca-caption").text
    assert "Annual Income (k$)" in caption and "Spending Score (1-100)" in caption
    assert "Genre" not in caption
    _screenshots(dash_duo.driver, "tab001")
    assert dash_duo.get_logs() == []


def test_tab002_transaction_pages_say_they_need_a_log(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _upload(dash_duo, MALL, "A customer table instead")
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "mall_customers.csv.gz", timeout=90)
    for path, name in [
        ("/churn", "Churn & CLV"),
        ("/baskets", "Baskets"),
        ("/lifecycle", "Lifecycle"),
        ("/customer", "Customer"),
        ("/", "Overview"),
    ]:
        dash_duo.driver.get(dash_duo.server_url + path)
        dash_duo.wait_for_contains_text(
            "#shell-needs-log-alert", f"{name} needs a transaction log", timeout=30
        )
        assert not dash_duo.find_element("#shell-page").is_displayed()
        if path == "/churn":
            dash_duo.driver.save_screenshot("/tmp/tab002_churn.png")
    link = dash_duo.find_element("#shell-needs-log-alert a[href='/data']")
    click(dash_duo.driver, link)
    dash_duo.wait_for_element("#data-table-summary", timeout=30)
    assert dash_duo.find_elements("#shell-needs-log-alert") == []
    assert dash_duo.get_logs() == []


def test_tab003_join_a_table_to_the_bundled_log_and_cluster_on_it(dash_duo, app, tmp_path):
    # a CRM export for the bundled customers: a loyalty tier and an age, made up (seeded)
    ids = (
        pl.read_parquet(data_dir() / "online_retail_2009_2011.parquet", columns=["CustomerID"])
        .drop_nulls()
        .unique()
        .sort("CustomerID")
        .get_column("CustomerID")
    )
    rng = np.random.default_rng(1)
    path = tmp_path / "crm export.csv"
    pl.DataFrame(
        {
            "Customer No": ids,
            "Age (years)": rng.integers(18, 80, len(ids)),
            "Loyalty tier": rng.choice(["Gold", "Silver", "Bronze"], len(ids)),
        }
    ).write_csv(path)
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _upload(dash_duo, path, "A customer table to join")
    dash_duo.wait_for_contains_text("#topbar-dataset", "+ crm export.csv", timeout=120)
    dash_duo.wait_for_contains_text(
        "#data-table-summary", "5,878 of the log's customers are in the table", timeout=60
    )
    dash_duo.driver.get(dash_duo.server_url + "/segments")
    dash_duo.wait_for_contains_text("#segments-metrics", "5,878", timeout=90)
    _choose_features(dash_duo.driver, "Net spend (after returns)", "Loyalty tier=Gold")
    dash_duo.wait_for_contains_text("#segments-pca-caption", "Loyalty tier=Gold", timeout=60)
    # behavioural personas, the joined attribute in the profile
    assert "revenue" in dash_duo.find_element("#segments-personas").text
    open_tab(dash_duo.driver, "segments-tabs", "Profiles")
    wait_until(lambda: table_rows(dash_duo.driver, "segments-profile-table") > 0, timeout=30)
    headers = [
        e.text
        for e in dash_duo.driver.find_elements(
            By.CSS_SELECTOR, "#segments-profile-table .ag-header-cell-text"
        )
    ]
    assert "Age (years) (mean)" in headers or len(headers) > 8
    _screenshots(dash_duo.driver, "tab003")
    # the log's pages still work on a joined dataset
    dash_duo.driver.get(dash_duo.server_url + "/churn")
    dash_duo.wait_for_element("#churn-horizon", timeout=30)
    assert dash_duo.find_elements("#shell-needs-log-alert") == []
    assert dash_duo.get_logs() == []


def test_tab004_a_log_uploaded_as_a_table_is_sent_back_with_a_clear_message(
    dash_duo, app, tmp_path
):
    from tests.browser.test_data import _write_log

    path = _write_log(tmp_path / "orders.csv")
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _upload(dash_duo, path, "A customer table instead")
    dash_duo.wait_for_contains_text(
        "#data-load-alert", "orders.csv looks like a transaction log, not a customer table", 90
    )
    alert = dash_duo.find_element("#data-load-alert").text
    assert "column 'Date' holds dates" in alert
    assert "Load it as “A transaction log” (under “What is this file?”)" in alert
    assert dash_duo.find_element("#topbar-dataset").text.endswith("(bundled)")
    dash_duo.driver.save_screenshot("/tmp/tab004_data.png")
