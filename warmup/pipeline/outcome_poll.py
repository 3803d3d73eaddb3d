"""Outcomes when delivery reports are late or missing: a sample of status polls, then unknown.

Delivery reports (Event Grid) are how outcomes arrive; status GETs are a fallback only, because
ACS allows far fewer of them (60 a minute by default) than sends. So each housekeeping round
polls a random sample of rows accepted long enough ago, within a budget taken from the global
limiter under its own key, and records what the status says (a ``Failed`` operation is a failed
outcome). Rows still without an outcome long after acceptance are called ``unknown``, so that
every row ends with an outcome and reports add up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from warmup.ledger.outcomes import OutcomeFallback
from warmup.ratelimit.base import Limit, Limiter

Fetch = Callable[[list[str]], Mapping[str, tuple[str, str | None]]]


@dataclass(frozen=True)
class PollReport:
    polled: int = 0
    failed: int = 0
    unknown: int = 0


class StatusPoller:
    def __init__(
        self,
        fallback: OutcomeFallback,
        limiter: Limiter,
        scope: str,
        fetch: Fetch,
        *,
        poll_after: float,
        per_minute: int,
        unknown_after: float,
    ) -> None:
        self._fallback = fallback
        self._limiter = limiter
        self._scope = scope
        self._fetch = fetch
        self._poll_after = timedelta(seconds=poll_after)
        self._per_minute = per_minute
        self._unknown_after = timedelta(seconds=unknown_after)

    def run(self, now: datetime) -> PollReport:
        unknown = self._fallback.give_up(accepted_before=now - self._unknown_after, at=now)
        if self._per_minute == 0:
            return PollReport(unknown=unknown)
        sample = self._fallback.sample(
            accepted_before=now - self._poll_after,
            checked_before=now - self._poll_after,
            limit=self._per_minute,
        )
        if not sample:
            return PollReport(unknown=unknown)
        budget = Limit(f"acs:{self._scope}:status", self._per_minute, 60.0)
        granted = self._limiter.acquire(
            [budget], len(sample), now.timestamp(), f"{self._scope}:status"
        )
        rows = sample[: granted.granted]
        statuses = self._fetch([row.message_id for row in rows])
        found = {row.id: statuses[row.message_id] for row in rows if row.message_id in statuses}
        return PollReport(
            polled=len(found), failed=self._fallback.record(found, now), unknown=unknown
        )
