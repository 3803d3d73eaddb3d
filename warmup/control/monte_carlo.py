"""The ramp under chance: many simulated runs with report counts drawn around the true rates,
and what they show of the gates (docs/decisions.md).

One run is :func:`warmup.control.simulate.simulate` with a seeded random generator (the
caller's ``chance``, e.g. ``random.Random``); run ``i`` of a batch seeded ``seed`` uses
``seed + i``, so any run can be replayed alone (``plan simulate --seed``). For each run it measures:

- the day the ramp reached its final step (if it did);
- holds and pauses by the gates, of the domain and of provider groups;
- false holds: a hold or pause while every true rate of that gate was below its hold line;
- detection: once a true failure rate reaches the pause line (the domain's, mix-weighted, or a
  group's), how many sending days until that gate held or paused, and how many sends went out
  in between;
- flapping: the most releases one gate made in one day, and releases on a day the gate sent
  nothing.

Pure: no clock, no store, no processes (the caller may map the runs over a pool).
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from warmup.control.allowance import AcsQuota
from warmup.control.simulate import (
    Chance,
    DemandSchedule,
    FailureProfile,
    SimulatedDay,
    Simulation,
    simulate,
)
from warmup.control.state import DOMAIN_GATE, HEALTH_GATE
from warmup.plans.model import Plan, ProviderGroup

HOLDS = {"hold", "provider-hold"}
STOPS = HOLDS | {"pause", "provider-pause"}
RELEASES = {"release", "provider-release"}


@dataclass(frozen=True)
class Scenario:
    """What every run of a batch shares."""

    plan: Plan
    start: datetime
    days: int
    profile: FailureProfile
    quota: AcsQuota
    demand: DemandSchedule | None = None
    resume_after_days: int | None = 2
    mix: Mapping[ProviderGroup, float] | None = None
    provider_profiles: Mapping[ProviderGroup, FailureProfile] = field(default_factory=dict)

    def simulate(self, seed: int, chance: Callable[[int], Chance]) -> Simulation:
        return simulate(
            self.plan,
            start=self.start,
            days=self.days,
            profile=self.profile,
            quota=self.quota,
            demand=self.demand,
            resume_after_days=self.resume_after_days,
            mix=self.mix,
            provider_profiles=self.provider_profiles or None,
            rng=chance(seed),
        )

    def groups(self) -> dict[ProviderGroup, float]:
        return dict(self.mix) if self.mix else {ProviderGroup.OTHER: 1.0}

    def group_profile(self, group: ProviderGroup) -> FailureProfile:
        return self.provider_profiles.get(group, self.profile)

    def true_rate(self, gate: str, day: int) -> float:
        """The failure rate a gate's mail truly has on a day: a group's own, or the domain's
        (its groups' rates weighted by their shares)."""
        if gate != DOMAIN_GATE:
            return self.group_profile(ProviderGroup(gate)).failure_rate(day)
        return sum(
            share * self.group_profile(group).failure_rate(day)
            for group, share in self.groups().items()
        )

    def crossing(self, gate: str) -> int | None:
        """The first day the gate's true failure rate is at or above its pause line."""
        line = self.plan.gates.failure_rate.pause
        if gate != DOMAIN_GATE:
            line = self.plan.gates_for(ProviderGroup(gate)).failure_rate.pause
        return next((d for d in range(1, self.days + 1) if self.true_rate(gate, d) >= line), None)


@dataclass(frozen=True)
class Detection:
    """A gate's response once its true rate reached the pause line."""

    gate: str
    crossed_on: int  # the day
    sending_days: int | None  # sending days until it held or paused (1: that same day)
    sends: int | None  # sends (all groups) from the crossing until then
    paused: bool  # its first stop was a pause


@dataclass(frozen=True)
class RunResult:
    seed: int
    final_step_day: int | None
    holds: int
    pauses: int
    domain_pauses: int
    false_holds: int
    most_releases_a_day: int  # by one gate
    releases_without_sends: int
    detections: tuple[Detection, ...]

    def detection(self, gate: str) -> Detection | None:
        return next((d for d in self.detections if d.gate == gate), None)


def _gate(action: str, reason: str) -> str:
    """The gate a transition belongs to: the domain's, or the group its reason names."""
    if action.startswith("provider-"):
        return reason.split(":", 1)[0]
    return DOMAIN_GATE


def _is_false(scenario: Scenario, gate: str, day: int) -> bool:
    gates = (
        scenario.plan.gates if gate == DOMAIN_GATE else scenario.plan.gates_for(ProviderGroup(gate))
    )
    profile = (
        scenario.profile if gate == DOMAIN_GATE else scenario.group_profile(ProviderGroup(gate))
    )
    failure = scenario.true_rate(gate, day)
    return (
        failure < gates.failure_rate.hold
        and failure * profile.hard_bounce_share < gates.hard_bounce_rate.hold
        and profile.complaint_rate < gates.complaint_rate.hold
    )


def measure(scenario: Scenario, seed: int, simulation: Simulation) -> RunResult:
    """What one run showed (see the module's docstring)."""
    days = simulation.days
    final = next((d.day for d in days if d.step >= scenario.plan.last_step), None)
    holds = pauses = domain_pauses = false_holds = without_sends = 0
    releases: Counter[tuple[str, int]] = Counter()
    for day in days:
        for t in day.transitions:
            if t.actor != HEALTH_GATE:
                continue
            gate = _gate(t.action, t.reason)
            if t.action in STOPS:
                holds += t.action in HOLDS
                pauses += t.action not in HOLDS
                domain_pauses += t.action == "pause"
                false_holds += _is_false(scenario, gate, day.day)
            elif t.action in RELEASES:
                releases[gate, day.day] += 1
                sent = day.sent if gate == DOMAIN_GATE else day.provider_sent.get(gate, day.sent)
                without_sends += sent == 0
    gates = [DOMAIN_GATE] + ([g.value for g in scenario.groups()] if scenario.mix else [])
    detections = tuple(
        _detection(scenario, days, gate, crossed)
        for gate in gates
        if (crossed := scenario.crossing(gate)) is not None
    )
    return RunResult(
        seed=seed,
        final_step_day=final,
        holds=holds,
        pauses=pauses,
        domain_pauses=domain_pauses,
        false_holds=false_holds,
        most_releases_a_day=max(releases.values(), default=0),
        releases_without_sends=without_sends,
        detections=detections,
    )


def _detection(
    scenario: Scenario, days: tuple[SimulatedDay, ...], gate: str, crossed: int
) -> Detection:
    sending_days = sends = 0
    for day in days[crossed - 1 :]:
        sending_days += day.sent > 0
        for t, before in zip(day.transitions, day.sent_before, strict=True):
            if t.actor == HEALTH_GATE and t.action in STOPS and _gate(t.action, t.reason) == gate:
                return Detection(
                    gate, crossed, max(sending_days, 1), sends + before, "pause" in t.action
                )
        sends += day.sent
    return Detection(gate, crossed, None, None, False)


def run(scenario: Scenario, seed: int, chance: Callable[[int], Chance]) -> RunResult:
    """One run, measured."""
    return measure(scenario, seed, scenario.simulate(seed, chance))


@dataclass(frozen=True)
class Summary:
    runs: int
    seed: int
    reached_final_step: int  # runs
    days_to_final_median: float | None
    days_to_final_p90: float | None
    holds_per_run: float
    pauses_per_run: float
    runs_with_any_hold: int
    runs_with_a_domain_pause: int
    false_holds_per_run: float
    runs_with_a_false_hold: int
    most_releases_a_day: int
    releases_without_sends: int
    # Per gate whose true rate reached the pause line: runs where it was caught within one and
    # within two sending days, and the sends let through before (median, p90).
    detection: Mapping[str, Mapping[str, float | int | None]]

    def share(self, count: int) -> float:
        return count / self.runs if self.runs else 0.0


def _quantile(values: list[int], q: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return float(values[0])
    return statistics.quantiles(values, n=100, method="inclusive")[round(q * 100) - 1]


def summarize(results: Iterable[RunResult], seed: int) -> Summary:
    done = list(results)
    finals = [r.final_step_day for r in done if r.final_step_day is not None]
    gates = sorted({d.gate for r in done for d in r.detections})
    detection: dict[str, dict[str, float | int | None]] = {}
    for gate in gates:
        found = [d for r in done if (d := r.detection(gate)) is not None]
        caught = [d.sending_days for d in found if d.sending_days is not None]
        sends = [d.sends for d in found if d.sends is not None]
        detection[gate] = {
            "crossed_on_day": found[0].crossed_on if found else None,
            "runs": len(found),
            "within_1_sending_day": sum(1 for days in caught if days <= 1),
            "within_2_sending_days": sum(1 for days in caught if days <= 2),
            "never": len(found) - len(caught),
            "paused_first": sum(1 for d in found if d.paused),
            "sends_before_median": _quantile(sends, 0.5),
            "sends_before_p90": _quantile(sends, 0.9),
        }
    return Summary(
        runs=len(done),
        seed=seed,
        reached_final_step=len(finals),
        days_to_final_median=_quantile(finals, 0.5),
        days_to_final_p90=_quantile(finals, 0.9),
        holds_per_run=statistics.fmean(r.holds for r in done) if done else 0.0,
        pauses_per_run=statistics.fmean(r.pauses for r in done) if done else 0.0,
        runs_with_any_hold=sum(1 for r in done if r.holds or r.pauses),
        runs_with_a_domain_pause=sum(1 for r in done if r.domain_pauses),
        false_holds_per_run=statistics.fmean(r.false_holds for r in done) if done else 0.0,
        runs_with_a_false_hold=sum(1 for r in done if r.false_holds),
        most_releases_a_day=max((r.most_releases_a_day for r in done), default=0),
        releases_without_sends=sum(r.releases_without_sends for r in done),
        detection=detection,
    )


Mapper = Callable[[Callable[[int], RunResult], Iterable[int]], Iterable[RunResult]]


def run_many(
    scenario: Scenario,
    runs: int,
    seed: int,
    chance: Callable[[int], Chance],
    *,
    mapper: Mapper | None = None,
) -> Summary:
    """``runs`` runs seeded ``seed``, ``seed + 1``, …; ``mapper`` maps them (default: one by
    one, here; a process pool's ``map`` spreads them over the machine's cores)."""
    seeds = range(seed, seed + runs)
    one = _RunOne(scenario, chance)
    results = (mapper or map)(one, seeds)
    return summarize(results, seed)


@dataclass(frozen=True)
class _RunOne:
    """``run`` bound to a scenario, picklable for a process pool."""

    scenario: Scenario
    chance: Callable[[int], Chance]

    def __call__(self, seed: int) -> RunResult:
        return run(self.scenario, seed, self.chance)
