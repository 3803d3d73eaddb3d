"""Simulate a plan day by day with a failure profile and a demand, through the real controller.

Time advances one minute per tick, so per-minute caps bind as they would in the service; sends go
out as fast as the allowance lets them (as the dispatcher does); delivery reports come back at
once with the profile's rates, without randomness, so a run is reproducible. Health is judged
every 15 minutes; a pause is resumed by (simulated) ops ``resume_after_days`` later.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from warmup.control.allowance import AcsQuota, Usage, allowance, in_window
from warmup.control.health import HealthWindow, Outcome, OutcomeCounts, judge
from warmup.control.machine import DayReport, Decision, new_domain, on_day_end, on_health
from warmup.control.ops import resume
from warmup.control.state import DomainState, Status, Transition
from warmup.plans.model import Plan
from warmup.plans.schedule import Schedule, daily_capacity, earliest_schedule

MINUTE = timedelta(minutes=1)
JUDGE_EVERY_MINUTES = 15
SIMULATED_OPS = "ops (simulated)"


@dataclass(frozen=True)
class FailureProfile:
    """The failure rate each day: ``base``, then each change ``(day, rate)`` from its day on.

    ``FailureProfile(0.005, ((5, 0.015), (6, 0.04), (8, 0.005)))`` is a bounce spike that
    builds on day 5, peaks on days 6-7 and is gone once the list is cleaned on day 8.
    """

    base: float = 0.005
    changes: tuple[tuple[int, float], ...] = ()
    complaint_rate: float = 0.0002
    hard_bounce_share: float = 0.6  # of the failures

    def failure_rate(self, day: int) -> float:
        rate = self.base
        for from_day, changed in sorted(self.changes):
            if day >= from_day:
                rate = changed
        return rate

    @classmethod
    def parse(cls, changes: str, base: float = 0.005) -> FailureProfile:
        """``"5:1.5%,6:4%,8:0.5%"`` (rates as percentages or fractions)."""
        parsed: list[tuple[int, float]] = []
        for part in filter(None, (p.strip() for p in changes.split(","))):
            day, sep, rate = part.partition(":")
            try:
                value = float(rate.rstrip("%")) / (100 if rate.endswith("%") else 1)
                parsed.append((int(day), value))
            except ValueError:
                raise ValueError(f"{part!r}: expected DAY:RATE such as 5:4%") from None
            if not sep or not 0 <= value <= 1 or int(day) < 1:
                raise ValueError(f"{part!r}: expected DAY:RATE with day >= 1 and 0 <= rate <= 100%")
        return cls(base=base, changes=tuple(parsed))


@dataclass(frozen=True)
class SimulatedDay:
    day: int
    date: date
    step: int
    status: Status
    cap: int
    sent: int
    failure_rate: float  # of the day's own sends
    window_failure_rate: float  # what the gate saw at the end of the day
    window_reports: int  # how many reports it saw (0: no reading at all)
    transitions: tuple[Transition, ...]


@dataclass(frozen=True)
class Simulation:
    plan: Plan
    schedule: Schedule
    days: tuple[SimulatedDay, ...]

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return tuple(t for day in self.days for t in day.transitions)


class _Recorder:
    """Keeps the transitions of the current day while applying decisions."""

    def __init__(self) -> None:
        self.log: list[Transition] = []

    def apply(self, decision: Decision) -> DomainState:
        self.log.extend(decision.transitions)
        return decision.state


class _Carry:
    """Turns expected fractional counts into whole ones without drifting."""

    def __init__(self) -> None:
        self._owed = 0.0

    def take(self, expected: float) -> int:
        self._owed += expected
        whole = int(self._owed)
        self._owed -= whole
        return whole


def simulate(
    plan: Plan,
    *,
    start: datetime,
    days: int,
    profile: FailureProfile,
    quota: AcsQuota,
    demand_per_day: int | None = None,
    resume_after_days: int | None = 2,
    domain: str = "simulated.example.com",
) -> Simulation:
    """``start`` is the first simulated midnight, timezone-aware."""
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(plan.zone)
    state = new_domain(domain, plan, at=start, actor=SIMULATED_OPS).state
    window = HealthWindow(timedelta(hours=plan.gates.window_hours), bucket=timedelta(minutes=15))
    last_hour: deque[tuple[datetime, int]] = deque()
    hour_total = 0
    failures, hard, complaints = _Carry(), _Carry(), _Carry()
    paused_on: int | None = None
    results: list[SimulatedDay] = []

    for index in range(days):
        day_no = index + 1
        day_start = datetime.combine(start.date() + timedelta(days=index), start.timetz())
        recorder = _Recorder()
        apply = recorder.apply
        ops_resume_due = (
            paused_on is not None
            and resume_after_days is not None
            and day_no >= paused_on + resume_after_days
        )
        if state.status is Status.PAUSED and ops_resume_due:
            state = apply(
                resume(plan, state, actor=SIMULATED_OPS, reason="list cleaned", at=day_start)
            )
            paused_on = None
        cap = daily_capacity(plan, plan.step(state.step)) if state.sends else 0
        if plan.window is not None and day_start.weekday() not in {
            d.number for d in plan.window.days
        }:
            cap = 0
        rate = profile.failure_rate(day_no)
        sent = failed_today = 0
        demand = demand_per_day if demand_per_day is not None else float("inf")

        for minute in range(24 * 60):
            now = day_start + minute * MINUTE
            while last_hour and last_hour[0][0] <= now - timedelta(hours=1):
                hour_total -= last_hour.popleft()[1]
            if minute % JUDGE_EVERY_MINUTES == 0:
                verdict = judge(window.counts(now, state.health_since), plan.gates)
                state = apply(on_health(plan, state, verdict, at=now))
                if state.status is Status.PAUSED and paused_on is None:
                    paused_on = day_no
            if not state.sends or not in_window(plan, now) or sent >= demand:
                continue
            usage = Usage(last_minute=0, last_hour=hour_total, today=sent)
            n = int(min(allowance(plan, state, now, usage, quota).total, demand - sent))
            if n <= 0:
                continue
            sent += n
            last_hour.append((now, n))
            hour_total += n
            failed = min(n, failures.take(n * rate))
            complained = min(n - failed, complaints.take(n * profile.complaint_rate))
            bounced = min(failed, hard.take(failed * profile.hard_bounce_share))
            failed_today += failed + complained
            for outcome, count in (
                (Outcome.DELIVERED, n - failed - complained),
                (Outcome.HARD_BOUNCE, bounced),
                (Outcome.SOFT_FAILURE, failed - bounced),
                (Outcome.COMPLAINT, complained),
            ):
                if count:
                    window.add(outcome, now, count)

        day_end = day_start + timedelta(days=1) - MINUTE
        seen: OutcomeCounts = window.counts(day_end, state.health_since)
        state = apply(on_day_end(plan, state, DayReport(sent=sent, cap=cap), at=day_end))
        results.append(
            SimulatedDay(
                day=day_no,
                date=day_start.date(),
                step=state.step,
                status=state.status,
                cap=cap,
                sent=sent,
                failure_rate=failed_today / sent if sent else 0.0,
                window_failure_rate=seen.failure_rate,
                window_reports=seen.total,
                transitions=tuple(recorder.log),
            )
        )
    return Simulation(plan, earliest_schedule(plan, start.date()), tuple(results))
