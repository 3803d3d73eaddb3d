"""An exact sliding-window quota, as ACS applies per minute and per hour."""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence


class SlidingWindowQuota:
    """At most ``limit`` admissions in any ``window`` seconds.

    Only admitted events are remembered, so memory is bounded by ``limit``. Rejected attempts
    do not consume the quota.
    """

    def __init__(self, limit: int, window: float) -> None:
        if limit < 1 or window <= 0:
            raise ValueError("a quota needs limit >= 1 and window > 0")
        self.limit = limit
        self.window = window
        self._admitted: deque[float] = deque()

    def _expire(self, now: float) -> None:
        while self._admitted and self._admitted[0] <= now - self.window:
            self._admitted.popleft()

    def wait_needed(self, now: float) -> float:
        """Seconds until one more admission fits; 0 when it fits now."""
        self._expire(now)
        if len(self._admitted) < self.limit:
            return 0.0
        return self._admitted[0] + self.window - now

    def admit(self, now: float) -> None:
        self._admitted.append(now)

    def reset(self) -> None:
        self._admitted.clear()


def try_admit(quotas: Sequence[SlidingWindowQuota], now: float) -> float:
    """Admit into every quota, or into none: return 0 on success, else the wait that is needed."""
    wait = max((quota.wait_needed(now) for quota in quotas), default=0.0)
    if wait > 0:
        return wait
    for quota in quotas:
        quota.admit(now)
    return 0.0


def max_in_any_window(sorted_times: Sequence[float], window: float) -> int:
    """The most events that fall in any half-open window of ``window`` seconds."""
    best = 0
    start = 0
    for end, t in enumerate(sorted_times):
        while sorted_times[start] <= t - window:
            start += 1
        best = max(best, end - start + 1)
    return best
