"""The limiter on Redis: one script call grants a whole batch's permits under every limit.

Keys live under ``prefix`` (several deployments or tests can share a server). The script is
loaded once and called by its SHA; Redis runs it atomically, so concurrent workers on any number
of machines see one consistent count.
"""

from __future__ import annotations

from importlib import resources
from typing import Any, cast

import redis

from warmup.ratelimit.base import Grant, Limit, count_buckets

ACQUIRE = (
    resources.files("warmup.ratelimit").joinpath("lua/acquire.lua").read_text(encoding="utf-8")
)


class RedisLimiter:
    def __init__(self, client: redis.Redis, prefix: str = "warmup:rl:") -> None:
        self._redis = client
        self._prefix = prefix
        self._acquire = client.register_script(ACQUIRE)

    @classmethod
    def from_url(cls, url: str, prefix: str = "warmup:rl:") -> RedisLimiter:
        return cls(redis.Redis.from_url(url), prefix)

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def acquire(self, limits: list[Limit], wanted: int, now: float, scope: str) -> Grant:
        if wanted <= 0:
            return Grant(0)
        keys = [self._key(f"throttle:{scope}"), *(self._key(limit.key) for limit in limits)]
        args: list[Any] = [repr(now), wanted]
        for limit in limits:
            args += [limit.limit, repr(limit.bucket_size), limit.span]
        granted, retry_ms, throttled = cast(list[int], self._acquire(keys=keys, args=args))
        return Grant(int(granted), int(retry_ms) / 1000, throttled=bool(throttled))

    def throttle(self, scope: str, seconds: float, now: float) -> None:
        key = self._key(f"throttle:{scope}")
        self._redis.incr(self._key(f"throttles:{scope}"))
        until = now + seconds
        current = cast(bytes | None, self._redis.get(key))
        if current is None or float(current) < until:
            # Expire with a real-time margin; the value is compared with the caller's clock.
            self._redis.set(key, repr(until), px=int(max(seconds, 1) * 1000) + 60_000)

    def throttle_counts(self) -> dict[str, int]:
        prefix = self._key("throttles:")
        keys = [cast(bytes, k) for k in self._redis.scan_iter(match=f"{prefix}*", count=1000)]
        values = cast(list[bytes | None], self._redis.mget(keys)) if keys else []
        return {
            key.decode()[len(prefix) :]: int(value or 0)
            for key, value in zip(keys, values, strict=True)
        }

    def used(self, limit: Limit, now: float) -> int:
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._key(limit.key)))
        buckets = {int(index): int(count) for index, count in raw.items()}
        return count_buckets(limit, buckets, now)[0]

    def close(self) -> None:
        self._redis.close()
