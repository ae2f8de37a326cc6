"""The app's side of PostgreSQL: a read becomes a private, owned upload; bounds; no password kept."""

from __future__ import annotations

import json

import pytest

from analytics.errors import DataError, ParameterError
from analytics.postgres import PostgresSource
from dashboard.components.postgres import check_host, postgres_url
from dashboard.jobs import run_task
from dashboard.service import Service
from dashboard.settings import Settings
from tests.postgres_server import ANALYST_PASSWORD

QUERY = "select * from orders where \"CustomerID\" in ('12347', '12348')"


def _files_holding(folder, secret: str) -> list[str]:
    return [str(p) for p in folder.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_a_read_becomes_an_owned_upload_cleaned_like_one(pg_shop, settings):
    """Through the job process, as the Data page does: then the upload's own mapping and load."""
    result = run_task(
        settings,
        "postgres",
        url=pg_shop.url(),
        table=None,
        query=QUERY,
        password=ANALYST_PASSWORD,
        owner="owner-a",
    )
    assert result["filename"] == f"query on {pg_shop.url()}"
    assert result["columns"][:3] == ["InvoiceNo", "StockCode", "Description"]
    service = Service(settings)
    dataset_id = result["dataset_id"]
    assert service.upload_owner(dataset_id) == "owner-a"
    folder = service.upload_dir(dataset_id)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in folder.iterdir())
    service.configure_upload(dataset_id, {}, None)
    assert run_task(settings, "ingest", dataset_id=dataset_id)["customers"] == 2
    assert service.source(dataset_id).label == f"query on {pg_shop.url()}"
    assert json.loads((folder / "meta.json").read_text())["label"] == result["filename"]
    assert _files_holding(settings.cache_dir, ANALYST_PASSWORD) == []


def test_a_result_over_the_row_limit_is_refused_and_leaves_nothing(pg_shop, tmp_path):
    settings = Settings.from_env(
        {"SEGMENTA_CACHE_DIR": str(tmp_path / "cache"), "SEGMENTA_PG_MAX_ROWS": "1000"}
    )
    source = PostgresSource(pg_shop.url(), table="orders", password=ANALYST_PASSWORD)
    with pytest.raises(DataError, match="more than 1,000 rows, this app's limit"):
        Service(settings).store_postgres(source, "owner-a")
    assert not list((tmp_path / "cache").glob("uploads/u-*"))


def test_a_result_over_the_memory_limit_is_refused_naming_it(pg_shop, tmp_path):
    settings = Settings.from_env(
        {"SEGMENTA_CACHE_DIR": str(tmp_path / "cache"), "SEGMENTA_PG_MAX_MB": "1"}
    )
    source = PostgresSource(pg_shop.url(), table="orders", password=ANALYST_PASSWORD)
    with pytest.raises(DataError, match="more than 1 MB of memory, this app's limit"):
        Service(settings).store_postgres(source, "owner-a")


def test_limits_are_read_from_the_environment():
    env = {"SEGMENTA_CACHE_DIR": "/tmp/x", "SEGMENTA_PG_MAX_ROWS": "7", "SEGMENTA_PG_MAX_MB": "3"}
    settings = Settings.from_env(env)
    assert (settings.pg_max_rows, settings.pg_max_mb) == (7, 3)
    with pytest.raises(ValueError, match="SEGMENTA_PG_MAX_ROWS must be a whole number above 0"):
        Settings.from_env({**env, "SEGMENTA_PG_MAX_ROWS": "many"})


@pytest.mark.parametrize(
    "fields, said",
    [
        (("", "5432", "shop", "me"), "Fill in Host"),
        (("db", "5432", "", ""), "Fill in Database, User"),
        (("db host", "5432", "shop", "me"), "is not a host name"),
        (("db", "70000", "shop", "me"), "Port must be a whole number from 1 to 65535"),
        (("db", "x", "shop", "me"), "Got 'x' instead"),
    ],
)
def test_form_fields_are_checked(fields, said):
    with pytest.raises(ParameterError, match=said):
        postgres_url(*fields)


def test_only_the_allowed_hosts_are_read_when_set():
    env = {"SEGMENTA_CACHE_DIR": "/tmp/x", "SEGMENTA_PG_HOSTS": "db1.corp, DB2.corp"}
    settings = Settings.from_env(env)
    assert settings.pg_hosts == ("db1.corp", "db2.corp")
    assert Settings.from_json(json.loads(json.dumps(settings.to_json()))) == settings
    check_host("DB1.corp", settings)
    with pytest.raises(ParameterError, match="only from the PostgreSQL servers db1.corp, db2"):
        check_host("10.0.0.9", settings)
    check_host("anything", Settings.from_env({"SEGMENTA_CACHE_DIR": "/tmp/x"}))


def test_form_fields_make_a_url_without_password():
    assert postgres_url(" db.local ", "", "my shop", "ann@corp") == (
        "postgresql://ann%40corp@db.local:5432/my%20shop"
    )


@pytest.fixture
def _forget_the_dash_app():
    """As in test_auth.py: a served request leaves its app in a context variable."""
    yield
    from dash._get_app import app_context

    app_context.set(None)


@pytest.mark.parametrize("role, refused", [("viewer", True), ("analyst", False)])
def test_a_viewer_cannot_read_from_a_database(settings, role, refused, _forget_the_dash_app):
    """Posted as the browser would: the role guard refuses a viewer's read before it runs."""
    from dashboard.app import create_app
    from dashboard.users import UserStore

    UserStore.for_settings(settings).add("someone", role, "pw-for-the-app")
    app = create_app(settings)
    client = app.server.test_client()
    client.get("/_dash-layout")  # Dash registers page callbacks on a request
    response = client.post(
        "/login", data={"username": "someone", "password": "pw-for-the-app", "next": "/"}
    )
    assert response.status_code == 302
    client.get("/_dash-layout")
    (key,) = [k for k in app.callback_map if "data-pg-password.value" in k]
    body = {
        "output": key,
        "outputs": [
            {"id": "data-upload-result", "property": "data"},
            {"id": "data-pg-password", "property": "value"},
            {"id": "data-pg-status", "property": "children"},
        ],
        "inputs": [{"id": "data-pg-button", "property": "n_clicks", "value": 1}],
        "state": [
            {"id": f"data-pg-{name}", "property": "value", "value": None}
            for name in ("host", "port", "database", "user", "password", "mode", "table", "query")
        ],
        "changedPropIds": ["data-pg-button.n_clicks"],
    }
    response = client.post("/_dash-update-component", json=body)
    assert (response.headers.get("X-Segmenta-Refused") == "viewer") is refused
    if not refused:  # the analyst's request ran: the empty form is answered with its alert
        assert "Fill in Host, Database, User" in response.text


def test_a_wrong_password_is_said_and_never_logged_or_kept(pg_shop, settings, caplog):
    caplog.set_level("DEBUG")
    wrong = "Wrong-pw-never-logged-19"
    with pytest.raises(DataError, match="PostgreSQL refused the password") as caught:
        run_task(
            settings,
            "postgres",
            url=pg_shop.url(),
            table="orders",
            query=None,
            password=wrong,
            owner="owner-a",
        )
    assert wrong not in str(caught.value) + caplog.text
    assert _files_holding(settings.cache_dir, wrong) == []
    assert not list(settings.cache_dir.glob("uploads/u-*"))
