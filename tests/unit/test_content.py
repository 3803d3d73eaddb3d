"""Templates in the sandbox, and signed one-click unsubscribe."""

import base64
import hashlib
import hmac

import pytest
from pydantic import SecretStr

from warmup.campaigns.compose import unsubscriber_from
from warmup.campaigns.model import CampaignStatus, next_status
from warmup.content.templates import CompiledTemplate, MessageTemplate
from warmup.content.unsubscribe import InvalidToken, Unsubscriber
from warmup.errors import ConfigError, ContentError, TransitionError
from warmup.settings import Settings

CONTEXT = {"first_name": "Ada", "email": "ada@example.org", "unsubscribe_url": "https://x/u/t"}


def compiled(
    subject: str = "Hi {{ first_name }}",
    html: str | None = "<p>{{ first_name }}</p>",
    text: str | None = "Hello {{ first_name }}",
) -> CompiledTemplate:
    return CompiledTemplate(MessageTemplate(subject, html, text))


def test_renders_fields_and_knows_which_it_uses() -> None:
    template = compiled(text="Hello {{ first_name }} ({{ email }}) {{ unsubscribe_url }}")
    assert template.fields == {"first_name"}
    rendered = template.render(CONTEXT)
    assert rendered.subject == "Hi Ada"
    assert rendered.text == "Hello Ada (ada@example.org) https://x/u/t"


def test_html_is_autoescaped_and_text_is_not() -> None:
    rendered = compiled().render({**CONTEXT, "first_name": "<script>alert(1)</script>"})
    assert rendered.html == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>"
    assert rendered.text == "Hello <script>alert(1)</script>"


def test_a_newline_in_the_subject_cannot_inject_headers() -> None:
    rendered = compiled().render({**CONTEXT, "first_name": "Ada\r\nBcc: victim@example.org"})
    assert "\n" not in rendered.subject
    assert "\r" not in rendered.subject


@pytest.mark.parametrize(
    "attack",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ self._TemplateReference__context }}",
        "{{ first_name.__class__.__base__.__subclasses__() }}",
    ],
)
def test_template_injection_does_not_execute(attack: str) -> None:
    template = compiled(text=attack)
    with pytest.raises(ContentError):
        template.check({"first_name"})


def test_the_templates_own_globals_hold_in_every_part() -> None:
    """range() is the bounded one in each part (the parts' globals are copied at compile)."""
    template = CompiledTemplate(
        MessageTemplate(
            "{{ range(3) | join(',') }}",
            "<p>{% for i in range(2) %}{{ i }}{% endfor %}</p>",
            "{{ range(20000) | list | length }}",
        )
    )
    with pytest.raises(ContentError, match=r"range\(\) of 20,000 numbers; at most 10,000"):
        template.render({})
    ok = CompiledTemplate(MessageTemplate("{{ range(3) | join(',') }}", None, "x"))
    assert ok.render({}).subject == "0,1,2"


def test_unknown_fields_are_refused_before_sending() -> None:
    with pytest.raises(ContentError, match="uses first_name, which the list does not have"):
        compiled().check({"city"})


def test_a_missing_value_is_an_error_not_an_empty_string() -> None:
    with pytest.raises(ContentError, match="first_name"):
        compiled().render({"email": "a@b.org", "unsubscribe_url": "u"})


def test_syntax_errors_name_the_part_and_line() -> None:
    with pytest.raises(ContentError, match="html template line 2"):
        compiled(html="<p>\n{{ first_name </p>")


def test_a_message_needs_a_subject_and_a_body() -> None:
    with pytest.raises(ContentError, match="subject is empty"):
        compiled(subject=" ")
    with pytest.raises(ContentError, match="HTML or a text body"):
        compiled(html=None, text=None)


UNSUB = Unsubscriber(
    secret=b"0123456789abcdef", public_url="https://mail.example.com/", mailto="unsub@example.com"
)


def test_token_round_trip_and_url() -> None:
    token = UNSUB.token(42, "ada@example.org")
    assert UNSUB.verify(token) == (42, "ada@example.org")
    assert UNSUB.url(42, "ada@example.org") == f"https://mail.example.com/u/{token}"


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + "xx",
        lambda t: "x" + t,
        lambda t: t[::-1],
        lambda t: t + ".x",
        lambda t: "",
    ],
)
def test_forged_tokens_are_refused(mangle) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidToken):
        UNSUB.verify(mangle(UNSUB.token(42, "ada@example.org")))


