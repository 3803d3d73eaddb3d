"""The languages warmup's recipient-facing pages (``/u/``) come in, and a list's choice of them.

A list may declare the languages its recipients read (``lists import --language fr``): its
pages are then offered in those only, the first being the fallback when a browser asks for
none of them. A list that declares none gets every language warmup has text for, English
first. The text itself lives in the API's gettext catalogues.
"""

from __future__ import annotations

from collections.abc import Iterable

from warmup.errors import ContentError

DEFAULT = "en"
# English is the text in the code itself; each other one has a catalogue.
PAGE_LANGUAGES = ("en", "fr", "de", "es")
MAX_DECLARED = len(PAGE_LANGUAGES)


def declared_languages(codes: Iterable[str]) -> tuple[str, ...]:
    """``codes`` as a list declares them: lower case, in the order given, each once, each one
    warmup has pages in (else a ContentError naming it and the choices)."""
    chosen: list[str] = []
    for raw in codes:
        for part in raw.split(","):
            code = part.strip().lower().replace("_", "-")
            if not code:
                continue
            if code not in PAGE_LANGUAGES:
                raise ContentError(
                    f"language {part.strip()!r}: the pages come in {', '.join(PAGE_LANGUAGES)}"
                )
            if code not in chosen:
                chosen.append(code)
    return tuple(chosen)


def offered(declared: Iterable[str] | None) -> tuple[str, ...]:
    """The languages a page may be in for a list that declared ``declared`` (none: all)."""
    kept = tuple(code for code in (declared or ()) if code in PAGE_LANGUAGES)
    return kept or PAGE_LANGUAGES
