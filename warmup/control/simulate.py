"""Simulate a plan day by day with a failure profile and a demand, through the real controller.

Time advances one minute per tick, so per-minute caps bind as they would in the service; sends go
out as fast as the allowance lets them (as the dispatcher does); delivery reports come back at
once. Without a random generator each report class gets exactly its rate's share (a run is the
profile's expectation); with one (``rng``), each batch's failures, hard bounces and complaints
are drawn binomially around the rates, as real mail behaves, so that repeated runs show how
often bad luck holds a healthy domain and how soon a bad one is caught (:mod:`.monte_carlo`).
Health is judged every 15 minutes; a pause (of the domain, or of a provider group) is resumed
by (simulated) ops ``resume_after_days`` later.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from warmup.control.allowance import AcsQuota, Usage, allowance, in_window
from warmup.control.health import HealthWindow, Level, Outcome, OutcomeCounts, judge
from warmup.control.machine import (
    DayReport,
    Decision,
    new_domain,
    on_day_end,
    on_readings,
    report_sinces,
)
from warmup.control.ops import release_provider, resume
from warmup.control.state import DomainState, Status, Transition
from warmup.plans.model import Plan, ProviderGroup
from warmup.plans.schedule import Schedule, daily_capacity, earliest_schedule

MINUTE = timedelta(minutes=1)


class Chance(Protocol):
    """A seeded source of uniform draws in [0, 1) (``random.Random(seed)``): given by the
    caller, so that this module stays free of hidden state."""

    def random(self) -> float: ...


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
class DemandSchedule:
    """Recipients waiting to be sent each day; a day no range covers has unlimited demand.

    ``DemandSchedule.parse("1-10:5000,11-45:0,46-:5000")``: 5,000 a day for ten days, then
    nothing for 35 days (the domain goes idle, then re-warms), then 5,000 a day again.
    """

    ranges: tuple[tuple[int, int | None, int], ...] = ()  # (first day, last day or open, count)

    def on(self, day: int) -> float:
        for first, last, count in self.ranges:
            if first <= day and (last is None or day <= last):
                return count
        return float("inf")

    @classmethod
    def constant(cls, per_day: int | None) -> DemandSchedule:
        return cls(() if per_day is None else ((1, None, per_day),))

    @classmethod
    def parse(cls, text: str) -> DemandSchedule:
        """A number for every day, or ranges ``FIRST-LAST:COUNT`` (``FIRST-:COUNT`` is open,
        ``DAY:COUNT`` one day), separated by commas."""
        text = text.strip()
        if text.isdigit():
            return cls.constant(int(text))
        ranges: list[tuple[int, int | None, int]] = []
        for part in filter(None, (p.strip() for p in text.split(","))):
            days, sep, count = part.partition(":")
            first, dash, last = days.partition("-")
            try:
                parsed = (int(first), int(last) if last else None if dash else int(first))
                ranges.append((*parsed, int(count)))
            except ValueError:
                raise ValueError(f"{part!r}: expected FIRST-LAST:COUNT such as 1-10:5000") from None
            if not sep or parsed[0] < 1 or int(count) < 0:
                raise ValueError(f"{part!r}: expected FIRST-LAST:COUNT with days from 1")
            if parsed[1] is not None and parsed[1] < parsed[0]:
                raise ValueError(f"{part!r}: the last day is before the first")
        return cls(tuple(ranges))


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
    note: str = ""  # why nothing could be sent: "blackout", "off-window", "no demand"
    provider_sent: Mapping[str, int] = field(default_factory=dict)  # with a provider mix
    # The day's sends before each of its transitions (how much went out before a decision).
    sent_before: tuple[int, ...] = ()
    # Sends to held provider groups: their probes.
    probe_sent: int = 0


@dataclass(frozen=True)
class Simulation:
    plan: Plan
    schedule: Schedule
    days: tuple[SimulatedDay, ...]

    @property
    def transitions(self) -> tuple[Transition, ...]:
        return tuple(t for day in self.days for t in day.transitions)


class _Recorder:
    """Keeps the transitions of the current day while applying decisions, with the day's sends
    before each."""

    def __init__(self) -> None:
        self.log: list[Transition] = []
        self.sent_before: list[int] = []
        self.sent = 0

    def apply(self, decision: Decision) -> DomainState:
        self.log.extend(decision.transitions)
        self.sent_before.extend([self.sent] * len(decision.transitions))
        return decision.state


def binomial(rng: Chance, n: int, p: float) -> int:
    """A draw of Binomial(n, p), exact: the gaps between successes are geometric, so the cost
    grows with the successes (a few per hundred sends), not with ``n``."""
    if n <= 0 or p <= 0:
        return 0
    if p >= 1:
        return n
    if p > 0.5:
        return n - binomial(rng, n, 1 - p)
    log_q = math.log1p(-p)
    count, position = 0, 0
    while True:
        position += int(math.log(1.0 - rng.random()) / log_q) + 1
        if position > n:
            return count
        count += 1


class _Carry:
    """Turns expected fractional counts into whole ones without drifting."""

    def __init__(self) -> None:
        self._owed = 0.0

    def take(self, expected: float) -> int:
        self._owed += expected
        whole = int(self._owed)
        self._owed -= whole
        return whole


class _Traffic:
    """One provider group's share of the mail: its own failure profile, health window and
    trailing hour. Without a provider mix there is one, for all the mail."""

    def __init__(
        self, plan: Plan, share: float, profile: FailureProfile, rng: Chance | None
    ) -> None:
        self.share = share
        self.profile = profile
        self.rng = rng
        self.window = HealthWindow(
            timedelta(hours=plan.gates.window_hours), bucket=timedelta(minutes=15)
        )
        self._last_hour: deque[tuple[datetime, int]] = deque()
        self.hour_total = 0
        self._failures, self._hard, self._complaints, self._demand = (
            _Carry(),
            _Carry(),
            _Carry(),
            _Carry(),
        )
        self.sent_today = self.failed_today = 0

    def oldest_send(self) -> datetime | None:
        return self._last_hour[0][0] if self._last_hour else None

    def roll(self, now: datetime) -> None:
        while self._last_hour and self._last_hour[0][0] <= now - timedelta(hours=1):
            self.hour_total -= self._last_hour.popleft()[1]

    def wanted(self, day_demand: float) -> float:
        return day_demand * self.share

    def send(self, n: int, now: datetime, day: int) -> None:
        """``n`` sent now; their reports come back at once with the profile's rates."""
        self.sent_today += n
        self._last_hour.append((now, n))
        self.hour_total += n
        rate, profile = self.profile.failure_rate(day), self.profile
        if self.rng is not None:
            failed = binomial(self.rng, n, rate)
            complained = binomial(self.rng, n - failed, profile.complaint_rate)
            bounced = binomial(self.rng, failed, profile.hard_bounce_share)
        else:
            failed = min(n, self._failures.take(n * rate))
            complained = min(n - failed, self._complaints.take(n * profile.complaint_rate))
            bounced = min(failed, self._hard.take(failed * profile.hard_bounce_share))
        self.failed_today += failed + complained
        for outcome, count in (
            (Outcome.DELIVERED, n - failed - complained),
            (Outcome.HARD_BOUNCE, bounced),
            (Outcome.SOFT_FAILURE, failed - bounced),
            (Outcome.COMPLAINT, complained),
        ):
            if count:
                self.window.add(outcome, now, count)

    def take(self, expected: float) -> int:
        """Whole sends owed to this group out of ``expected`` (a fractional share)."""
        return self._demand.take(expected)


