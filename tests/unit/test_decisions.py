"""Decisions on evidence (docs/decisions.md), as properties over many cases: the intervals, the
gates' monotony, no release without fresh reports, probes that never lift a cap."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from warmup.control.allowance import AcsQuota, Usage, allowance
from warmup.control.evidence import interval
from warmup.control.health import Level, OutcomeCounts, judge
from warmup.control.machine import new_domain, on_readings, report_sinces
from warmup.control.simulate import DemandSchedule, FailureProfile, parse_mix, simulate
from warmup.control.state import HEALTH_GATE, ProviderHold, Status
from warmup.plans.loader import load_plan, parse_plan
from warmup.plans.model import Gates, ProviderGroup
from warmup.plans.presets import plan_file

T0 = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
PLAN = parse_plan(
    """
name: evidence
quota: {per_minute: 1000, per_hour: 100000, headroom: 1.0}
providers: {gmail: 50%, microsoft: 40%, yahoo: 30%}
steps:
  - {per_minute: 30, per_hour: 600, per_day: 5000}
  - {per_minute: 60, per_hour: 1200, per_day: 10000}
"""
)
GROUPS = list(ProviderGroup)


def test_the_interval_of_the_issues_example_and_its_edges() -> None:
    # 6 failures in 270 reports: 2.22 %, and the exact (Clopper-Pearson) 95 % interval is
    # 0.82-4.78 %; Wilson's with continuity correction is a little wider, never narrower.
    six = interval(6, 270)
    assert (round(six.low, 4), round(six.high, 4)) == (0.0091, 0.0501)
    assert six.describe() == "2.22 % (95 %: 0.91–5.01 %)"
    assert interval(0, 200).low == 0.0
    assert interval(200, 200).high == 1.0
    nothing = interval(0, 0)
    assert (nothing.low, nothing.high) == (0.0, 1.0)


@given(n=st.integers(1, 100_000), data=st.data())
def test_the_interval_holds_the_measured_rate_and_narrows_with_confidence(
    n: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(0, n))
    wide, narrow = interval(k, n, 0.99), interval(k, n, 0.8)
    assert 0 <= wide.low <= narrow.low <= k / n <= narrow.high <= wide.high <= 1


@settings(max_examples=200)
@given(n=st.integers(200, 50_000), data=st.data())
def test_the_gates_are_monotone_in_the_failure_count(n: int, data: st.DataObject) -> None:
    k = data.draw(st.integers(0, n - 1))
    fewer = judge(OutcomeCounts(delivered=n - k, soft_failure=k), Gates())
    more = judge(OutcomeCounts(delivered=n - k - 1, soft_failure=k + 1), Gates())
    assert fewer.level <= more.level or (fewer.level is Level.WARN and more.level is Level.OK)
    # A release is never easier with one more failure.
    assert fewer.clear or not more.clear


def held(groups: list[ProviderGroup], domain_held: bool) -> object:
    state = new_domain("d.example", PLAN, at=T0 - timedelta(days=2), actor="ops").state
    holds = tuple(ProviderHold(g, paused=False, reason="x", since=T0) for g in groups)
    state = replace(state, provider_holds=holds)
    if domain_held:
        state = replace(state, status=Status.HOLDING, held_by=HEALTH_GATE, since=T0)
    return state


counts = st.builds(
    lambda n, bad: OutcomeCounts(delivered=n - min(bad, n), soft_failure=min(bad, n)),
    st.integers(0, 20_000),
    st.integers(0, 400),
)


@settings(max_examples=200)
@given(
    groups=st.lists(st.sampled_from(GROUPS), unique=True, min_size=1),
    domain_held=st.booleans(),
    before=st.dictionaries(st.sampled_from(GROUPS), counts),
    hours=st.floats(0, 72),
)
def test_no_release_without_reports_since_the_hold(
    groups: list[ProviderGroup],
    domain_held: bool,
    before: dict[ProviderGroup, OutcomeCounts],
    hours: float,
) -> None:
    state = held(groups, domain_held)
    at = T0 + timedelta(hours=hours)
    # Whatever came before the hold; nothing since (no sends, or their reports not in yet).
    reports = {since: ({} if since >= T0 else before) for since in report_sinces(PLAN, state, at)}
    decision = on_readings(PLAN, state, reports, at=at)  # type: ignore[arg-type]
    assert not [t for t in decision.transitions if "release" in t.action]


@settings(max_examples=300)
@given(
    step=st.integers(0, 1),
    holds=st.dictionaries(st.sampled_from(GROUPS), st.booleans()),
    last_hour=st.integers(0, 2000),
    today=st.integers(0, 12_000),
    by_group=st.dictionaries(st.sampled_from(GROUPS), st.integers(0, 1000)),
)
def test_probes_never_lift_a_cap_above_the_plans(
    step: int,
    holds: dict[ProviderGroup, bool],
    last_hour: int,
    today: int,
    by_group: dict[ProviderGroup, int],
) -> None:
    state = replace(
        new_domain("d.example", PLAN, at=T0, actor="ops").state,
        step=step,
        provider_holds=tuple(ProviderHold(g, paused, "x", T0) for g, paused in holds.items()),
    )
    usage = Usage(last_hour=last_hour, today=today, provider_last_hour=by_group)
    granted = allowance(PLAN, state, T0, usage, AcsQuota(per_minute=1000, per_hour=100_000))
    caps = PLAN.step(step)
    assert granted.total <= max(0, caps.per_hour - last_hour)
    assert granted.total <= max(0, caps.per_day - today)
    assert granted.total <= (caps.per_minute or granted.total)
    for group, share in PLAN.providers.items():
        hourly = int(caps.per_hour * share)
        assert granted.for_provider(group) <= max(0, hourly - by_group.get(group, 0))
    for group, paused in holds.items():
        if paused:
            assert granted.for_provider(group) == 0


def test_the_issues_scenario_holds_gmail_alone_once_and_releases_nothing_on_silence() -> None:
    # `plan simulate acs-default --days 14 --start 2026-12-21 --demand "1-14:5000"
    #  --mix "gmail:40%,microsoft:30%,other:30%" --provider-failures "gmail=3:3%"`
    plan = load_plan(plan_file("acs-default"))
    result = simulate(
        plan,
        start=datetime(2026, 12, 21, tzinfo=UTC),
        days=14,
        profile=FailureProfile(0.005),
        quota=AcsQuota(plan.quota.per_minute, plan.quota.per_hour),
        demand=DemandSchedule.parse("1-14:5000"),
        mix=parse_mix("gmail:40%,microsoft:30%,other:30%"),
        provider_profiles={ProviderGroup.GMAIL: FailureProfile.parse("3:3%")},
    )
    gate_actions = [
        (day, t) for day in result.days for t in day.transitions if t.actor == HEALTH_GATE
    ]
    # Gmail alone is held, on the day its rate rose, with the interval in the reason.
    assert [(day.day, t.action) for day, t in gate_actions] == [(3, "provider-hold")]
    (_, hold), *_ = gate_actions
    assert "(95 %: " in hold.reason
    assert hold.reason.startswith("gmail: failure rate")
    # It keeps sending its probe only, and nothing is released on a day nothing was sent
    # (the holidays): nothing is released at all, Gmail still failing.
    for day in result.days[3:]:
        assert day.provider_sent.get("gmail", 0) == day.probe_sent
    assert all(day.status is not Status.PAUSED for day in result.days)
