from datetime import UTC, datetime, timedelta

import pytest

from warmup.control.health import HealthWindow, Level, Outcome, OutcomeCounts, judge
from warmup.control.providers import provider_group
from warmup.plans.model import Gates, ProviderGroup, Threshold

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def counts(delivered: int = 0, **other: int) -> OutcomeCounts:
    return OutcomeCounts(delivered=delivered, **other)


def test_rates_count_anything_but_delivered_as_failure() -> None:
    c = counts(970, hard_bounce=10, soft_failure=10, complaint=5, suppressed=5)
    assert c.total == 1000
    assert c.failure_rate == pytest.approx(0.03)
    assert c.hard_bounce_rate == pytest.approx(0.01)
    assert c.complaint_rate == pytest.approx(0.005)


def test_window_rolls_and_forgets() -> None:
    window = HealthWindow(timedelta(hours=1), bucket=timedelta(minutes=5))
    window.add(Outcome.DELIVERED, T0, 10)
    window.add(Outcome.HARD_BOUNCE, T0 + timedelta(minutes=30), 2)
    assert window.counts(T0 + timedelta(minutes=30)).total == 12
    later = window.counts(T0 + timedelta(minutes=61))
    assert later == counts(hard_bounce=2)


def test_window_since_ignores_what_came_before_a_resume() -> None:
    window = HealthWindow(timedelta(hours=24))
    window.add(Outcome.HARD_BOUNCE, T0, 50)
    window.add(Outcome.DELIVERED, T0 + timedelta(hours=1), 300)
    fresh = window.counts(T0 + timedelta(hours=2), since=T0 + timedelta(minutes=30))
    assert fresh == counts(300)


def test_no_decision_below_the_minimum_sample() -> None:
    verdict = judge(counts(150, hard_bounce=49), Gates(min_sample=200))
    assert verdict.level is Level.UNKNOWN
    assert "199 reports, fewer than the 200 needed" in verdict.reason


def test_a_pause_needs_the_rates_lower_bound_at_the_pause_line() -> None:
    # 2.37 % over 1,180 reports reads above the 2 % pause line, but the rate behind it may be
    # as low as 1.61 %: that holds; the same rate over three times the reports pauses.
    small = judge(counts(1152, soft_failure=28), Gates())
    assert small.level is Level.HOLD
    assert small.reason == "failure rate 2.37 % (95 %: 1.61–3.46 %) over 1,180 reports ≥ hold 1 %"
    large = judge(counts(2950, soft_failure=80), Gates())
    assert large.level is Level.PAUSE
    assert large.reason == (
        "failure rate 2.64 % (95 %: 2.11–3.29 %) over 3,030 reports ≥ pause 2 %"
    )


def test_a_rate_above_the_hold_line_that_may_be_chance_only_warns() -> None:
    verdict = judge(counts(985, soft_failure=15), Gates())
    assert verdict.level is Level.WARN
    assert verdict.reason == (
        "failure rate 1.5 % (95 %: 0.87–2.52 %) over 1,000 reports near hold 1 %"
    )
    assert judge(counts(970, soft_failure=30), Gates()).level is Level.PAUSE


def test_warn_near_the_hold_line_and_clear_only_when_surely_below_release() -> None:
    assert judge(counts(992, soft_failure=8), Gates()).level is Level.WARN
    ok = judge(counts(995, soft_failure=5), Gates())
    assert ok.level is Level.OK
    assert not ok.clear  # 0.5 % of 1,000 may still be above the 0.8 % release line
    assert ok.reason == (
        "failure rate 0.5 % (95 %: 0.18–1.23 %) over 1,000 reports is not surely below "
        "release 0.8 %"
    )
    healthy = judge(counts(9980, soft_failure=20), Gates())
    assert healthy.clear
    assert healthy.reason == (
        "failure rate 0.2 % (95 %: 0.13–0.31 %) over 10,000 reports is healthy"
    )


def test_the_worst_gate_wins() -> None:
    verdict = judge(counts(9940, soft_failure=10, complaint=50), Gates())
    assert verdict.level is Level.PAUSE
    assert verdict.reason.startswith("complaint rate 0.5 % (95 %: 0.38–0.66 %) over 10,000")


def test_a_gate_with_its_own_minimum_sample_waits_for_it() -> None:
    gates = Gates(complaint_rate=Threshold(hold=0.001, pause=0.003, min_sample=1000))
    assert judge(counts(399, complaint=1), gates).level is Level.OK
    # Four complaints in a thousand: surely above 0.1 %, not surely above 0.3 %.
    assert judge(counts(996, complaint=4), gates).level is Level.HOLD
    assert judge(counts(990, complaint=10), gates).level is Level.PAUSE


def test_a_domain_reason_names_the_groups_that_drove_it() -> None:
    parts = {
        "gmail": counts(760, soft_failure=40),
        "microsoft": counts(698, soft_failure=2),
        "other": counts(597, soft_failure=3),
    }
    whole = sum(parts.values(), OutcomeCounts())
    verdict = judge(whole, Gates(), parts)
    assert verdict.level is Level.HOLD
    assert verdict.reason.endswith(
        "(gmail 5 % of 800, other 0.5 % of 600, microsoft 0.29 % of 700)"
    )


@pytest.mark.parametrize(
    ("address", "group"),
    [
        ("a@gmail.com", ProviderGroup.GMAIL),
        ("a@GoogleMail.com", ProviderGroup.GMAIL),
        ("a@hotmail.co.uk", ProviderGroup.MICROSOFT),
        ("a@outlook.com", ProviderGroup.MICROSOFT),
        ("a@live.fr", ProviderGroup.MICROSOFT),
        ("a@yahoo.com.br", ProviderGroup.YAHOO),
        ("a@aol.com", ProviderGroup.YAHOO),
        ("a@live.example.com", ProviderGroup.OTHER),
        ("a@example.org", ProviderGroup.OTHER),
    ],
)
def test_provider_groups(address: str, group: ProviderGroup) -> None:
    assert provider_group(address) is group
