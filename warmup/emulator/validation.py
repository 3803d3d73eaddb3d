"""Checks a send request body the way ACS does, answering with ACS-shaped errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

MAX_REQUEST_BYTES = 10 * 1024 * 1024
MAX_RECIPIENTS = 50


class Rejection(Exception):
    """A request ACS would refuse: answered as ``{"error": {"code", "message"}}``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"{status} {code}: {message}")


@dataclass(frozen=True)
class SendRequest:
    sender: str
    recipients: tuple[str, ...]  # to + cc + bcc, as given
    subject: str


def _addresses(recipients: dict[str, Any], kind: str) -> list[str]:
    entries = recipients.get(kind) or []
    if not isinstance(entries, list):
        raise Rejection(400, "InvalidRecipients", f"recipients.{kind} must be an array")
    found = []
    for index, entry in enumerate(entries):
        address = entry.get("address") if isinstance(entry, dict) else None
        if not isinstance(address, str) or address.count("@") != 1 or address.startswith("@"):
            raise Rejection(
                400, "InvalidRecipients", f"recipients.{kind}[{index}].address is not an address"
            )
        found.append(address)
    return found


def parse_send(body: bytes, sender_domains: list[str]) -> SendRequest:
    """Parse and check a ``POST /emails:send`` body, or raise :class:`Rejection`."""
    if len(body) > MAX_REQUEST_BYTES:
        raise Rejection(
            413, "RequestEntityTooLarge", f"request body exceeds {MAX_REQUEST_BYTES} bytes"
        )
    try:
        message = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise Rejection(400, "InvalidRequestBody", f"body is not valid JSON: {exc}") from None
    if not isinstance(message, dict):
        raise Rejection(400, "InvalidRequestBody", "body must be a JSON object")

    sender = message.get("senderAddress")
    if not isinstance(sender, str) or "@" not in sender:
        raise Rejection(400, "InvalidSenderAddress", "senderAddress is required")
    domain = sender.rpartition("@")[2].lower()
    if sender_domains and domain not in sender_domains:
        raise Rejection(
            400, "DomainNotLinked", f"the sender domain {domain} is not linked to this resource"
        )

    recipients = message.get("recipients")
    if not isinstance(recipients, dict):
        raise Rejection(400, "InvalidRecipients", "recipients is required")
    addresses = [
        address for kind in ("to", "cc", "bcc") for address in _addresses(recipients, kind)
    ]
    if not addresses:
        raise Rejection(400, "InvalidRecipients", "at least one recipient is required")
    if len(addresses) > MAX_RECIPIENTS:
        raise Rejection(
            400,
            "TooManyRecipients",
            f"{len(addresses)} recipients; at most {MAX_RECIPIENTS} per message",
        )

    content = message.get("content")
    subject = content.get("subject") if isinstance(content, dict) else None
    if not isinstance(subject, str) or not subject:
        raise Rejection(400, "InvalidContent", "content.subject is required")
    return SendRequest(sender=sender, recipients=tuple(addresses), subject=subject)
