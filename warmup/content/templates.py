"""Campaign templates: subject, HTML and text, rendered in Jinja2's sandbox, with bounded work.

Marketing writes templates, so they are untrusted: the sandbox refuses attribute tricks such as
``{{ ''.__class__.__mro__ }}``; HTML output is autoescaped so a recipient's field cannot inject
markup; an unknown variable is an error, never an empty string; the subject is one line (a
newline there would inject mail headers). ``email`` and ``unsubscribe_url`` are always there.

Work is bounded too, cheaply enough for the send path, where it runs (a worker's or the API's
own thread: no C call a template can reach allocates much before it is checked):

- **output**: rendering streams and stops past :data:`MAX_OUTPUT_CHARS`;
- **every string a template makes**: ``~`` (compiled to a checked join), ``+``, ``*``, ``%``,
  the filters that grow text (``center``, ``indent``, ``format``, ``replace``, ``join``,
  ``wordwrap``...) and the same methods of strings (``'x'.center(n)``, ``.ljust``, ``.zfill``,
  ``.format``...) have their result's size estimated *before* it is made: one past
  :data:`MAX_OUTPUT_CHARS`, or a message's total past :data:`MAX_WORK_CHARS`, fails the render
  with a clear reason, whatever branch of the template it is in (a bomb behind
  ``{% if first_name == 'Bob' %}`` fails Bob's row alone, at send time or in his preview);
  format widths over :data:`MAX_WIDTH` are refused;
- **sizes**: ``range`` yields at most :data:`MAX_RANGE` numbers; ``**`` takes exponents up to 100;
- **time**: each render has a deadline, checked by ``range``, by every output chunk, and by
  iteration over a recipient's fields.

What those checks cannot see (loops over a literal list nested many times) is caught when a
template is checked, on creation and preview: :meth:`CompiledTemplate.check` renders it with long
sample values in a thread of its own, and stops that thread when its time is up.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.compiler import CodeGenerator, Frame
from jinja2.filters import FILTERS
from jinja2.nodes import Concat
from jinja2.sandbox import SandboxedEnvironment

from warmup.errors import ContentError

BUILTIN_FIELDS = frozenset({"email", "unsubscribe_url"})
MAX_OUTPUT_CHARS = 2_000_000  # per part; ACS refuses requests over 10 MB in any case
MAX_RANGE = 10_000
MAX_WORK_CHARS = 10 * MAX_OUTPUT_CHARS  # every string one message's render makes, all told
MAX_WIDTH = 10_000  # a format width or precision, a center/indent/ljust width
RENDER_SECONDS = 2.0  # one message's parts, on the send path
CHECK_SECONDS = 5.0  # a template checked on creation or preview
SAMPLE_CHARS = 256  # a long field, so that loops over fields show their cost when checked

T = TypeVar("T")


class TemplateTimeout(Exception):
    """Raised inside a render whose time is up."""


class _Deadline(threading.local):
    """The render under way in this thread: its deadline and the characters it has made."""

    at: float = float("inf")
    spent: int = 0

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TemplateTimeout

    def spend(self, chars: int, what: str) -> None:
        """Count a string about to be made; refuse it, before it exists, past the limits."""
        if chars > MAX_OUTPUT_CHARS:
            raise ContentError(
                f"{what} would make {chars:,} characters (at most {MAX_OUTPUT_CHARS:,})"
            )
        self.spent += chars
        if self.spent > MAX_WORK_CHARS:
            raise ContentError(
                f"the template makes more than {MAX_WORK_CHARS:,} characters of text for one "
                "message"
            )


_deadline = _Deadline()


def _estimate(value: Any, depth: int = 0) -> int:
    """About how many characters ``value`` becomes as text, stopping early once past the
    limit (a list of big strings is not walked to its end to learn that it is big)."""
    if isinstance(value, str | bytes):
        return len(value)
    if isinstance(value, int | float | bool) or value is None or depth > 8:
        return 32
    if isinstance(value, Mapping):
        items: Any = [*value.keys(), *value.values()]
    elif isinstance(value, list | tuple | set | frozenset):
        items = value
    else:
        return 64
    total = 2
    for item in items:
        total += _estimate(item, depth + 1) + 2
        if total > MAX_OUTPUT_CHARS:
            break
    return total


def _joined_size(items: list[Any], separator: Any) -> int:
    """The size of ``separator.join(items)`` (the join filter's and the str method's)."""
    return sum(_estimate(item) for item in items) + _estimate(separator) * len(items)


_WIDTHS = re.compile(r"\d+")


def _check_format(spec: Any, what: str) -> None:
    """Refuse a format string that asks for an absurd width or precision ('%0999999999d')."""
    if isinstance(spec, str) and any(
        len(number) > 5 or int(number) > MAX_WIDTH for number in _WIDTHS.findall(spec)
    ):
        raise ContentError(f"{what}: a width or precision over {MAX_WIDTH:,}")


def _width(value: Any, default: int = 0) -> int:
    return value if isinstance(value, int) else len(str(value)) if value is not None else default


def _grown(method: str, text: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """The size of ``text.<method>(*args)`` (or of its filter), before it is made."""
    first = args[0] if args else None
    if method in {"center", "ljust", "rjust", "zfill"}:
        width = _width(first if first is not None else kwargs.get("width"), 80)
        if width > MAX_WIDTH:
            raise ContentError(f"{method}() to a width of {width:,}; at most {MAX_WIDTH:,}")
        return max(len(text), width)
    if method == "indent":
        width = _width(first if first is not None else kwargs.get("width"), 4)
        if width > MAX_WIDTH:
            raise ContentError(f"indent by {width:,}; at most {MAX_WIDTH:,}")
        return len(text) + width * (text.count("\n") + 1)
    if method == "expandtabs":
        tab = _width(first if first is not None else kwargs.get("tabsize"), 8)
        return len(text) + max(tab, 0) * text.count("\t")
    if method == "replace" and len(args) >= 2:
        old, new = str(args[0]), str(args[1])
        count = args[2] if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0 else None
        found = len(text) + 1 if not old else text.count(old)
        found = found if count is None else min(found, count)
        return len(text) + found * max(0, len(new) - len(old))
    if method in {"format", "format_map"}:
        _check_format(text, "format")
        return (
            len(text) + sum(_estimate(a) for a in args) + sum(_estimate(v) for v in kwargs.values())
        )
    if method == "wordwrap":
        return 2 * len(text) + 2
    return len(text)


# Filters whose result grows with their arguments: estimated as the str methods of that name.
_GROWING_FILTERS = ("center", "indent", "wordwrap", "format", "replace", "join")


def _bounded_filter(name: str, original: Callable[..., Any]) -> Callable[..., Any]:
    # Jinja passes a filter marked pass_eval_context or pass_environment that first:
    # functools.wraps keeps the mark, and the value is the argument after it.
    passes = getattr(original, "jinja_pass_arg", None) is not None

    @functools.wraps(original)
    def bounded(*args: Any, **kwargs: Any) -> Any:
        value, extra = args[1 if passes else 0], args[2 if passes else 1 :]
        if name == "join":
            items = list(value)  # a join walks its items anyway; range() is bounded
            separator = extra[0] if extra else kwargs.get("d", "")
            size = _joined_size(items, separator)
            _deadline.spend(size, "the join filter")
            args = (*args[: 1 if passes else 0], items, *extra)
        elif name == "format":
            _check_format(value, "the format filter")
            _deadline.spend(_grown("format", str(value), extra, kwargs), "the format filter")
        else:
            text = value if isinstance(value, str) else str(value)
            _deadline.spend(_grown(name, text, extra, kwargs), f"the {name} filter")
        return original(*args, **kwargs)

    return bounded


class _BoundedCodeGenerator(CodeGenerator):
    """``a ~ b`` made by :meth:`_BoundedEnvironment.bounded_join`, which counts it first."""

    def visit_Concat(self, node: Concat, frame: Frame) -> None:
        if frame.eval_ctx.volatile:
            join = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            join = "markup_join"
        else:
            join = "str_join"
        self.write(f"environment.bounded_join({join}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


class _Field(str):
    """A recipient's value: iterating over it checks the render's deadline."""

    __slots__ = ()

    def __iter__(self) -> Iterator[str]:
        for index, char in enumerate(str.__iter__(self)):
            if index % 64 == 0:
                _deadline.check()
            yield char


def _bounded_range(*args: int) -> Iterator[int]:
    numbers = range(*args)
    if len(numbers) > MAX_RANGE:
        raise ContentError(f"range() of {len(numbers):,} numbers; at most {MAX_RANGE:,}")
    for index, number in enumerate(numbers):
        if index % 64 == 0:
            _deadline.check()
        yield number


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | bytes | list | tuple) else 1


class _BoundedEnvironment(SandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _BoundedCodeGenerator

    def bounded_join(self, join: Callable[[Any], Any], parts: tuple[Any, ...]) -> Any:
        _deadline.spend(sum(_estimate(part) for part in parts), "a ~ concatenation")
        return join(parts)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        # The sandbox hands str.format out wrapped (its own checks): the method is __wrapped__.
        method = getattr(__obj, "__wrapped__", __obj)
        owner = getattr(method, "__self__", None)
        if isinstance(owner, str):  # 'x'.center(10**10), '{:>999999999}'.format(1)...
            name = getattr(method, "__name__", "")
            if name == "join" and args:
                items = list(args[0])
                size = _joined_size(items, owner)
                _deadline.spend(size, "str.join")
                args = (items, *args[1:])
            else:
                _deadline.spend(_grown(name, owner, args, kwargs), f"str.{name}()")
        return super().call(__context, __obj, *args, **kwargs)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise ContentError("an exponent over 100 in a template")
            return left**right
        if operator == "%":
            if isinstance(left, str):
                _check_format(left, "a % format")
                _deadline.spend(len(left) + _estimate(right), "a % format")
            return left % right
        if operator == "+":
            if not (isinstance(left, int | float) and isinstance(right, int | float)):
                _deadline.spend(_estimate(left) + _estimate(right), "a + of texts or lists")
            return left + right
        # operator == "*": a sequence times a count must stay within the output limit
        for sequence, count in ((left, right), (right, left)):
            numeric = isinstance(sequence, int | float)
            if isinstance(count, int) and not numeric:
                _deadline.spend(_size(sequence) * count, "a repetition")
        return left * right


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _BoundedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals["range"] = _bounded_range
    for name in _GROWING_FILTERS:
        env.filters[name] = _bounded_filter(name, FILTERS[name])
    return env


@dataclass(frozen=True)
class MessageTemplate:
    subject: str
    html: str | None = None
    text: str | None = None


@dataclass(frozen=True)
class Rendered:
    subject: str
    html: str | None
    text: str | None

    @property
    def size_bytes(self) -> int:
        return sum(len(part.encode()) for part in (self.subject, self.html, self.text) if part)


def _stream(template: Template, context: Mapping[str, object]) -> str:
    chunks: list[str] = []
    size = 0
    for chunk in template.generate(context):
        size += len(chunk)
        if size > MAX_OUTPUT_CHARS:
            raise ContentError(f"renders to more than {MAX_OUTPUT_CHARS:,} characters")
        _deadline.check()
        chunks.append(chunk)
    return "".join(chunks)


def _stop(thread: threading.Thread) -> None:
    """Raise :class:`TemplateTimeout` inside ``thread`` at its next Python instruction."""
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(TemplateTimeout)
        )


def within(seconds: float, work: Callable[[], T]) -> T:
    """``work()`` in a thread of its own, stopped once ``seconds`` have passed: a hard bound,
    also for loops that no cooperative check sees."""
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = work()
        except BaseException as exc:  # handed to the caller below, TemplateTimeout included
            outcome["error"] = exc

    thread = threading.Thread(target=run, name="template-check", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        _stop(thread)
        thread.join(1.0)
        raise ContentError(f"the template takes more than {seconds:g} s to render")
    error = outcome.get("error")
    if isinstance(error, TemplateTimeout):
        raise ContentError(f"the template takes more than {seconds:g} s to render")
    if error is not None:
        raise error
    return outcome["value"]  # type: ignore[no-any-return]


class CompiledTemplate:
    def __init__(self, source: MessageTemplate) -> None:
        if not source.subject.strip():
            raise ContentError("the subject is empty")
        if not (source.html or source.text):
            raise ContentError("a message needs an HTML or a text body")
        self.source = source
        plain, html = _environment(False), _environment(True)
        self._parts: dict[str, Template | None] = {}
        fields: set[str] = set()
        for part, text, env in (
            ("subject", source.subject, plain),
            ("html", source.html, html),
            ("text", source.text, plain),
        ):
            if text is None:
                self._parts[part] = None
                continue
            try:
                fields |= meta.find_undeclared_variables(env.parse(text))
                template = env.from_string(text)
                # Its globals are a ChainMap over the environment's, which Jinja copies into a
                # new dict for every render by walking the chain: a third of rendering a
                # message. The environment is this template's own and never changes, so a
                # plain copy taken once is the same namespace.
                template.globals = dict(template.globals)
                self._parts[part] = template
            except TemplateError as exc:
                line = getattr(exc, "lineno", None)
                where = f" line {line}" if line else ""
                raise ContentError(f"{part} template{where}: {exc.message or exc}") from None
            except RecursionError:
                raise ContentError(f"{part} template: nested too deeply") from None
        self.fields = frozenset(fields - BUILTIN_FIELDS)

    def render(self, context: Mapping[str, object], seconds: float = RENDER_SECONDS) -> Rendered:
        """The message for one recipient, within ``seconds`` (checked cooperatively)."""
        values: dict[str, str | None] = {}
        bounded = {k: _Field(v) if isinstance(v, str) else v for k, v in context.items()}
        previous, spent = _deadline.at, _deadline.spent
        _deadline.at, _deadline.spent = time.monotonic() + seconds, 0
        try:
            for part, template in self._parts.items():
                if template is None:
                    values[part] = None
                    continue
                try:
                    values[part] = _stream(template, bounded)
                except TemplateError as exc:  # SecurityError, UndefinedError are TemplateErrors
                    raise ContentError(f"{part} template: {exc.message or exc}") from None
                except TemplateTimeout:
                    raise ContentError(
                        f"{part} template: takes more than {seconds:g} s to render"
                    ) from None
                except (RecursionError, OverflowError, MemoryError) as exc:
                    raise ContentError(f"{part} template: {type(exc).__name__}") from None
        finally:
            _deadline.at, _deadline.spent = previous, spent
        subject = " ".join((values["subject"] or "").split())
        return Rendered(subject=subject, html=values["html"], text=values["text"])

    def sample_context(self) -> dict[str, object]:
        sample = "sample " * (SAMPLE_CHARS // 7)
        return {
            **{name: sample for name in self.fields},
            "email": "someone@example.org",
            "unsubscribe_url": "https://example.org/u/x",
        }

    def check(self, list_fields: frozenset[str] | set[str]) -> None:
        """Refuse fields the list lacks, and unsafe or runaway templates, before anything is
        sent: a render with long sample values must finish within :data:`CHECK_SECONDS`."""
        unknown = sorted(self.fields - set(list_fields))
        if unknown:
            raise ContentError(
                f"the template uses {', '.join(unknown)}, which the list does not have "
                f"(its fields: {', '.join(sorted(list_fields)) or 'none'})"
            )
        self.checked_render(self.sample_context())

    def checked_render(self, context: Mapping[str, object]) -> Rendered:
        """A render with the hard bound: for previews and checks that people trigger."""
        return within(CHECK_SECONDS, lambda: self.render(context, seconds=CHECK_SECONDS))
