"""One dispatcher tick at a time, however many beat replicas send ticks.

The lock can lapse under a slow tick, so each tick also takes a fencing token that only
increases: the ledger refuses claims from a tick older than one that already claimed
(:mod:`warmup.ledger.claims`)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from warmup.ratelimit.redis_limiter import lua_script

LOCK = "warmup:dispatcher-lock"
FENCE = "warmup:dispatcher-fence"
LOCK_MS = 30_000


class DispatchLock:
    def __init__(self, client: redis.Redis) -> None:
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
