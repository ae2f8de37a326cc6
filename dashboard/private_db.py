"""The small SQLite stores under the cache folder (API keys, users): private to this app's user."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def connect_private(path: Path, schema: str) -> sqlite3.Connection:
    """Open ``path`` (folder 0700, file 0600, created if missing) with ``schema`` applied."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    connection = sqlite3.connect(path, timeout=10)
    connection.execute(schema)
    return connection
