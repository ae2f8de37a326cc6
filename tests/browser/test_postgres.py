"""The Data page's PostgreSQL form against a real server (the session's ``pg_shop`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.browser.helpers import click, load_button, wait_until
from tests.postgres_server import ANALYST, ANALYST_PASSWORD, DATABASE

SMALL = "orders_sample"


@pytest.fixture(scope="module")
def small_table(pg_shop):
    """A few hundred customers' orders (a fast load), in a table the analyst owns."""
    with pg_shop.connect(ANALYST, ANALYST_PASSWORD) as conn:
        conn.execute(f"DROP TABLE IF EXISTS {SMALL}")
        conn.execute(
            f'CREATE TABLE {SMALL} AS SELECT * FROM orders WHERE "CustomerID" IN '
            '(SELECT DISTINCT "CustomerID" FROM orders WHERE "CustomerID" IS NOT NULL '
            'ORDER BY "CustomerID" LIMIT 300)'
        )
    return pg_shop


def _fill(dash_duo, server, password: str, table: str = SMALL) -> None:
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_element("#data-pg-host", timeout=60)
    for field, value in {
        "host": "127.0.0.1",
        "port": str(server.port),
        "database": DATABASE,
        "user": ANALYST,
        "password": password,
        "table": table,
    }.items():
        element = dash_duo.find_element(f"#data-pg-{field}")
        element.clear()
        element.send_keys(value)
    click(dash_duo.driver, dash_duo.find_element("#data-pg-button"))


def _page_state(driver) -> str:
    """Everything the page holds: Dash's whole state (every store and prop) and web storage."""
    return driver.execute_script(
        "return JSON.stringify(window.store.getState()) + JSON.stringify(localStorage) "
        "+ JSON.stringify(sessionStorage) + document.documentElement.outerHTML"
    )


def _files_holding(folder: Path, secret: str) -> list[str]:
    return [
        str(path)
        for path in folder.rglob("*")
        if path.is_file() and secret.encode() in path.read_bytes()
    ]


def test_pg001_read_a_table_map_load_and_see_the_overview(dash_duo, app, small_table, tmp_path):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _fill(dash_duo, small_table, ANALYST_PASSWORD)
    label = f"table {SMALL} in postgresql://{ANALYST}@127.0.0.1:{small_table.port}/{DATABASE}"
    dash_duo.wait_for_contains_text("#data-upload-summary", f"{label}: 8 columns", timeout=60)
    # the password field was emptied by the answer, and no store holds the password
    assert dash_duo.find_element("#data-pg-password").get_attribute("value") == ""
    click(dash_duo.driver, load_button(dash_duo.driver))
    dash_duo.wait_for_text_to_equal("#topbar-dataset", label, timeout=120)
    dash_duo.wait_for_contains_text("#data-report-summary", "customers", timeout=30)
    assert ANALYST_PASSWORD not in _page_state(dash_duo.driver)
    dash_duo.driver.get(dash_duo.server_url + "/")
    dash_duo.wait_for_text_to_equal("#topbar-dataset", label, timeout=30)
    dash_duo.wait_for_element("#overview-kpi-revenue", timeout=60)
    assert dash_duo.find_element("#overview-kpi-revenue").text.startswith("£")
    assert ANALYST_PASSWORD not in _page_state(dash_duo.driver)
    assert _files_holding(tmp_path / "cache", ANALYST_PASSWORD) == []
    assert dash_duo.get_logs() == []


def test_pg002_wrong_password_and_missing_table_say_so(dash_duo, app, small_table, tmp_path):
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    _fill(dash_duo, small_table, "not-the-password-81")
    dash_duo.wait_for_contains_text("#data-pg-alert", "PostgreSQL refused the password", timeout=60)
    assert dash_duo.find_element("#data-pg-password").get_attribute("value") == ""
    _fill(dash_duo, small_table, ANALYST_PASSWORD, table="no_such_orders")
    dash_duo.wait_for_contains_text("#data-pg-alert", "No table named 'no_such_orders'", timeout=60)
    # nothing was registered, and neither password is anywhere
    assert not list((tmp_path / "cache").glob("uploads/u-*"))
    for secret in ("not-the-password-81", ANALYST_PASSWORD):
        assert secret not in _page_state(dash_duo.driver)
        assert _files_holding(tmp_path / "cache", secret) == []
    wait_until(lambda: dash_duo.find_element("#topbar-dataset").text.endswith("(bundled)"))
