"""Content checks: a visible unsubscribe link, and a text part made from the HTML."""

from __future__ import annotations

from warmup.content.hygiene import content_warnings, text_from_html, with_text_part
from warmup.content.templates import CompiledTemplate, MessageTemplate

HTML = (
    "<html><head><style>p { color: red }</style></head><body><h1>Hello {{ first_name }}</h1>"
    "<p>Our <b>news</b> &amp; more.</p><ul><li>one</li><li>two</li></ul>"
    '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>'
)


def test_a_text_part_is_made_from_the_html_with_its_placeholders() -> None:
    template, made = with_text_part(MessageTemplate("Hi", HTML))
    assert made
    assert template.text == (
        "Hello {{ first_name }}\n\nOur news & more.\n\n  * one\n  * two\n\n"
        "[Unsubscribe]({{ unsubscribe_url }})\n"
    )
    rendered = CompiledTemplate(template).render(
        {"first_name": "Ada", "unsubscribe_url": "https://x.example/u/abc"}
    )
    assert rendered.text is not None
    assert "Hello Ada" in rendered.text
    assert "[Unsubscribe](https://x.example/u/abc)" in rendered.text
    assert "color: red" not in rendered.text  # no style sheet in the text


def test_a_given_text_part_is_kept() -> None:
    given = MessageTemplate("Hi", HTML, "my own text {{ unsubscribe_url }}")
    assert with_text_part(given) == (given, False)
    assert with_text_part(MessageTemplate("Hi", None, "text")) == (
        MessageTemplate("Hi", None, "text"),
        False,
    )


def test_a_missing_visible_unsubscribe_link_is_warned_about() -> None:
    assert content_warnings(MessageTemplate("Hi", HTML)) == []
    single = HTML.replace('"{{ unsubscribe_url }}"', "'{{unsubscribe_url|e}}'")
    assert content_warnings(MessageTemplate("Hi", single)) == []
    # Mentioned, but not as a link: still not a visible way out.
    bare = "<p>Leave: {{ unsubscribe_url }}</p>"
    (warning,) = content_warnings(MessageTemplate("Hi", bare))
    assert warning.startswith("the HTML body has no link to {{ unsubscribe_url }}")
    (text_warning,) = content_warnings(MessageTemplate("Hi", None, "Hello"))
    assert "text body does not show {{ unsubscribe_url }}" in text_warning
    assert content_warnings(MessageTemplate("Hi", None, "bye: {{ unsubscribe_url }}")) == []


def test_html_converts_whatever_it_is() -> None:
    for html in ("", "<", "<<<>>>", "<a href=", "\x00", "<p>" * 2000, "{% for x in y %}<p>"):
        assert isinstance(text_from_html(html), str)
