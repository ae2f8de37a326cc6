"""Hostile values in the browser: what a crafted id can and cannot do to a page."""

from dash import Dash, dash_table

from dashboard.formatting import customer_link

EVIL = "c148](https://evil.example/phish)"


def test_hos001_customer_id_cannot_become_a_foreign_link(dash_duo):
    """The at-risk table's Markdown link, rendered by DataTable as in the Churn page."""
    app = Dash(__name__)
    app.layout = dash_table.DataTable(
        id="links",
        data=[{"customer": customer_link(EVIL)}, {"customer": customer_link("12347")}],
        columns=[{"name": "Customer", "id": "customer", "presentation": "markdown"}],
    )
    dash_duo.start_server(app)
    dash_duo.wait_for_element("#links a")
    anchors = dash_duo.driver.find_elements("css selector", "#links a")
    hrefs = [a.get_attribute("href") for a in anchors]
    texts = [a.text for a in anchors]
    assert len(anchors) == 2
    assert hrefs[0].endswith("/customer?id=c148%5D%28https%3A%2F%2Fevil.example%2Fphish%29")
    assert hrefs[1].endswith("/customer?id=12347")
    assert texts == [EVIL, "12347"]
    assert not any("evil.example/phish" in h.split("?")[0] for h in hrefs)
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
    assert dash_duo.find_element("#topbar-dataset").text.endswith("(bundled)")
    uploads = app.server.config["SEGMENTA_SETTINGS"].cache_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    assert fake.read_bytes() == before
