"""Plan files: presets load, every validation error names file, line and field."""

from datetime import date
from pathlib import Path

import pytest

from warmup.errors import PlanError
from warmup.plans.loader import load_plan, parse_plan, validate_files
from warmup.plans.schedule import cost, earliest_schedule, quota_advice

SCHEDULES = sorted((Path(__file__).parents[2] / "schedules").glob("*.yaml"))
GOOD = """\
name: ok
quota: {per_minute: 30, per_hour: 100}
steps:
  - {per_hour: 40, per_day: 300}
  - {per_hour: 80, per_day: 600}
"""


def problems(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "plan.yaml")
    return caught.value.problems


def test_every_schedule_file_loads() -> None:
    assert {p.stem for p in SCHEDULES} >= {"acs-default", "conservative", "fast"}
    for path in SCHEDULES:
        plan = load_plan(path)
        assert plan.name == path.stem


def test_presets_follow_acs_guidance_for_gates() -> None:
    for name in ("acs-default", "fast"):
        gates = load_plan(next(p for p in SCHEDULES if p.stem == name)).gates
        assert (gates.failure_rate.hold, gates.failure_rate.pause) == (0.01, 0.02)
        assert (gates.complaint_rate.hold, gates.complaint_rate.pause) == (0.001, 0.003)
        assert gates.min_sample == 200


def test_a_good_plan_parses_with_percent_rates() -> None:
    plan = parse_plan(GOOD + "gates:\n  failure_rate: {hold: 1.5%, pause: 3%}\n")
    assert plan.gates.failure_rate.hold == pytest.approx(0.015)
    assert plan.last_step == 1


def test_unknown_key_suggests_the_right_one_with_its_line() -> None:
    assert problems(GOOD + "advance:\n  healthy_dayz: 2\n") == [
        "plan.yaml:7: advance.healthy_dayz: unknown key 'healthy_dayz'; "
        "did you mean 'healthy_days'?"
    ]


def test_caps_that_shrink() -> None:
    text = GOOD.replace("{per_hour: 80, per_day: 600}", "{per_hour: 30, per_day: 600}")
    assert problems(text) == [
        "plan.yaml:5: steps[1].per_hour: 30 shrinks from step 0's 40: caps must not go down"
    ]


def test_a_step_up_of_more_than_double() -> None:
    text = GOOD.replace("per_day: 600", "per_day: 601")
    assert problems(text) == [
        "plan.yaml:5: steps[1].per_day: 601 is more than ×2 step 0's 300: "
        "never grow faster than doubling"
    ]


def test_hold_at_or_above_pause() -> None:
    text = GOOD + "gates:\n  failure_rate: {hold: 2%, pause: 2%}\n"
    assert problems(text) == [
        "plan.yaml:7: gates.failure_rate: hold (2.00%) must be below pause (2.00%)"
    ]


def test_a_bad_timezone() -> None:
    text = GOOD.replace("name: ok\n", "name: ok\ntimezone: Mars/Olympus\n")
    assert problems(text) == [
        "plan.yaml:2: timezone: unknown timezone 'Mars/Olympus' "
        "(use an IANA name such as Europe/Paris)"
    ]


def test_a_cap_above_the_quota_ceiling() -> None:
    text = GOOD.replace(
        "{per_hour: 80, per_day: 600}", "{per_hour: 80, per_day: 600, per_minute: 31}"
    )
    assert problems(text) == [
        "plan.yaml:5: steps[1].per_minute: 31 is above the quota ceiling quota.per_minute (30)"
    ]


def test_a_daily_cap_the_window_cannot_reach() -> None:
    text = GOOD + "window: {start: '09:00', end: '12:00'}\n"
    assert problems(text) == [
        "plan.yaml:4: steps[0].per_day: 300 cannot be reached at 40/hour in 3 sending hours a day",
        "plan.yaml:5: steps[1].per_day: 600 cannot be reached at 80/hour in 3 sending hours a day",
    ]


def test_a_duplicate_key_is_not_silently_overwritten() -> None:
    assert problems(GOOD + "name: again\n") == ["plan.yaml:6: name: duplicate key"]


def test_all_problems_are_reported_at_once_in_line_order() -> None:
    text = """\
name: many
timezone: Nowhere/Else
steps:
  - {per_hour: 50, per_day: 400}
  - {per_hour: 40, per_day: 400}
gates:
  failure_rate: {hold: 5%, pause: 1%}
"""
    found = problems(text)
    assert [p.split(":")[1] for p in found] == ["2", "5", "7"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "plan.yaml:1: the file is empty"),
        ("name: [unclosed\n", "plan.yaml:2: not valid YAML"),
        ("- just\n- a list\n", "plan.yaml:1: a plan must be a mapping"),
        ("name: x\n", "plan.yaml:1: steps: Field required"),
    ],
)
def test_files_that_are_not_plans(text: str, expected: str) -> None:
    assert problems(text)[0].startswith(expected)


def test_validate_files_reports_each_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD + "bogus: 1\n")
    results = validate_files([good, bad, tmp_path / "missing.yaml"])
    assert results[good] == []
    assert results[bad] == [
        f"{bad}:6: bogus: unknown key 'bogus'; allowed: " + results[bad][0].split("allowed: ")[1]
    ]
    assert "cannot read the plan" in results[tmp_path / "missing.yaml"][0]


def test_acs_default_reaches_a_raised_quota_in_two_to_four_weeks() -> None:
    plan = load_plan(next(p for p in SCHEDULES if p.stem == "acs-default"))
    schedule = earliest_schedule(plan, date(2026, 11, 30))  # a Monday
    assert 14 <= schedule.calendar_days_to_final <= 28
    assert schedule.sending_days_to_final == 18
    assert not schedule.rows[0].needs_raised_quota  # starts within 100/hour
    first_raise = quota_advice(plan, step=0, healthy_days_at_step=0, today=date(2026, 11, 30))
    assert first_raise is not None
    assert first_raise.step == 2
    assert first_raise.needed_on == date(2026, 12, 4)  # Mon, Wed, Fri: weekdays only
    assert first_raise.needed_on == schedule.rows[2].reached_on  # the schedule agrees


def test_conservative_takes_about_six_weeks_and_fast_doubles_daily() -> None:
    conservative = load_plan(next(p for p in SCHEDULES if p.stem == "conservative"))
    assert 38 <= earliest_schedule(conservative, date(2026, 11, 30)).calendar_days_to_final <= 46
    fast = load_plan(next(p for p in SCHEDULES if p.stem == "fast"))
    assert fast.advance.healthy_days == 1
    assert all(b.per_day == 2 * a.per_day for a, b in zip(fast.steps, fast.steps[1:], strict=False))


def test_cost_uses_the_list_price_per_email_and_per_megabyte() -> None:
    assert cost(1_000_000, message_kb=0) == pytest.approx(250.0)
    assert cost(1_000_000, message_kb=1024) == pytest.approx(250.0 + 120.0)
