"""Status GETs: rows in doubt settled first, then outcomes when delivery reports are late.

A row in doubt (``verifying``: its request may have reached ACS) is settled by asking ACS for its
Operation-Id: known, it was accepted and is never posted again; unknown, it may be sent again.
These questions come first in the budget, because a campaign cannot finish while they wait.

Delivery reports (Event Grid) are how outcomes arrive; status GETs are a fallback only, because
ACS allows far fewer of them (60 a minute by default) than sends. So each housekeeping round
polls a random sample of rows accepted long enough ago, within a budget taken from the global
limiter under its own key, and records what the status says (a ``Failed`` operation is a failed
outcome). Rows still without an outcome long after acceptance are called ``unknown``, so that
every row ends with an outcome and reports add up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlparse

from warmup.ledger.outcomes import AcsAnswer, DoubtfulRows, OutcomeFallback
from warmup.ratelimit.base import Limit, Limiter
from warmup.settings import Settings

Fetch = Callable[[list[str]], Mapping[str, tuple[str, str | None]]]
# Sampled outcome polls may use at most 1/SAMPLE_SHARE_DIVISOR of the status budget.
SAMPLE_SHARE_DIVISOR = 2
# Operation ids → what ACS said (None: ACS does not know the id). Ids ACS could not be asked
# about (throttled, unreachable) are left out and asked again next round.
Lookup = Callable[[list[str]], Mapping[str, AcsAnswer | None]]


def quota_scope(settings: Settings) -> str:
    """Which ACS quota sends and status GETs count against (one per subscription)."""
    if settings.acs_quota_scope:
        return settings.acs_quota_scope
    # Imported here: the credentials bring the Azure SDK, which a status view does not need.
    from warmup.sending.credentials import resolve_auth

    return urlparse(resolve_auth(settings).endpoint).netloc


def status_limits(
    scope: str, per_minute: int, per_hour: int | None, *, share: str = "", divisor: int = 1
) -> list[Limit]:
    """The shared status-GET budget: a minute's and an hour's window under the scope (or a
    ``share`` of it: 1/``divisor`` of each window, under keys of its own)."""
    windows = [("", per_minute, 60.0)]
    if per_hour is not None:
        windows.append((":h", per_hour, 3600.0))
    return [
        Limit(f"acs:{scope}:status{share}{k}", max(n // divisor, 1), span) for k, n, span in windows
    ]


@dataclass(frozen=True)
class StatusBudget:
    """Status GETs left in the current minute and hour, and the budget they refill to."""

    minute_left: int
    hour_left: int | None
    per_minute: int
    per_hour: int | None

    def settled_by(self, in_doubt: int, now: datetime) -> datetime | None:
        """When ``in_doubt`` rows will all have been asked about at this budget (an estimate:
        housekeeping asks each round, rows in doubt first). None: none in doubt, or no
        budget to ask with."""
        if in_doubt <= 0 or self.per_minute <= 0 or self.per_hour == 0:
            return None
        left, at = in_doubt, now
        minute, hour = self.minute_left, self.hour_left
        while True:
            take = min(left, minute, left if hour is None else hour)
            left -= take
            if left <= 0:
                return at
            if hour is not None:
                hour -= take
            if hour == 0:  # the hour's budget is spent: a new one at worst an hour on
                at += timedelta(hours=1)
                hour = self.per_hour
            else:
                at += timedelta(minutes=1)
            minute = self.per_minute


def status_budget(
    limiter: Limiter, scope: str, per_minute: int, per_hour: int | None, now: datetime
) -> StatusBudget:
    """What is left of the status-GET budget (read from the limiter, taking nothing)."""
    left = [
        max(0, limit.limit - limiter.used(limit, now.timestamp()))
        for limit in status_limits(scope, per_minute, per_hour)
    ]
    minute = min(left[0], per_minute)
    hour = None if per_hour is None else min(left[1], per_hour)
    return StatusBudget(minute, hour, per_minute, per_hour)


@dataclass(frozen=True)
class PollReport:
    polled: int = 0
    failed: int = 0
    unknown: int = 0
    verified_sent: int = 0  # rows in doubt that ACS knew: accepted, not sent again
    verified_unsent: int = 0  # rows in doubt that ACS did not know: back to pending
    still_in_doubt: int = 0


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
        per_hour: int | None = None,
        doubtful: DoubtfulRows | None = None,
        lookup: Lookup | None = None,
    ) -> None:
        self._doubtful = doubtful
        self._lookup = lookup
        self._fallback = fallback
        self._limiter = limiter
        self._scope = scope
        self._fetch = fetch
        self._poll_after = timedelta(seconds=poll_after)
        self._per_minute = per_minute
        self._per_hour = per_hour
        self._unknown_after = timedelta(seconds=unknown_after)

    def _budget(self, wanted: int, now: datetime, *, sampling: bool = False) -> int:
        """How many status GETs this round may make, from the shared per-minute and per-hour
        budgets. Sampled outcome polls may spend only half of each: they are a fallback, and
        spending the whole hour on them would leave rows in doubt, and so their campaigns,
        waiting for the next hour."""
        if wanted <= 0 or self._per_minute == 0 or self._per_hour == 0:
            return 0
        budgets = status_limits(self._scope, self._per_minute, self._per_hour)
        if sampling:
            budgets += status_limits(
                self._scope,
                self._per_minute,
                self._per_hour,
                share=":sample",
                divisor=SAMPLE_SHARE_DIVISOR,
            )
        return self._limiter.acquire(
            budgets, wanted, now.timestamp(), f"{self._scope}:status"
        ).granted

    def run(self, now: datetime) -> PollReport:
        verified = self._verify(now)
        unknown = self._fallback.give_up(accepted_before=now - self._unknown_after, at=now)
        sample = self._fallback.sample(
            accepted_before=now - self._poll_after,
            checked_before=now - self._poll_after,
            limit=self._per_minute,
        )
        rows = sample[: self._budget(len(sample), now, sampling=True)]
        if not rows:
            return replace(verified, unknown=unknown)
        statuses = self._fetch([row.message_id for row in rows])
        found = {row.id: statuses[row.message_id] for row in rows if row.message_id in statuses}
        return replace(
            verified, polled=len(found), failed=self._fallback.record(found, now), unknown=unknown
        )

    def _verify(self, now: datetime) -> PollReport:
        if self._doubtful is None or self._lookup is None:
            return PollReport()
        waiting = self._doubtful.waiting(self._per_minute)
        rows = waiting[: self._budget(len(waiting), now)]
        answers = self._lookup([row.operation_id for row in rows]) if rows else {}
        sent = unsent = 0
        for row in rows:
            if row.operation_id not in answers:
                continue
            answer = answers[row.operation_id]
            if self._doubtful.settle(row.id, answer, now):
                sent += answer is not None
                unsent += answer is None
        return PollReport(
            verified_sent=sent, verified_unsent=unsent, still_in_doubt=len(waiting) - sent - unsent
        )
