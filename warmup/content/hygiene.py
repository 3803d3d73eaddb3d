"""Content checks bulk mail needs: a visible unsubscribe link, and a text part.

Mailbox providers' bulk-sender rules and many laws want an unsubscribe link people can see in
the body; the List-Unsubscribe header alone does not satisfy them all. A message with only an
HTML part scores worse with spam filters and cannot be read by text-only clients, so a text
part is derived from the HTML template when none is given.
"""

from __future__ import annotations

import re

from inscriptis import get_text
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig

from warmup.content.templates import MessageTemplate

# href="{{ unsubscribe_url }}" however it is quoted or spaced (filters such as |e included).
UNSUBSCRIBE_HREF = re.compile(r"""href\s*=\s*["']?\s*\{\{-?\s*unsubscribe_url\b""", re.IGNORECASE)
UNSUBSCRIBE_TEXT = re.compile(r"\{\{-?\s*unsubscribe_url\b")
# Links shown as "[text](url)", so the unsubscribe URL stays in the text part.
_TEXT = ParserConfig(css=CSS_PROFILES["strict"], display_links=True)


def text_from_html(html: str) -> str:
    """A plain-text template from an HTML template: Jinja2 tags are text to the converter, so
    placeholders such as ``{{ first_name }}`` and ``{{ unsubscribe_url }}`` survive."""
    text: str = get_text(html, _TEXT)
    return text.strip() + "\n"


def with_text_part(template: MessageTemplate) -> tuple[MessageTemplate, bool]:
    """The template with a text part (derived from its HTML if it had none), and whether one
    was derived."""
    if template.text is not None or template.html is None:
        return template, False
    return MessageTemplate(template.subject, template.html, text_from_html(template.html)), True


def content_warnings(template: MessageTemplate) -> list[str]:
    """What a bulk sender should fix before sending; none stops the campaign."""
    warnings: list[str] = []
    if template.html is not None and not UNSUBSCRIBE_HREF.search(template.html):
        warnings.append(
            "the HTML body has no link to {{ unsubscribe_url }}: mailbox providers' bulk rules "
            'and many laws want a visible one, e.g. <a href="{{ unsubscribe_url }}">Unsubscribe</a>'
        )
    if template.html is None and template.text and not UNSUBSCRIBE_TEXT.search(template.text):
        warnings.append(
            "the text body does not show {{ unsubscribe_url }}: add it, so readers can leave "
            "without finding the header"
        )
    return warnings
