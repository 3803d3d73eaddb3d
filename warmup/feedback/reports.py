"""Reading ACS delivery reports as they really arrive (pure).

Event Grid delivers JSON arrays in its own schema; CloudEvents 1.0 delivers one event or a
batch. Real samples differ in letter case (``status: delivered``, ``deliveryAttemptTimeStamp``),
so every field is read case-insensitively. Each report maps to a health outcome:

============================ =========================================================
ACS status                   outcome
============================ =========================================================
Delivered                    delivered
Bounced                      hard bounce (suppress)
Suppressed                   suppressed (ACS's own list)
FilteredSpam, Quarantined    complaint (suppress)
Failed                       hard or soft, by the SMTP / enhanced status code it carries
Expanded                     ignored (a distribution list was expanded; no outcome)
============================ =========================================================
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from warmup.addresses import address_key
from warmup.control.health import Outcome
from warmup.errors import WarmupError
from warmup.sending.mime import message_key_of

# The longest values the store keeps (delivery_events, engagement_events): a longer one is no
# real ACS value, and the event alone is refused, never its batch.
MAX_MESSAGE_ID = 100
MAX_RECIPIENT = 320


def content_key(*parts: str) -> str:
    """A fixed-width key for an event's content (SHA-256, hex): whatever the lengths of the
    parts, it fits its column, and two contents never share it by truncation."""
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()


def _printable(value: str) -> str:
    """An informational text as the store can keep it (PostgreSQL keeps no NUL)."""
    return value.replace("\x00", "")


def _check_sizes(kind: str, message_id: str, recipient: str) -> None:
    if len(message_id) > MAX_MESSAGE_ID:
        raise ReportError(f"{kind}: messageId longer than {MAX_MESSAGE_ID} characters")
    if len(recipient) > MAX_RECIPIENT:
        raise ReportError(f"{kind}: recipient longer than {MAX_RECIPIENT} characters")


DELIVERY_REPORT = "microsoft.communication.emaildeliveryreportreceived"
ENGAGEMENT_REPORT = "microsoft.communication.emailengagementtrackingreportreceived"
ENGAGEMENTS = frozenset({"view", "click"})
VALIDATION = "microsoft.eventgrid.subscriptionvalidationevent"

# "550 5.1.1 …": the enhanced code (RFC 3463) decides; a bare 4xx/5xx reply code otherwise.
_ENHANCED = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
_REPLY = re.compile(r"\b([245])\d\d\b")
# Permanent failures of the recipient itself: bad mailbox, bad domain, mailbox disabled.
_HARD_SUBJECTS = {("5", "1"), ("5", "2")}


class ReportError(WarmupError, ValueError):
    """A payload that is not a delivery report (answered 400 at the webhook, ``invalid:`` in
    the CLI)."""


@dataclass(frozen=True)
class DeliveryReport:
    event_id: str
    message_id: str
    recipient: str
    status: str  # as ACS spells it, normalised to its documented case
    outcome: Outcome | None  # None: no outcome (Expanded)
    detail: str
    attempted_at: datetime | None
    # Sent over SMTP, ``message_id`` is the row's key (from the Message-ID we gave it) and this
    # is ACS's own id for the message, which its opens and clicks name.
    acs_message_id: str | None = None

    @property
    def dedupe_key(self) -> str:
        """Event Grid delivers at least once, sometimes with a new id: key on the content."""
        return content_key(self.message_id, self.recipient, self.status)


def _lower(mapping: Mapping[str, Any]) -> dict[str, Any]:
    return {str(key).lower(): value for key, value in mapping.items()}


def classify_failure(detail: str) -> Outcome:
    """Failed → hard bounce for permanent recipient errors (5.1.x, 5.2.x), else soft."""
    enhanced = _ENHANCED.search(detail)
    if enhanced is not None:
        klass, subject = enhanced.group(1), enhanced.group(2)
        return Outcome.HARD_BOUNCE if (klass, subject) in _HARD_SUBJECTS else Outcome.SOFT_FAILURE
    reply = _REPLY.search(detail)
    if reply is not None and detail[reply.start() : reply.start() + 3] in {"550", "551", "553"}:
        return Outcome.HARD_BOUNCE
    return Outcome.SOFT_FAILURE


_STATUS = {
    "delivered": ("Delivered", Outcome.DELIVERED),
    "bounced": ("Bounced", Outcome.HARD_BOUNCE),
    "suppressed": ("Suppressed", Outcome.SUPPRESSED),
    "filteredspam": ("FilteredSpam", Outcome.COMPLAINT),
    "quarantined": ("Quarantined", Outcome.COMPLAINT),
    "failed": ("Failed", None),  # decided by the code it carries
    "expanded": ("Expanded", None),
}


def _timestamp(data: Mapping[str, Any], field: str = "deliveryattempttimestamp") -> datetime | None:
    """ACS's own time for the event (keys already lower-cased: both spellings of the field)."""
    raw = data.get(field)
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def parse_report(event: Mapping[str, Any]) -> DeliveryReport:
    """One event of either schema → a report, or :class:`ReportError` saying what is wrong."""
    envelope = _lower(event)
    kind = event_type(event)
    if kind != DELIVERY_REPORT:
        raise ReportError(f"not a delivery report: event type {kind or 'missing'}")
    raw_data = envelope.get("data")
    if not isinstance(raw_data, Mapping):
        raise ReportError("a delivery report needs a data object")
    data = _lower(raw_data)
    message_id, recipient, status = data.get("messageid"), data.get("recipient"), data.get("status")
    if not (isinstance(message_id, str) and isinstance(recipient, str) and isinstance(status, str)):
        raise ReportError("a delivery report needs messageId, recipient and status")
    details = data.get("deliverystatusdetails")
    detail = str(_lower(details).get("statusmessage", "")) if isinstance(details, Mapping) else ""
    return make_report(
        event_id=str(envelope.get("id") or ""),
        message_id=message_id,
        recipient=recipient,
        status=status,
        detail=detail,
        attempted_at=_timestamp(data),
        internet_message_id=data.get("internetmessageid"),
    )


