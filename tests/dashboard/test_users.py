"""The user store and ``python -m dashboard users``."""

from __future__ import annotations

import io
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard.users import UserCommandError, UserStore, main

REPO = Path(__file__).resolve().parents[2]


def test_passwords_are_stored_hashed_in_a_private_file(settings):
    store = UserStore.for_settings(settings)
    store.add("ann", "analyst", "s3cret-pass")
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    raw = store.path.read_bytes()
    assert b"s3cret-pass" not in raw and b"scrypt:" in raw
    assert store.authenticate("ann", "s3cret-pass").role == "analyst"
    assert store.authenticate("ann", "wrong-pass") is None
    assert store.authenticate("nobody", "s3cret-pass") is None


@pytest.mark.parametrize(
    ("name", "role", "password", "message"),
    [
        ("bad name", "viewer", "long enough", "User name 'bad name' is not allowed"),
        (
            "ann",
            "boss",
            "long enough",
            "Role 'boss' is unknown. Known roles: viewer, analyst, admin.",
        ),
        ("ann", "viewer", "short", "The password must have at least 8 characters."),
        ("taken", "viewer", "long enough", "A user named 'taken' exists already"),
    ],
)
def test_bad_user_commands_say_what_is_wrong(settings, name, role, password, message):
    store = UserStore.for_settings(settings)
    store.add("taken", "viewer", "long enough")
    with pytest.raises(UserCommandError, match=message.replace(".", r"\.").replace("(", r"\(")):
        store.add(name, role, password)


def test_users_cli_adds_lists_and_removes(settings, capsys, monkeypatch):
    assert main(["list"], settings) == 0
    assert "No users: the app runs for a single local user" in capsys.readouterr().out
    monkeypatch.setattr(sys, "stdin", io.StringIO("a long password\n"))
    assert main(["add", "vera", "--role", "viewer", "--password-stdin"], settings) == 0
    assert capsys.readouterr().out == "Added user 'vera' with role viewer.\n"
    assert main(["list"], settings) == 0
    listed = capsys.readouterr().out
    assert listed.startswith("vera  role=viewer  created ") and "a long password" not in listed
    assert UserStore.for_settings(settings).authenticate("vera", "a long password") is not None
    assert main(["remove", "nobody"], settings) == 2
    assert "No user is named 'nobody'" in capsys.readouterr().err
    assert main(["remove", "vera"], settings) == 0
    out = capsys.readouterr().out
    assert "Removed user 'vera' (role viewer)." in out and "No users are left" in out


def test_users_cli_runs_as_a_module_before_the_app_is_imported(tmp_path):
    env = {**os.environ, "SEGMENTA_CACHE_DIR": str(tmp_path / "cache")}
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "dashboard",
            "users",
            "add",
            "ada",
            "--role",
            "admin",
            "--password-stdin",
        ],
        input="an admin password\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "Added user 'ada' with role admin.\n"
    listed = subprocess.run(
        [sys.executable, "-m", "dashboard", "users", "list"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=60,
    )
    assert listed.stdout.startswith("ada  role=admin")
