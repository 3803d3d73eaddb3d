"""The limiter on Redis: one script call grants a whole batch's permits under every limit.

Keys live under ``prefix`` (several deployments or tests can share a server). The scripts are
loaded once and called by their SHA; Redis runs each atomically, so concurrent workers on any
number of machines see one consistent count.

With ``server_time`` (production), every decision uses Redis's clock (``TIME`` inside the
script) and the ``now`` the caller passes is ignored: workers whose host clocks are skewed still
share one window. The caller's clock is used only for accelerated demo and test clocks.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from importlib import resources
from typing import Any, cast

import redis

from warmup.ratelimit.base import Grant, Limit, count_buckets


def lua_script(name: str) -> str:
    return resources.files("warmup.ratelimit").joinpath(f"lua/{name}").read_text(encoding="utf-8")


ACQUIRE = lua_script("acquire.lua")
THROTTLE = lua_script("throttle.lua")
RESTORE = lua_script("restore.lua")
RESTORED = "restored"  # the marker key, under the prefix


class RedisLimiter:
    def __init__(
        self, client: redis.Redis, prefix: str = "warmup:rl:", *, server_time: bool = False
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self.server_time = server_time
        self._acquire = client.register_script(ACQUIRE)
        self._throttle = client.register_script(THROTTLE)
        self._restore = client.register_script(RESTORE)

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "warmup:rl:", *, server_time: bool = False
    ) -> RedisLimiter:
        return cls(redis.Redis.from_url(url), prefix, server_time=server_time)

    def _now(self, now: float) -> str:
        return "server" if self.server_time else repr(now)

    def _key(self, name: str) -> str:
        return f"{self._prefix}{name}"

    def throttle_key(self, scope: str) -> str:
        """The key holding the scope's throttle deadline (the wire journal reads it too)."""
        return self._key(f"throttle:{scope}")

    def acquire(self, limits: list[Limit], wanted: int, now: float, scope: str) -> Grant:
        if wanted <= 0:
            return Grant(0)
        keys = [self.throttle_key(scope), *(self._key(limit.key) for limit in limits)]
        args: list[Any] = [self._now(now), wanted]
        for limit in limits:
            args += [limit.limit, repr(limit.bucket_size), limit.span]
        granted, retry_ms, throttled = cast(list[int], self._acquire(keys=keys, args=args))
        return Grant(int(granted), int(retry_ms) / 1000, throttled=bool(throttled))

    def throttle(self, scope: str, seconds: float, now: float) -> None:
        keys = [self.throttle_key(scope), self._key(f"throttles:{scope}")]
        self._throttle(keys=keys, args=[self._now(now), repr(seconds)])

    def throttle_counts(self) -> dict[str, int]:
        prefix = self._key("throttles:")
        keys = [cast(bytes, k) for k in self._redis.scan_iter(match=f"{prefix}*", count=1000)]
        values = cast(list[bytes | None], self._redis.mget(keys)) if keys else []
        return {
            key.decode()[len(prefix) :]: int(value or 0)
            for key, value in zip(keys, values, strict=True)
        }

    def throttled_until(self) -> dict[str, float]:
        prefix = self._key("throttle:")
        keys = [cast(bytes, k) for k in self._redis.scan_iter(match=f"{prefix}*", count=1000)]
        values = cast(list[bytes | None], self._redis.mget(keys)) if keys else []
        return {
            key.decode()[len(prefix) :]: float(value)
            for key, value in zip(keys, values, strict=True)
            if value is not None  # expired between the scan and the read
        }

    def used(self, limit: Limit, now: float) -> int:
        if self.server_time:
            seconds, micros = cast(tuple[int, int], self._redis.time())
            now = seconds + micros / 1_000_000
        raw = cast(dict[bytes, bytes], self._redis.hgetall(self._key(limit.key)))
        buckets = {int(index): int(count) for index, count in raw.items()}
        return count_buckets(limit, buckets, now)[0]

    def restored(self) -> bool:
        return bool(self._redis.exists(self._key(RESTORED)))

    def restore(self, counts: Mapping[Limit, Mapping[int, int]]) -> bool:
        limits = list(counts)
        keys = [self._key(RESTORED), *(self._key(limit.key) for limit in limits)]
        ttls = [math.ceil((limit.span + 1) * limit.bucket_size * 1000) for limit in limits]
        # JSON objects need string keys.
        windows = [json.dumps({str(i): n for i, n in counts[limit].items()}) for limit in limits]
        return bool(self._restore(keys=keys, args=[*ttls, *windows]))

    def close(self) -> None:
        self._redis.close()
