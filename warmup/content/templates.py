"""Campaign templates: subject, HTML and text, rendered in Jinja2's sandbox, with bounded work.

Marketing writes templates, so they are untrusted: the sandbox refuses attribute tricks such as
``{{ ''.__class__.__mro__ }}``; HTML output is autoescaped so a recipient's field cannot inject
markup; an unknown variable is an error, never an empty string; the subject is one line (a
newline there would inject mail headers). ``email`` and ``unsubscribe_url`` are always there.

Work is bounded too, cheaply enough for the send path:

- **output**: rendering streams and stops past :data:`MAX_OUTPUT_CHARS`;
- **sizes**: ``range`` yields at most :data:`MAX_RANGE` numbers; ``*`` and ``**`` refuse a result
  past the output limit before computing it;
- **time**: each render has a deadline, checked by ``range``, by every output chunk, and by
  iteration over a recipient's fields.

What those checks cannot see (loops over a literal list nested many times) is caught when a
template is checked, on creation and preview: :meth:`CompiledTemplate.check` renders it with long
sample values in a thread of its own, and stops that thread when its time is up.
"""

from __future__ import annotations

import ctypes
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from warmup.errors import ContentError

BUILTIN_FIELDS = frozenset({"email", "unsubscribe_url"})
MAX_OUTPUT_CHARS = 2_000_000  # per part; ACS refuses requests over 10 MB in any case
MAX_RANGE = 10_000
RENDER_SECONDS = 2.0  # one message's parts, on the send path
CHECK_SECONDS = 5.0  # a template checked on creation or preview
SAMPLE_CHARS = 256  # a long field, so that loops over fields show their cost when checked

T = TypeVar("T")


class TemplateTimeout(Exception):
    """Raised inside a render whose time is up."""


class _Deadline(threading.local):
    at: float = float("inf")

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise TemplateTimeout


_deadline = _Deadline()


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
    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**":
            if isinstance(right, int | float) and abs(right) > 100:
                raise ContentError("an exponent over 100 in a template")
            return left**right
        # operator == "*": a sequence times a count must stay within the output limit
        for sequence, count in ((left, right), (right, left)):
            numeric = isinstance(sequence, int | float)
            if (
                isinstance(count, int)
                and not numeric
                and _size(sequence) * count > MAX_OUTPUT_CHARS
            ):
                raise ContentError(
                    f"a repetition of {_size(sequence) * count:,} characters in a template"
                )
        return left * right


def _environment(autoescape: bool) -> SandboxedEnvironment:
    env = _BoundedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )
    env.globals["range"] = _bounded_range
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
        previous = _deadline.at
        _deadline.at = time.monotonic() + seconds
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
            _deadline.at = previous
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
