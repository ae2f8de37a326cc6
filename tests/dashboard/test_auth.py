"""Logins, roles enforced by the server, upload ownership per user and the trusted proxy header."""

from __future__ import annotations

import dataclasses
import json

import pytest

from dashboard.auth import SINGLE_USER_NOTE, SSO_ONLY, VIEWER_REFUSED, WRONG_PASSWORD
from dashboard.users import UserStore

LOG = b"Client,OrderedAt,Total\n" + b"".join(
    f"c{c},2011-0{m}-03,{c * 10 + m}\n".encode() for c in range(1, 30) for m in range(1, 4)
)
PASSWORD = "correct horse"


@pytest.fixture(autouse=True)
def _forget_the_dash_app():
    """Dash 4.4.1 leaves the app of a served request in a context variable of the test's thread,
    so later tests' ``dash.get_app()`` would find this test's app: forget it."""
    yield
    from dash._get_app import app_context

    app_context.set(None)


@pytest.fixture
def users(settings):
    store = UserStore.for_settings(settings)
    for name, role in (
        ("vera", "viewer"),
        ("ann", "analyst"),
        ("bob", "analyst"),
        ("ada", "admin"),
    ):
        store.add(name, role, PASSWORD)
    return store


@pytest.fixture
def app_with_users(users, settings):
    from dashboard.app import create_app

    return create_app(settings)


def _signed_in(app, name: str):
    client = app.server.test_client()
    response = client.post("/login", data={"username": name, "password": PASSWORD, "next": "/"})
    assert response.status_code == 302, response.text
    return client


def _upload(client, content: bytes = LOG, name: str = "shop.csv"):
    return client.post(
        "/upload",
        data=content,
        headers={"X-Filename": name, "Content-Length": str(len(content))},
    )


def _output_key(app, prefix: str) -> str:
    """The callback id the browser posts for the callback whose first output is ``prefix``."""
    app.server.test_client().get("/_dash-layout")  # Dash registers page callbacks on a request
    keys = [k for k in app.callback_map if k.split("@")[0] == prefix]
    assert len(keys) == 1, (prefix, keys)
    return keys[0]


def _text(response) -> str:
    """A JSON response as text with its characters unescaped (the layout escapes "—")."""
    return json.dumps(response.json, ensure_ascii=False)


def _job_body(output: str, inputs: list, state: list) -> dict:
    out_id, prop = output.split("@")[0].rsplit(".", 1)
    return {
        "output": output,
        "outputs": {"id": out_id, "property": prop},
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in state],
        "changedPropIds": [f"{inputs[0][0]}.{inputs[0][1]}"],
    }


def test_without_users_the_app_runs_for_a_single_local_user(app):
    client = app.server.test_client()
    page = client.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 200
    layout = _text(client.get("/_dash-layout"))
    assert SINGLE_USER_NOTE in layout
    assert _upload(client).status_code == 200


def test_pages_need_a_login_once_users_exist(app_with_users):
    client = app_with_users.server.test_client()
    page = client.get("/churn?horizon=90", headers={"Accept": "text/html"})
    assert page.status_code == 302
    assert page.headers["Location"].startswith("/login?next=/churn")
    assert client.get("/_dash-layout").status_code == 401
    assert _upload(client).status_code == 401
    assert client.get("/login").status_code == 200


@pytest.mark.parametrize(
    ("name", "password"),
    [("vera", "wrong password"), ("nobody", PASSWORD), ("", PASSWORD), ("vera", "")],
)
def test_a_wrong_login_says_so_and_signs_nobody_in(app_with_users, name, password):
    client = app_with_users.server.test_client()
    response = client.post("/login", data={"username": name, "password": password})
    assert response.status_code == 200
    assert WRONG_PASSWORD in response.get_data(as_text=True)
    assert client.get("/_dash-layout").status_code == 401


def test_login_shows_the_user_and_role_and_logout_ends_the_session(app_with_users):
    client = _signed_in(app_with_users, "vera")
    layout = _text(client.get("/_dash-layout"))
    assert "vera" in layout and "(viewer)" in layout and SINGLE_USER_NOTE not in layout
    assert client.get("/logout").status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_a_request_that_changes_no_session_sets_no_cookie(app_with_users):
    """Flask re-sent a permanent session's cookie with every response: a slow request started
    before a sign-in answered after it with the old cookie, and signed the user out (the next
    callbacks got 401, a CI run of test_aut001). Only a change of session writes the cookie."""
    client = _signed_in(app_with_users, "vera")
    response = client.get("/_dash-layout")
    assert response.status_code == 200
    assert "Set-Cookie" not in response.headers
    assert client.get("/_dash-layout").status_code == 200  # still signed in


