"""Contract tests of the REST API (/api/v1) on a synthetic dataset served as the API's dataset."""

from __future__ import annotations

import csv
import io
import json
import re

import polars as pl
import pytest
from openapi_spec_validator import validate

from analytics.basket_analysis import BasketParams
from analytics.datasets import BUNDLED_ID
from analytics.rfm import rfm_table
from dashboard.api import FLAT_COLUMNS, NO_RULES, NOT_TRAINED
from dashboard.api_keys import KeyStore
from dashboard.segment_settings import params_from_saved
from tests.dashboard.api_fixtures import FORMULA_ID, api_settings, write_dataset


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An app whose models are trained and rules mined (as after the Churn and Baskets pages)."""
    from dashboard.app import create_app

    root = tmp_path_factory.mktemp("api")
    tx = write_dataset(root / "data")
    settings = api_settings(root, SEGMENTA_API_RATE="6000", SEGMENTA_API_BURST="1000")
    app = create_app(settings)
    service = app.server.config["SEGMENTA_SERVICE"]
    service.predictions(BUNDLED_ID, 90)
    service.rules(BUNDLED_ID, BasketParams())
    _, key = KeyStore.for_settings(settings).create("tests")
    return {
        "client": app.server.test_client(),
        "service": service,
        "settings": settings,
        "tx": tx,
        "headers": {"Authorization": f"Bearer {key}"},
        "key": key,
    }


@pytest.fixture(scope="module")
def cold(tmp_path_factory):
    """An app on the same data before any model is trained or rule mined."""
    from dashboard.app import create_app

    root = tmp_path_factory.mktemp("api-cold")
    write_dataset(root / "data")
    settings = api_settings(
        root,
        SEGMENTA_API_MAX_ROWS="3",
        SEGMENTA_API_MAX_BODY_KB="2",
        SEGMENTA_API_RATE="1",
        SEGMENTA_API_BURST="2",
    )
    app = create_app(settings)
    store = KeyStore.for_settings(settings)
    return {
        "client": app.server.test_client(),
        "service": app.server.config["SEGMENTA_SERVICE"],
        "settings": settings,
        "store": store,
    }


def _rows_of(tx: pl.DataFrame, customer_id: str) -> list[dict]:
    rows = tx.filter(pl.col("customer_id") == customer_id)
    return [
        {
            "invoice_id": r["invoice_id"],
            "invoice_date": r["invoice_date"].isoformat(),
            "product_id": r["product_id"],
            "description": r["description"],
            "quantity": r["quantity"],
            "unit_price": r["unit_price"],
            "country": r["country"],
        }
        for r in rows.iter_rows(named=True)
    ]


# -- the OpenAPI document ----------------------------------------------------------------------
def test_openapi_document_is_valid_and_describes_every_route(world):
    response = world["client"].get("/api/v1/openapi.json")  # no key needed
    assert response.status_code == 200
    document = response.get_json()
    validate(document)  # raises on an invalid OpenAPI 3.1 document
    app = world["client"].application
    routes = {
        re.sub(r"<([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1/")
    }
    assert routes == set(document["paths"])
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert "200" in operation["responses"]
            if path != "/openapi.json":
                assert {"401", "429", "503"} <= set(operation["responses"])
    assert "404" in document["paths"]["/customers/{customer_id}"]["get"]["responses"]
    assert {"413", "422"} <= set(document["paths"]["/score"]["post"]["responses"])
    assert "422" in document["paths"]["/segments"]["get"]["responses"]
    retry = document["components"]["responses"]["E429"]["headers"]
    assert "Retry-After" in retry
    assert (
        document["paths"]["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"][
            "properties"
        ]["transactions"]["maxItems"]
        == world["settings"].api_max_rows
    )


# -- keys ----------------------------------------------------------------------------------------
ENDPOINTS = [
    ("get", "/api/v1/customers/010000"),
    ("get", "/api/v1/segments"),
    ("post", "/api/v1/score"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize(
    ("header", "says"),
    [
        (None, "no API key"),
        ("Bearer sgk_00000000_" + "A" * 43, "not valid"),
        ("Bearer not-a-key", "not valid"),
        ("Basic dXNlcjpwYXNz", "not valid"),
    ],
    ids=["missing", "unknown", "malformed", "not-bearer"],
)
def test_a_missing_or_wrong_key_gets_401_json(world, method, url, header, says):
    headers = {"Authorization": header} if header else {}
    response = getattr(world["client"], method)(url, headers=headers, json={})
    assert response.status_code == 401
    assert response.mimetype == "application/json"
    assert says in response.get_json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_wrong_secret_for_a_real_key_id_gets_401(world):
    key = world["key"]
    wrong = key[:-1] + ("A" if key[-1] != "A" else "B")
    response = world["client"].get("/api/v1/segments", headers={"Authorization": f"Bearer {wrong}"})
    assert response.status_code == 401


def test_a_revoked_key_gets_401(world):
    store = KeyStore.for_settings(world["settings"])
    record, key = store.create("short-lived")
    headers = {"Authorization": f"Bearer {key}"}
    assert world["client"].get("/api/v1/customers/010000", headers=headers).status_code == 200
    store.revoke("short-lived")
    response = world["client"].get("/api/v1/customers/010000", headers=headers)
    assert response.status_code == 401
    assert "revoked" in response.get_json()["error"]


def test_keys_are_stored_hashed(world):
    raw = (world["settings"].cache_dir / "api_keys.sqlite").read_bytes()
    secret = world["key"].rsplit("_", 1)[1]
    assert secret.encode() not in raw
    assert world["key"].encode() not in raw


def test_the_rate_limit_answers_429_with_retry_after(cold):
    _, key = cold["store"].create("burst")
    headers = {"Authorization": f"Bearer {key}"}
    client = cold["client"]
    statuses = [client.get("/api/v1/openapi.json").status_code for _ in range(5)]
    assert statuses == [200] * 5  # the public document is not counted
    answers = [client.get("/api/v1/segments?format=xml", headers=headers) for _ in range(3)]
    assert [a.status_code for a in answers] == [422, 422, 429]  # burst 2, then 1 a minute
    retry = int(answers[2].headers["Retry-After"])
    assert 1 <= retry <= 60
    assert f"Retry in {retry} s" in answers[2].get_json()["error"]
    _, other = cold["store"].create("another")  # the limit is per key
    other_headers = {"Authorization": f"Bearer {other}"}
    assert client.get("/api/v1/segments?format=xml", headers=other_headers).status_code == 422


def test_the_token_bucket_refills_at_its_rate(tmp_path):
    from dashboard.api_keys import RateLimiter

    limiter = RateLimiter(tmp_path, rate_per_minute=60, burst=2)
    assert limiter.take("k", now=1000.0) == 0.0
    assert limiter.take("k", now=1000.0) == 0.0
    assert limiter.take("k", now=1000.0) == pytest.approx(1.0)
    assert limiter.take("k", now=1000.5) == pytest.approx(0.5)
    assert limiter.take("k", now=1001.0) == 0.0
    assert limiter.take("k", now=1100.0) == 0.0  # refilled, capped at the burst
    assert limiter.take("k", now=1100.0) == 0.0
    assert limiter.take("k", now=1100.0) > 0


# -- GET /customers/{id} -----------------------------------------------------------------------
def test_a_customer_carries_the_pages_numbers(world):
    service, cid = world["service"], "010000"
    response = world["client"].get(f"/api/v1/customers/{cid}", headers=world["headers"])
    assert response.status_code == 200
    body = response.get_json()
    segmentation = service.segmentation(BUNDLED_ID, params_from_saved(None))
    seg = segmentation.assignments.filter(pl.col("customer_id") == cid).row(0, named=True)
    persona = next(p for p in segmentation.profile.personas if p.segment == seg["segment"])
    assert body["segment"] == {"id": seg["segment"], "name": seg["segment_name"]}
    assert body["persona"] == {
        "name": persona.name,
        "description": persona.description,
        "action": persona.action,
    }
    rfm = (
        rfm_table(service.features(BUNDLED_ID))
        .filter(pl.col("customer_id") == cid)
        .row(0, named=True)
    )
    assert (body["rfm"]["segment"], body["rfm"]["score"]) == (rfm["rfm_segment"], rfm["rfm_score"])
    alive = service.alive(BUNDLED_ID).table.filter(pl.col("customer_id") == cid).row(0, named=True)
    assert body["churn"]["band"] == alive["churn_band"]
    assert body["churn"]["p_alive"] == pytest.approx(alive["p_alive"])
    scored = service.cached_predictions(BUNDLED_ID, 90).table.filter(pl.col("customer_id") == cid)
    p = scored.row(0, named=True)
    assert body["churn"]["probability"] == pytest.approx(p["churn_probability"])
    assert body["clv"]["predicted"] == pytest.approx(p["predicted_clv"])
    assert body["clv"]["low"] == pytest.approx(p["clv_low"])
    assert body["quadrant"] == p["quadrant"]
    assert body["recommended_action"] == p["action"]
    offers = service.cross_sell(BUNDLED_ID, BasketParams(), cid).head(5)
    assert [o["product"] for o in body["cross_sell"]] == offers["item"].to_list()
    assert body["notes"] == []


def test_the_api_sets_no_session_cookie_and_keeps_the_security_headers(world):
    response = world["client"].get("/api/v1/customers/010000", headers=world["headers"])
    assert "Set-Cookie" not in response.headers
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_an_unknown_customer_is_404(world):
    response = world["client"].get("/api/v1/customers/nobody-42", headers=world["headers"])
    assert response.status_code == 404
    assert response.get_json()["field"] == "customer_id"
    assert "'nobody-42'" in response.get_json()["error"]


def test_before_training_the_answer_says_so_and_trains_nothing(cold):
    _, key = cold["store"].create("cold-reader")
    response = cold["client"].get(
        "/api/v1/customers/010000", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["churn"]["probability"] is None and body["clv"]["predicted"] is None
    assert body["quadrant"] is None and body["recommended_action"] is None
    assert body["cross_sell"] is None
    assert body["notes"] == [NOT_TRAINED, NO_RULES]
    assert body["segment"]["name"] and body["rfm"]["segment"] and body["churn"]["band"]
    assert cold["service"].cached_predictions(BUNDLED_ID, 90) is None  # nothing was trained


# -- GET /segments -----------------------------------------------------------------------------
def test_segments_json_streams_every_customer(world):
    response = world["client"].get("/api/v1/segments?format=json", headers=world["headers"])
    assert response.status_code == 200 and response.is_streamed
    body = json.loads(response.get_data())
    table, _ = world["service"].api_customers(BUNDLED_ID, params_from_saved(None))
    assert body["customers_total"] == table.height == len(body["customers"])
    assert set(body["customers"][0]) == set(FLAT_COLUMNS)
    first = body["customers"][0]
    one = (
        world["client"]
        .get(f"/api/v1/customers/{first['customer_id']}", headers=world["headers"])
        .get_json()
    )
    assert first["segment_name"] == one["segment"]["name"]
    assert first["churn_probability"] == pytest.approx(one["churn"]["probability"])
    assert first["recommended_action"] == one["recommended_action"]


def test_segments_csv_is_streamed_and_neutralised(world):
    response = world["client"].get("/api/v1/segments?format=csv", headers=world["headers"])
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True)
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == FLAT_COLUMNS
    table, _ = world["service"].api_customers(BUNDLED_ID, params_from_saved(None))
    assert len(rows) - 1 == table.height  # more than one streamed piece of 1,000 rows? no: 600
    ids = [r[0] for r in rows[1:]]
    assert "'" + FORMULA_ID in ids and FORMULA_ID not in ids


def test_segments_csv_pieces_join_into_one_file():
    from analytics.export import iter_csv, to_csv

    frame = pl.DataFrame({"id": ["=1", "a", "+b", "c", "d"], "x": [1.0, -2.0, 3.0, 4.0, 5.0]})
    assert "".join(iter_csv(frame, rows=2)) == to_csv(frame)


def test_an_unknown_format_is_422(world):
    response = world["client"].get("/api/v1/segments?format=xml", headers=world["headers"])
    assert response.status_code == 422
    assert response.get_json() == {
        "error": "format must be 'json' or 'csv'. Got 'xml' instead.",
        "field": "format",
    }


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/api/v1/segments?dataset=u-" + "0" * 32, "this endpoint takes format."),
        ("/api/v1/customers/010000?dataset=x", "this endpoint takes none."),
    ],
)
def test_a_dataset_cannot_be_chosen_per_request(world, url, says):
    response = world["client"].get(url, headers=world["headers"])
    assert response.status_code == 422
    assert response.get_json()["field"] == "dataset"
    assert says in response.get_json()["error"]


def test_a_customer_with_a_formula_like_id_is_served_as_text(world):
    response = world["client"].get("/api/v1/customers/%3DHYPERLINK(1)", headers=world["headers"])
    assert response.status_code == 200
    assert response.get_json()["customer_id"] == FORMULA_ID


# -- POST /score -------------------------------------------------------------------------------
def test_scoring_a_customers_own_transactions_gives_their_stored_answer(world):
    cid = "010000"
    stored = world["client"].get(f"/api/v1/customers/{cid}", headers=world["headers"]).get_json()
    body = {"customer_id": cid, "transactions": _rows_of(world["tx"], cid)}
    response = world["client"].post("/api/v1/score", json=body, headers=world["headers"])
    assert response.status_code == 200
    scored = response.get_json()
    for part in ("segment", "persona", "rfm"):
        assert scored[part] == stored[part]
    assert scored["churn"]["band"] == stored["churn"]["band"]
    assert scored["churn"]["probability"] == pytest.approx(stored["churn"]["probability"])
    assert scored["churn"]["p_alive"] == pytest.approx(stored["churn"]["p_alive"])
    assert scored["clv"]["predicted"] == pytest.approx(stored["clv"]["predicted"], rel=1e-6)
    assert scored["quadrant"] == stored["quadrant"]
    assert scored["recommended_action"] == stored["recommended_action"]
    assert scored["cross_sell"] == stored["cross_sell"]
    assert scored["stored"] is False
    assert scored["as_of"] == world["service"].cached_predictions(BUNDLED_ID, 90).cutoff.isoformat()


def test_scoring_stores_nothing(world):
    service = world["service"]
    before = service.transactions(BUNDLED_ID).height
    folders = sorted(p.name for p in world["settings"].cache_dir.iterdir())
    body = {"customer_id": "crm-new-1", "transactions": _rows_of(world["tx"], "010002")}
    response = world["client"].post("/api/v1/score", json=body, headers=world["headers"])
    assert response.status_code == 200
    assert response.get_json()["customer_id"] == "crm-new-1"
    assert service.transactions(BUNDLED_ID).height == before
    assert sorted(p.name for p in world["settings"].cache_dir.iterdir()) == folders
    lookup = world["client"].get("/api/v1/customers/crm-new-1", headers=world["headers"])
    assert lookup.status_code == 404


def test_a_recent_customer_is_scored_as_of_their_own_last_day(world):
    rows = [
        {"invoice_id": "A1", "invoice_date": "2026-03-01T10:00:00", "product_id": "P0001",
         "quantity": 2, "unit_price": 3.5},
        {"invoice_id": "A2", "invoice_date": "2026-03-20", "product_id": "P0002",
         "quantity": 1, "unit_price": 10},
    ]  # fmt: skip
    body = {"customer_id": "late", "transactions": rows}
    response = world["client"].post("/api/v1/score", json=body, headers=world["headers"])
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["as_of"] == "2026-03-21T00:00:00"


GOOD_ROW = {"invoice_id": "1", "invoice_date": "2023-05-01", "quantity": 1, "unit_price": 2.0}


def _with(**changes):
    row = {**GOOD_ROW, **changes}
    return {"customer_id": "c1", "transactions": [{k: v for k, v in row.items() if v != "DROP"}]}


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ([1, 2], "body", "must be a JSON object"),
        ({"transactions": [GOOD_ROW]}, "customer_id", "customer_id must be a non-empty text"),
        ({"customer_id": "", "transactions": [GOOD_ROW]}, "customer_id", "non-empty"),
        ({"customer_id": "c1"}, "transactions", "non-empty list"),
        ({"customer_id": "c1", "transactions": []}, "transactions", "non-empty list"),
        ({"customer_id": "c1", "transactions": "rows"}, "transactions", "non-empty list"),
        (
            {"customer_id": "c1", "transactions": [GOOD_ROW], "dataset": "u-1"},
            "dataset",
            "Unknown field",
        ),
        ({"customer_id": "c1", "transactions": [7]}, "transactions[0]", "must be an object"),
        (_with(invoice_id="DROP"), "transactions[0].invoice_id", "is required"),
        (_with(invoice_date="DROP"), "transactions[0].invoice_date", "is required"),
        (_with(invoice_date="yesterday"), "transactions[0].invoice_date", "ISO 8601"),
        (_with(quantity="DROP"), "transactions[0].quantity", "is required"),
        (_with(quantity="two"), "transactions[0].quantity", "finite number"),
        (_with(quantity=True), "transactions[0].quantity", "finite number"),
        (_with(unit_price="DROP"), "transactions[0].unit_price", "needs unit_price"),
        (_with(unit_price="2,50"), "transactions[0].unit_price", "finite number"),
        (_with(product_id=""), "transactions[0].product_id", "non-empty text"),
        (_with(description=5), "transactions[0].description", "a text"),
        (_with(colour="red"), "transactions[0].colour", "not a transaction field"),
        (_with(customer_id="c2"), "transactions[0].customer_id", "one customer per request"),
        ({**_with(), "as_of": "soon"}, "as_of", "ISO 8601"),
        ({**_with(), "as_of": "2023-05-01"}, "transactions[0].invoice_date", "before as_of"),
        (_with(quantity=-1, invoice_id="C1"), "transactions", "only returned goods"),
        (_with(unit_price=0), "transactions", "non-positive price 1"),
        (_with(invoice_date="2999-01-01"), "transactions", "date out of range"),
    ],
)
def test_a_bad_body_gets_422_naming_the_field(world, body, field, says):
    response = world["client"].post("/api/v1/score", json=body, headers=world["headers"])
    assert response.status_code == 422
    answer = response.get_json()
    assert answer.get("field") == field
    assert says in answer["error"]


@pytest.mark.parametrize(
    ("data", "content_type", "says"),
    [
        ("{not json", "application/json", "not valid JSON"),
        ('{"customer_id": "c1"}', "text/plain", "as JSON"),
    ],
)
def test_a_body_that_is_not_json_gets_422(world, data, content_type, says):
    response = world["client"].post(
        "/api/v1/score", data=data, content_type=content_type, headers=world["headers"]
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "body"
    assert says in response.get_json()["error"]


def test_too_many_rows_and_too_large_bodies_are_refused(cold):
    _, key = cold["store"].create("limits")
    headers = {"Authorization": f"Bearer {key}"}
    rows = [{**GOOD_ROW, "invoice_id": str(i)} for i in range(4)]  # the limit is 3
    response = cold["client"].post(
        "/api/v1/score", json={"customer_id": "c1", "transactions": rows}, headers=headers
    )
    assert response.status_code == 422
    assert response.get_json()["field"] == "transactions"
    assert "at most 3 per request (SEGMENTA_API_MAX_ROWS)" in response.get_json()["error"]
    huge = b'{"customer_id": "c1", "transactions": []' + b" " * (17 * 2**20) + b"}"
    response = cold["client"].post(
        "/api/v1/score", data=huge, content_type="application/json", headers=headers
    )  # over the app's 16 MB ceiling for any non-upload request: still the API's answer
    assert response.status_code == 413
    assert "SEGMENTA_API_MAX_BODY_KB" in response.get_json()["error"]
    _, key = cold["store"].create("limits-2")  # this key's burst of 2 is spent
    headers = {"Authorization": f"Bearer {key}"}
    big = {"customer_id": "c1", "transactions": [{**GOOD_ROW, "description": "x" * 3000}]}
    response = cold["client"].post("/api/v1/score", json=big, headers=headers)
    assert response.status_code == 413
    assert response.get_json()["field"] == "body"
    assert "limit of 2 KB (SEGMENTA_API_MAX_BODY_KB)" in response.get_json()["error"]


def test_an_unavailable_api_dataset_gets_503(tmp_path):
    from dashboard.app import create_app

    settings = api_settings(tmp_path, SEGMENTA_API_DATASET="no-such-dataset")
    _, key = KeyStore.for_settings(settings).create("crm")
    client = create_app(settings).server.test_client()
    response = client.get("/api/v1/customers/1", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 503
    assert (
        "'no-such-dataset' (SEGMENTA_API_DATASET) is not available" in response.get_json()["error"]
    )
