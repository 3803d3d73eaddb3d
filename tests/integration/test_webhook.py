"""The Event Grid webhook over HTTP (FastAPI TestClient), on SQLite and PostgreSQL."""

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from sqlalchemy import func, select

from warmup.api.app import create_app
from warmup.emulator import events as emulated
from warmup.emulator.config import EventSchema
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.store.models import DeliveryEvent, EngagementEvent
from warmup.suppression.store import SuppressionStore

pytestmark = pytest.mark.integration
URL = "/webhooks/acs?code=new-webhook-secret"


def report(
    recipient: str = "ada@example.org",
    status: str = "Delivered",
    schema: EventSchema = EventSchema.EVENT_GRID,
):
    data = emulated.delivery_data(
        sender="n@mail.example.com",
        recipient=recipient,
        message_id=f"m-{recipient}",
        status=status,
        details="550 5.1.1 x",
        mail_server="mx",
        attempted_at=datetime.now(UTC),
    )
    return emulated.envelope(schema, data)


@pytest.fixture
def client(database: Database) -> Iterator[TestClient]:
    settings = Settings(
        webhook_secrets=SecretStr("old-webhook-secret, new-webhook-secret"), webhook_max_bytes=4096
    )
    with TestClient(create_app(settings, database), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


def stored(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeliveryEvent)) or 0)


def test_event_grid_validation_handshake(client: TestClient) -> None:
    body = emulated.validation_event("code-42", "https://x/validate")
    answer = client.post(URL, json=body, headers={"aeg-event-type": "SubscriptionValidation"})
    assert answer.status_code == 200
    assert answer.json() == {"validationResponse": "code-42"}


def test_cloudevents_options_handshake(client: TestClient) -> None:
    answer = client.options(URL, headers={"WebHook-Request-Origin": "eventgrid.azure.net"})
    assert answer.status_code == 200
    assert answer.headers["WebHook-Allowed-Origin"] == "eventgrid.azure.net"


def test_reports_in_both_schemas_are_stored_once(client: TestClient, database: Database) -> None:
    batch = [report("a@example.org"), report("b@example.org", "bounced")]
    first = client.post(URL, json=batch)
    assert first.status_code == 200
    assert first.json()["received"] == 2
    cloud = [report("c@example.org", schema=EventSchema.CLOUD_EVENTS)]
    assert (
        client.post(
            URL,
            content=json.dumps(cloud),
            headers={"content-type": "application/cloudevents-batch+json"},
        ).status_code
        == 200
    )
    single = report("d@example.org", schema=EventSchema.CLOUD_EVENTS)
    assert (
        client.post(
            URL,
            content=json.dumps(single),
            headers={"content-type": "application/cloudevents+json; charset=utf-8"},
        ).status_code
        == 200
    )
    replay = client.post(URL, json=list(reversed(batch)))  # redelivered, in another order
    assert replay.json()["duplicates"] == 2
    assert stored(database) == 4


@pytest.mark.parametrize(
    "url", ["/webhooks/acs", "/webhooks/acs?code=wrong", "/webhooks/acs?code="]
)
def test_spoofed_calls_get_401_and_record_nothing(
    client: TestClient, database: Database, url: str
) -> None:
    assert client.post(url, json=[report()]).status_code == 401
    assert client.options(url, headers={"WebHook-Request-Origin": "x"}).status_code == 401
    assert stored(database) == 0


def test_both_secrets_work_while_rotating_and_the_header_too(
    client: TestClient, database: Database
) -> None:
    assert (
        client.post(
            "/webhooks/acs?code=old-webhook-secret", json=[report("a@example.org")]
        ).status_code
        == 200
    )
    headers = {"X-Warmup-Webhook-Secret": "new-webhook-secret"}
    assert (
        client.post("/webhooks/acs", json=[report("b@example.org")], headers=headers).status_code
        == 200
    )
    assert stored(database) == 2


