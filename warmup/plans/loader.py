"""Load plan files, reporting every problem as ``file:line: field.path: what is wrong``.

YAML is parsed twice: once into nodes (which know their line) to map field paths to lines and to
catch duplicate keys, which PyYAML would otherwise let the last one win silently; once into
plain data for pydantic. Structure problems come from pydantic; problems across fields from
:func:`warmup.plans.model.semantic_problems`.
"""

from __future__ import annotations

import difflib
import typing
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from warmup.errors import PlanError
from warmup.plans.model import (
    Plan,
    Problem,
    Quota,
    SendingWindow,
    Step,
    semantic_problems,
    step_problems,
)

PathKey = tuple[str | int, ...]

# Bounds on the work one plan may cause, whatever its YAML does: a plan is a few dozen values.
MAX_PLAN_CHARS = 256 * 1024
MAX_PLAN_VALUES = 20_000  # after expanding aliases: a 495-byte "billion laughs" is refused
MAX_FLOW_DEPTH = 50  # [ and { nested: PyYAML's parser recurses on each


def flow_depth(text: str) -> int:
    """How deep ``[`` and ``{`` nest outside quotes (a cheap scan before the parser recurses)."""
    depth = deepest = 0
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
        elif char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    return deepest


def expanded_size(root: yaml.Node, limit: int) -> int:
    """How many values the document holds once aliases are expanded, counted without expanding
    them (each node's size is remembered), stopping as soon as ``limit`` is passed."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            sizes[id(node)] = 1
            continue
        if children_done:
            sizes[id(node)] = min(limit + 1, 1 + sum(sizes[id(c)] for c in children))
            if sizes[id(node)] > limit:
                return sizes[id(node)]
            continue
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def format_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def _line_map(
    node: yaml.Node, path: PathKey, lines: dict[PathKey, int], dupes: list[tuple[PathKey, int]]
) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            child = (*path, key)
            if key in seen:
                dupes.append((child, key_node.start_mark.line + 1))
            seen.add(key)
            lines[child] = key_node.start_mark.line + 1
            _line_map(value_node, child, lines, dupes)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _line_map(item, (*path, index), lines, dupes)


def _line_of(path: PathKey, lines: dict[PathKey, int]) -> int:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return 1


def _model_at(path: Sequence[str | int]) -> type[BaseModel] | None:
    """The pydantic model a field path points into, to suggest keys for a typo."""
    model: Any = Plan
    for part in path:
        if isinstance(part, int):
            continue
        field = (
            model.model_fields.get(part)
            if isinstance(model, type) and issubclass(model, BaseModel)
            else None
        )
        if field is None:
            return None
        model = field.annotation
        for arg in (*typing.get_args(model), model):
            inner = typing.get_args(arg)
            candidates = inner or (arg,)
            found = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
            if found:
                model = found[0]
                break
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _message(error: dict[str, Any], path: PathKey) -> str:
    if error["type"] == "extra_forbidden":
        parent = _model_at(path[:-1])
        known = sorted(parent.model_fields) if parent else []
        guess = difflib.get_close_matches(str(path[-1]), known, n=1)
        hint = (
            f"; did you mean '{guess[0]}'?"
            if guess
            else (f"; allowed: {', '.join(known)}" if known else "")
        )
        return f"unknown key '{path[-1]}'{hint}"
    message = str(error["msg"])
    return message.removeprefix("Value error, ")


def _valid_or(model: type[BaseModel], value: Any, default: Any) -> Any:
    try:
        return model.model_validate(value)
    except ValidationError:
        return default


def _partial_problems(data: dict[str, Any]) -> list[Problem]:
    """Cross-field problems among the parts of a plan that are valid on their own."""
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list):
        return []
    steps = [_valid_or(Step, raw, None) for raw in raw_steps]
    quota = _valid_or(Quota, data.get("quota", {}), Quota())
    window = _valid_or(SendingWindow, data["window"], None) if data.get("window") else None
    return step_problems(steps, quota, window)


def parse_plan(text: str, source: str = "<plan>") -> Plan:
    """A plan from YAML text, or :class:`PlanError` listing every problem found.

    Work is bounded: the text's length, its nesting and the number of values it expands to (YAML
    aliases can multiply a short file into billions) are checked before anything walks it."""
    if len(text) > MAX_PLAN_CHARS:
        raise PlanError([f"{source}:1: the plan is larger than {MAX_PLAN_CHARS:,} characters"])
    if flow_depth(text) > MAX_FLOW_DEPTH:
        raise PlanError([f"{source}:1: the YAML is nested too deeply"])
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise PlanError([f"{source}:1: the YAML is nested too deeply"]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise PlanError(
            [f"{source}:{line}: not valid YAML: {getattr(exc, 'problem', exc)}"]
        ) from None
    if root is None:
        raise PlanError([f"{source}:1: the file is empty"])
    if expanded_size(root, MAX_PLAN_VALUES) > MAX_PLAN_VALUES:
        raise PlanError(
            [
                f"{source}:1: the plan expands to more than {MAX_PLAN_VALUES:,} values "
                "(YAML aliases repeating each other?)"
            ]
        )
    lines: dict[PathKey, int] = {}
    dupes: list[tuple[PathKey, int]] = []
    _line_map(root, (), lines, dupes)
    found: list[tuple[int, str]] = [
        (line, f"{format_path(path)}: duplicate key") for path, line in dupes
    ]

    def report() -> PlanError:
        return PlanError(
            [f"{source}:{line}: {text}" for line, text in sorted(found, key=lambda f: f[0])]
        )

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # a tag no safe constructor knows (!!python/object...)
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        raise PlanError(
            [f"{source}:{line}: not a plain value: {getattr(exc, 'problem', exc)}"]
        ) from None
    if not isinstance(data, dict):
        raise PlanError([f"{source}:1: a plan must be a mapping of fields (name, steps, ...)"])
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            path = tuple(part for part in error["loc"] if part != "[key]")
            found.append(
                (_line_of(path, lines), f"{format_path(path)}: {_message(dict(error), path)}")
            )
        for path, message in _partial_problems(data):
            found.append((_line_of(path, lines), f"{format_path(path)}: {message}"))
        raise report() from None
    for path, message in semantic_problems(plan):
        found.append((_line_of(path, lines), f"{format_path(path)}: {message}"))
    if found:
        raise report()
    return plan


def load_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError([f"{path}: cannot read the plan: {exc}"]) from None
    return parse_plan(text, str(path))


def validate_files(paths: Iterable[Path]) -> dict[Path, list[str]]:
    """Every problem of every file (an empty list for a valid one)."""
    results: dict[Path, list[str]] = {}
    for path in paths:
        try:
            load_plan(path)
            results[path] = []
        except PlanError as exc:
            results[path] = exc.problems
    return results
