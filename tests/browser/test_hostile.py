"""Hostile values in the browser: what a crafted id can and cannot do to a page."""

from pathlib import Path
from urllib.parse import unquote

from dash import Dash

from dashboard.components.grid import LINK_RENDERER, create_grid
from dashboard.components.tables import text
from tests.browser.helpers import wait_until

EVIL = "c148](https://evil.example/phish)"
ROOT = Path(__file__).resolve().parents[2]


def test_hos001_customer_id_cannot_become_a_foreign_link(dash_duo):
    """The at-risk grid's customer links (AG Grid with the app's AppLink renderer, as on the
    Churn page): a crafted id stays text and links to its own customer page."""
    hostile = [EVIL, "javascript:alert(1)", "<img src=x onerror=alert(1)>", "../../etc/passwd"]
    app = Dash(__name__, assets_folder=str(ROOT / "assets"))
    app.layout = create_grid(
        "links",
        [{"customer_id": c} for c in [*hostile, "12347"]],
        [
            text(
                "Customer",
                "customer_id",
                cellRenderer=LINK_RENDERER,
                cellRendererParams={"href": "/customer?id={value}"},
            )
        ],
    )
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#links .ag-row a")
    anchors = dash_duo.driver.find_elements("css selector", "#links .ag-row a")
    assert len(anchors) == 5
    by_label = {a.text: a.get_attribute("href") for a in anchors}
    assert set(by_label) == {*hostile, "12347"}  # shown as text, not interpreted
    for label, href in by_label.items():
        assert href.startswith(dash_duo.server_url + "/customer?id="), href
        assert unquote(href.split("?id=", 1)[1]) == label  # the whole id, encoded
    assert by_label[EVIL].endswith("/customer?id=c148%5D(https%3A%2F%2Fevil.example%2Fphish)")
    assert dash_duo.find_elements("#links img") == []
    assert dash_duo.get_logs() == []


def test_hos002_refused_upload_shows_why_and_keeps_nothing(dash_duo, app, tmp_path):
    fake = tmp_path / "orders.xlsx"
    fake.write_text("Customer,Date,Total\nc1,2011-01-01,5\n")
    before = fake.read_bytes()
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#overview-kpis")
    dash_duo.driver.get(dash_duo.server_url + "/data")
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=60)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(fake))
    dash_duo.wait_for_contains_text(
        "#data-upload-alert",
        "orders.xlsx is named .xlsx but is not an Excel workbook: its content looks like text "
        "(a CSV?). Rename it to .csv",
        timeout=60,
    )
    assert "--" not in dash_duo.find_element("#data-upload-alert").text
    # the upload's "Uploading orders.xlsx…" line goes with the refusal (it stayed under it)
    wait_until(lambda: dash_duo.find_elements("#data-uploading") == [], timeout=10)
    assert dash_duo.find_element("#topbar-dataset").text.endswith("(bundled)")
    uploads = app.server.config["SEGMENTA_SETTINGS"].cache_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert fake.read_bytes() == before
