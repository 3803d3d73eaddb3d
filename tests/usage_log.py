"""An in-memory record of sends that answers :class:`~warmup.control.allowance.Usage` at a time.

Used by simulations and tests; the service reads the same figures from its limiter and ledger.
Windows are half-open on the left: a send at ``t`` counts in (now − 60 s, now] when now ≥ t.
"""

from __future__ import annotations

from collections import Counter, deque
from datetime import datetime, timedelta, tzinfo

from warmup.control.allowance import Usage
from warmup.plans.model import ProviderGroup

MINUTE = timedelta(minutes=1)
HOUR = timedelta(hours=1)
KEEP = timedelta(hours=25)  # enough to answer "today" in any timezone


class UsageLog:
    def __init__(self, zone: tzinfo) -> None:
        self._zone = zone
        self._sends: deque[tuple[datetime, int, ProviderGroup]] = deque()

    def record(self, at: datetime, n: int, provider: ProviderGroup = ProviderGroup.OTHER) -> None:
        if n < 0:
            raise ValueError("cannot record a negative number of sends")
        if self._sends and at < self._sends[-1][0]:
            raise ValueError("sends must be recorded in time order")
        if n:
            self._sends.append((at, n, provider))

    def usage(self, now: datetime) -> Usage:
        while self._sends and self._sends[0][0] <= now - KEEP:
            self._sends.popleft()
        today = now.astimezone(self._zone).date()
        last_minute = last_hour = on_day = 0
        by_provider: Counter[ProviderGroup] = Counter()
        for at, n, provider in self._sends:
            if at > now:
                continue
            if at > now - MINUTE:
                last_minute += n
            if at > now - HOUR:
                last_hour += n
                by_provider[provider] += n
            if at.astimezone(self._zone).date() == today:
                on_day += n
        return Usage(last_minute, last_hour, on_day, dict(by_provider))
