"""The Monte Carlo targets the gates are held to (issue 34), as scenarios of ``acs-default``:
shared by ``benchmarks/monte_carlo.py`` (the figures in benchmarks/README.md) and the test that
asserts them on a fixed seed (tests/unit/test_ramp_targets.py).

- **healthy**: a true failure rate of 0.6 % (hold line 1 %) for 30 days: at most 5 % of runs
  see any hold or pause.
- **spike**: a true rate of 3 % from day 10 on: the domain held or paused within one sending
  day in at least 99 % of runs.
- **gmail**: 3 % at Gmail alone (40 % of the list) from day 3: the whole domain never paused,
  and Gmail held within two sending days in at least 95 % of runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from warmup.control.allowance import AcsQuota
from warmup.control.monte_carlo import Scenario, Summary
from warmup.control.simulate import DemandSchedule, FailureProfile, parse_mix
from warmup.plans.loader import load_plan
from warmup.plans.model import ProviderGroup
from warmup.plans.presets import plan_file

START = datetime(2026, 12, 21, tzinfo=UTC)  # a Monday, with the holidays' blackout dates
DAYS = 30
SEED = 1


@dataclass(frozen=True)
class Target:
    name: str
    says: str
    scenario: Scenario
    # The figure the target is about, and whether it meets the target.
    figure: Callable[[Summary], float]
    met: Callable[[float], bool]


def targets() -> list[Target]:
    plan = load_plan(plan_file("acs-default"))
    quota = AcsQuota(plan.quota.per_minute, plan.quota.per_hour)
    mix = parse_mix("gmail:40%,microsoft:30%,other:30%")
    gmail_scenario = Scenario(
        plan,
        START,
        DAYS,
        FailureProfile(0.005),
        quota,
        DemandSchedule.parse("5000"),
        mix=mix,
        provider_profiles={ProviderGroup.GMAIL: FailureProfile.parse("3:3%")},
    )
    return [
        Target(
            "healthy",
            "runs with any hold or pause at a true 0.6 % (≤ 5 %)",
            Scenario(plan, START, DAYS, FailureProfile(0.006), quota),
            lambda s: s.share(s.runs_with_any_hold),
            lambda share: share <= 0.05,
        ),
        Target(
            "spike",
            "runs where 3 % from day 10 is held or paused within 1 sending day (≥ 99 %)",
            Scenario(plan, START, DAYS, FailureProfile.parse("10:3%"), quota),
            lambda s: s.share(int(s.detection["domain"]["within_1_sending_day"] or 0)),
            lambda share: share >= 0.99,
        ),
        Target(
            "gmail",
            "runs where Gmail at 3 % is held within 2 sending days (≥ 95 %)",
            gmail_scenario,
            lambda s: s.share(int(s.detection["gmail"]["within_2_sending_days"] or 0)),
            lambda share: share >= 0.95,
        ),
        Target(
            "gmail-domain",
            "runs where Gmail at 3 % pauses the whole domain (none)",
            gmail_scenario,
            lambda s: s.share(s.runs_with_a_domain_pause),
            lambda share: share == 0,
        ),
    ]
