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


def test_pause_reason_carries_the_numbers() -> None:
    verdict = judge(counts(1152, soft_failure=28), Gates())
    assert verdict.level is Level.PAUSE
    assert verdict.reason == "failure rate 2.37 % over 1,180 reports ≥ pause 2 %"


def test_hold_between_the_lines() -> None:
    verdict = judge(counts(985, soft_failure=15), Gates())
    assert verdict.level is Level.HOLD
    assert verdict.reason == "failure rate 1.5 % over 1,000 reports ≥ hold 1 %"


def test_warn_near_the_hold_line_and_ok_below() -> None:
    assert judge(counts(992, soft_failure=8), Gates()).level is Level.WARN
    ok = judge(counts(995, soft_failure=5), Gates())
    assert ok.level is Level.OK
    assert ok.reason == "failure rate 0.5 % over 1,000 reports is healthy"


def test_the_worst_gate_wins() -> None:
    verdict = judge(counts(9960, soft_failure=10, complaint=30), Gates())
    assert verdict.level is Level.PAUSE
    assert verdict.reason.startswith("complaint rate 0.3 % over 10,000 reports")


def test_a_gate_with_its_own_minimum_sample_waits_for_it() -> None:
    gates = Gates(complaint_rate=Threshold(hold=0.001, pause=0.003, min_sample=1000))
    assert judge(counts(399, complaint=1), gates).level is Level.OK
    assert judge(counts(996, complaint=4), gates).level is Level.PAUSE


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
