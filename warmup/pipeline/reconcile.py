"""Housekeeping that keeps the ledger honest and the ramp moving.

- expired leases go back to ``pending`` (a killed worker, a lost queue); rows a lapsed batch
  had marked ``sending`` are settled from its wire journal (:mod:`warmup.pipeline.recovery`),
  so only those whose request may have left are asked about at ACS;
- scheduled drafts whose time has come are started;
- A/B tests whose results are in and whose wait has passed get their winner;
- running campaigns with nothing left to send are completed;
- each domain's finished local days are closed: Gmail Postmaster Tools' days published since
  are judged (:mod:`warmup.control.postmaster`), then the controller counts the day (sent
  versus its cap, whether a hold or pause touched it, whether its rates ended below every hold
  line) and advances, marks idle or re-warms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from warmup.campaigns.ab_test import CampaignABTest, Decided
from warmup.campaigns.scheduling import CampaignSchedule
from warmup.campaigns.store import CampaignStore
from warmup.clock import Clock
from warmup.control.health import Level, Verdict
from warmup.control.machine import DayReport, Decision, on_day_end
from warmup.control.postmaster import PostmasterDay, due_days, on_postmaster_days
from warmup.control.state import Transition
from warmup.domains.record import DomainRecord
from warmup.domains.store import DomainStore
from warmup.journal.base import WireJournal
from warmup.ledger.store import LedgerStore
from warmup.pipeline.outcome_poll import PollReport, StatusPoller
from warmup.pipeline.recovery import Recovery, recover_lapsed
from warmup.plans.schedule import daily_capacity

# The gates' verdict on a domain's window ending at a moment (for "was the day's end healthy").
Judge = Callable[[DomainRecord, datetime], Verdict]
# A domain's Postmaster Tools days from one date to another, both included.
PostmasterDays = Callable[[str, date, date], list[PostmasterDay]]


@dataclass
class ReconcileReport:
    expired_leases: int = 0
    recovery: Recovery = field(default_factory=Recovery)
    started_campaigns: list[str] = field(default_factory=list)
    failed_schedules: list[str] = field(default_factory=list)  # could not start: see the audit
    ab_winners: list[Decided] = field(default_factory=list)
    completed_campaigns: list[str] = field(default_factory=list)
    # Campaigns ``starting`` that need a filler (started by the schedule, or whose filler
    # died): whoever runs housekeeping hands each to a fill job.
    fills: list[str] = field(default_factory=list)
    transitions: list[Transition] = field(default_factory=list)
    outcomes: PollReport = field(default_factory=PollReport)


def _day_bounds(record: DomainRecord, day: date) -> tuple[datetime, datetime]:
    zone = record.plan.zone
    start = datetime.combine(day, time(0), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)


class Reconciler:
    def __init__(
        self,
        domains: DomainStore,
        campaigns: CampaignStore,
        ledger: LedgerStore,
        clock: Clock,
        poller: StatusPoller | None = None,
        judge: Judge | None = None,
        schedule: CampaignSchedule | None = None,
        ab_tests: CampaignABTest | None = None,
        fill_stall: timedelta = timedelta(minutes=2),
        journal: WireJournal | None = None,
        postmaster: PostmasterDays | None = None,
    ) -> None:
        self._postmaster = postmaster
        self._journal = journal
        self._fill_stall = fill_stall
        self._ab_tests = ab_tests
        self._judge = judge
        self._schedule = schedule
        self._domains = domains
        self._campaigns = campaigns
        self._ledger = ledger
        self._clock = clock
        self._poller = poller

    def run(self) -> ReconcileReport:
        now = self._clock.now()
        started, failed = self._schedule.start_due(now) if self._schedule else ([], [])
        if self._journal is not None:
            recovery = recover_lapsed(self._ledger, self._journal, now)
            expired = recovery.total
        else:
            recovery, expired = Recovery(), self._ledger.expire_leases(now)
        report = ReconcileReport(
            expired_leases=expired,
            recovery=recovery,
            started_campaigns=started,
            failed_schedules=failed,
            ab_winners=self._ab_tests.decide_due(now) if self._ab_tests else [],
            completed_campaigns=self._campaigns.finish_campaigns(now),
            fills=self._campaigns.claim_stalled_fills(now, self._fill_stall),
        )
        for record in self._domains.all():
            report.transitions += self.close_days(record, now)
        if self._poller is not None:
            report.outcomes = self._poller.run(now)
        return report

    def close_days(self, record: DomainRecord, now: datetime) -> list[Transition]:
        today = now.astimezone(record.plan.zone).date()
        name = record.state.domain
        if record.day_closed is None:  # a new domain: its first day is today
            yesterday = (today - timedelta(days=1)).isoformat()
            self._domains.transition(name, lambda r: Decision(r.state), day_closed=yesterday)
            return []
        closed: list[Transition] = []
        day = date.fromisoformat(record.day_closed) + timedelta(days=1)
        while day < today:
            decision = self._domains.transition(
                name, self._day_end(record, day), day_closed=day.isoformat()
            )
            closed += decision.transitions
            day += timedelta(days=1)
        return closed

    def _day_end(self, record: DomainRecord, day: date) -> Callable[[DomainRecord], Decision]:
        start, end = _day_bounds(record, day)
        sent = self._ledger.accepted_since(record.id, start, end)
        verdict = self._judge(record, end) if self._judge is not None else None
        unhealthy = verdict.reason if verdict is not None and verdict.level >= Level.HOLD else None
        published = (
            self._postmaster(
                record.state.domain, day - timedelta(days=record.plan.postmaster.max_age_days), day
            )
            if self._postmaster is not None
            else []
        )

        def decide(current: DomainRecord) -> Decision:
            plan = current.plan
            # Gmail's verdict on the days Google published since the gate last looked comes
            # first: trouble it reports keeps this day from counting as healthy.
            judged = on_postmaster_days(
                plan, current.state, due_days(plan, current.state, published, day), at=end
            )
            # What the day could send is what it had, whatever the close decided.
            sends_that_day = current.state.sends and plan.sends_on(day)
            cap = daily_capacity(plan, plan.step(current.state.step)) if sends_that_day else 0
            report = DayReport(sent=sent, cap=cap, start=start, unhealthy=unhealthy)
            return judged.then(on_day_end(plan, judged.state, report, at=end))

        return decide
