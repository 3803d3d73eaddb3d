"""Campaign templates: subject, HTML and text, rendered in Jinja2's sandbox.

Marketing writes templates, so they are untrusted: the sandbox refuses attribute tricks such as
``{{ ''.__class__.__mro__ }}``; HTML output is autoescaped so a recipient's field cannot inject
markup; an unknown variable is an error, never an empty string; the subject is one line (a
newline there would inject mail headers). ``email`` and ``unsubscribe_url`` are always there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from jinja2 import StrictUndefined, Template, TemplateError, meta
from jinja2.sandbox import SandboxedEnvironment

from warmup.errors import ContentError

BUILTIN_FIELDS = frozenset({"email", "unsubscribe_url"})


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


def _environment(autoescape: bool) -> SandboxedEnvironment:
    return SandboxedEnvironment(
        autoescape=autoescape, undefined=StrictUndefined, keep_trailing_newline=True
    )


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
                self._parts[part] = env.from_string(text)
            except TemplateError as exc:
                line = getattr(exc, "lineno", None)
                where = f" line {line}" if line else ""
                raise ContentError(f"{part} template{where}: {exc.message or exc}") from None
        self.fields = frozenset(fields - BUILTIN_FIELDS)

    def render(self, context: Mapping[str, object]) -> Rendered:
        values: dict[str, str | None] = {}
        for part, template in self._parts.items():
            if template is None:
                values[part] = None
                continue
            try:
                values[part] = template.render(context)
            except TemplateError as exc:  # SecurityError and UndefinedError are TemplateErrors
                raise ContentError(f"{part} template: {exc.message or exc}") from None
        subject = " ".join((values["subject"] or "").split())
        return Rendered(subject=subject, html=values["html"], text=values["text"])

    def check(self, list_fields: frozenset[str] | set[str]) -> None:
        """Refuse fields the list lacks, and unsafe templates, before anything is sent."""
        unknown = sorted(self.fields - set(list_fields))
        if unknown:
            raise ContentError(
                f"the template uses {', '.join(unknown)}, which the list does not have "
                f"(its fields: {', '.join(sorted(list_fields)) or 'none'})"
            )
        sample = {name: "sample" for name in self.fields}
        self.render(
            {**sample, "email": "someone@example.org", "unsubscribe_url": "https://example.org/u/x"}
        )
