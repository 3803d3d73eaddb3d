"""Is a domain ready to ask Microsoft for a higher quota? The figures the request needs.

ACS grants a raised quota only if every linked domain's failure rate is under 2 %, and a high
quota needs it under 1 %. This reads the last 30 days from the ledger: volume per day (UTC),
failure rates over 7 and 30 days (from outcomes: delivery reports, polling), and what the ramp
plan will need at its last step.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from warmup.domains.record import DomainRecord
from warmup.ledger import counters
from warmup.store.database import Database

COUNTED = ("delivered", "hard_bounce", "soft_failure", "failed", "complaint", "suppressed")


@dataclass(frozen=True)
class Window:
    reports: int
    failures: int

    @property
    def failure_rate(self) -> float:
        return self.failures / self.reports if self.reports else 0.0


@dataclass(frozen=True)
class Readiness:
    record: DomainRecord
    days: list[tuple[date, int]]  # accepted sends per UTC day, last 30 days
    last_7: Window
    last_30: Window

    @property
    def peak_day(self) -> int:
        return max((n for _, n in self.days), default=0)

    @property
    def average_day(self) -> float:
        sending = [n for _, n in self.days if n]
        return sum(sending) / len(sending) if sending else 0.0

    @property
    def under_2_percent(self) -> bool:
        return self.last_30.reports > 0 and self.last_30.failure_rate < 0.02

    @property
    def under_1_percent(self) -> bool:
        return self.last_30.reports > 0 and self.last_30.failure_rate < 0.01

    @property
    def target_per_hour(self) -> int:
        return max(step.per_hour for step in self.record.plan.steps)


def _window(database: Database, domain_id: int, since: datetime, now: datetime) -> Window:
    counts: dict[str, int] = {}
    with database.session() as session:
        for (_, outcome), n in counters.outcomes_between(session, domain_id, since, now).items():
            if outcome in COUNTED:
                counts[outcome] = counts.get(outcome, 0) + n
    total = sum(counts.values())
    return Window(total, total - counts.get("delivered", 0))


def readiness(database: Database, record: DomainRecord, now: datetime) -> Readiness:
    since = now - timedelta(days=30)
    per_day: dict[date, int] = {}
    with database.session() as session:  # from the quarter-hour counters, not the ledger
        sends, _ = counters.by_bucket(session, record.id, since)
    for bucket, n in sends.items():
        day = datetime.fromtimestamp(bucket, UTC).date()
        per_day[day] = per_day.get(day, 0) + n
    days = [
        (now.date() - timedelta(days=i), per_day.get(now.date() - timedelta(days=i), 0))
        for i in range(29, -1, -1)
    ]
    return Readiness(
        record=record,
        days=days,
        last_7=_window(database, record.id, now - timedelta(days=7), now),
        last_30=_window(database, record.id, since, now),
    )
