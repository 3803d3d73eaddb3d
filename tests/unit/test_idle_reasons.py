"""Why a domain is not sending, and until when (each reason), and when to ask for more quota."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from warmup.control.allowance import AcsQuota, Usage, allowance
from warmup.control.idle import SendingNow, SpentWindows, sending_now
from warmup.control.state import DomainState, Status
from warmup.plans.loader import load_plan
from warmup.plans.schedule import ask_by, quota_advice

# Weekdays 07:00-21:00 UTC, blackout on 24-25 and 31 December and 1 January.
PLAN = load_plan(Path(__file__).resolve().parents[2] / "schedules" / "acs-default.yaml")
QUOTA = AcsQuota(30, 100)
MONDAY_NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
STATE = DomainState("mail.example.com", PLAN.name)
NO_USAGE, NOT_SPENT = Usage(), SpentWindows()


def why(
    now: datetime,
    *,
    state: DomainState = STATE,
    usage: Usage = NO_USAGE,
    pending: int = 100,
    throttled_until: datetime | None = None,
    spent: SpentWindows = NOT_SPENT,
) -> SendingNow:
    granted = allowance(PLAN, state, now, usage, QUOTA)
    return sending_now(
        PLAN,
        state,
        now,
        granted,
        pending=pending,
        throttled_until=throttled_until,
        spent=spent,
    )


def test_sending_when_nothing_stops_it() -> None:
    assert why(MONDAY_NOON) == SendingNow(True, "sending: up to 5 more now")  # 5/minute at step 0


def test_paused_names_the_reason_and_has_no_end() -> None:
    paused = DomainState(
        "mail.example.com", PLAN.name, status=Status.PAUSED, reason="failure rate 2.4 % ≥ 2 %"
    )
    assert why(MONDAY_NOON, state=paused) == SendingNow(False, "paused: failure rate 2.4 % ≥ 2 %")


def test_outside_the_window_until_it_opens() -> None:
    evening = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)
    assert why(evening) == SendingNow(
        False,
        "outside the sending window until Tue 2026-12-01 07:00 UTC",
        datetime(2026, 12, 1, 7, 0, tzinfo=UTC),
    )
    friday_night = datetime(2026, 12, 4, 22, 0, tzinfo=UTC)
    assert why(friday_night).until == datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # Monday
    early = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)
    assert why(early).reason == "outside the sending window until 07:00 UTC"  # today


def test_a_blackout_date_until_the_next_sending_day() -> None:
    christmas_eve = datetime(2026, 12, 24, 12, 0, tzinfo=UTC)
    assert why(christmas_eve) == SendingNow(
        False,
        "a blackout date until Mon 2026-12-28 07:00 UTC",
        datetime(2026, 12, 28, 7, 0, tzinfo=UTC),
    )


def test_nothing_to_send() -> None:
    assert why(MONDAY_NOON, pending=0).reason == (
        "nothing to send: no running campaign has rows left"
    )


def test_waiting_for_acs_quota_until_the_retry_after_ends() -> None:
    until = MONDAY_NOON + timedelta(seconds=40)
    assert why(MONDAY_NOON, throttled_until=until) == SendingNow(
        False, "waiting for ACS quota (Retry-After) until 12:00 UTC", until
    )
    # A Retry-After that has passed does not count.
    assert why(MONDAY_NOON, throttled_until=MONDAY_NOON - timedelta(seconds=1)).sending


def test_hourly_cap_spent_until_the_oldest_send_is_an_hour_old() -> None:
    oldest = datetime(2026, 11, 30, 11, 20, tzinfo=UTC)
    spent = why(
        MONDAY_NOON,
        usage=Usage(last_hour=50, today=50),
        spent=SpentWindows(oldest_last_hour=oldest),
    )
    assert spent == SendingNow(
        False, "step 0 cap 50/hour spent until 12:20 UTC", oldest + timedelta(hours=1)
    )


def test_minute_cap_spent_until_the_minute_frees() -> None:
    oldest = MONDAY_NOON - timedelta(seconds=30)
    spent = why(
        MONDAY_NOON,
        usage=Usage(last_minute=5, last_hour=5, today=5),
        spent=SpentWindows(oldest_last_minute=oldest),
    )
    assert not spent.sending
    assert spent.reason == "step 0 cap 5/minute spent until 12:00 UTC"
    assert spent.until == oldest + timedelta(minutes=1)


def test_day_cap_spent_until_the_next_sending_day_opens() -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    spent = why(friday, usage=Usage(today=400))
    assert spent == SendingNow(
        False,
        "step 0 cap 400/day spent until Mon 2026-12-07 07:00 UTC",
        datetime(2026, 12, 7, 7, 0, tzinfo=UTC),
    )


def test_ask_by_counts_business_days_back() -> None:
    assert ask_by(date(2026, 12, 4)) == date(2026, 12, 1)  # Friday: Tuesday
    assert ask_by(date(2026, 12, 7)) == date(2026, 12, 2)  # Monday: the Wednesday before
    assert ask_by(date(2026, 12, 6)) == date(2026, 12, 2)  # Sunday: Wednesday too


def test_quota_advice_from_the_domains_own_step_and_quota() -> None:
    advice = quota_advice(
        PLAN, step=1, healthy_days_at_step=1, today=date(2026, 11, 30), per_hour=100, per_minute=30
    )
    assert advice is not None
    assert (advice.step, advice.needed_on, advice.ask_by) == (
        2,
        date(2026, 12, 1),
        date(2026, 11, 26),
    )
    assert advice.per_hour * PLAN.quota.headroom >= PLAN.step(2).per_hour
    everything = quota_advice(
        PLAN,
        step=0,
        healthy_days_at_step=0,
        today=date(2026, 11, 30),
        per_hour=10**7,
        per_minute=10**6,
    )
    assert everything is None  # the quota covers the whole plan


def test_a_start_that_would_stay_silent_for_over_an_hour_says_when_and_how_fast() -> None:
    from warmup.control.idle import quiet_start

    # Inside the window: nothing to warn about.
    assert quiet_start(PLAN, QUOTA, MONDAY_NOON) is None
    # Half an hour before the window opens: not worth a warning.
    assert quiet_start(PLAN, QUOTA, MONDAY_NOON.replace(hour=6, minute=30)) is None
    # Monday 01:00: six hours of nothing, then step 0's 50 an hour (within ACS's default quota).
    night = quiet_start(PLAN, QUOTA, MONDAY_NOON.replace(hour=1))
    assert night == (
        "nothing will be sent before 07:00 UTC (the plan's sending window); "
        "then at most 50 an hour (the plan's step 0)"
    )
    # Saturday: the window opens on Monday; an Azure-managed domain's quota (10 an hour) binds.
    saturday = quiet_start(PLAN, AcsQuota(5, 10), datetime(2026, 12, 5, 12, tzinfo=UTC))
    assert saturday == (
        "nothing will be sent before Mon 2026-12-07 07:00 UTC (the plan's sending window); "
        "then at most 9 an hour (the ACS quota)"
    )
