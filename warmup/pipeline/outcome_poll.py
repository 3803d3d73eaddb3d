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

from warmup.ledger.outcomes import AcsAnswer, DoubtfulRows, OutcomeFallback
from warmup.ratelimit.base import Limit, Limiter

Fetch = Callable[[list[str]], Mapping[str, tuple[str, str | None]]]
# Sampled outcome polls may use at most 1/SAMPLE_SHARE_DIVISOR of the status budget.
SAMPLE_SHARE_DIVISOR = 2
# Operation ids → what ACS said (None: ACS does not know the id). Ids ACS could not be asked
# about (throttled, unreachable) are left out and asked again next round.
Lookup = Callable[[list[str]], Mapping[str, AcsAnswer | None]]


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
        windows = [("", self._per_minute, 60.0)]
        if self._per_hour is not None:
            windows.append((":h", self._per_hour, 3600.0))
        budgets = [Limit(f"acs:{self._scope}:status{k}", n, span) for k, n, span in windows]
        if sampling:
            budgets += [
                Limit(f"acs:{self._scope}:status:sample{k}", n // SAMPLE_SHARE_DIVISOR, span)
                for k, n, span in windows
            ]
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
