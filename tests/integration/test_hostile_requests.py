"""Hostile requests to the API get a 4xx in the documented shape, quickly, and the API keeps
serving: template bombs, deep JSON, NUL characters, invalid bodies, roles (SQLite and
PostgreSQL)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.api_world import SENDER, ApiWorld, api_world, people_csv
from warmup.store.database import Database
from warmup.tokens import Role

pytestmark = pytest.mark.integration
HOOK = "/webhooks/acs?code=webhook-secret-new"


@pytest.fixture
def w(database: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    with api_world(database, tmp_path) as world:
        upload = world.client.post(
            "/api/lists",
            headers=world.as_(Role.MARKETING),
            params={"wait": "true"},
            data={"name": "people"},
            files={"file": ("people.csv", people_csv(3), "text/csv")},
        )
        assert upload.status_code == 201, upload.text
        yield world


def test_a_template_bomb_is_refused_in_seconds_and_the_api_stays_up(w: ApiWorld) -> None:
    bomb = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    started = time.monotonic()
    answer = w.client.post(
        "/api/campaigns",
        headers=w.as_(Role.MARKETING),
        json={"name": "b", "list": "people", "sender": SENDER, "subject": "s", "text": bomb},
    )
    assert answer.status_code == 422, answer.text
    assert "error" in answer.json()
    assert time.monotonic() - started < 10
    huge = {
        "name": "h",
        "list": "people",
        "sender": SENDER,
        "subject": "s",
        "text": "{{ 'x' * 200000000 }}",
    }
    assert (
        w.client.post("/api/campaigns", headers=w.as_(Role.MARKETING), json=huge).status_code == 422
    )
    assert w.client.get("/healthz").status_code == 200


def test_deep_json_gets_400_not_500(w: ApiWorld) -> None:
    deep = "[" * 200_000
    answer = w.client.post(HOOK, content=deep, headers={"content-type": "application/json"})
    assert answer.status_code in (400, 413), answer.text
    answer = w.client.post(
        "/api/plans/validate",
        headers={**w.as_(Role.OPS), "content-type": "application/json"},
        content='{"plan_yaml": ' + "[" * 50_000 + "]" * 50_000 + "}",
    )
    assert 400 <= answer.status_code < 500


def test_validation_errors_use_the_documented_shape(w: ApiWorld) -> None:
    answer = w.client.post("/api/campaigns", headers=w.as_(Role.MARKETING), json={"name": 3})
    assert answer.status_code == 422
    body = answer.json()
    assert set(body) == {"error", "problems"}
    assert any(p.startswith("list:") for p in body["problems"]), body


@pytest.mark.parametrize(
    "path",
    [
        "/api/domains/x%00y",
        "/api/campaigns/x%00y",
        "/api/suppressions/a%00b@example.org",
        "/api/audit?subject=x%00y",
        "/api/lists/imports/x%00y",
    ],
)
def test_a_nul_character_gets_a_4xx(w: ApiWorld, path: str) -> None:
    answer = w.client.get(path, headers=w.as_(Role.ADMIN))
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.text)


def test_a_nul_in_a_webhook_report_gets_a_4xx(w: ApiWorld) -> None:
    event = {
        "id": "1",
        "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
        "data": {"messageId": "m\u0000", "recipient": "a@example.org", "status": "Delivered"},
    }
    answer = w.client.post(HOOK, json=[event])
    assert 400 <= answer.status_code < 500, answer.text


def test_only_ops_may_validate_plans(w: ApiWorld) -> None:
    body = {"plan_yaml": "name: x\nsteps:\n  - {per_hour: 1, per_day: 10}\n"}
    assert (
        w.client.post("/api/plans/validate", headers=w.as_(Role.MARKETING), json=body).status_code
        == 403
    )
    assert w.client.post("/api/plans/validate", headers=w.as_(Role.OPS), json=body).json()["valid"]


def test_reply_to_is_validated_and_shown_in_preview(w: ApiWorld) -> None:
    base = {"list": "people", "sender": SENDER, "subject": "s", "text": "t"}
    for bad in ("not an address", "a@example.org\r\nBcc: x@example.org"):
        answer = w.client.post(
            "/api/campaigns",
            headers=w.as_(Role.MARKETING),
            json={"name": "r", "reply_to": bad, **base},
        )
        assert answer.status_code == 422, answer.text
    made = w.client.post(
        "/api/campaigns",
        headers=w.as_(Role.MARKETING),
        json={"name": "r", "reply_to": "Help@Example.org", **base},
    )
    assert made.status_code == 201, made.text
    preview = w.client.get(
        "/api/campaigns/r/preview", params={"to": "p0@example.org"}, headers=w.as_(Role.MARKETING)
    )
    assert preview.json()["reply_to"] == "help@example.org"


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda children: (
            st.lists(children, max_size=4)
            | st.dictionaries(
                st.sampled_from(
                    [
                        "eventType",
                        "type",
                        "data",
                        "id",
                        "messageId",
                        "recipient",
                        "status",
                        "engagementType",
                        "userActionTimestamp",
                    ]
                )
                | st.text(max_size=5),
                children,
                max_size=5,
            )
        ),
        max_leaves=20,
    )
)
def test_any_webhook_body_is_answered_without_a_server_error(w: ApiWorld, body: object) -> None:
    answer = w.client.post(HOOK, json=body)
    assert answer.status_code < 500, answer.text
