"""The REST API under the real ``gunicorn -w 2 wsgi:server``: keys and the shared rate limit."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

from dashboard.api_keys import KeyStore
from tests.dashboard.api_fixtures import api_settings, write_dataset
from tests.deploy.test_gunicorn import gunicorn

ROOT = Path(__file__).resolve().parents[2]


def _request(url: str, key: str | None = None) -> tuple[int, dict, dict]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=120) as r:
            return r.status, dict(r.headers), json.loads(r.read())
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), json.loads(error.read())


def test_api_under_gunicorn_answers_401_without_a_key_and_200_with_one(tmp_path):
    write_dataset(tmp_path / "data")
    env = {
        "SEGMENTA_CACHE_DIR": str(tmp_path / "cache"),
        "SEGMENTA_DATA_DIR": str(tmp_path / "data"),
        "SEGMENTA_WARM_UP": "0",
        "SEGMENTA_LOG_LEVEL": "WARNING",
        "SEGMENTA_API_RATE": "1",
        "SEGMENTA_API_BURST": "4",
    }
    settings = api_settings(tmp_path, SEGMENTA_API_RATE="1", SEGMENTA_API_BURST="4")
    _, key = KeyStore.for_settings(settings).create("crm")  # as `keys create` would
    with gunicorn(2, tmp_path / "cache", env, ready="/api/v1/openapi.json") as url:
        status, headers, body = _request(f"{url}/api/v1/customers/010000")
        assert status == 401 and "no API key" in body["error"]
        assert headers["WWW-Authenticate"].startswith("Bearer")
        assert _request(f"{url}/api/v1/customers/010000", "sgk_00000000_" + "A" * 43)[0] == 401
        status, _, body = _request(f"{url}/api/v1/customers/010000", key)
        assert status == 200, body
        assert body["customer_id"] == "010000" and body["segment"]["name"]
        assert body["notes"][0].startswith("Churn probability, predicted CLV")  # not trained
        # The bucket is shared by both workers: 4 tokens in all, whichever worker answers.
        statuses = [_request(f"{url}/api/v1/customers/010000", key)[0] for _ in range(6)]
        assert statuses[:3] == [200, 200, 200] and set(statuses[3:]) == {429}
