"""SQLite caches that a background job can be forked beside.

Dash's diskcache manager forks a process per job from the web process. When another thread of
that process is inside an SQLite call at the moment of the fork (the threaded development server
and the in-process test server answer requests in threads; gunicorn's worker has its warm-up
thread), the child inherits SQLite's internal locks held, and its first cache write waits for
them forever: the job never starts, its page waits, and the process never exits (seen in CI: a
job process blocked in ``sqlite3.connect``).

:data:`GATE` closes that window. Every SQLite call of a :class:`ForkSafeCache` runs inside
``GATE.sqlite()`` (shared: threads never wait for each other there), and the job manager forks
inside ``GATE.fork()``, which waits until no thread is inside an SQLite call (at most
:data:`FORK_WAIT_S`) and holds new calls back while the process forks. Each call's rows are read
completely inside the gate, so no SQLite work is left pending on a cursor outside it.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator

import diskcache

#: seconds a fork waits for the threads inside SQLite calls to leave them
FORK_WAIT_S = 5.0


class ForkGate:
    """Many threads inside SQLite calls at once, or one thread forking: never both."""

    def __init__(self) -> None:
        self._reset()

    def _reset(self) -> None:
        # also the child's first step after a fork: the parent's lock was held while it forked
        self._cond = threading.Condition(threading.Lock())
        self._inside = 0

    @contextlib.contextmanager
    def sqlite(self) -> Iterator[None]:
        with self._cond:
            self._inside += 1
        try:
            yield
        finally:
            with self._cond:
                self._inside -= 1
                if not self._inside:
                    self._cond.notify_all()

    @contextlib.contextmanager
    def fork(self) -> Iterator[None]:
        with self._cond:
            self._cond.wait_for(lambda: self._inside == 0, timeout=FORK_WAIT_S)
            yield

    @property
    def inside(self) -> int:
        """Threads inside an SQLite call now (for tests)."""
        return self._inside


GATE = ForkGate()
os.register_at_fork(after_in_child=GATE._reset)


class _Rows:
    """A finished statement's rows, read as from a cursor (``fetchall``, ``fetchone``, iteration)."""

    __slots__ = ("_rows",)

    def __init__(self, rows: list) -> None:
        self._rows = rows

    def fetchall(self) -> list:
        rows, self._rows = self._rows, []
        return rows

    def fetchone(self):
        return self._rows.pop(0) if self._rows else None

    def __iter__(self):
        return iter(self.fetchall())


class ForkSafeCache(diskcache.Cache):
    """:class:`diskcache.Cache` whose every SQLite call runs inside :data:`GATE`."""

    @property
    def _con(self):
        with GATE.sqlite():
            return super()._con

    @property
    def _sql(self):
        execute = self._con.execute

        def run(*args, **kwargs):
            with GATE.sqlite():
                return _Rows(execute(*args, **kwargs).fetchall())

        return run

    def close(self) -> None:
        with GATE.sqlite():
            super().close()
