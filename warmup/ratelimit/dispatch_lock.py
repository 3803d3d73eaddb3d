"""One dispatcher tick at a time, however many beat replicas send ticks.

The lock can lapse under a slow tick, so each tick also takes a fencing token that only
increases: the ledger refuses claims from a tick older than one that already claimed
(:mod:`warmup.ledger.claims`).

Each tick that completes leaves its (wall-clock) time in Redis: the API exports it, so an alert
hears the dispatcher, or beat that sends its ticks, fall silent."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import cast

import redis

from warmup.ratelimit.redis_limiter import lua_script

LOCK = "warmup:dispatcher-lock"
FENCE = "warmup:dispatcher-fence"
LOCK_MS = 30_000
LAST_TICK = "warmup:dispatcher-last-tick"


class DispatchLock:
    def __init__(self, client: redis.Redis) -> None:
        self._redis = client
        self._take = client.register_script(lua_script("dispatch_lock.lua"))
        self._give = client.register_script(lua_script("dispatch_unlock.lua"))

    @contextmanager
    def held(self) -> Iterator[int | None]:
        """The tick's fencing token while it holds the lock, or None (and no lock) while
        another tick holds it."""
        token = uuid.uuid4().hex
        fence = int(self._take(keys=[LOCK, FENCE], args=[token, LOCK_MS]))
        if not fence:
            yield None
            return
        try:
            yield fence
        finally:
            self._give(keys=[LOCK], args=[token])
        # Only a tick that completed (an exception above skips this) counts as one.
        self._redis.set(LAST_TICK, f"{time.time():.3f}")


def last_tick(client: redis.Redis) -> float | None:
    """When (epoch seconds) a dispatcher tick last completed, or None if none ever has."""
    value = cast(bytes | None, client.get(LAST_TICK))
    return float(value) if value is not None else None