DAY_MINUTES = 24 * 60


def _worth_reading(state: DomainState, sent: int, read_at_sent: int, minute: int) -> bool:
    """Whether a reading can decide anything: reports came in since the last one, or, once an
    hour, a hold may end with time alone (its minimum lasted, or a new day allows another
    release). The service's other readings would only watch the window age, which changes no
    sending: the simulation skips them (a hold on aged reports shows at the next reading)."""
    if sent != read_at_sent:
        return True
    held = state.provider_holds or state.status is Status.HOLDING
    return bool(held) and minute % 60 == 0


def _next_window_minute(
    plan: Plan, day_start: datetime, minute: int, sends: bool, wanting: bool
) -> int:
    """The next minute of the day that may send, if any (the day's end otherwise): the
    window's start when before it; never while nothing is wanted or the domain does not send
    (a reading may change that: it wakes the loop)."""
    if not sends or not wanting or not plan.sends_on(day_start.date()) or plan.window is None:
        return DAY_MINUTES
    opens = plan.window.start.hour * 60 + plan.window.start.minute
    return opens if minute < opens else DAY_MINUTES


def _freed_minute(traffic: Iterable[_Traffic], day_start: datetime, minute: int, per: str) -> int:
    """With a cap used up: the minute its window frees (the oldest send of the trailing hour
    leaves it), the day's end for the day cap, the next minute otherwise."""
    if per == "day":
        return DAY_MINUTES
    if per != "hour":
        return minute + 1
    oldest = [t.oldest_send() for t in traffic]
    first = min((at for at in oldest if at is not None), default=None)
    if first is None:
        return minute + 1
    return max(minute + 1, int((first - day_start) / MINUTE) + 60)


