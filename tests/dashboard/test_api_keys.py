"""``python -m dashboard keys``: create prints the key once, list never shows it, revoke works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.api_keys import KEY_PATTERN, KeyStore, main
from dashboard.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(tmp_path):
    return Settings.from_env({"SEGMENTA_CACHE_DIR": str(tmp_path / "cache")})


def test_create_prints_the_key_once_on_its_own_line(settings, capsys):
    assert main(["create", "--name", "crm"], settings) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()
    assert len(lines) == 1 and KEY_PATTERN.match(lines[0])
    assert "not shown again" in err and lines[0] not in err
    store = KeyStore.for_settings(settings)
    assert store.verify(lines[0]).name == "crm"
    # the 43-character secret (it may itself contain "_"), never stored as such
    assert KEY_PATTERN.match(lines[0]).group(2).encode() not in store.path.read_bytes()
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"


def test_list_never_shows_a_key(settings, capsys):
    main(["create", "--name", "crm"], settings)
    key = capsys.readouterr().out.strip()
    assert main(["list"], settings) == 0
    listed = capsys.readouterr().out
    key_id = KEY_PATTERN.match(key).group(1)
    assert f"{key_id}  crm  role=api" in listed and "active" in listed
    assert key not in listed and KEY_PATTERN.match(key).group(2) not in listed


def test_revoke_by_name_or_id(settings, capsys):
    store = KeyStore.for_settings(settings)
    first, first_key = store.create("crm")
    second, second_key = store.create("mailer")
    assert main(["revoke", "crm"], settings) == 0
    assert capsys.readouterr().out == f"Revoked API key {first.id} named 'crm'.\n"
    assert main(["revoke", second.id], settings) == 0
    assert store.verify(first_key) is None and store.verify(second_key) is None
    main(["list"], settings)
    assert capsys.readouterr().out.count("revoked 20") == 2


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["revoke", "nobody"], "No active key is named or numbered 'nobody'"),
        (["create", "--name", "crm"], "An active key named 'crm' exists already"),
        (["create", "--name", "x;drop"], "Key name 'x;drop' is not allowed"),
    ],
)
def test_key_commands_that_cannot_be_done_say_why(settings, capsys, argv, says):
    KeyStore.for_settings(settings).create("crm")
    assert main(argv, settings) == 2
    assert says in capsys.readouterr().err


def test_a_revoked_name_can_be_reused(settings):
    store = KeyStore.for_settings(settings)
    _, old = store.create("crm")
    store.revoke("crm")
    _, new = store.create("crm")
    assert store.verify(old) is None and store.verify(new).name == "crm"


def test_python_m_dashboard_keys_runs_the_cli(tmp_path):
    env = {**os.environ, "SEGMENTA_CACHE_DIR": str(tmp_path / "cache"), "PYTHONPATH": str(ROOT)}
    run = subprocess.run(
        [sys.executable, "-m", "dashboard", "keys", "create", "--name", "crm"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert KEY_PATTERN.match(run.stdout.strip()) and run.stdout.count("\n") == 1
    listed = subprocess.run(
        [sys.executable, "-m", "dashboard", "keys", "list"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert "crm" in listed.stdout and run.stdout.strip() not in listed.stdout
