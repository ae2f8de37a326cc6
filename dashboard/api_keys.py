"""API keys for the REST API: a small SQLite store under the cache folder, and a per-key rate limit.

A key reads ``sgk_<id>_<secret>``: ``id`` (8 hex digits) finds the row, ``secret`` (32 random
bytes, URL-safe) is checked against its salted SHA-256 with :func:`hmac.compare_digest`. Only the
salt and the hash are stored; the key itself is printed once, by ``create``. Each row has a
``role`` (``"api"`` today) so the coming users-and-roles work can give keys narrower rights.

The rate limit is a token bucket per key kept in a diskcache shared by every gunicorn worker on
the host: a key holds at most ``burst`` tokens, refilled at ``rate_per_minute``; a request takes
one, and a request finding none is refused with the seconds until the next token.

CLI: ``python -m dashboard keys create --name NAME | list | revoke NAME_OR_ID``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import hmac
import re
import secrets
import sqlite3
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from dashboard.forksafe import ForkSafeCache
from dashboard.private_db import connect_private
from dashboard.settings import Settings

KEY_PATTERN = re.compile(r"^sgk_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
ROLES = ("api",)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    salt TEXT NOT NULL,
    hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'api',
    created TEXT NOT NULL,
    revoked TEXT
)
"""


class KeyCommandError(ValueError):
    """A key command that cannot be done (duplicate name, unknown key); the message says why."""


@dataclass(frozen=True)
class ApiKey:
    """One stored key (never the key itself)."""

    id: str
    name: str
    role: str
    created: str
    revoked: str | None

    @property
    def active(self) -> bool:
        return self.revoked is None


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(bytes.fromhex(salt) + secret.encode()).hexdigest()


class KeyStore:
    """API keys in ``CACHE_DIR/api_keys.sqlite`` (0600), shared by every worker."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_settings(cls, settings: Settings) -> KeyStore:
        return cls(settings.cache_dir / "api_keys.sqlite")

    def _connect(self) -> sqlite3.Connection:
        return connect_private(self.path, _SCHEMA)

    def create(self, name: str, role: str = "api") -> tuple[ApiKey, str]:
        """Store a new key named ``name``; return it and the key text (shown only this once)."""
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise KeyCommandError(
                f"Key name {name!r} is not allowed: use 1-64 letters, digits, spaces, '.', '_' "
                "or '-', starting with a letter or digit."
            )
        if role not in ROLES:
            raise KeyCommandError(f"Role {role!r} is unknown. Known roles: {', '.join(ROLES)}.")
        secret = secrets.token_urlsafe(32)
        salt = secrets.token_hex(16)
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._connect() as db:
            if db.execute(
                "SELECT 1 FROM api_keys WHERE name = ? AND revoked IS NULL", (name,)
            ).fetchone():
                raise KeyCommandError(
                    f"An active key named {name!r} exists already: choose another name, or "
                    f"revoke it first (python -m dashboard keys revoke {name!r})."
                )
            while True:
                key_id = secrets.token_hex(4)
                if not db.execute("SELECT 1 FROM api_keys WHERE id = ?", (key_id,)).fetchone():
                    break
            db.execute(
                "INSERT INTO api_keys (id, name, salt, hash, role, created) VALUES (?,?,?,?,?,?)",
                (key_id, name, salt, _hash(salt, secret), role, created),
            )
        return ApiKey(key_id, name, role, created, None), f"sgk_{key_id}_{secret}"

    def list(self) -> list[ApiKey]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, name, role, created, revoked FROM api_keys ORDER BY created, id"
            ).fetchall()
        return [ApiKey(*row) for row in rows]

    def revoke(self, name_or_id: str) -> list[ApiKey]:
        """Revoke the active keys with this name or id; return them (raises if there are none)."""
        revoked = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._connect() as db:
            rows = db.execute(
                "SELECT id, name, role, created FROM api_keys "
                "WHERE (id = ? OR name = ?) AND revoked IS NULL",
                (name_or_id, name_or_id),
            ).fetchall()
            if not rows:
                raise KeyCommandError(
                    f"No active key is named or numbered {name_or_id!r}. "
                    "See the keys with: python -m dashboard keys list"
                )
            db.executemany(
                "UPDATE api_keys SET revoked = ? WHERE id = ?", [(revoked, r[0]) for r in rows]
            )
        return [ApiKey(*row, revoked) for row in rows]

    def verify(self, key: str | None) -> ApiKey | None:
        """The active key ``key`` is, or None (malformed, unknown, wrong or revoked)."""
        match = KEY_PATTERN.match(key or "")
        if match is None:
            return None
        key_id, secret = match.groups()
        with self._connect() as db:
            row = db.execute(
                "SELECT id, name, role, created, revoked, salt, hash FROM api_keys WHERE id = ?",
                (key_id,),
            ).fetchone()
        if row is None:
            # the same work as a known id, so timing does not tell which ids exist
            hmac.compare_digest(_hash("00" * 16, secret), "0" * 64)
            return None
        if not hmac.compare_digest(_hash(row[5], secret), row[6]) or row[4] is not None:
            return None
        return ApiKey(*row[:5])


class RateLimiter:
    """A token bucket per key, in a diskcache every worker on the host shares."""

    def __init__(self, directory: Path, rate_per_minute: int, burst: int, **options) -> None:
        self.cache = ForkSafeCache(str(directory), **options)
        self.rate = rate_per_minute / 60.0
        self.burst = burst

    @classmethod
    def for_settings(cls, settings: Settings) -> RateLimiter:
        return cls(
            settings.cache_dir / "api_rate",
            settings.api_rate_per_minute,
            settings.api_burst,
            **settings.disk_cache_options(),
        )

    def take(self, key_id: str, now: float | None = None) -> float:
        """Take a token for ``key_id``: 0.0 when allowed, else the seconds until one is free."""
        now = time.time() if now is None else now
        with self.cache.transact():
            tokens, last = self.cache.get(f"bucket:{key_id}", (float(self.burst), now))
            tokens = min(float(self.burst), tokens + max(0.0, now - last) * self.rate)
            if tokens >= 1.0:
                self.cache.set(f"bucket:{key_id}", (tokens - 1.0, now), expire=3600)
                return 0.0
            self.cache.set(f"bucket:{key_id}", (tokens, now), expire=3600)
            return (1.0 - tokens) / self.rate


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """``python -m dashboard keys ...``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard keys", description="Manage the REST API's keys."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="create a key and print it once")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. crm")
    commands.add_parser("list", help="list the keys (never the keys themselves)")
    revoke = commands.add_parser("revoke", help="revoke a key by name or id")
    revoke.add_argument("name_or_id")
    args = parser.parse_args(argv)
    store = KeyStore.for_settings(settings or Settings.from_env())
    try:
        if args.command == "create":
            record, key = store.create(args.name)
            print(
                f"Created API key {record.id} named {record.name!r}. Copy it now: it is not shown again.",
                file=sys.stderr,
            )
            print(key)
        elif args.command == "list":
            keys = store.list()
            if not keys:
                print(
                    "No API keys yet. Create one with: python -m dashboard keys create --name NAME"
                )
            for k in keys:
                state = f"revoked {k.revoked}" if k.revoked else "active"
                print(f"{k.id}  {k.name}  role={k.role}  created {k.created}  {state}")
        else:
            for k in store.revoke(args.name_or_id):
                print(f"Revoked API key {k.id} named {k.name!r}.")
    except KeyCommandError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    return 0
