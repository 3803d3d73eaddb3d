"""ACS request ↔ RFC 5322 message: what SMTP sends, and what a relayed message becomes."""

from __future__ import annotations

import base64
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default

from warmup.feedback.reports import parse_report
from warmup.sending.message import build_message
from warmup.sending.mime import (
    envelope_recipients,
    from_mime,
    internet_message_id,
    message_key_of,
    smtp_message_key,
    to_mime,
)

OPERATION = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_the_message_id_names_the_row_and_survives_a_long_domain() -> None:
    sender = "news@" + "very-long-subdomain." * 10 + "example.com"
    internet_id = internet_message_id(OPERATION, sender)
    assert internet_id.startswith(f"<warmup.{OPERATION}@very-long")
    assert message_key_of(internet_id) == smtp_message_key(OPERATION)
    assert len(smtp_message_key(OPERATION)) <= 100  # the ledger's message_id column
    assert message_key_of("<CAF=abc@mail.gmail.com>") is None
    assert message_key_of(None) is None


def test_a_report_without_our_message_id_keeps_acs_id() -> None:
    report = parse_report(
        {
            "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
            "data": {
                "messageId": "acs-id",
                "internetMessageId": "<acs-made@azurecomm.net>",
                "recipient": "a@example.org",
                "status": "Delivered",
            },
        }
    )
    assert report.message_id == "acs-id"


def test_text_html_reply_to_headers_and_cc_become_one_mime_message() -> None:
    message = build_message(
        sender="news@mail.example.com",
        to=["a@example.org"],
        subject="Ünïcode subject",
        plain_text="hello",
        html="<p>hello</p>",
        headers={"List-Unsubscribe": "<https://u.example/x>"},
        reply_to="help@example.com",
    )
    message["recipients"]["cc"] = [{"address": "c@example.org"}]
    message["recipients"]["bcc"] = [{"address": "b@example.org"}]
    mime = to_mime(message, internet_message_id(OPERATION, "news@mail.example.com"))
    parsed = BytesParser(policy=default).parsebytes(mime.as_bytes())
    assert parsed["Subject"] == "Ünïcode subject"
    assert parsed["To"] == "a@example.org"
    assert parsed["Cc"] == "c@example.org"
    assert parsed["Bcc"] is None  # only in the envelope
    assert parsed["Reply-To"] == "help@example.com"
    assert parsed["List-Unsubscribe"] == "<https://u.example/x>"
    assert parsed.get_body(("plain",)).get_content().strip() == "hello"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>hello</p>"
    assert envelope_recipients(message) == ["a@example.org", "c@example.org", "b@example.org"]


def test_a_relayed_scan_keeps_its_attachment_and_goes_to_one_recipient() -> None:
    scan = EmailMessage()
    scan["From"] = "Scanner 3F <scan@mail.example.com>"
    scan["To"] = "a@example.org, b@example.org"
    scan["Subject"] = "Scan 42"
    scan["Reply-To"] = "it@example.com"
    scan.set_content("Your scan is attached.")
    scan.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="s.pdf")
    message = from_mime(scan.as_bytes(), sender="scan@mail.example.com", to="b@example.org")
    assert message["senderAddress"] == "scan@mail.example.com"
    assert message["recipients"] == {"to": [{"address": "b@example.org"}]}
    assert message["content"]["subject"] == "Scan 42"
    assert message["content"]["plainText"].strip() == "Your scan is attached."
    assert message["replyTo"] == [{"address": "it@example.com"}]
    [attachment] = message["attachments"]
    assert attachment["name"] == "s.pdf"
    assert attachment["contentType"] == "application/pdf"
    assert base64.b64decode(attachment["contentInBase64"]) == b"%PDF-1.4 fake"
    # And back, for a domain that sends over SMTP: the attachment travels.
    again = BytesParser(policy=default).parsebytes(to_mime(message, "<m@x>").as_bytes())
    [part] = list(again.iter_attachments())
    assert part.get_filename() == "s.pdf"
    assert part.get_content() == b"%PDF-1.4 fake"


def test_an_html_only_message_without_subject_is_still_sendable() -> None:
    raw = b"From: app@mail.example.com\r\nContent-Type: text/html\r\n\r\n<b>hi</b>\r\n"
    message = from_mime(raw, sender="app@mail.example.com", to="a@example.org")
    assert message["content"]["subject"] == "(no subject)"
    assert message["content"]["html"].strip() == "<b>hi</b>"
    assert "plainText" not in message["content"]
