"""Limits, grants and the limiter interface.

Algorithm (the same in Python and in Lua): a **conservative bucketed sliding window**. A limit of
``limit`` per ``window`` seconds keeps counts in buckets of ``window / buckets`` seconds. A grant
at time t counts every bucket from the one holding ``t - window - margin`` up to t's bucket, so
every permit granted in the true window (t − window − margin, t] is counted (and possibly a
little more). Hence no sliding window of ``window + margin`` seconds ever holds more than
``limit`` grants: an exact cap, not an average, whatever the number of workers. ``margin``
absorbs the spread between taking a permit and the request reaching ACS, so ACS's own sliding
window never sees more than ``limit`` either. The price is at most one bucket plus the margin of
unused capacity per window (about 2-3 % for a minute window with 0.5 s buckets and 1 s margin).

Memory is bounded by the number of buckets per limit, whatever the rate (an exact log of every
send would hold two million entries an hour at ACS's top quota).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Limit:
    key: str
    limit: int
    window: float  # seconds
    buckets: int = 60
    margin: float = 0.0  # seconds added to the window (permit-to-arrival spread)

    def __post_init__(self) -> None:
        if self.limit < 1 or self.window <= 0 or self.buckets < 1 or self.margin < 0:
            raise ValueError(f"invalid limit {self}")

    @property
    def bucket_size(self) -> float:
        return self.window / self.buckets

    @property
    def span(self) -> int:
        """How many buckets a grant counts (its own included)."""
        return self.buckets + math.ceil(self.margin / self.bucket_size) + 1

    def bucket(self, now: float) -> int:
        return math.floor(now / self.bucket_size)


def count_buckets(limit: Limit, buckets: dict[int, int], now: float) -> tuple[int, int | None]:
    """(permits a grant at ``now`` would see, the oldest bucket among them)."""
    current = limit.bucket(now)
    oldest_allowed = current - limit.span + 1
    counted = [i for i in buckets if oldest_allowed <= i <= current]
    return sum(buckets[i] for i in counted), min(counted, default=None)


@dataclass(frozen=True)
class Grant:
    granted: int
    # When fewer were granted than asked: seconds until one more permit could be had.
    retry_after: float = 0.0
    throttled: bool = False  # held back by a throttle signal (a 429 somewhere), not by a limit


class Limiter(Protocol):
    def acquire(self, limits: list[Limit], wanted: int, now: float, scope: str) -> Grant:
        """Grant up to ``wanted`` permits under every limit at once (all or the same for all).

        ``scope`` names the throttle signal to respect (e.g. the ACS resource).
        """

    def throttle(self, scope: str, seconds: float, now: float) -> None:
        """Hold back every worker using ``scope`` for ``seconds`` (ACS said 429 Retry-After)."""

    def throttle_counts(self) -> dict[str, int]:
        """How many throttle signals (429s from ACS) each scope has had: counters for metrics."""

    def throttled_until(self) -> dict[str, float]:
        """Each throttled scope's deadline (unix seconds; it may already have passed)."""

    def used(self, limit: Limit, now: float) -> int:
        """Permits counted against ``limit`` at ``now`` (what the next grant would see)."""

    def restored(self) -> bool:
        """Whether the windows are this limiter's own: ``False`` on a store that lost them
        (a Redis restarted without persistence), until :meth:`restore` puts them back."""

    def restore(self, counts: Mapping[Limit, Mapping[int, int]]) -> bool:
        """Add what was sent before the loss (bucket index → permits) to each limit's window,
        once, whoever calls: ``True`` for the call that did."""

    def close(self) -> None: ...