def test_login_never_redirects_off_site(app_with_users):
    client = app_with_users.server.test_client()
    response = client.post(
        "/login",
        data={"username": "vera", "password": PASSWORD, "next": "https://evil.example/x"},
    )
    assert response.headers["Location"] == "/"


def test_a_removed_user_is_signed_out_at_once(app_with_users, users):
    client = _signed_in(app_with_users, "bob")
    assert client.get("/_dash-layout").status_code == 200
    users.remove("bob")
    assert client.get("/_dash-layout").status_code == 401


def test_a_viewer_cannot_upload_but_an_analyst_can(app_with_users):
    viewer = _signed_in(app_with_users, "vera")
    refused = _upload(viewer)
    assert refused.status_code == 403
    assert refused.json["error"] == VIEWER_REFUSED.format(what="upload data")
    assert _upload(_signed_in(app_with_users, "ann")).status_code == 200


@pytest.mark.parametrize(
    ("prefix", "inputs", "state", "words"),
    [
        (
            "data-token.data",
            [("data-load-button", "n_clicks", 1)],
            [("data-pending", "data", {"dataset_id": "bundled"})],
            "upload data",
        ),
        (
            "churn-token.data",
            [("churn-need-training", "data", {"dataset_id": "uci-online-retail", "horizon": 90})],
            [("dataset-id", "data", "uci-online-retail"), ("churn-horizon", "value", 90)],
            "train the churn and CLV models",
        ),
        (
            "baskets-token.data",
            [("baskets-need", "data", {"dataset_id": "uci-online-retail", "params": {}})],
            [("session-id", "data", "s")],
            "mine new basket rules",
        ),
        (
            "customer-explain-token.data",
            [("customer-search", "value", "12346")],
            [("dataset-id", "data", "uci-online-retail")],
            "train the churn and CLV models",
        ),
        (
            "overview-report-download.data",
            [("overview-report-button", "n_clicks", 1)],
            [
                ("dataset-id", "data", "uci-online-retail"),
                ("overview-dates", "start_date", "2011-01-01"),
                ("overview-dates", "end_date", "2011-06-30"),
            ],
            "train the churn and CLV models",
        ),
    ],
)
def test_the_server_refuses_a_viewers_jobs_posted_directly(
    app_with_users, settings, prefix, inputs, state, words
):
    """Posted as the browser would, without any button: the job never starts, the alert says why.

    The models of the bundled data are not trained in this fresh cache, so explanations and
    reports (allowed to viewers on trained models) would train them: refused too.
    """
    body = _job_body(_output_key(app_with_users, prefix), inputs, state)
    response = _signed_in(app_with_users, "vera").post("/_dash-update-component", json=body)
    assert response.headers.get("X-Segmenta-Refused") == "viewer"
    payload = response.json
    assert "job" not in payload and "cacheKey" not in payload and payload["response"] == {}
    assert payload["sideUpdate"]["app-alert"]["children"] == VIEWER_REFUSED.format(what=words)


def test_an_analysts_job_request_passes_the_role_guard(app_with_users):
    body = _job_body(
        _output_key(app_with_users, "churn-token.data"),
        [("churn-train-button", "n_clicks", 0)],
        [("dataset-id", "data", "uci-online-retail"), ("churn-horizon", "value", 90)],
    )
    response = _signed_in(app_with_users, "ann").post("/_dash-update-component", json=body)
    assert response.headers.get("X-Segmenta-Refused") is None


def test_a_viewers_read_only_callbacks_are_served(app_with_users):
    body = {
        "output": "data-current.children",
        "outputs": {"id": "data-current", "property": "children"},
        "inputs": [{"id": "dataset-id", "property": "data", "value": "uci-online-retail"}],
        "changedPropIds": ["dataset-id.data"],
        "state": [],
    }
    response = _signed_in(app_with_users, "vera").post("/_dash-update-component", json=body)
    assert response.status_code == 200 and response.headers.get("X-Segmenta-Refused") is None


