"""The wire journal on Redis: one hash per lease owner, written by Lua scripts.

Keys live under ``prefix``. Every owner's entries of one :meth:`RedisJournal.write` go in one
pipeline (a round trip for all the batches of a process that wrote in the same turn of its
event loop), as one transaction (MULTI/EXEC): a process killed while sending it leaves all of
it or none. Without that, Redis could apply the marks of one batch and not the results noted
for another, in the same write, whose slots those marks reuse: the journal then held more
rows "on the wire" than the process has wire slots, and each cost a status GET after the
crash (seen: 13 in doubt from one process with 8 slots). Redis errors become
:class:`~warmup.journal.base.JournalError`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from importlib import resources
from typing import Any, cast

import redis

from warmup.journal.base import (
    DEFAULT_TTL_SECONDS,
    OPENED,
    SEALED,
    Entries,
    HoldKey,
    JournalError,
    Marked,
)

_ANSWERS = {1: Marked.OK, 2: Marked.HELD, 0: Marked.SEALED, -1: Marked.LOST}


def _script(name: str) -> str:
    return resources.files("warmup.journal").joinpath(f"lua/{name}").read_text(encoding="utf-8")


class RedisJournal:
    def __init__(
        self,
        client: redis.Redis,
        prefix: str = "warmup:wire:",
        *,
        ttl_seconds: float = DEFAULT_TTL_SECONDS,
        hold_key: HoldKey | None = None,
    ) -> None:
        self._redis = client
        self._hold_key = hold_key
        self._prefix = prefix
        self._ttl_ms = int(ttl_seconds * 1000)
        self._write = client.register_script(_script("write.lua"))
        self._seal = client.register_script(_script("seal.lua"))
        self._close = client.register_script(_script("close.lua"))

    @classmethod
    def from_url(
        cls, url: str, prefix: str = "warmup:wire:", *, hold_key: HoldKey | None = None
    ) -> RedisJournal:
        return cls(redis.Redis.from_url(url), prefix, hold_key=hold_key)

    def _key(self, owner: str) -> str:
        return f"{self._prefix}{owner}"

    def open(self, owner: str) -> None:
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(owner), OPENED, "1")
                pipe.pexpire(self._key(owner), self._ttl_ms)
                pipe.execute()
        except redis.RedisError as exc:
            raise JournalError(f"the wire journal is unreachable: {exc}") from None

    def write(
        self, entries: Mapping[str, Entries], *, scope: str | None = None, now: float | None = None
    ) -> dict[str, Marked]:
        owners = list(entries)
        if not owners:
            return {}
        held = [] if scope is None or self._hold_key is None else [self._hold_key(scope)]
        clock = "server" if now is None else repr(now)
        try:
            with self._redis.pipeline(transaction=True) as pipe:
                for owner in owners:
                    args: list[Any] = [self._ttl_ms, clock]
                    for row, value in entries[owner].items():
                        args += [row, "" if value is None else value]
                    self._write(keys=[self._key(owner), *held], args=args, client=pipe)
                answers = cast(list[int], pipe.execute())
        except redis.RedisError as exc:
            raise JournalError(f"the wire journal is unreachable: {exc}") from None
        return {owner: _ANSWERS[int(answer)] for owner, answer in zip(owners, answers, strict=True)}

    def seal(self, owner: str) -> dict[int, str] | None:
        try:
            found = self._seal(keys=[self._key(owner)], args=[self._ttl_ms])
        except redis.RedisError as exc:
            raise JournalError(f"the wire journal is unreachable: {exc}") from None
        if not found:
            return None
        flat = [item.decode() if isinstance(item, bytes) else str(item) for item in found]
        pairs = zip(flat[::2], flat[1::2], strict=True)
        return {int(field): value for field, value in pairs if field not in (OPENED, SEALED)}

    def close(self, owner: str, rows: Collection[int]) -> None:
        try:
            self._close(keys=[self._key(owner)], args=list(rows))
        except redis.RedisError as exc:
            raise JournalError(f"the wire journal is unreachable: {exc}") from None

    def shut(self) -> None:
        self._redis.close()
