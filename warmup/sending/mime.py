"""An ACS message dict (what ``begin_send`` takes) as an RFC 5322 message, for SMTP.

Each message carries a ``Message-ID`` made from its ledger row's Operation-Id, so a retry of
the same row carries the same one, and ACS's delivery reports (``internetMessageId``) lead back
to the row: the row's message id is ``smtp:{operation id}`` (whatever the domain's length), and
a report whose ``internetMessageId`` is ours is matched on that key.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from email.utils import formatdate
from typing import Any

from warmup.sending.message import build_message

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
    for attachment in message.get("attachments") or []:
        maintype, _, subtype = str(attachment["contentType"]).partition("/")
        mime.add_attachment(
            base64.b64decode(attachment["contentInBase64"]),
            maintype=maintype,
            subtype=subtype or "octet-stream",
            filename=attachment["name"],
            cid=f"<{attachment['contentId']}>" if attachment.get("contentId") else None,
        )
    return mime


_parser = BytesParser(policy=default_policy)
# Headers of a relayed message that travel in the ACS request's ``headers``: the rest are
# made anew (addresses, date, ids) or carried by the request's own fields.
KEPT_HEADERS = ("List-Unsubscribe", "List-Unsubscribe-Post", "Importance", "Priority")


def _payload(part: EmailMessage) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def from_mime(raw: bytes, *, sender: str, to: str) -> dict[str, Any]:
    """A message as an app or device submitted it, as the ACS request that sends it to ``to``:
    subject, text and HTML bodies, attachments (inline ones keep their Content-ID), Reply-To
    and a few headers that matter to the recipient's mail client."""
    parsed = _parser.parsebytes(raw)
    plain = parsed.get_body(preferencelist=("plain",))
    html = parsed.get_body(preferencelist=("html",))
    attachments = []
    for part in parsed.iter_attachments():
        content_id = str(part.get("Content-ID") or "").strip("<> ")
        entry = {
            "name": part.get_filename() or "attachment",
            "contentType": part.get_content_type(),
            "contentInBase64": base64.b64encode(_payload(part)).decode(),
        }
        if content_id:
            entry["contentId"] = content_id
        attachments.append(entry)
    text = plain.get_content() if plain is not None else None
    message = build_message(
        sender=sender,
        to=[to],
        subject=str(parsed.get("Subject") or "(no subject)"),
        plain_text=text if text is not None or html is not None else "",
        html=html.get_content() if html is not None else None,
    )
    if reply_to := parsed.get("Reply-To"):
        message["replyTo"] = [{"address": a.addr_spec} for a in reply_to.addresses]
    headers = {name: str(parsed[name]) for name in KEPT_HEADERS if parsed.get(name)}
    if headers:
        message["headers"] = headers
    if attachments:
        message["attachments"] = attachments
    return message
