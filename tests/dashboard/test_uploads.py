"""The upload route, dataset ownership and security headers, through Flask's test client."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import stat

import pytest

from analytics.errors import SegmentaError
from dashboard.jobs import run_task

LOG = b"Client,OrderedAt,Total\n" + b"".join(
    f"c{c},2011-0{m}-03,{c * 10 + m}\n".encode() for c in range(1, 30) for m in range(1, 4)
)


@pytest.fixture
def small_app(settings):
    from dashboard.app import create_app

    return create_app(dataclasses.replace(settings, max_upload_mb=1))


def _upload(client, content: bytes, name: str):
    return client.post(
        "/upload",
        data=content,
        headers={
            "X-Filename": name,
            "Content-Type": "text/csv",
            "Content-Length": str(len(content)),
        },
    )


def _uploads(settings) -> list:
    folder = settings.cache_dir / "uploads"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def test_upload_is_stored_privately_and_owned(app, settings):
    client = app.server.test_client()
    response = _upload(client, LOG, "shop.csv")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["columns"] == ["Client", "OrderedAt", "Total"] and body["filename"] == "shop.csv"
    folder = settings.cache_dir / "uploads" / body["dataset_id"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "shop.csv").stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "meta.json").stat().st_mode) == 0o600
    assert (folder / "shop.csv").read_bytes() == LOG
    assert len(json.loads((folder / "meta.json").read_text())["owner"]) == 32


BOMB = gzip.compress(b"Client,OrderedAt,Total\n" + b"c1,2011-01-01,1\n" * 2_000_000)


@pytest.mark.parametrize(
    ("name", "content", "status", "message"),
    [
        (
            "big.csv",
            b"a,b\n" + b"1,2\n" * 400_000,
            413,
            "larger than this app's upload limit of 1 MB",
        ),
        ("script.py", b"print(1)\n", 400, "script.py: unsupported file type. Upload a CSV"),
        ("fake.xlsx", LOG, 400, "fake.xlsx is named .xlsx but is not an Excel workbook"),
        ("fake.parquet", LOG, 400, "fake.parquet is named .parquet but is not a Parquet file"),
        ("empty.csv", b"", 400, "empty.csv is empty"),
        (
            "dupe.csv",
            b"Client,Total,Total\nc1,1,2\n",
            400,
            "dupe.csv has more than one column named 'Total'",
        ),
        ("damaged.csv.gz", BOMB[:30], 400, "damaged.csv.gz looks gzip-compressed but is damaged"),
    ],
)
def test_refused_uploads_say_why_and_leave_nothing(
    small_app, settings, name, content, status, message
):
    client = small_app.server.test_client()
    response = _upload(client, content, name)
    assert response.status_code == status
    assert message in response.json["error"]
    assert "--" not in response.json["error"]
    assert _uploads(settings) == []


def test_a_gzip_bomb_is_refused_by_the_load_job_within_its_ratio(app, settings):
    client = app.server.test_client()
    response = _upload(client, BOMB, "bomb.csv.gz")
    assert response.status_code == 200  # the header is fine; the rows are read by the job
    service = app.server.config["SEGMENTA_SERVICE"]
    dataset_id = response.json["dataset_id"]
    service.configure_upload(
        dataset_id, {"customer_id": "Client", "invoice_date": "OrderedAt", "amount": "Total"}, None
    )
    from analytics.errors import DataError

    with pytest.raises(
        DataError, match="bomb.csv.gz expands to more than 100 times its compressed"
    ):
        run_task(settings, "ingest", dataset_id=dataset_id)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        (
            {
                "customer_id": "Client",
                "invoice_date": "OrderedAt",
                "amount": "Total",
                "country": "Client",
            },
            "Column 'Client' is chosen for both customer_id and country; each column of the file can "
            'feed only one of them. Choose a different column for one of them in the "Which column '
            'is which?" choices on the Data page.',
        ),
        (
            {"customer_id": "Client", "invoice_date": "OrderedAt", "amount": "Total"},
            "No value of column 'OrderedAt' in shop.csv matches the date format '%d/%m/%Y' "
            "(e.g. '2011-01-03').",
        ),
        (
            {"customer_id": "Client", "invoice_date": "Total", "amount": "Total"},
            "Column 'Total' is chosen for both invoice_date and amount",
        ),
    ],
)
def test_web_messages_name_the_page_field_not_a_flag(app, settings, mapping, message):
    date_format = "%d/%m/%Y" if "date format" in message else None
    client = app.server.test_client()
    dataset_id = _upload(client, LOG, "shop.csv").json["dataset_id"]
    service = app.server.config["SEGMENTA_SERVICE"]
    service.configure_upload(dataset_id, mapping, date_format)
    source = settings.cache_dir / "uploads" / dataset_id / "shop.csv"
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    with pytest.raises(SegmentaError) as error:
        run_task(settings, "ingest", dataset_id=dataset_id)
    assert message in str(error.value)
    assert "--" not in str(error.value)
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before


def _callback_body(dataset_id: str) -> dict:
    """The Data page's "active dataset" callback, as the browser posts it."""
    return {
        "output": "data-current.children",
        "outputs": {"id": "data-current", "property": "children"},
        "inputs": [{"id": "dataset-id", "property": "data", "value": dataset_id}],
        "changedPropIds": ["dataset-id.data"],
        "state": [],
    }


def test_a_second_session_can_neither_read_nor_change_the_first_sessions_dataset(app, settings):
    first, second = app.server.test_client(), app.server.test_client()
    first.get("/")
    second.get("/")
    dataset_id = _upload(first, LOG, "shop.csv").json["dataset_id"]
    meta = settings.cache_dir / "uploads" / dataset_id / "meta.json"
    before = meta.read_bytes()
    # read: the callback that shows a dataset's report
    refused = second.post("/_dash-update-component", json=_callback_body(dataset_id))
    assert refused.status_code == 403
    assert "belongs to another user or browser session" in refused.json["error"]
    # change: the load job that writes the column mapping (its inputs carry the id)
    change = {
        "output": "data-token.data",
        "outputs": {"id": "data-token", "property": "data"},
        "inputs": [{"id": "data-load-button", "property": "n_clicks", "value": 1}],
        "changedPropIds": ["data-load-button.n_clicks"],
        "state": [
            {"id": "data-pending", "property": "data", "value": {"dataset_id": dataset_id}},
        ],
    }
    assert second.post("/_dash-update-component", json=change).status_code == 403
    assert second.get(f"/anything?dataset={dataset_id}").status_code == 403
    assert meta.read_bytes() == before
    # a client with no cookie at all is a new session too
    bare = app.server.test_client(use_cookies=False)
    assert bare.post("/_dash-update-component", json=_callback_body(dataset_id)).status_code == 403
    # the owner is not refused (the upload has no mapping yet: a user error, not a 403)
    assert first.post("/_dash-update-component", json=_callback_body(dataset_id)).status_code != 403


def test_security_headers_on_every_response(app):
    client = app.server.test_client()
    for path in ("/", "/_dash-layout", "/assets/app.css", "/no-such-page"):
        headers = client.get(path).headers
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Content-Security-Policy"] == "frame-ancestors 'none'"
        assert headers["X-Content-Type-Options"] == "nosniff"


def test_oversize_callback_body_is_refused(small_app):
    client = small_app.server.test_client()
    body = _callback_body("bundled")
    body["state"] = [{"id": "x", "property": "data", "value": "x" * (2 * 2**20)}]
    assert client.post("/_dash-update-component", json=body).status_code == 413