def parse_mix(text: str) -> dict[ProviderGroup, float]:
    """``"gmail:40%,microsoft:30%,other:30%"``: the recipients' provider groups (sums to 100 %)."""
    mix: dict[ProviderGroup, float] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, sep, share = part.partition(":")
        try:
            group = ProviderGroup(name.strip().lower())
            value = float(share.rstrip("%")) / (100 if share.endswith("%") else 1)
        except ValueError:
            groups = ", ".join(g.value for g in ProviderGroup)
            raise ValueError(f"{part!r}: expected GROUP:SHARE with GROUP one of {groups}") from None
        if not sep or not 0 < value <= 1:
            raise ValueError(f"{part!r}: expected GROUP:SHARE with 0 < share <= 100%")
        mix[group] = value
    if not mix or abs(sum(mix.values()) - 1) > 0.001:
        raise ValueError(f"{text!r}: the shares must add up to 100%")
    return mix


def simulate(
    plan: Plan,
    *,
    start: datetime,
    days: int,
    profile: FailureProfile,
    quota: AcsQuota,
    demand: DemandSchedule | None = None,
    resume_after_days: int | None = 2,
    domain: str = "simulated.example.com",
    mix: Mapping[ProviderGroup, float] | None = None,
    provider_profiles: Mapping[ProviderGroup, FailureProfile] | None = None,
    progress: Callable[[int], None] | None = None,
    rng: Chance | None = None,
) -> Simulation:
    """``start`` is the first simulated midnight, timezone-aware; ``progress`` is told each
    day simulated (a year takes seconds). With ``rng``, report counts are drawn around the
    rates (see the module's docstring); without, they are the rates' exact shares.

    With a provider ``mix``, each group's mail has its own failure profile (``profile`` unless
    ``provider_profiles`` names one), its own health window judged by its own gates, and its
    share of the allowance: a group its gates hold sends nothing, and the others do not take
    its share.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(plan.zone)
    state = new_domain(domain, plan, at=start, actor=SIMULATED_OPS).state
    own = provider_profiles or {}
    traffic = {
        group: _Traffic(plan, share, own.get(group, profile), rng)
        for group, share in (mix or {ProviderGroup.OTHER: 1.0}).items()
    }
    judge_groups = mix is not None
    paused_on: int | None = None
    results: list[SimulatedDay] = []

    def window_counts(now: datetime) -> OutcomeCounts:
        return sum(
            (t.window.counts(now, state.health_since) for t in traffic.values()), OutcomeCounts()
        )

    def reports(now: datetime) -> dict[datetime, dict[ProviderGroup, OutcomeCounts]]:
        """Each group's counts from each moment the gates need (as the service reads them)."""
        return {
            since: {group: t.window.counts(now, since) for group, t in traffic.items()}
            for since in report_sinces(plan, state, now)
        }

    for index in range(days):
        day_no = index + 1
        if progress is not None:
            progress(index)
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
        for hold in state.provider_holds:
            due = resume_after_days is not None and (day_start - hold.since).days + 1 >= (
                resume_after_days
            )
            if hold.paused and due:
                state = apply(
                    release_provider(
                        state, hold.group, actor=SIMULATED_OPS, reason="list cleaned", at=day_start
                    )
                )
        sends_today = plan.sends_on(day_start.date())
        cap = daily_capacity(plan, plan.step(state.step)) if state.sends and sends_today else 0
        wanted = demand.on(day_no) if demand is not None else float("inf")
        note = ""
        if not sends_today:
            note = "blackout" if day_start.date() in plan.blackout_dates else "off-window"
        elif wanted == 0:
            note = "no demand"
        for t in traffic.values():
            t.sent_today = t.failed_today = 0
        probe_sent = 0
        read_at_sent = -1  # the day's sends at the last reading (none yet today)

        # Minutes when nothing can be sent (outside the window, a cap used up until the
        # trailing hour frees, the demand met) are skipped, but for the readings.
        asleep_until = 0
        for minute in range(24 * 60):
            reading = minute % JUDGE_EVERY_MINUTES == 0 and _worth_reading(
                state, recorder.sent, read_at_sent, minute
            )
            if minute < asleep_until and not reading:
                continue
            now = day_start + minute * MINUTE
            if reading:
                read_at_sent = recorder.sent
                decision = on_readings(plan, state, reports(now), at=now)
                state = apply(decision)
                if decision.transitions:
                    asleep_until = 0  # a hold ended or began: the allowance changed
                if state.status is Status.PAUSED and paused_on is None:
                    paused_on = day_no
            if minute < asleep_until:
                continue
            for t in traffic.values():
                t.roll(now)
            sent = sum(t.sent_today for t in traffic.values())
            recorder.sent = sent
            if not state.sends or sent >= wanted or not in_window(plan, now):
                asleep_until = _next_window_minute(
                    plan, day_start, minute, state.sends, sent < wanted
                )
                continue
            usage = Usage(
                last_minute=0,
                last_hour=sum(t.hour_total for t in traffic.values()),
                today=sent,
                provider_last_hour={g: t.hour_total for g, t in traffic.items()},
            )
            granted = allowance(plan, state, now, usage, quota)
            if granted.total <= 0:
                asleep_until = _freed_minute(traffic.values(), day_start, minute, granted.per)
                continue
            n = min(granted.total, wanted - sent)
            for group, t in traffic.items():
                room = min(granted.for_provider(group), t.wanted(wanted) - t.sent_today)
                share = t.take(n * t.share)
                held = group in state.held_providers
                # A held group sends its probe only (its allowance); the rest of its share
                # stays unused.
                count = int(min(room, max(share, 1) if held else share))
                if count > 0:
                    t.send(count, now, day_no)
                    probe_sent += count if held else 0

        day_end = day_start + timedelta(days=1) - MINUTE
        seen = window_counts(day_end)
        verdict = judge(seen, plan.gates)
        unhealthy = verdict.reason if verdict.level >= Level.HOLD else None
        sent = sum(t.sent_today for t in traffic.values())
        report = DayReport(sent=sent, cap=cap, start=day_start, unhealthy=unhealthy)
        state = apply(on_day_end(plan, state, report, at=day_end))
        failed = sum(t.failed_today for t in traffic.values())
        results.append(
            SimulatedDay(
                day=day_no,
                date=day_start.date(),
                step=state.step,
                status=state.status,
                cap=cap,
                sent=sent,
                failure_rate=failed / sent if sent else 0.0,
                window_failure_rate=seen.failure_rate,
                window_reports=seen.total,
                transitions=tuple(recorder.log),
                note=note,
                provider_sent={g.value: t.sent_today for g, t in traffic.items()}
                if judge_groups
                else {},
                sent_before=tuple(recorder.sent_before),
                probe_sent=probe_sent,
            )
        )
    return Simulation(plan, earliest_schedule(plan, start.date()), tuple(results))
