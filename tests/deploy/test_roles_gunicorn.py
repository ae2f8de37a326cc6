"""Logins and roles under the real ``gunicorn -w 2``: a session signed by one worker holds in the
other, viewers' uploads are refused, and one analyst's upload is closed to another."""

from __future__ import annotations

from pathlib import Path

import requests

from dashboard.users import UserStore
from tests.deploy.test_gunicorn import gunicorn

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "a long password"
LOG = b"Client,OrderedAt,Total\n" + b"".join(
    f"c{c},2011-0{m}-03,{c * 10 + m}\n".encode() for c in range(1, 30) for m in range(1, 4)
)


def _sign_in(url: str, name: str) -> requests.Session:
    session = requests.Session()
    answer = session.post(
        url + "/login", data={"username": name, "password": PASSWORD}, allow_redirects=False
    )
    assert answer.status_code == 302, answer.text
    return session


def _upload(session: requests.Session, url: str) -> requests.Response:
    return session.post(url + "/upload", data=LOG, headers={"X-Filename": "shop.csv"})


def test_rol101_roles_hold_across_two_workers(tmp_path):
    cache_dir = tmp_path / "cache"
    store = UserStore(cache_dir / "users.sqlite")
    for name, role in (("vera", "viewer"), ("ann", "analyst"), ("bob", "analyst")):
        store.add(name, role, PASSWORD)
    with gunicorn(2, cache_dir, {"SEGMENTA_WARM_UP": "0"}, ready="/login") as url:
        assert requests.get(url + "/_dash-layout", timeout=60).status_code == 401
        vera = _sign_in(url, "vera")
        # many requests: both workers see the signed session and the role
        for _ in range(8):
            assert vera.get(url + "/_dash-layout", timeout=30).status_code == 200
            assert _upload(vera, url).status_code == 403
        ann, bob = _sign_in(url, "ann"), _sign_in(url, "bob")
        uploaded = _upload(ann, url)
        assert uploaded.status_code == 200, uploaded.text
        dataset_id = uploaded.json()["dataset_id"]
        for _ in range(4):
            assert bob.get(f"{url}/x?dataset={dataset_id}", timeout=60).status_code == 403
            assert ann.get(f"{url}/x?dataset={dataset_id}", timeout=60).status_code != 403
