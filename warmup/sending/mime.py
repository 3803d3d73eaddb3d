"""An ACS message dict (what ``begin_send`` takes) as an RFC 5322 message, for SMTP.

Each message carries a ``Message-ID`` made from its ledger row's Operation-Id, so a retry of
the same row carries the same one, and ACS's delivery reports (``internetMessageId``) lead back
to the row: the row's message id is ``smtp:{operation id}`` (whatever the domain's length), and
a report whose ``internetMessageId`` is ours is matched on that key.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

_OURS = re.compile(r"^<warmup\.(?P<operation>[0-9A-Za-z-]{1,64})@[^<>\s@]+>$")
SMTP_KEY_PREFIX = "smtp:"


def internet_message_id(operation_id: str, sender: str) -> str:
    """``<warmup.{operation id}@{sender's domain}>``: unique per row, stable across retries."""
    return f"<warmup.{operation_id}@{sender.rpartition('@')[2].lower()}>"


def smtp_message_key(operation_id: str) -> str:
    """What the ledger row of a message sent over SMTP keeps as its message id."""
    return f"{SMTP_KEY_PREFIX}{operation_id}"


def message_key_of(internet_id: object) -> str | None:
    """The ledger's message id for a ``Message-ID`` this service made, else ``None``."""
    found = _OURS.match(internet_id.strip()) if isinstance(internet_id, str) else None
    return smtp_message_key(found["operation"]) if found else None


def _addresses(message: Mapping[str, Any], kind: str) -> list[str]:
    recipients = message.get("recipients") or {}
    return [str(entry["address"]) for entry in recipients.get(kind) or []]


def envelope_recipients(message: Mapping[str, Any]) -> list[str]:
    """Every address the message goes to (to, cc and bcc): the SMTP ``RCPT TO`` list."""
    return [address for kind in ("to", "cc", "bcc") for address in _addresses(message, kind)]


def _header_list(addresses: Sequence[str]) -> str:
    return ", ".join(addresses)


def to_mime(message: Mapping[str, Any], message_id: str) -> EmailMessage:
    """The message as SMTP carries it: headers, then text and/or HTML (multipart/alternative)."""
    content = message["content"]
    mime = EmailMessage()
    mime["From"] = message["senderAddress"]
    if to := _addresses(message, "to"):
        mime["To"] = _header_list(to)
    if cc := _addresses(message, "cc"):
        mime["Cc"] = _header_list(cc)
    mime["Subject"] = content["subject"]
    mime["Date"] = formatdate(usegmt=True)
    mime["Message-ID"] = message_id
    if reply_to := [str(entry["address"]) for entry in message.get("replyTo") or []]:
        mime["Reply-To"] = _header_list(reply_to)
    for name, value in (message.get("headers") or {}).items():
        mime[name] = value
    plain, html = content.get("plainText"), content.get("html")
    if plain is not None:
        mime.set_content(plain)
        if html is not None:
            mime.add_alternative(html, subtype="html")
    else:
        mime.set_content(html or "", subtype="html")
    return mime
