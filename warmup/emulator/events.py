"""Event Grid payloads: delivery reports in both schemas, and the validation handshakes."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from warmup.emulator.config import EventSchema

DELIVERY_REPORT = "Microsoft.Communication.EmailDeliveryReportReceived"
ENGAGEMENT_REPORT = "Microsoft.Communication.EmailEngagementTrackingReportReceived"
SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
TOPIC = (
    "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/warmup-emulator"
    "/providers/Microsoft.Communication/communicationServices/emulator"
)
EVENT_GRID_CONTENT_TYPE = "application/json"
CLOUD_EVENTS_BATCH_CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def delivery_data(
    *,
    sender: str,
    recipient: str,
    message_id: str,
    status: str,
    details: str,
    mail_server: str,
    attempted_at: datetime,
    internet_message_id: str | None = None,
    lowercase: bool = False,
) -> dict[str, Any]:
    """The ``data`` of one report. ``lowercase`` mimics the real samples that differ in case."""
    timestamp_key = "deliveryAttemptTimeStamp" if lowercase else "deliveryAttemptTimestamp"
    return {
        "sender": sender,
        "recipient": recipient,
        "messageId": message_id,
        "status": status.lower() if lowercase else status,
        "deliveryStatusDetails": {
            "statusMessage": details,
            "recipientMailServerHostName": mail_server,
        },
        timestamp_key: _iso(attempted_at),
        "internetMessageId": internet_message_id or f"<{message_id}@emulator.azurecomm.net>",
    }


def engagement_data(
    *, sender: str, recipient: str, message_id: str, kind: str, context: str, at: datetime
) -> dict[str, Any]:
    """The ``data`` of one open ("view") or click, as ACS documents it."""
    return {
        "sender": sender,
        "recipient": recipient,
        "messageId": message_id,
        "userActionTimeStamp": _iso(at),
        "engagementContext": context,
        "userAgent": "Mozilla/5.0 (emulator)",
        "engagementType": kind,
    }


def envelope(
    schema: EventSchema,
    data: dict[str, Any],
    *,
    event_id: str | None = None,
    event_type: str = DELIVERY_REPORT,
) -> dict[str, Any]:
    """Wrap one report's data in the chosen schema's envelope."""
    now = _iso(datetime.now(UTC))
    subject = f"sender/{data['sender']}/message/{data['messageId']}"
    if schema is EventSchema.EVENT_GRID:
        return {
            "id": event_id or str(uuid.uuid4()),
            "topic": TOPIC,
            "subject": subject,
            "data": data,
            "eventType": event_type,
            "dataVersion": "1.0",
            "metadataVersion": "1",
            "eventTime": now,
        }
    return {
        "specversion": "1.0",
        "id": event_id or str(uuid.uuid4()),
        "source": TOPIC,
        "subject": subject,
        "type": event_type,
        "time": now,
        "datacontenttype": "application/json",
        "data": data,
    }


def validation_event(code: str, validation_url: str) -> list[dict[str, Any]]:
    """The first call Event Grid makes to a new webhook (Event Grid schema)."""
    return [
        {
            "id": str(uuid.uuid4()),
            "topic": TOPIC,
            "subject": "",
            "data": {"validationCode": code, "validationUrl": validation_url},
            "eventType": SUBSCRIPTION_VALIDATION,
            "eventTime": _iso(datetime.now(UTC)),
            "metadataVersion": "1",
            "dataVersion": "2",
        }
    ]