def test_each_token_has_exactly_one_spelling() -> None:
    token = UNSUB.token(42, "ada@example.org")
    for i in range(len(token)):
        for other in "AB_-":
            variant = token[:i] + other + token[i + 1 :]
            if variant != token:
                with pytest.raises(InvalidToken):
                    UNSUB.verify(variant)


def test_a_token_does_not_show_the_address_and_is_one_per_message() -> None:
    token = UNSUB.token(42, "ada@example.org")
    assert token == UNSUB.token(42, "ada@example.org")  # the body's link is the header's
    assert token != UNSUB.token(43, "ada@example.org")
    readable = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    assert b"ada" not in readable
    assert "ada" not in token


def test_tokens_of_the_earlier_signed_form_in_mail_already_sent_still_work() -> None:
    payload = b"42:ada@example.org"
    signature = hmac.new(b"0123456789abcdef", payload, hashlib.sha256).digest()[:20]
    earlier = ".".join(
        base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (payload, signature)
    )
    assert UNSUB.verify(earlier) == (42, "ada@example.org")


def test_another_secret_does_not_verify() -> None:
    other = Unsubscriber(secret=b"another-secret!!", public_url="https://x")
    with pytest.raises(InvalidToken):
        other.verify(UNSUB.token(1, "a@b.org"))


def test_a_rotated_secret_signs_anew_and_still_accepts_links_of_the_one_it_replaces() -> None:
    rotated = Unsubscriber(
        secret=b"the-new-secret-0123", public_url="https://x", earlier=(UNSUB.secret,)
    )
    old_link = UNSUB.token(42, "ada@example.org")
    assert rotated.verify(old_link) == (42, "ada@example.org")
    new_link = rotated.token(42, "ada@example.org")
    assert new_link != old_link  # made with the new secret
    with pytest.raises(InvalidToken):
        UNSUB.verify(new_link)
    # Once the old secret is dropped, its links stop working; a forgery never did.
    with pytest.raises(InvalidToken):
        Unsubscriber(secret=rotated.secret, public_url="https://x").verify(old_link)
    with pytest.raises(InvalidToken):
        rotated.verify(old_link[:-2] + "xx")


def test_the_setting_lists_the_signing_secret_first_then_the_earlier_ones() -> None:
    settings = Settings(unsubscribe_secret=SecretStr("new-secret-0123456, old-secret-0123456"))
    links = unsubscriber_from(settings)
    assert (links.secret, links.earlier) == (b"new-secret-0123456", (b"old-secret-0123456",))
    with pytest.raises(ConfigError, match="WARMUP_UNSUBSCRIBE_SECRET is required"):
        unsubscriber_from(Settings(unsubscribe_secret=SecretStr(" , ")))


def test_one_click_headers_as_gmail_and_yahoo_require() -> None:
    headers = UNSUB.headers(7, "ada@example.org")
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    https, mailto = headers["List-Unsubscribe"].split(", ")
    assert https.startswith("<https://mail.example.com/u/")
    assert mailto.startswith("<mailto:unsub@example.com?subject=unsubscribe%20")


def test_campaign_status_rules() -> None:
    assert next_status(CampaignStatus.DRAFT, "start", "c") is CampaignStatus.STARTING
    assert next_status(CampaignStatus.STARTING, "filled", "c") is CampaignStatus.RUNNING
    assert next_status(CampaignStatus.STARTING, "cancel", "c") is CampaignStatus.CANCELLED
    with pytest.raises(TransitionError, match="campaign c is starting; pause needs it running"):
        next_status(CampaignStatus.STARTING, "pause", "c")
    assert next_status(CampaignStatus.RUNNING, "pause", "c") is CampaignStatus.PAUSED
    assert next_status(CampaignStatus.PAUSED, "resume", "c") is CampaignStatus.RUNNING
    assert next_status(CampaignStatus.PAUSED, "cancel", "c") is CampaignStatus.CANCELLED
    with pytest.raises(TransitionError, match="campaign c is completed; pause needs it running"):
        next_status(CampaignStatus.COMPLETED, "pause", "c")
