"""The language of the pages a recipient sees (``/u/``): the best match for their browser's
``Accept-Language`` among those offered (the list's declared languages, else every language
warmup has text for), the first offered otherwise.

The text lives in gettext catalogues (``warmup/api/locales/LANG/LC_MESSAGES/unsubscribe.po``),
read with Babel once per language: translators edit the ``.po`` files, nothing is generated
into the repository.
"""

from __future__ import annotations

import gettext
from functools import cache
from importlib import resources
from io import BytesIO

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from warmup.content.page_languages import DEFAULT, PAGE_LANGUAGES

DOMAIN = "unsubscribe"


def preferred(accept_language: str | None, offered: tuple[str, ...] = PAGE_LANGUAGES) -> str:
    """The language to answer in, from an ``Accept-Language`` header (q-values honoured), among
    ``offered``; the first of them when the browser asks for none."""
    wanted: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        if tag and tag != "*" and quality > 0:
            wanted.append((-quality, position, tag.replace("-", "_")))
    ranked = [tag for _, _, tag in sorted(wanted)]
    chosen = Locale.negotiate(ranked, offered, sep="_")
    return str(chosen) if chosen else offered[0]


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The catalogue of ``language`` (English: the text as written)."""
    if language == DEFAULT or language not in PAGE_LANGUAGES:
        return gettext.NullTranslations()
    source = resources.files("warmup.api").joinpath(f"locales/{language}/LC_MESSAGES/{DOMAIN}.po")
    with source.open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)
