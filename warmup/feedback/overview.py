"""What a domain looks like now and over its ramp: the read model behind the API, the dashboard
and the metrics. Reads only; deciding is the controller's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from warmup.control.allowance import Usage, allowance, day_start
from warmup.control.health import OutcomeCounts, Verdict
from warmup.control.idle import SendingNow, SpentWindows, sending_now
from warmup.domains.record import DomainRecord
from warmup.feedback.domain_health import HEALTH_CLASS, window_verdict
from warmup.ledger import counters
from warmup.ledger.store import LedgerStore
from warmup.plans.schedule import daily_capacity, earliest_schedule
from warmup.store.database import Database

HISTORY_DAYS = 60  # the longest ramp a chart shows; older days are in `warmup domain report`


@dataclass(frozen=True)
class DomainOverview:
    record: DomainRecord
    cap_today: int
    sent_today: int
    in_flight: int
    verdict: Verdict
    relay_waiting: int = 0  # rows of the SMTP relay's transactional stream not yet sent
    pending: int = 0  # rows its running campaigns have left to send

    @property
    def left_today(self) -> int:
        return max(0, self.cap_today - self.sent_today) if self.record.state.sends else 0


@dataclass(frozen=True)
class DayPoint:
    day: date
    planned: int  # the daily cap the plan's earliest schedule gives that day
    sent: int  # accepted by ACS that day
    reports: int  # outcomes that came in that day
    failure_rate: float


def overview(
    database: Database, ledger: LedgerStore, record: DomainRecord, now: datetime
) -> DomainOverview:
    load = ledger.load(record.id, day_start(record.plan, now))
    return DomainOverview(
        record=record,
        cap_today=daily_capacity(record.plan, record.plan.step(record.state.step)),
        sent_today=load.accepted,
        in_flight=load.in_flight,
        verdict=window_verdict(database, record, now),
        relay_waiting=load.relay_waiting,
        pending=sum(rows for _, _, rows in load.demand),
    )


def sending(
    ledger: LedgerStore,
    view: DomainOverview,
    now: datetime,
    throttled_until: datetime | None = None,
) -> SendingNow:
    """Whether the domain of ``view`` sends now, and if not why and until when. Apart from
    :func:`overview`: the API's and CLI's status show it, ``/metrics`` does not need its
    queries. ``throttled_until``: the end of an ACS Retry-After in force (read from the
    limiter by callers that can reach it)."""
    record = view.record
    in_minute, oldest_minute = ledger.accepted_window(record.id, now - timedelta(minutes=1))
    in_hour, oldest_hour = ledger.accepted_window(record.id, now - timedelta(hours=1))
    # The ledger's view of the trailing windows; the dispatcher reads the limiter's, which also
    # counts permits still on the wire, so the two differ by at most what is in flight.
    usage = Usage(last_minute=in_minute, last_hour=in_hour, today=view.sent_today)
    return sending_now(
        record.plan,
        record.state,
        now,
        allowance(record.plan, record.state, now, usage, record.quota),
        pending=view.pending,
        throttled_until=throttled_until,
        spent=SpentWindows(oldest_minute, oldest_hour),
    )


def history(
    database: Database, record: DomainRecord, now: datetime, days: int = HISTORY_DAYS
) -> list[DayPoint]:
    """Per local day since the domain started (at most ``days``): planned, sent, failure rate."""
    zone = record.plan.zone
    created = record.created_at
    assert created is not None  # every stored domain has one
    with database.session() as session:
        first = max(
            created.astimezone(zone).date(), now.astimezone(zone).date() - timedelta(days - 1)
        )
        since = datetime.combine(first, datetime.min.time(), zone)
        # From the quarter-hour counters: every local midnight falls on a quarter hour.
        by_quarter, outcomes_by_quarter = counters.by_bucket(session, record.id, since)
    sent: dict[date, int] = {}
    outcomes: dict[date, dict[str, int]] = {}
    for bucket, n in by_quarter.items():
        accepted_day = datetime.fromtimestamp(bucket, zone).date()
        sent[accepted_day] = sent.get(accepted_day, 0) + n
    for (bucket, outcome), n in outcomes_by_quarter.items():
        kind = HEALTH_CLASS.get(outcome)
        if kind is not None:
            per_kind = outcomes.setdefault(datetime.fromtimestamp(bucket, zone).date(), {})
            per_kind[kind] = per_kind.get(kind, 0) + n
    schedule = earliest_schedule(record.plan, created.astimezone(zone).date())
    points = []
    for offset in range((now.astimezone(zone).date() - first).days + 1):
        day = first + timedelta(days=offset)
        counts = OutcomeCounts(**outcomes.get(day, {}))
        points.append(
            DayPoint(
                day, schedule.planned_cap(day), sent.get(day, 0), counts.total, counts.failure_rate
            )
        )
    return points
