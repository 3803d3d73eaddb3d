"""Gmail Postmaster Tools' daily verdict as a warm-up gate (pure: the plan, the state, the days
and the time in; a :class:`Decision` out).

Google publishes a domain's day a day or two after it ends: the user-reported spam ratio with
the bounds of its 95 % interval, the domain's reputation (HIGH, MEDIUM, LOW, BAD), and the
shares of mail passing SPF, DKIM and DMARC. When the warm-up closes a day, each day Google
published since the gate last looked is judged in date order, the same way the confidence
gates judge ACS's reports (:mod:`warmup.control.health`):

- hold when the **lower** bound of the spam ratio reaches the hold line, or the reputation is
  at or below the plan's hold reputation; pause likewise at the pause lines;
- release only a hold of this gate's own, on a later day whose **upper** bound is below the
  release line and whose reputation is above the hold line, after the plan's minimum hold and
  at most once a day. A day with no figure (too little Gmail traffic) decides nothing.

Gmail's verdict is about Gmail's users, so by default it holds or pauses the gmail provider
group and every other group keeps sending (``postmaster.acts_on: domain`` holds the domain).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta

from warmup.control.evidence import pct
from warmup.control.health import Level
from warmup.control.machine import (
    Decision,
    duration_words,
    move,
    provider_move,
    released_today,
    running_status,
    stop_domain,
)
from warmup.control.state import POSTMASTER_GATE, DomainState, GateMark, Status
from warmup.plans.model import Plan, Postmaster, PostmasterScope, ProviderGroup, Reputation

# The gate's mark (its last hold and release), and the mark whose ``judged_since`` is the
# midnight (UTC) of the last Postmaster day it judged.
MARK = "postmaster"
DAY_MARK = "postmaster-day"


@dataclass(frozen=True)
class PostmasterDay:
    """One day of a domain's Gmail traffic as Postmaster Tools reports it. ``None``: Google
    gave no figure (it withholds them below a minimum daily volume)."""

    day: date
    spam_ratio: float | None = None
    spam_lower: float | None = None
    spam_upper: float | None = None
    reputation: Reputation | None = None
    spf_ratio: float | None = None
    dkim_ratio: float | None = None
    dmarc_ratio: float | None = None
    # (error class, error type, ratio of authenticated traffic), as Google names them.
    delivery_errors: tuple[tuple[str, str, float], ...] = ()

    @property
    def low(self) -> float | None:
        """The spam ratio's lower bound (the ratio itself when Google gave no interval)."""
        return self.spam_lower if self.spam_lower is not None else self.spam_ratio

    @property
    def high(self) -> float | None:
        return self.spam_upper if self.spam_upper is not None else self.spam_ratio

    def spam_words(self) -> str:
        if self.spam_ratio is None:
            return "no spam rate"
        bounds = ""
        if self.spam_lower is not None and self.spam_upper is not None:
            bounds = f" ({pct(self.spam_lower, bare=True)}–{pct(self.spam_upper)})"
        return f"user-reported spam {pct(self.spam_ratio)}{bounds}"

    def describe(self) -> str:
        reputation = self.reputation.value if self.reputation else "no reputation"
        return f"Postmaster {self.day.isoformat()}: {self.spam_words()}, reputation {reputation}"


@dataclass(frozen=True)
class PostmasterVerdict:
    level: Level  # UNKNOWN (no figure), OK, HOLD or PAUSE
    reason: str
    # The spam rate's upper bound is below release and the reputation above the hold line.
    clear: bool = False


def judge_day(rules: Postmaster, day: PostmasterDay) -> PostmasterVerdict:
    """The worst line the day reaches, with the numbers and the date it describes."""
    if day.spam_ratio is None and day.reputation is None:
        return PostmasterVerdict(Level.UNKNOWN, f"{day.describe()}: nothing to judge")
    spam, reputation = rules.spam_rate, rules.reputation
    level, says = Level.OK, []
    low = day.low
    if low is not None and low >= spam.pause:
        level, says = Level.PAUSE, [f"spam ≥ pause {pct(spam.pause)}"]
    elif low is not None and low >= spam.hold:
        level, says = Level.HOLD, [f"spam ≥ hold {pct(spam.hold)}"]
    if day.reputation is not None:
        rank = day.reputation.rank
        if rank <= reputation.pause.rank:
            found, line = Level.PAUSE, f"reputation ≤ pause {reputation.pause.value}"
        elif rank <= reputation.hold.rank:
            found, line = Level.HOLD, f"reputation ≤ hold {reputation.hold.value}"
        else:
            found, line = Level.OK, ""
        if found > level:
            level, says = found, [line]
        elif found == level and line:
            says.append(line)
    high = day.high
    clear = (
        level is Level.OK
        and (high is None or high < spam.release_line)
        and (day.reputation is None or day.reputation.rank > reputation.hold.rank)
    )
    if level is Level.OK:
        says = ["clear"] if clear else [f"spam not surely below release {pct(spam.release_line)}"]
    return PostmasterVerdict(level, f"{day.describe()}: {'; '.join(says)}", clear)