def test_two_analysts_never_see_each_others_uploads(app_with_users, settings):
    from tests.dashboard.test_uploads import _callback_body

    ann, bob = _signed_in(app_with_users, "ann"), _signed_in(app_with_users, "bob")
    dataset_id = _upload(ann).json["dataset_id"]
    refused = bob.post("/_dash-update-component", json=_callback_body(dataset_id))
    assert refused.status_code == 403
    assert "belongs to another user" in refused.json["error"]
    assert bob.get(f"/anything?dataset={dataset_id}").status_code == 403
    # the same user on a second browser is the owner
    ann_elsewhere = _signed_in(app_with_users, "ann")
    served = ann_elsewhere.post("/_dash-update-component", json=_callback_body(dataset_id))
    assert served.status_code != 403
    owner = app_with_users.server.config["SEGMENTA_SERVICE"].upload_owner(dataset_id)
    assert owner == "user:ann"


@pytest.fixture
def proxied_app(settings, users):
    from dashboard.app import create_app

    return create_app(
        dataclasses.replace(settings, auth_header="X-Remote-User", auth_role_header="X-Remote-Role")
    )


def test_a_trusted_proxy_header_names_the_user_and_role(proxied_app):
    client = proxied_app.server.test_client()
    assert client.get("/_dash-layout").status_code == 401
    layout = client.get("/_dash-layout", headers={"X-Remote-User": "zoe", "X-Remote-Role": "admin"})
    assert layout.status_code == 200 and "zoe" in _text(layout)
    # without a role header: the stored role, else viewer
    stored = client.post(
        "/upload",
        data=LOG,
        headers={"X-Remote-User": "ann", "X-Filename": "a.csv", "Content-Length": str(len(LOG))},
    )
    assert stored.status_code == 200
    unknown = client.post(
        "/upload",
        data=LOG,
        headers={"X-Remote-User": "zoe", "X-Filename": "a.csv", "Content-Length": str(len(LOG))},
    )
    assert unknown.status_code == 403
    # the password form is off: the proxy decides who signs in
    assert client.post("/login", data={"username": "ann", "password": PASSWORD}).status_code == 400
    assert client.get("/login").json["error"] == SSO_ONLY


def test_the_proxy_header_is_ignored_when_the_setting_is_off(app_with_users):
    client = app_with_users.server.test_client()
    response = client.get("/_dash-layout", headers={"X-Remote-User": "ada"})
    assert response.status_code == 401


def test_viewers_may_explain_and_report_once_models_and_rules_exist(app):
    """The explanation and report jobs train or mine only on a cold cache: viewers get them warm."""
    from analytics import report as rp
    from analytics.datasets import BUNDLED_ID
    from tests.dashboard.test_callbacks import page

    # the modules Dash imported (importing them by another name would register the pages twice)
    customer, overview = page("customer"), page("overview")
    HORIZON, _viewer_may_explain = customer.HORIZON, customer._viewer_may_explain
    _viewer_may_report = overview._viewer_may_report

    svc = app.server.config["SEGMENTA_SERVICE"]
    values = {
        "dataset-id.data": BUNDLED_ID,
        "overview-dates.start_date": "2011-01-01",
        "overview-dates.end_date": "2011-06-30",
    }
    with app.server.test_request_context("/_dash-update-component", method="POST"):
        assert _viewer_may_explain(values) == "train"
        assert _viewer_may_report(values) == "train"
        # stand-ins for the trained models: the rule only asks whether they are cached
        svc.results.disk.set(svc._predictions_key(BUNDLED_ID, HORIZON), "trained")
        svc.results.disk.set(svc._predictions_key(BUNDLED_ID, rp.HORIZON_DAYS), "trained")
        assert _viewer_may_explain(values) is None
        assert _viewer_may_report(values) == "mine"  # the period's rules are not mined yet


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"SEGMENTA_AUTH_HEADER": "X Remote User"},
            "SEGMENTA_AUTH_HEADER must be an HTTP header name such as X-Remote-User. "
            "Got 'X Remote User' instead.",
        ),
        (
            {"SEGMENTA_AUTH_ROLE_HEADER": "X-Remote-Role"},
            "SEGMENTA_AUTH_ROLE_HEADER is set but SEGMENTA_AUTH_HEADER is not",
        ),
    ],
)
def test_bad_proxy_header_settings_say_what_is_wrong(tmp_path, env, message):
    from dashboard.settings import Settings

    with pytest.raises(ValueError) as raised:
        Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path), **env})
    assert str(raised.value).startswith(message)