def test_oversize_wrong_type_and_malformed_bodies_record_nothing(
    client: TestClient, database: Database
) -> None:
    big = [report(f"u{i}@example.org") for i in range(40)]
    assert client.post(URL, json=big).status_code == 413
    assert client.post(URL, content="x", headers={"content-type": "text/plain"}).status_code == 415
    assert (
        client.post(
            URL, content="{not json", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    broken = report("x@example.org")
    del broken["data"]["recipient"]
    nothing_usable = client.post(URL, json=[broken])
    assert nothing_usable.status_code == 400  # a bad call: nothing in it can be used
    assert "needs messageId, recipient and status" in nothing_usable.json()["error"]
    assert stored(database) == 0


def test_a_batch_is_never_refused_for_one_event(client: TestClient, database: Database) -> None:
    # Event Grid does not retry a 400: refusing the batch would lose every good report in it.
    broken = report("x@example.org")
    del broken["data"]["recipient"]
    other = {"eventType": "Microsoft.Storage.BlobCreated", "id": "b", "data": {}}
    answer = client.post(URL, json=[report("ok@example.org"), other, broken])
    assert answer.status_code == 200
    body = answer.json()
    assert (body["received"], body["invalid"]) == (1, 1)
    assert body["ignored_types"] == {"microsoft.storage.blobcreated": 1}
    assert stored(database) == 1
    only_other = client.post(URL, json=[other])
    assert only_other.status_code == 200
    assert only_other.json()["ignored_types"] == {"microsoft.storage.blobcreated": 1}


def engagement(recipient: str, kind: str = "click") -> dict[str, object]:
    return {
        "id": f"eng-{recipient}-{kind}",
        "eventType": "Microsoft.Communication.EmailEngagementTrackingReportReceived",
        "subject": "x",
        "eventTime": datetime.now(UTC).isoformat(),
        "dataVersion": "1.0",
        "data": {
            "sender": "n@mail.example.com",
            "recipient": recipient,
            "messageId": f"m-{recipient}",
            "userActionTimestamp": "2026-11-28T09:30:00Z",
            "engagementContext": "https://example.org/offer",
            "userAgent": "Mozilla/5.0",
            "engagementType": kind,
        },
    }


def test_engagement_next_to_a_bounce_is_stored_and_the_bounce_suppresses(
    client: TestClient, database: Database
) -> None:
    batch = [engagement("reader@example.org"), report("gone@example.org", "Bounced")]
    answer = client.post(URL, json=batch)
    assert answer.status_code == 200, answer.text
    assert answer.json()["engagements"] == 1
    assert SuppressionStore(database).find("gone@example.org", datetime.now(UTC)) is not None
    with database.session() as session:
        clicks = session.scalars(select(EngagementEvent)).all()
    assert [(c.recipient, c.engagement, c.context) for c in clicks] == [
        ("reader@example.org", "click", "https://example.org/offer")
    ]
    assert clicks[0].occurred_at == datetime(2026, 11, 28, 9, 30, tzinfo=UTC)
    assert client.post(URL, json=batch).json()["duplicates"] == 2  # redelivered: kept once


def test_without_secrets_the_webhook_refuses_every_call(database: Database) -> None:
    # The API may run for marketing and ops before Event Grid is set up; the webhook must
    # then answer nobody, not everybody.
    with TestClient(create_app(Settings(), database)) as unconfigured:
        for path in ("/webhooks/acs", "/webhooks/acs?code="):
            answer = unconfigured.post(path, json=[report()])
            assert answer.status_code == 503
            assert "WARMUP_WEBHOOK_SECRETS" in answer.json()["error"]
        assert unconfigured.options("/webhooks/acs").status_code == 503
    assert stored(database) == 0


LONGEST_ADDRESS = "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 57 + ".com"  # 254


def test_one_unstorable_event_never_costs_the_complaint_beside_it(
    client: TestClient, database: Database
) -> None:
    # A valid 254-character address with a uuid message id made a key too long for its column;
    # an overlong message id and a NUL in a click's user agent could not be stored either.
    # Each cost the whole batch a 400, which Event Grid does not retry: the complaint was lost.
    longest = report(LONGEST_ADDRESS)
    longest["data"]["messageId"] = "0f8fad5b-d9cb-469f-a165-70867728950e"
    overlong = report("long-id@example.org")
    overlong["data"]["messageId"] = "m" * 500
    nul_agent = engagement("reader@example.org")
    nul_agent["data"]["userAgent"] = "Mozilla\x00/5.0"
    complaint = report("angry@example.org", "FilteredSpam")
    answer = client.post(URL, json=[longest, overlong, nul_agent, complaint])
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["invalid"] == 1  # the overlong message id: refused by itself, and counted
    assert body["engagements"] == 1  # the NUL is dropped from the user agent, the click kept
    assert SuppressionStore(database).find("angry@example.org", datetime.now(UTC)) is not None
    assert stored(database) == 2  # the longest address's report and the complaint
    # Redelivered, every stored event is recognised by its fixed-width key.
    again = client.post(URL, json=[longest, complaint, nul_agent]).json()
    assert again["duplicates"] == 3
    with database.session() as session:
        keys = session.scalars(select(DeliveryEvent.dedupe_key)).all()
    assert {len(key) for key in keys} == {64}
    scraped = client.get("/metrics").text
    assert 'warmup_webhook_events_refused_total{reason="invalid"} 1.0' in scraped


def test_a_value_the_store_refuses_is_left_out_alone(
    client: TestClient, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the parser lets through, a value the store cannot keep costs only its event:
    # the batch's rows are then inserted one by one, each in a savepoint.
    from warmup.feedback import reports

    monkeypatch.setattr(reports, "MAX_MESSAGE_ID", 10_000)  # let an overlong id reach the store
    overlong = report("long-id@example.org")
    overlong["data"]["messageId"] = "m" * 500
    complaint = report("angry@example.org", "FilteredSpam")
    answer = client.post(URL, json=[overlong, complaint])
    assert answer.status_code == 200, answer.text
    refused = 1 if database.engine.dialect.name == "postgresql" else 0  # SQLite keeps any length
    assert answer.json()["unstorable"] == refused
    assert stored(database) == 2 - refused
    assert SuppressionStore(database).find("angry@example.org", datetime.now(UTC)) is not None


# Within the test app's 4,096-byte body limit, beside the complaint.
FIELD_TEXT = st.one_of(
    st.text(min_size=0, max_size=150),
    st.text(
        alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=300, max_size=1200
    ),
    st.sampled_from(["\x00", "x\x00y", "\n\r\x1b[2J", LONGEST_ADDRESS, "m" * 101]),
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(
        [
            "messageId",
            "recipient",
            "status",
            "userAgent",
            "engagementContext",
            "deliveryAttemptTimestamp",
            "internetMessageId",
        ]
    ),
    value=FIELD_TEXT,
    engaged=st.booleans(),
)
def test_any_long_or_hostile_field_in_any_event_type_never_costs_the_batch(
    client: TestClient, database: Database, field: str, value: str, engaged: bool
) -> None:
    poisoned = engagement("reader@example.org") if engaged else report("x@example.org")
    poisoned["data"][field] = value
    complaint = report("angry@example.org", "FilteredSpam")
    answer = client.post(URL, json=[poisoned, complaint])
    assert answer.status_code == 200, answer.text
    assert SuppressionStore(database).find("angry@example.org", datetime.now(UTC)) is not None
