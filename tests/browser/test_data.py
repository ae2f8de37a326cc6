import polars as pl

from analytics.synthetic import synthetic_log
from tests.browser.helpers import click, load_button


def _write_log(path, date_format="%Y-%m-%d %H:%M"):
    tx, _ = synthetic_log(400, seed=4)
    tx.filter(pl.col("customer_id").is_not_null()).select(
        Customer="customer_id",
        Date=pl.col("invoice_date").dt.strftime(date_format),
        Total=pl.col("quantity") * pl.col("unit_price"),
    ).write_csv(path)
    return path


def test_dat001_upload_map_and_analyse_own_data(dash_duo, app, tmp_path):
    path = _write_log(tmp_path / "shop_orders.csv")
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_contains_text("#data-current-label", "bundled", timeout=60)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    dash_duo.wait_for_contains_text(
        "#data-upload-summary", "shop_orders.csv: 3 columns found", timeout=30
    )
    click(dash_duo.driver, load_button(dash_duo.driver))
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "shop_orders.csv", timeout=90)
    dash_duo.wait_for_contains_text("#data-report-summary", "customers", timeout=30)
    # every page now analyses the upload
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_text_to_equal("#topbar-dataset", "shop_orders.csv", timeout=30)
    dash_duo.wait_for_element("#overview-kpi-revenue", timeout=60)
    assert dash_duo.find_element("#overview-kpi-revenue").text.startswith("£")
    assert dash_duo.get_logs() == []


def test_dat002_ambiguous_dates_get_a_clear_message(dash_duo, app, tmp_path):
    path = tmp_path / "ambiguous.csv"
    path.write_text(
        "Customer,Date,Total\n"
        + "".join(f"c{i},0{1 + i % 9}/0{1 + i % 7}/2011,10\n" for i in range(60))
    )
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=30)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(path))
    click(dash_duo.driver, load_button(dash_duo.driver))
    dash_duo.wait_for_contains_text(
        "#data-load-alert", "can be read day-first or month-first", timeout=90
    )
    assert dash_duo.find_element("#topbar-dataset").text.endswith("(bundled)")


def test_dat003_customer_count_matches_other_pages_or_says_why(dash_duo, app):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_contains_text(
        "#data-report-summary",
        "5,939 customers in the cleaned log; 5,878 with at least one purchase "
        "(analysed on every page), 61 only returned goods",
        timeout=60,
    )
    # the Segments page counts the same 5,878 customers
    dash_duo.driver.get(dash_duo.server_url + "/segments")
    dash_duo.wait_for_contains_text("#segments-metrics", "5,878", timeout=60)
    assert dash_duo.get_logs() == []