def authentication_warnings(rules: Postmaster, day: PostmasterDay) -> list[str]:
    """Each of SPF, DKIM and DMARC whose share of Gmail's mail passing is below its line."""
    lines = rules.authentication
    found = []
    for name, ratio, line in (
        ("SPF", day.spf_ratio, lines.spf),
        ("DKIM", day.dkim_ratio, lines.dkim),
        ("DMARC", day.dmarc_ratio, lines.dmarc),
    ):
        if ratio is not None and ratio < line:
            found.append(
                f"{name} passed on {pct(ratio)} of Gmail's mail on {day.day.isoformat()} "
                f"(below {pct(line)})"
            )
    return found


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def last_judged(state: DomainState) -> date | None:
    """The last Postmaster day the gate judged, if any."""
    judged = state.gate_mark(DAY_MARK).judged_since
    return judged.date() if judged is not None else None


def due_days(
    plan: Plan, state: DomainState, days: Iterable[PostmasterDay], closing: date
) -> list[PostmasterDay]:
    """The days to judge when ``closing`` closes: published after the last day judged, not
    after the day closing, and not older than the plan's ``max_age_days`` before it."""
    after = last_judged(state)
    oldest = closing - timedelta(days=plan.postmaster.max_age_days)
    return sorted(
        (d for d in days if oldest <= d.day <= closing and (after is None or d.day > after)),
        key=lambda d: d.day,
    )


def on_postmaster_days(
    plan: Plan, state: DomainState, days: Iterable[PostmasterDay], *, at: datetime
) -> Decision:
    """Judge each day in date order (see the module's text), then remember the last judged."""
    decision = Decision(state)
    last = None
    for day in sorted(days, key=lambda d: d.day):
        decision = decision.then(on_postmaster_day(plan, decision.state, day, at=at))
        last = day.day
    if last is None:
        return decision
    judged = GateMark(DAY_MARK, judged_since=_midnight(last))
    marked = replace(decision.state, gate_marks=decision.state.with_mark(judged))
    return Decision(marked, decision.transitions)


def on_postmaster_day(
    plan: Plan, state: DomainState, day: PostmasterDay, *, at: datetime
) -> Decision:
    rules = plan.postmaster
    verdict = judge_day(rules, day)
    if state.status is Status.PAUSED:
        return Decision(state)  # nothing is sent; ops' resume starts afresh
    if rules.acts_on is PostmasterScope.DOMAIN:
        return _on_domain(plan, state, verdict, at)
    return _on_gmail(plan, state, verdict, at)


def _on_gmail(plan: Plan, state: DomainState, verdict: PostmasterVerdict, at: datetime) -> Decision:
    group = ProviderGroup.GMAIL
    current = state.provider_hold(group)
    actor, gate = POSTMASTER_GATE, MARK
    if verdict.level is Level.PAUSE and (current is None or not current.paused):
        return provider_move(
            state, group, "pause", verdict.reason, at, paused=True, actor=actor, gate=gate
        )
    if verdict.level is Level.HOLD and current is None:
        return provider_move(
            state, group, "hold", verdict.reason, at, paused=False, actor=actor, gate=gate
        )
    if (
        current is not None
        and not current.paused
        and current.by == POSTMASTER_GATE
        and verdict.clear
        and _may_release(plan, state.gate_mark(MARK), current.since, at)
    ):
        reason = f"{verdict.reason} (held {duration_words(at - current.since)})"
        return provider_move(state, group, "release", reason, at, actor=actor, gate=gate)
    return Decision(state)


def _on_domain(
    plan: Plan, state: DomainState, verdict: PostmasterVerdict, at: datetime
) -> Decision:
    mark = state.gate_mark(MARK)
    stopped = stop_domain(
        state, verdict.level, verdict.reason, at=at, actor=POSTMASTER_GATE, gate=mark
    )
    if stopped is not None:
        return stopped
    began = mark.held_at or state.since or at
    if (
        state.status is Status.HOLDING
        and state.held_by == POSTMASTER_GATE
        and verdict.clear
        and _may_release(plan, mark, began, at)
    ):
        return move(
            state,
            at=at,
            actor=POSTMASTER_GATE,
            action="release",
            reason=f"{verdict.reason} (held {duration_words(at - began)})",
            status=running_status(plan, state.step),
            held_by=None,
            gate_marks=state.with_mark(replace(mark, released_at=at)),
        )
    return Decision(state)


def _may_release(plan: Plan, mark: GateMark, began: datetime, at: datetime) -> bool:
    """After the plan's minimum hold, and at most once a day."""
    if at - began < timedelta(minutes=plan.gates.min_hold_minutes):
        return False
    return not released_today(plan, mark, at)
