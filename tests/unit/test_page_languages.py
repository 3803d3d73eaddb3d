"""Which language a recipient's page is in: the list's declared ones, the browser's choice."""

from __future__ import annotations

import pytest

from warmup.api.page_language import preferred
from warmup.content.page_languages import PAGE_LANGUAGES, declared_languages, offered
from warmup.errors import ContentError


def test_declared_languages_are_normalised_kept_in_order_and_each_once() -> None:
    assert declared_languages(["FR", "de,fr", " es "]) == ("fr", "de", "es")
    assert declared_languages(["", ","]) == ()


def test_a_language_without_pages_is_refused_naming_the_choices() -> None:
    with pytest.raises(ContentError, match="language 'pt-BR': the pages come in en, fr, de, es"):
        declared_languages(["fr", "pt-BR"])


def test_a_list_that_declares_nothing_is_offered_every_language_english_first() -> None:
    assert offered(None) == offered([]) == PAGE_LANGUAGES
    assert offered(["de", "fr"]) == ("de", "fr")


@pytest.mark.parametrize(
    ("accept", "choices", "expected"),
    [
        ("fr-CA,fr;q=0.9", PAGE_LANGUAGES, "fr"),
        ("ja", PAGE_LANGUAGES, "en"),
        ("de;q=0.4, fr;q=0.8", ("de", "fr"), "fr"),
        ("en", ("de", "fr"), "de"),  # English not declared: the list's first language
        (None, ("es",), "es"),
        ("xx;q=abc, es", ("fr", "es"), "es"),  # a broken q-value is skipped, not fatal
    ],
)
def test_the_browser_chooses_among_the_offered_languages(
    accept: str | None, choices: tuple[str, ...], expected: str
) -> None:
    assert preferred(accept, choices) == expected