def make_report(
    *,
    event_id: str,
    message_id: str,
    recipient: str,
    status: str,
    detail: str,
    attempted_at: datetime | None,
    hard_bounce: bool | None = None,
    internet_message_id: object = None,
) -> DeliveryReport:
    """A report from its fields, whatever their source. ``hard_bounce`` (when the source says,
    as Log Analytics does) settles whether a Failed status is hard; otherwise its code does.
    ``internet_message_id``: the message's Message-ID, when the source gives it; one we made
    (the message went over SMTP) names the row, and ACS's id is kept beside it."""
    if any("\x00" in value for value in (message_id, recipient, status)):
        # No real report has one, and PostgreSQL cannot store it: the event is unusable.
        raise ReportError("a delivery report field contains a NUL character")
    _check_sizes("a delivery report", message_id, recipient)
    detail = _printable(detail)
    known = _STATUS.get(status.strip().lower())
    if known is None:
        raise ReportError(f"unknown delivery status {status!r}")
    name, outcome = known
    if name == "Failed":
        if hard_bounce is None:
            outcome = classify_failure(detail)
        else:
            outcome = Outcome.HARD_BOUNCE if hard_bounce else Outcome.SOFT_FAILURE
    # Sent over SMTP, the row knows the Message-ID we gave it, not ACS's id.
    ours = message_key_of(internet_message_id)
    return DeliveryReport(
        event_id=event_id,
        message_id=ours or message_id,
        acs_message_id=message_id if ours else None,
        recipient=address_key(recipient),
        status=name,
        outcome=outcome,
        detail=detail,
        attempted_at=attempted_at,
    )


@dataclass(frozen=True)
class EngagementReport:
    """An open ("view") or click that ACS tracked for one message and recipient."""

    message_id: str
    recipient: str
    engagement: str  # view, click
    context: str  # for a click, the URL
    user_agent: str
    occurred_at: datetime | None  # ACS's userActionTimestamp

    @property
    def dedupe_key(self) -> str:
        when = self.occurred_at.isoformat() if self.occurred_at else ""
        return content_key(self.message_id, self.recipient, self.engagement, when, self.context)


def parse_engagement(event: Mapping[str, Any]) -> EngagementReport:
    envelope = _lower(event)
    raw_data = envelope.get("data")
    if not isinstance(raw_data, Mapping):
        raise ReportError("an engagement report needs a data object")
    data = _lower(raw_data)
    message_id, recipient = data.get("messageid"), data.get("recipient")
    kind = str(data.get("engagement") or data.get("engagementtype") or "").strip().lower()
    if not (isinstance(message_id, str) and isinstance(recipient, str)) or kind not in ENGAGEMENTS:
        raise ReportError("an engagement report needs messageId, recipient and engagement")
    if "\x00" in message_id + recipient:
        raise ReportError("an engagement report field contains a NUL character")
    _check_sizes("an engagement report", message_id, recipient)
    return EngagementReport(
        message_id=message_id,
        recipient=address_key(recipient),
        engagement=kind,
        context=_printable(str(data.get("engagementcontext") or "")),
        user_agent=_printable(str(data.get("useragent") or "")),
        occurred_at=_timestamp(data, "useractiontimestamp"),
    )


def event_type(event: Mapping[str, Any]) -> str:
    envelope = _lower(event)
    return str(envelope.get("eventtype") or envelope.get("type") or "").lower()


@dataclass
class WebhookBatch:
    """A webhook call's events, sorted: what is applied, what is kept, what is passed over."""

    reports: list[DeliveryReport]
    engagements: list[EngagementReport]
    ignored_types: dict[str, int]  # event types this service does not act on, counted
    invalid: list[str]  # known event types whose content is unusable, with why

    @property
    def usable(self) -> int:
        return len(self.reports) + len(self.engagements)


def sort_events(events: list[Mapping[str, Any]]) -> WebhookBatch:
    """Never refuse a whole batch for one event: Event Grid does not retry a 400, so every
    good report in it would be lost."""
    batch = WebhookBatch([], [], {}, [])
    for index, event in enumerate(events):
        kind = event_type(event)
        try:
            if kind == DELIVERY_REPORT:
                batch.reports.append(parse_report(event))
            elif kind == ENGAGEMENT_REPORT:
                batch.engagements.append(parse_engagement(event))
            else:
                name = kind or "missing"
                batch.ignored_types[name] = batch.ignored_types.get(name, 0) + 1
        except ReportError as exc:
            batch.invalid.append(f"event {index}: {exc}")
    return batch


def events_of(body: Any) -> list[Mapping[str, Any]]:
    """The events of a webhook body: an Event Grid array, or one CloudEvent, or a batch."""
    if isinstance(body, list):
        if not all(isinstance(event, Mapping) for event in body):
            raise ReportError("every element of the array must be an event object")
        return list(body)
    if isinstance(body, Mapping):
        return [body]
    raise ReportError("the body must be an event object or an array of events")


def validation_code(events: list[Mapping[str, Any]]) -> str | None:
    """The code of an Event Grid subscription-validation call, if this is one."""
    for event in events:
        envelope = _lower(event)
        if str(envelope.get("eventtype", "")).lower() == VALIDATION:
            data = envelope.get("data")
            code = _lower(data).get("validationcode") if isinstance(data, Mapping) else None
            if isinstance(code, str) and code:
                return code
            raise ReportError("a validation event needs data.validationCode")
    return None
