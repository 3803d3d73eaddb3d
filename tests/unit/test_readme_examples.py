"""Every ``warmup`` command the README shows is one the CLI takes as written.

Each example is parsed the way a shell would (continuation lines joined, comments and pipes
cut) and handed to the real command tree: the command and its subcommands must exist, every
option must be one of theirs, required ones present and values of the right type (files the
example names are created in an empty folder first). Lines written for people are made
concrete first: ``pause|resume`` is checked each way, ``[--as X]`` with and without, ``DOMAIN``
filled in; only a line that trails off (``...``) cannot be checked, and those stay few. What
the examples then do is the newcomer's walkthrough's business
(tests/e2e/test_newcomer_walkthrough.py), which runs them against a store.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer
from typer import _click as click
from typer._click.exceptions import UsageError
from typer.core import TyperGroup

from warmup.cli import app

README = Path(__file__).resolve().parents[2] / "README.md"
# A stand-in for each placeholder word the README uses (DOMAIN, APP, TENANT, W).
FILLERS = {"DOMAIN": "mail.example.com"}


def examples() -> list[str]:
    """The README's shell lines that run ``warmup`` (continuations joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    lines = "\n".join(blocks).replace("\\\n", " ").splitlines()
    return [line.strip() for line in lines if re.match(r"\s*(\.venv/bin/)?warmup ", line)]


def words(example: str) -> list[str]:
    tokens = shlex.split(example, comments=True)
    if "|" in tokens:
        tokens = tokens[: tokens.index("|")]
    return tokens[1:]  # past "warmup"


def fill(word: str) -> str:
    return FILLERS.get(word, "x" if re.fullmatch(r"[A-Z]+", word) else word)


def variants(tokens: list[str]) -> list[list[str]]:
    """A line's concrete forms: ``a|b`` each way, ``[--opt x]`` with and without, upper-case
    placeholders filled; none for a line that trails off (``...``)."""
    if "..." in tokens:
        return []
    forms: list[list[str]] = [[]]
    optional: list[str] | None = None
    for token in tokens:
        if token.startswith("[") and optional is None:
            optional = []
            token = token[1:]
        if optional is not None:
            closing = token.endswith("]")
            optional.append(fill(token.rstrip("]")))
            if closing:
                forms = [*forms, *[[*form, *optional] for form in forms]]
                optional = None
            continue
        choices = token.split("|") if "|" in token else [token]
        forms = [[*form, fill(choice)] for form in forms for choice in choices]
    return forms


def runnable() -> list[list[str]]:
    return [form for example in examples() for form in variants(words(example))]


def parse(args: list[str]) -> click.Context:
    """The command tree's parse of ``args``, down to the command that would run."""
    command = typer.main.get_command(app)
    context = command.make_context("warmup", list(args))
    while isinstance(command, TyperGroup):
        rest = [*context._protected_args, *context.args]
        if not rest:
            break  # a group that runs by itself (``warmup relay --host ...``)
        name, found, rest = command.resolve_command(context, rest)
        assert found is not None
        assert name is not None
        command = found
        context = command.make_context(name, rest, parent=context)
    return context


def test_the_readme_shows_many_commands_and_few_that_trail_off() -> None:
    assert len(examples()) >= 50
    trailing = [e for e in examples() if not variants(words(e))]
    assert len(trailing) <= 4, trailing


@pytest.mark.parametrize("args", runnable(), ids=" ".join)
def test_each_readme_example_parses_as_written(
    args: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for word in args:
        # Files the example names (a CSV, a template, a plan): they exist where it runs.
        if re.fullmatch(r"[\w./-]+\.(csv|html|txt|yaml|crt|key)", word) and not word.startswith(
            "/"
        ):
            (tmp_path / word).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / word).write_text("x", encoding="utf-8")
    try:
        context = parse(args)
    except UsageError as exc:
        pytest.fail(f"warmup {' '.join(args)}\n  {exc.format_message()}")
    assert context.command.callback is not None


def test_a_stale_example_fails_the_check() -> None:
    with pytest.raises(UsageError, match="Missing parameter: output"):
        parse(["campaign", "export", "-c", "welcome"])  # the README's old example lacked -o
    with pytest.raises(UsageError, match="No such option"):
        parse(["campaign", "list", "--state", "running"])
