"""The result cache every worker, job and host on one cache folder shares.

Results live on disk (diskcache under ``CACHE_DIR/results``), keyed by a string that carries the
dataset's fingerprint, the code version and the parameters, so an entry is never stale. A miss is
computed once: one lock per key makes concurrent requests for the same result (two workers, two
analysts) wait for the first computation instead of repeating it, while other keys go on. Each
process also keeps the results it served last unpickled in memory (bounded by
``settings.memory_cache_items``), so a follow-up request does not reload them from disk.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import diskcache

from dashboard.forksafe import ForkSafeCache
from dashboard.settings import Settings

_MISSING = object()
#: Disk space the results may take before the least recently used are evicted.
SIZE_LIMIT = 4 * 2**30


class ResultCache:
    """Memoised results on disk with one lock per key and a small in-memory front."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.disk = ForkSafeCache(
            str(settings.cache_dir / "results"),
            size_limit=SIZE_LIMIT,
            **settings.disk_cache_options(),
        )
        self._hot: OrderedDict[str, Any] = OrderedDict()
        self._hot_lock = threading.Lock()

    def memo(self, key: str, compute: Callable[[], Any]) -> Any:
        """The cached value of ``key``, computing it (once across processes) on a miss."""
        value = self.peek(key)
        if value is _MISSING:
            with diskcache.Lock(self.disk, f"lock:{key}", expire=self.settings.lock_timeout):
                value = self.disk.get(key, default=_MISSING)
                if value is _MISSING:
                    value = compute()
                    self.disk.set(key, value)
            self._remember(key, value)
        return value

    def get(self, key: str, default: Any = None) -> Any:
        """The cached value, or ``default`` without computing anything."""
        value = self.peek(key)
        return default if value is _MISSING else value

    def peek(self, key: str) -> Any:
        value = self._hot.get(key, _MISSING)
        if value is not _MISSING:
            with self._hot_lock:
                if key in self._hot:
                    self._hot.move_to_end(key)
            return value
        value = self.disk.get(key, default=_MISSING)
        if value is not _MISSING:
            self._remember(key, value)
        return value

    def lock(self, key: str, expire: float | None = None) -> diskcache.Lock:
        """A cross-process lock named after ``key`` (e.g. while a dataset is being cleaned)."""
        return diskcache.Lock(self.disk, f"lock:{key}", expire=expire or self.settings.lock_timeout)

    def _remember(self, key: str, value: Any) -> None:
        if self.settings.memory_cache_items <= 0:
            return
        with self._hot_lock:
            self._hot[key] = value
            self._hot.move_to_end(key)
            while len(self._hot) > self.settings.memory_cache_items:
                self._hot.popitem(last=False)
