"""Users of the web app: names, roles and hashed passwords in a small SQLite store.

Users live in ``CACHE_DIR/users.sqlite`` (0600), next to the API keys. A password is stored only
as a salted scrypt hash (:func:`werkzeug.security.generate_password_hash`); it is checked with
:func:`werkzeug.security.check_password_hash`, which compares in constant time.

Roles, from least to most:

- ``viewer``: reads every page; starts no upload, no model training and no new basket mining;
- ``analyst``: everything on their own data (uploads belong to the user who made them);
- ``admin``: an analyst who also manages users and API keys (with this CLI and ``keys``).

With no users at all the app runs for a single local user, as before logins existed.

CLI: ``python -m dashboard users add NAME --role viewer|analyst|admin [--password-stdin]
| list | remove NAME``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import re
import sqlite3
import sys
from dataclasses import dataclass
from pathlib import Path

from werkzeug.security import check_password_hash, generate_password_hash

from dashboard.private_db import connect_private
from dashboard.settings import Settings

ROLES = ("viewer", "analyst", "admin")
NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD_LENGTH = 8
_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
)
"""
# checked against when the name is unknown, so the answer takes as long as for a known name
_DUMMY_HASH = generate_password_hash("not a password", method="scrypt")


class UserCommandError(ValueError):
    """A user command that cannot be done (bad name, role or password); the message says why."""


@dataclass(frozen=True)
class User:
    """One user (never the password)."""

    name: str
    role: str
    created: str = ""

    def may(self, role: str) -> bool:
        """Whether this user has ``role`` or a higher one."""
        return ROLES.index(self.role) >= ROLES.index(role)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise UserCommandError(
            f"User name {name!r} is not allowed: use 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit."
        )
    return name


def check_role(role: str) -> str:
    if role not in ROLES:
        raise UserCommandError(f"Role {role!r} is unknown. Known roles: {', '.join(ROLES)}.")
    return role


class UserStore:
    """Users in ``CACHE_DIR/users.sqlite`` (0600), shared by every worker."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_settings(cls, settings: Settings) -> UserStore:
        return cls(settings.cache_dir / "users.sqlite")

    def _connect(self) -> sqlite3.Connection:
        return connect_private(self.path, _SCHEMA)

    def add(self, name: str, role: str, password: str) -> User:
        """Store a new user; raise :class:`UserCommandError` for a taken name or a weak password."""
        check_name(name)
        check_role(role)
        if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
            raise UserCommandError(
                f"The password must have at least {MIN_PASSWORD_LENGTH} characters."
            )
        created = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        with self._connect() as db:
            if db.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
                raise UserCommandError(
                    f"A user named {name!r} exists already: choose another name, or remove it "
                    f"first (python -m dashboard users remove {name})."
                )
            db.execute(
                "INSERT INTO users (name, role, password_hash, created) VALUES (?,?,?,?)",
                (name, role, generate_password_hash(password, method="scrypt"), created),
            )
        return User(name, role, created)

    def list(self) -> list[User]:
        with self._connect() as db:
            rows = db.execute("SELECT name, role, created FROM users ORDER BY name").fetchall()
        return [User(*row) for row in rows]

    def any(self) -> bool:
        """Whether at least one user exists (if not, the app has no logins)."""
        if not self.path.exists():
            return False
        with self._connect() as db:
            return db.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None

    def get(self, name: str) -> User | None:
        if not self.path.exists():
            return None
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, created FROM users WHERE name = ?", (name,)
            ).fetchone()
        return User(*row) if row else None

    def remove(self, name: str) -> User:
        with self._connect() as db:
            row = db.execute(
                "SELECT name, role, created FROM users WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                raise UserCommandError(
                    f"No user is named {name!r}. See the users with: python -m dashboard users list"
                )
            db.execute("DELETE FROM users WHERE name = ?", (name,))
        return User(*row)

    def authenticate(self, name: str, password: str) -> User | None:
        """The user ``name`` if ``password`` is theirs, else None."""
        row = None
        if self.path.exists() and isinstance(name, str):
            with self._connect() as db:
                row = db.execute(
                    "SELECT name, role, created, password_hash FROM users WHERE name = ?", (name,)
                ).fetchone()
        if row is None:
            check_password_hash(_DUMMY_HASH, password or "")
            return None
        if not check_password_hash(row[3], password or ""):
            return None
        return User(*row[:3])


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise UserCommandError("The two passwords differ. Nothing was changed.")
    return first


def main(argv: list[str] | None = None, settings: Settings | None = None) -> int:
    """``python -m dashboard users ...``; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m dashboard users", description="Manage who may sign in to the app."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    commands.add_parser("list", help="list the users and their roles (never the passwords)")
    remove = commands.add_parser("remove", help="remove a user")
    remove.add_argument("name")
    args = parser.parse_args(argv)
    store = UserStore.for_settings(settings or Settings.from_env())
    try:
        if args.command == "add":
            check_name(args.name)
            user = store.add(args.name, args.role, _read_password(args.password_stdin))
            print(f"Added user {user.name!r} with role {user.role}.")
        elif args.command == "list":
            users = store.list()
            if not users:
                print(
                    "No users: the app runs for a single local user without logins. Add one "
                    "with: python -m dashboard users add NAME --role admin"
                )
            for user in users:
                print(f"{user.name}  role={user.role}  created {user.created}")
        else:
            user = store.remove(args.name)
            print(f"Removed user {user.name!r} (role {user.role}).")
            if not store.any():
                print("No users are left: the app now runs without logins for a single local user.")
    except UserCommandError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    return 0
