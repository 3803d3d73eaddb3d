"""Delivery reports as they arrive: both schemas, real letter-case variants, every status."""

from datetime import UTC, datetime

import pytest

from warmup.control.health import Outcome
from warmup.emulator import events as emulated
from warmup.emulator.config import EventSchema
from warmup.feedback.reports import (
    ReportError,
    classify_failure,
    events_of,
    parse_report,
    validation_code,
)

# Shaped like the samples in Microsoft's documentation (Event Grid schema).
EVENT_GRID_SAMPLE = {
    "id": "00000000-0000-0000-0000-000000000000",
    "topic": (
        "/subscriptions/{subscription-id}/resourceGroups/{group-name}/providers/"
        "microsoft.communication/communicationservices/{communication-services-resource-name}"
    ),
    "subject": "sender/senderid@azure.com/message/00000000-0000-0000-0000-000000000000",
    "data": {
        "sender": "senderid@azure.com",
        "recipient": "receiver@azure.com",
        "messageId": "00000000-0000-0000-0000-000000000000",
        "status": "Delivered",
        "deliveryStatusDetails": {"statusMessage": "Status Message"},
        "deliveryAttemptTimeStamp": "2020-09-18T00:22:20.2855749Z",
    },
    "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
    "dataVersion": "1.0",
    "metadataVersion": "1",
    "eventTime": "2020-09-18T00:22:20Z",
}


def cloud_event(status: str, message: str = "No error.") -> dict[str, object]:
    return {
        "specversion": "1.0",
        "id": "ce-1",
        "source": "/subscriptions/x/resourceGroups/y/providers/Microsoft.Communication/x",
        "type": "Microsoft.Communication.EmailDeliveryReportReceived",
        "time": "2026-12-01T10:00:00Z",
        "data": {
            "sender": "a@b.com",
            "recipient": "Ada@Example.org",
            "messageId": "m-1",
            "status": status,
            "deliveryStatusDetails": {"statusMessage": message},
            "deliveryAttemptTimestamp": "2026-12-01T10:00:00Z",
        },
    }


def test_the_documented_event_grid_sample() -> None:
    report = parse_report(EVENT_GRID_SAMPLE)
    assert report.status == "Delivered"
    assert report.outcome is Outcome.DELIVERED
    assert report.recipient == "receiver@azure.com"
    assert report.attempted_at == datetime(2020, 9, 18, 0, 22, 20, 285574, tzinfo=UTC)


def test_lowercase_status_and_keys_are_read_too() -> None:
    event = {k.lower(): v for k, v in EVENT_GRID_SAMPLE.items()}
    event["data"] = {k.lower(): v for k, v in EVENT_GRID_SAMPLE["data"].items()}  # type: ignore[union-attr]
    event["data"]["status"] = "delivered"  # type: ignore[index]
    report = parse_report(event)
    assert report.status == "Delivered"
    assert report.attempted_at is not None


@pytest.mark.parametrize(
    ("status", "message", "outcome"),
    [
        ("Delivered", "No error.", Outcome.DELIVERED),
        ("Bounced", "550 5.1.1 user unknown", Outcome.HARD_BOUNCE),
        ("Suppressed", "on the suppression list", Outcome.SUPPRESSED),
        ("FilteredSpam", "spam", Outcome.COMPLAINT),
        ("Quarantined", "quarantined", Outcome.COMPLAINT),
        ("Failed", "550 5.1.1 The email account does not exist.", Outcome.HARD_BOUNCE),
        ("Failed", "554 5.2.1 Mailbox disabled", Outcome.HARD_BOUNCE),
        ("Failed", "451 4.7.500 Server busy", Outcome.SOFT_FAILURE),
        ("Failed", "554 5.7.1 rejected by policy", Outcome.SOFT_FAILURE),
        ("Failed", "550 Requested action not taken: mailbox unavailable", Outcome.HARD_BOUNCE),
        ("Failed", "Delivery failed.", Outcome.SOFT_FAILURE),
        ("Expanded", "", None),
    ],
)
def test_every_status_maps_to_its_outcome(
    status: str, message: str, outcome: Outcome | None
) -> None:
    report = parse_report(cloud_event(status, message))
    assert report.outcome is outcome
    assert report.recipient == "ada@example.org"


def test_classify_failure_prefers_the_enhanced_code() -> None:
    assert classify_failure("550 4.2.2 mailbox full") is Outcome.SOFT_FAILURE
    assert classify_failure("421 5.1.10 recipient not found") is Outcome.HARD_BOUNCE


def test_the_emulators_events_parse_in_both_schemas_and_spellings() -> None:
    for schema in EventSchema:
        for lowercase in (False, True):
            data = emulated.delivery_data(
                sender="n@mail.example.com",
                recipient="r@example.org",
                message_id="m-9",
                status="Bounced",
                details="550 5.1.1 nope",
                mail_server="mx.example.org",
                attempted_at=datetime(2026, 12, 1, tzinfo=UTC),
                lowercase=lowercase,
            )
            report = parse_report(emulated.envelope(schema, data, event_id="e-1"))
            assert (report.message_id, report.outcome, report.event_id) == (
                "m-9",
                Outcome.HARD_BOUNCE,
                "e-1",
            )
            assert report.attempted_at == datetime(2026, 12, 1, tzinfo=UTC)


def test_the_same_report_twice_has_one_dedupe_key_whatever_its_event_id() -> None:
    first = parse_report(cloud_event("Delivered"))
    again = parse_report({**cloud_event("delivered"), "id": "another-id"})
    assert first.dedupe_key == again.dedupe_key


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"eventType": "Microsoft.Storage.BlobCreated", "data": {}}, "not a delivery report"),
        ({"type": "Microsoft.Communication.EmailDeliveryReportReceived"}, "needs a data object"),
        (
            {
                "type": "Microsoft.Communication.EmailDeliveryReportReceived",
                "data": {"status": "Delivered"},
            },
            "needs messageId, recipient and status",
        ),
        (cloud_event("Teleported"), "unknown delivery status"),
    ],
)
def test_what_is_not_a_report_is_refused(event: dict[str, object], message: str) -> None:
    with pytest.raises(ReportError, match=message):
        parse_report(event)


def test_bodies_and_the_validation_handshake() -> None:
    assert len(events_of([EVENT_GRID_SAMPLE, EVENT_GRID_SAMPLE])) == 2
    assert len(events_of(cloud_event("Delivered"))) == 1
    with pytest.raises(ReportError):
        events_of("nope")
    with pytest.raises(ReportError):
        events_of([1, 2])
    handshake = emulated.validation_event("code-123", "https://example.org/validate")
    assert validation_code(handshake) == "code-123"
    assert validation_code([EVENT_GRID_SAMPLE]) is None
