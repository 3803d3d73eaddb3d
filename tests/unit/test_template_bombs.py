"""Template bombs (issue 30): each is refused or fails its render before it allocates, within a
bounded time and memory, whatever branch of the template it hides in."""

from __future__ import annotations

import time
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.errors import ContentError

BOMBS = {
    "doubling": '{% set ns = namespace(s="x"*1000000) %}{% for i in range(11) %}'
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "center filter": "{{ 'x'|center(400000000) }}",
    "center method": "{{ 'x'.center(10**9) }}",
    "ljust": "{{ 'x'.ljust(10**9) }}",
    "zfill": "{{ '1'.zfill(10**9) }}",
    "percent width": "{{ '%0999999999d' % 1 }}",
    "format filter width": "{{ '%0999999999d'|format(1) }}",
    "format method width": "{{ '{:>999999999}'.format(1) }}",
    "indent": "{{ ('x\\n' * 100000)|indent(10000) }}",
    "replace": "{{ ('x' * 1000000)|replace('x', 'yyyyyyyyyy') }}",
    "str replace": "{{ ('x' * 1000000).replace('x', 'yyyyyyyyyy') }}",
    "join": "{{ (['x' * 1000000] * 5)|join }}",
    "str join": "{{ ''.join(['x' * 1000000] * 5) }}",
    "plus": '{% set ns = namespace(s="x"*1000000) %}{% for i in range(11) %}'
    "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "list repetition": "{{ ([1] * 10000000)|length }}",
    "accumulated": "{% set ns = namespace(n=0) %}{% for i in range(100) %}"
    '{% set s = "x" * 1900000 ~ i %}{% endfor %}',
}


@pytest.mark.parametrize("bomb", sorted(BOMBS))
def test_a_bomb_is_refused_quickly_and_without_the_memory_it_asks_for(bomb: str) -> None:
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(ContentError):
            CompiledTemplate(MessageTemplate("Hi", None, BOMBS[bomb])).check(set())
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 6.0
    assert peak < 200 * 1024 * 1024, f"{bomb}: {peak / 1e6:.0f} MB"


def test_a_bomb_behind_a_condition_fails_only_the_row_it_is_for() -> None:
    template = CompiledTemplate(
        MessageTemplate(
            "Hi {{ first_name }}",
            None,
            "{% if first_name == 'Bob' %}{{ 'x'|center(10**10) }}{% endif %}Hello",
        )
    )
    template.check({"first_name"})  # the sample value is not Bob: the check passes
    context = {"email": "a@example.org", "unsubscribe_url": "u"}
    assert template.render({**context, "first_name": "Alice"}).text == "Hello"
    started = time.monotonic()
    with pytest.raises(ContentError, match="center"):
        template.render({**context, "first_name": "Bob"})
    assert time.monotonic() - started < 1.0


def test_ordinary_templates_still_render_every_growing_operation() -> None:
    text = (
        "{{ first_name|center(20) }}|{{ 'a,b'|replace(',', ', ') }}|{{ ['x', 'y']|join('-') }}"
        "|{{ '%05d' % 42 }}|{{ '{:>6}'.format('ok') }}|{{ 'ab' ~ 'cd' }}|{{ 'ab' + 'cd' }}"
        "|{{ 'x' * 3 }}|{{ 'l'.ljust(3) }}|{{ '%s'|format('f') }}|{{ 'a\\nb'|indent(2) }}"
    )
    rendered = CompiledTemplate(MessageTemplate("S", None, text)).render(
        {"email": "a@example.org", "unsubscribe_url": "u", "first_name": "Ada"}
    )
    assert rendered.text == (
        "        Ada         |a, b|x-y|00042|    ok|abcd|abcd|xxx|l  |f|a\n  b"
    )


@settings(max_examples=60, deadline=None)
@given(bomb=st.sampled_from(sorted(BOMBS)), name=st.text(min_size=1, max_size=12))
def test_a_bomb_behind_any_branch_fails_its_row_alone_and_quickly(bomb: str, name: str) -> None:
    text = "{% if first_name == target %}" + BOMBS[bomb] + "{% endif %}ok"
    template = CompiledTemplate(MessageTemplate("S", None, text))
    context = {"email": "a@example.org", "unsubscribe_url": "u", "target": name}
    assert template.render({**context, "first_name": name + "-other"}).text == "ok"
    started = time.monotonic()
    with pytest.raises(ContentError):
        template.render({**context, "first_name": name})
    assert time.monotonic() - started < 2.0
