"""The caches a job can be forked beside (dashboard.forksafe)."""

import os
import threading
import time

import pytest

from dashboard.forksafe import GATE, ForkSafeCache


def test_it_is_a_diskcache(tmp_path):
    cache = ForkSafeCache(str(tmp_path / "c"))
    cache.set("a", {"x": 1})
    assert cache.get("a") == {"x": 1}
    with cache.transact():
        cache.set("b", 2)
        assert cache.incr("b") == 3
    assert cache.add("a", 0) is False and cache.delete("a") is True
    assert list(cache.iterkeys()) == ["b"] and len(cache) == 1
    # a statement's rows read as from a cursor
    assert cache._sql("PRAGMA journal_mode").fetchone() == ("wal",)
    assert [row for row in cache._sql("SELECT 1 UNION SELECT 2")] == [(1,), (2,)]
    assert GATE.inside == 0


def test_a_fork_waits_for_the_threads_inside_sqlite_calls():
    inside, leave, order = threading.Event(), threading.Event(), []

    def sqlite_call():
        with GATE.sqlite():
            inside.set()
            leave.wait(5)
            order.append("call done")

    worker = threading.Thread(target=sqlite_call)
    worker.start()
    inside.wait(5)
    threading.Timer(0.3, leave.set).start()
    with GATE.fork():
        order.append("fork")
    worker.join()
    assert order == ["call done", "fork"]


def _wait_exit(pid: int, timeout: float) -> int | None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.05)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    return None


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # fork() of a multi-threaded process
def test_a_process_forked_inside_the_gate_uses_its_caches(tmp_path):
    """The fork happens while the gate's lock is held: the child starts with a fresh gate, so
    its first cache write goes through instead of waiting forever on the parent's lock."""
    cache = ForkSafeCache(str(tmp_path / "c"))
    cache.set("before", 1)
    with GATE.fork():
        pid = os.fork()
        if pid == 0:  # the child
            try:
                cache.set("child", cache.get("before") + 1)
            finally:
                os._exit(0)
    assert _wait_exit(pid, timeout=20) == 0
    assert cache.get("child") == 2
