"""The limiter in one process: for tests, simulations and single-process runs.

It implements exactly what ``lua/acquire.lua`` does, and the same contract tests check both.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Mapping

from warmup.ratelimit.base import Grant, Limit, count_buckets


class InMemoryLimiter:
    def __init__(self) -> None:
        self._buckets: dict[str, dict[int, int]] = defaultdict(dict)
        self._throttled_until: dict[str, float] = {}
        self._throttles: dict[str, int] = {}
        self._lock = threading.Lock()

    def _count(self, limit: Limit, now: float) -> tuple[int, int | None]:
        """(permits counted, oldest counted bucket), forgetting buckets out of the span."""
        buckets = self._buckets[limit.key]
        oldest_allowed = limit.bucket(now) - limit.span + 1
        for index in [i for i in buckets if i < oldest_allowed]:
            del buckets[index]
        return count_buckets(limit, buckets, now)

    def acquire(self, limits: list[Limit], wanted: int, now: float, scope: str) -> Grant:
        with self._lock:
            until = self._throttled_until.get(scope, 0.0)
            if until > now:
                return Grant(0, until - now, throttled=True)
            granted = wanted
            seen: list[tuple[Limit, int, int | None]] = []
            for limit in limits:
                used, oldest = self._count(limit, now)
                granted = min(granted, max(0, limit.limit - used))
                seen.append((limit, used, oldest))
            retry = 0.0
            if granted < wanted:
                for limit, used, oldest in seen:
                    if used + granted >= limit.limit and oldest is not None:
                        retry = max(retry, (oldest + limit.span) * limit.bucket_size - now)
            if granted > 0:
                for limit in limits:
                    buckets = self._buckets[limit.key]
                    index = limit.bucket(now)
                    buckets[index] = buckets.get(index, 0) + granted
            return Grant(granted, retry)

    def throttle(self, scope: str, seconds: float, now: float) -> None:
        with self._lock:
            self._throttled_until[scope] = max(self._throttled_until.get(scope, 0.0), now + seconds)
            self._throttles[scope] = self._throttles.get(scope, 0) + 1

    def throttle_counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._throttles)

    def throttled_until(self) -> dict[str, float]:
        with self._lock:
            return dict(self._throttled_until)

    def used(self, limit: Limit, now: float) -> int:
        with self._lock:
            return self._count(limit, now)[0]

    def restored(self) -> bool:
        return True  # a process's own memory is never lost without the process

    def restore(self, counts: Mapping[Limit, Mapping[int, int]]) -> bool:
        with self._lock:
            for limit, buckets in counts.items():
                own = self._buckets[limit.key]
                for index, n in buckets.items():
                    own[index] = own.get(index, 0) + n
        return True

    def close(self) -> None:
        pass
