"""The ACS message body (the JSON the REST API and the SDK's ``begin_send`` take)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def build_message(
    *,
    sender: str,
    to: Sequence[str],
    subject: str,
    plain_text: str | None = None,
    html: str | None = None,
    headers: Mapping[str, str] | None = None,
    reply_to: str | None = None,
    disable_tracking: bool | None = None,
) -> dict[str, Any]:
    """A message dict. ACS needs a subject and at least one of the bodies."""
    if not to:
        raise ValueError("a message needs at least one recipient")
    if plain_text is None and html is None:
        raise ValueError("a message needs a plain-text or an HTML body")
    content: dict[str, str] = {"subject": subject}
    if plain_text is not None:
        content["plainText"] = plain_text
    if html is not None:
        content["html"] = html
    message: dict[str, Any] = {
        "senderAddress": sender,
        "recipients": {"to": [{"address": address} for address in to]},
        "content": content,
    }
    if headers:
        message["headers"] = dict(headers)
    if reply_to:
        message["replyTo"] = [{"address": reply_to}]
    if disable_tracking is not None:
        message["userEngagementTrackingDisabled"] = disable_tracking
    return message
