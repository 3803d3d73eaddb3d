"""Hostile input gets a clear error within bounded time, never a traceback or a hang: plans,
templates, addresses and log lines (no services needed). Fuzzed with Hypothesis, with a budget
that keeps the suite fast."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.control.machine import DayReport, new_domain, on_day_end
from warmup.errors import ContentError, PlanError
from warmup.logs import REDACTED, RedactSecrets
from warmup.plans.loader import parse_plan

BOMB = """
a: &a ["x","x","x","x","x","x","x","x","x"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
ONE_STEP = """
name: one
advance: {healthy_days: 1, min_fraction_of_cap: 0.5}
steps:
  - {per_hour: 10, per_day: 100}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(PlanError) as caught:
        parse_plan(text, "p.yaml")
    return caught.value.problems


def test_a_yaml_alias_bomb_is_refused_in_well_under_a_second() -> None:
    started = time.monotonic()
    found = problems_of(BOMB)
    assert time.monotonic() - started < 0.5
    assert found == [
        "p.yaml:1: the plan expands to more than 20,000 values (YAML aliases repeating each other?)"
    ]


def test_deep_nesting_and_huge_plans_are_refused() -> None:
    assert problems_of("[" * 100_000) == ["p.yaml:1: the YAML is nested too deeply"]
    assert "larger than" in problems_of("#" * 300_000)[0]


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("per_hour", "yes", "steps[0].per_hour: Input should be a valid integer"),
        ("per_hour", "1e38", "steps[0].per_hour: Input should be a valid integer"),
        ("per_hour", "1000000000", "steps[0].per_hour: Input should be less than or equal to"),
    ],
)
def test_caps_must_be_plain_whole_numbers_within_bounds(field: str, value: str, says: str) -> None:
    text = f"name: p\nsteps:\n  - {{per_hour: 10, per_day: 100, {field}: {value}}}\n"
    text = text.replace("per_hour: 10, ", "") if field == "per_hour" else text
    assert any(says in problem for problem in problems_of(text)), problems_of(text)


def test_a_yes_is_not_a_rate_and_idle_days_are_bounded() -> None:
    base = "name: p\nsteps:\n  - {per_hour: 10, per_day: 100}\n"
    found = problems_of(base + "gates: {failure_rate: {hold: yes, pause: 2%}}\n")
    assert any(
        "gates.failure_rate.hold: Value error, true is a yes/no" in p
        or "gates.failure_rate.hold: true is a yes/no" in p
        for p in found
    ), found
    found = problems_of(base + "rewarm: {after_idle_days: 100000000000000000000000000000}\n")
    assert found == ["p.yaml:4: rewarm.after_idle_days: Input should be less than or equal to 3650"]


def test_an_unquoted_time_says_to_quote_it() -> None:
    text = (
        "name: p\nsteps:\n  - {per_hour: 10, per_day: 100}\nwindow: {start: 7:00, end: '19:00'}\n"
    )
    found = problems_of(text)
    assert any("window.start" in p and "write times in quotes" in p for p in found), found


def test_a_thousand_steps_are_refused() -> None:
    steps = "".join("  - {per_hour: 10, per_day: 100}\n" for _ in range(1000))
    found = problems_of(f"name: p\nsteps:\n{steps}")
    assert any("steps: List should have at most 100 items" in p for p in found), found


def test_a_one_step_plan_stays_at_step_zero() -> None:
    plan = parse_plan(ONE_STEP)
    at = datetime(2026, 12, 1, tzinfo=UTC)
    state = new_domain("d.example", plan, at=at, actor="ops").state
    for _ in range(5):
        state = on_day_end(plan, state, DayReport(sent=100, cap=100), at=at).state
    assert state.step == 0


@settings(max_examples=150, deadline=2000, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.text(max_size=400)
    | st.sampled_from([BOMB, "[" * 5000, "a: *b", "!!python/object:os.system x"])
)
def test_any_plan_text_is_a_plan_or_a_clear_error_quickly(text: str) -> None:
    started = time.monotonic()
    problems: list[str] = ["f.yaml: (valid)"]
    try:
        parse_plan(text, "f.yaml")
    except PlanError as exc:
        problems = exc.problems
    assert problems
    assert all(p.startswith("f.yaml:") for p in problems)
    assert time.monotonic() - started < 1.0


RUNAWAY = [
    "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}",
    "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}",
    "{{ 'x' * 200000000 }}",
    "{{ 2 ** 1000000 }}",
    "{% set l = [1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20] %}"
    "{% for a in l %}{% for b in l %}{% for c in l %}{% for d in l %}{% for e in l %}"
    "{% for f in l %}{% for g in l %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}"
    "{% endfor %}{% endfor %}",
    "{% for a in first_name %}{% for b in first_name %}{% for c in first_name %}"
    "{% for d in first_name %}x{% endfor %}{% endfor %}{% endfor %}{% endfor %}",
]


@pytest.mark.parametrize("body", RUNAWAY)
def test_a_runaway_template_is_stopped_with_a_clear_error(body: str) -> None:
    started = time.monotonic()
    with pytest.raises(ContentError):
        CompiledTemplate(MessageTemplate("Hi", None, body)).check({"first_name"})
    assert time.monotonic() - started < 8


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_any_template_renders_or_says_why(body: str) -> None:
    started = time.monotonic()
    try:
        compiled = CompiledTemplate(MessageTemplate("Hi {{ first_name }}", None, body))
        compiled.check({"first_name"} | set(compiled.fields))
    except ContentError:
        pass
    assert time.monotonic() - started < 8


def test_secrets_are_redacted_in_every_spelling_and_query_parameter() -> None:
    redact = RedactSecrets(["s3cr+t/with=chars"]).redact
    assert (
        redact("GET /webhooks/acs?code=s3cr%2Bt%2Fwith%3Dchars")
        == f"GET /webhooks/acs?code={REDACTED}"
    )
    assert "s3cr" not in redact("POST /x?code=s3cr+t/with=chars&x=1")
    assert (
        redact("GET /api/campaigns?token=wu_abcdefgh HTTP/1.1")
        == f"GET /api/campaigns?token={REDACTED} HTTP/1.1"
    )


def test_tracebacks_are_redacted_too() -> None:
    record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, None)
    try:
        raise RuntimeError("postgresql://warmup:hunter22@db/warmup")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    RedactSecrets(["hunter22"]).filter(record)
    assert record.exc_text is not None
    assert "hunter22" not in record.exc_text
    assert REDACTED in record.exc_text
