"""A real ``redis-server`` (Debian's) for the tests: a free loopback port, nothing saved to disk."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest
import redis

needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None,
    reason="needs Debian's redis-server (.ci/run installs it)",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def redis_server(folder: Path):
    """``redis-server --port <free> --save '' --appendonly no``; yields its URL once it answers."""
    port = free_port()
    log = open(folder / f"redis-{port}.log", "w")  # noqa: SIM115
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        cwd=folder,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise AssertionError(f"redis-server did not start: see {log.name}") from None
                time.sleep(0.05)
        yield url
    finally:
        client.close()
        process.terminate()
        process.wait(timeout=20)
        log.close()
