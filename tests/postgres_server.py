"""A real PostgreSQL server for the tests, started the way a user would start one.

Debian's ``postgresql`` package (``.ci/run`` installs it when missing): ``initdb`` into a
private temporary folder, then ``postgres`` on a free local port with its socket in that folder.
PostgreSQL refuses to run as root, so as root the server runs as the package's ``postgres``
account (``runuser``). Password authentication (SCRAM) is on for every connection, so a wrong
password is refused as on a real server.
"""

from __future__ import annotations

import io
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import polars as pl

SUPERUSER_PASSWORD = "super-Secret-7d1"
#: The analyst owns the shop database and its table, so nothing but the read-only guards can
#: stop a write made with this account.
ANALYST = "analyst"
ANALYST_PASSWORD = "Pg-analyst-pw-5f3a9c"
DATABASE = "shop"
TABLE = "orders"
PG_TYPES = {
    pl.String: "text",
    pl.Int64: "bigint",
    pl.Float64: "double precision",
    pl.Datetime("us"): "timestamp",
}


def find_bindir() -> Path | None:
    """Debian's PostgreSQL binaries (the newest installed major version), if any."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parts[-3])
    )
    return found[-1].parent if found else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PgServer:
    folder: Path
    bindir: Path
    port: int
    process: subprocess.Popen
    prefix: list[str]

    def url(self, user: str = ANALYST, database: str = DATABASE) -> str:
        return f"postgresql://{user}@127.0.0.1:{self.port}/{database}"

    def connect(self, user: str = "postgres", password: str = SUPERUSER_PASSWORD, **kwargs):
        import psycopg

        return psycopg.connect(
            self.url(user, kwargs.pop("database", DATABASE if user == ANALYST else "postgres")),
            password=password,
            **kwargs,
        )

    def stop(self) -> None:
        subprocess.run(
            [*self.prefix, str(self.bindir / "pg_ctl"), "-D", str(self.folder / "data"), "stop"]
            + ["-m", "fast", "-w"],
            capture_output=True,
            check=False,
            timeout=60,
        )
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)


def start(bindir: Path) -> PgServer:
    folder = Path(tempfile.mkdtemp(prefix="segmenta-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:  # postgres refuses root: run it as Debian's postgres account
        account = pwd.getpwnam("postgres")
        os.chown(folder, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    pwfile = folder / "pw"
    pwfile.write_text(SUPERUSER_PASSWORD + "\n")
    if prefix:
        os.chown(pwfile, account.pw_uid, account.pw_gid)
    subprocess.run(
        [*prefix, str(bindir / "initdb"), "-D", str(folder / "data"), "-U", "postgres"]
        + ["--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pwfile.unlink()
    port = free_port()
    log = open(folder / "server.log", "w")  # noqa: SIM115 - closed with the process
    if prefix:
        os.chown(folder / "server.log", account.pw_uid, account.pw_gid)
    process = subprocess.Popen(
        [*prefix, str(bindir / "postgres"), "-D", str(folder / "data"), "-p", str(port)]
        + ["-k", str(folder), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = PgServer(folder, bindir, port, process, prefix)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.connect().close()
            return server
        except Exception:
            if process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(
                    "PostgreSQL did not start: " + (folder / "server.log").read_text()[-2000:]
                ) from None
            time.sleep(0.2)


def load_frame(server: PgServer, frame: pl.DataFrame, table: str = TABLE) -> None:
    """Create ``table`` (owned by the analyst) with the frame's columns and COPY its rows in."""
    from psycopg import sql

    with server.connect(ANALYST, ANALYST_PASSWORD) as conn:
        columns = sql.SQL(", ").join(
            sql.SQL("{} {}").format(sql.Identifier(name), sql.SQL(PG_TYPES[dtype]))
            for name, dtype in frame.schema.items()
        )
        conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier(table)))
        conn.execute(sql.SQL("CREATE TABLE {} ({})").format(sql.Identifier(table), columns))
        buffer = io.BytesIO()
        # full float precision, ISO timestamps: what COPY reads back is the frame's exact values
        frame.write_csv(buffer, float_precision=None, datetime_format="%Y-%m-%d %H:%M:%S%.f")
        copy = sql.SQL("COPY {} FROM STDIN (FORMAT csv, HEADER true)").format(sql.Identifier(table))
        with conn.cursor().copy(copy) as pipe:
            pipe.write(buffer.getvalue())


def create_shop(server: PgServer) -> None:
    """The analyst's account and database (the analyst owns it)."""
    from psycopg import sql

    with server.connect(autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(ANALYST), sql.Literal(ANALYST_PASSWORD)
            )
        )
        conn.execute(
            sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(DATABASE), sql.Identifier(ANALYST)
            )
        )
