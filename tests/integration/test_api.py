"""The HTTP API over a real store (SQLite and PostgreSQL): roles, lists, campaigns, domains."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from tests.api_world import (
    DOMAIN,
    LOCAL_CLIENT,
    SECRETS,
    SENDER,
    ApiWorld,
    api_world,
    campaign,
    people_csv,
    upload,
)
from warmup.api.app import create_app
from warmup.settings import Settings
from warmup.store.database import Database
from warmup.store.models import AuditEntry, ContactList
from warmup.tokens import Role

pytestmark = pytest.mark.integration
MARKETING, OPS, ADMIN = Role.MARKETING, Role.OPS, Role.ADMIN


@pytest.fixture
def w(database: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    with api_world(database, tmp_path) as world:
        yield world


def domain_status(w: ApiWorld) -> str:
    return str(w.client.get(f"/api/domains/{DOMAIN}", headers=w.as_(MARKETING)).json()["status"])


def audit_actors(w: ApiWorld, subject: str) -> list[tuple[str, str]]:
    with w.database.session() as session:
        rows = session.execute(
            select(AuditEntry.action, AuditEntry.actor)
            .where(AuditEntry.subject == subject)
            .order_by(AuditEntry.id)
        ).all()
    return [(action, actor) for action, actor in rows]


# --- access control ------------------------------------------------------------------------


def test_no_token_a_wrong_one_or_a_revoked_one_is_401_and_changes_nothing(w: ApiWorld) -> None:
    pause = f"/api/domains/{DOMAIN}/pause"
    missing = w.client.post(pause, json={"reason": "x"})
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == "Bearer"
    assert missing.json() == {"error": "an API token is required"}
    wrong = w.client.post(pause, json={"reason": "x"}, headers={"Authorization": "Bearer wu_no"})
    assert wrong.status_code == 401
    assert w.client.delete("/api/tokens/ops-1", headers=w.as_(ADMIN)).status_code == 200
    revoked = w.client.post(pause, json={"reason": "x"}, headers=w.as_(OPS))
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["error"]
    assert domain_status(w) == "ramping"


def test_roles_marketing_cannot_resume_ops_cannot_touch_campaigns(w: ApiWorld) -> None:
    assert (
        w.client.post(
            f"/api/domains/{DOMAIN}/pause", json={"reason": "test"}, headers=w.as_(OPS)
        ).status_code
        == 200
    )
    refused = w.client.post(
        f"/api/domains/{DOMAIN}/resume", json={"reason": "go"}, headers=w.as_(MARKETING)
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "token marketing-1 has role marketing; this needs ops"
    assert domain_status(w) == "paused"  # nothing changed
    assert upload(w, people_csv(3), role=OPS).status_code == 403
    assert w.client.get("/api/tokens", headers=w.as_(OPS)).status_code == 403
    with w.database.session() as session:
        assert session.scalar(select(ContactList.id)) is None
    resumed = w.client.post(
        f"/api/domains/{DOMAIN}/resume", json={"reason": "go"}, headers=w.as_(OPS)
    )
    assert resumed.status_code == 200
    assert resumed.json()["domain"]["status"] == "ramping"
    # Admin may do everything; every change names the token that made it.
    assert (
        w.client.post(
            f"/api/domains/{DOMAIN}/hold", json={"reason": "x"}, headers=w.as_(ADMIN)
        ).status_code
        == 200
    )
    actions = audit_actors(w, DOMAIN)
    assert ("pause", "token:ops-1 (ops)") in actions
    assert ("resume", "token:ops-1 (ops)") in actions
    assert ("hold", "token:admin-1 (admin)") in actions


def test_tokens_are_shown_once_then_only_by_prefix(w: ApiWorld) -> None:
    created = w.client.post("/api/tokens", json={"name": "ci", "role": "ops"}, headers=w.as_(ADMIN))
    assert created.status_code == 201
    token = created.json()["token"]
    assert token.startswith("wu_")
    assert len(token) > 40
    assert w.client.get("/api/whoami", headers={"Authorization": f"Bearer {token}"}).json() == {
        "name": "ci",
        "role": "ops",
        "may": ["ops"],
    }
    listing = w.client.get("/api/tokens", headers=w.as_(ADMIN))
    assert listing.status_code == 200
    assert token not in listing.text
    for secret in w.tokens.values():
        assert secret not in listing.text
    assert {t["name"] for t in listing.json()} == {"marketing-1", "ops-1", "admin-1", "ci"}
    again = w.client.post("/api/tokens", json={"name": "ci", "role": "ops"}, headers=w.as_(ADMIN))
    assert again.status_code == 400
    assert (
        w.client.post(
            "/api/tokens", json={"name": "x", "role": "root"}, headers=w.as_(ADMIN)
        ).status_code
        == 422
    )
    assert w.client.delete("/api/tokens/nobody", headers=w.as_(ADMIN)).status_code == 404
    assert ("create", "token:admin-1 (admin)") in audit_actors(w, "ci")
    log = w.client.get(
        "/api/audit",
        params={"subject_type": "token", "actor": "token:admin-1 (admin)"},
        headers=w.as_(OPS),
    )
    assert [(e["subject"], e["action"]) for e in log.json()] == [("ci", "create")]
    assert (
        w.client.get("/api/audit", params={"subject_type": "x"}, headers=w.as_(OPS)).status_code
        == 422
    )


# --- lists ---------------------------------------------------------------------------------


def test_upload_imports_and_the_rejected_rows_can_be_downloaded(w: ApiWorld) -> None:
    answer = upload(w, people_csv(20, bad=2))
    assert answer.status_code == 201, answer.text
    report = answer.json()["report"]
    assert (report["rows"], report["imported"], report["invalid"]) == (22, 20, 2)
    assert report["fields"] == ["first_name"]
    rejected = w.client.get(report["rejected_report"], headers=w.as_(MARKETING))
    assert rejected.status_code == 200
    assert rejected.headers["content-type"].startswith("text/csv")
    assert "not-an-address-0" in rejected.text
    assert rejected.text.splitlines()[1].startswith("22,")  # its line in the file
    assert report["rejected_report_complete"] is True
    assert w.client.get(report["rejected_report"], headers=w.as_(OPS)).status_code == 403
    assert (
        w.client.get("/api/lists/rejected/..%2F..%2Fetc", headers=w.as_(MARKETING)).status_code
        == 404
    )
    # Another replica, with a data directory of its own, serves the same report, packed or not.
    other = w.settings.model_copy(update={"api_data_dir": w.settings.api_data_dir / "other"})
    with TestClient(create_app(other, w.database), client=LOCAL_CLIENT) as replica:
        for encoding in ("gzip", "identity"):
            headers = w.as_(MARKETING) | {"Accept-Encoding": encoding}
            again = replica.get(report["rejected_report"], headers=headers)
            assert again.status_code == 200
            assert again.text == rejected.text
            assert again.headers.get("content-encoding") == (
                encoding if encoding == "gzip" else None
            )
    assert not list((w.settings.api_data_dir / "rejected").iterdir())  # only in the store
    lists = w.client.get("/api/lists", headers=w.as_(OPS)).json()
    assert [(x["name"], x["recipients"], x["created_by"]) for x in lists] == [
        ("people", 20, "token:marketing-1 (marketing)")
    ]
    assert not list((w.settings.api_data_dir / "uploads").iterdir())  # the spooled copy is gone


def test_an_upload_over_the_limit_is_413_and_imports_nothing(
    database: Database, tmp_path: Path
) -> None:
    with api_world(database, tmp_path, api_upload_max_bytes=4096) as w:
        big = people_csv(400)
        assert len(big) > 4096
        declared = upload(w, big)
        assert declared.status_code == 413
        assert "4,096 bytes" in declared.json()["error"]

        # Without a Content-Length (chunked), the count while streaming stops it just the same.
        boundary = "b0undary"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\npeople\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
            'filename="p.csv"\r\nContent-Type: text/csv\r\n\r\n'
        ).encode()

        def chunks() -> Iterator[bytes]:
            yield head
            for start in range(0, len(big), 1000):
                yield big[start : start + 1000]
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = w.client.post(
            "/api/lists",
            headers={
                **w.as_(MARKETING),
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
            content=chunks(),
        )
        assert streamed.status_code == 413
        with database.session() as session:
            assert session.scalar(select(ContactList.id)) is None


def test_an_upload_is_imported_in_the_background_and_can_be_followed(w: ApiWorld) -> None:
    answer = upload(w, people_csv(50), name="later", wait=False)
    assert answer.status_code == 202
    started = answer.json()
    assert (started["status"], started["list_name"], started["report"]) == (
        "running",
        "later",
        None,
    )
    assert answer.headers["location"] == f"/api/lists/imports/{started['id']}"
    # TestClient runs the background work before it returns; a real client polls Location.
    done = w.client.get(answer.headers["location"], headers=w.as_(OPS)).json()
    assert (done["status"], done["progress"], done["rows_read"]) == ("done", 1.0, 50)
    assert done["report"]["imported"] == 50
    assert done["created_by"] == "token:marketing-1 (marketing)"
    failed = upload(w, b"name,phone\nAda,1\n", name="broken", wait=False)
    assert failed.status_code == 202
    why = w.client.get(failed.headers["location"], headers=w.as_(OPS)).json()
    assert why["status"] == "failed"
    assert "email" in why["error"]
    recent = w.client.get("/api/lists/imports", headers=w.as_(OPS)).json()
    assert {job["list_name"] for job in recent} == {"later", "broken"}
    assert w.client.get("/api/lists/imports/nope", headers=w.as_(OPS)).status_code == 404
    assert not list((w.settings.api_data_dir / "uploads").iterdir())


def test_bad_uploads_are_4xx_with_a_reason(w: ApiWorld) -> None:
    no_file = w.client.post("/api/lists", headers=w.as_(MARKETING), data={"name": "x"})
    assert no_file.status_code == 422
    no_email = upload(w, b"name,phone\nAda,1\n")
    assert no_email.status_code == 422
    assert "email" in no_email.json()["error"]
    not_multipart = w.client.post("/api/lists", headers=w.as_(MARKETING), content=b"email\na@b.c\n")
    assert not_multipart.status_code in (400, 422)


# --- campaigns -----------------------------------------------------------------------------


def test_campaign_lifecycle(w: ApiWorld) -> None:
    assert upload(w, people_csv(5)).status_code == 201
    created = campaign(w)
    assert created.status_code == 201, created.text
    assert created.json()["campaign"]["status"] == "draft"
    assert created.json()["warnings"] == []
    preview = w.client.get(
        "/api/campaigns/spring/preview", params={"to": "P1@example.org"}, headers=w.as_(OPS)
    )
    assert preview.status_code == 200
    assert preview.json()["subject"] == "Hello P1"
    assert "List-Unsubscribe" in preview.json()["headers"]
    started = w.client.post("/api/campaigns/spring/start", headers=w.as_(MARKETING))
    assert started.status_code == 202
    # Accepted at once; the ledger is filled in the background, then the campaign runs.
    assert (started.json()["status"], started.json()["fill"]) == (
        "starting",
        {"rows": 0, "total": 5, "progress": 0.0},
    )
    status = w.client.get("/api/campaigns/spring", headers=w.as_(MARKETING)).json()
    assert (status["status"], status["rows"], status["remaining"]) == ("running", 5, 5)
    assert status["fill"] is None
    assert status["eta"] is not None
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(MARKETING)).status_code == 409
    paused = w.client.post(
        "/api/campaigns/spring/pause", json={"reason": "typo"}, headers=w.as_(MARKETING)
    )
    assert paused.json()["status"] == "paused"
    assert (
        w.client.post("/api/campaigns/spring/resume", headers=w.as_(MARKETING)).json()["status"]
        == "running"
    )
    listed = w.client.get("/api/campaigns", headers=w.as_(OPS)).json()
    assert [(c["name"], c["progress"]) for c in listed] == [("spring", 0.0)]
    assert listed[0]["health"] == {
        "reports": 0,
        "failure_rate": 0.0,
        "hard_bounce_rate": 0.0,
        "complaint_rate": 0.0,
    }
    export = w.client.get("/api/campaigns/spring/export", headers=w.as_(MARKETING))
    assert export.status_code == 200
    assert len(export.text.splitlines()) == 6
    drafts = w.client.get("/api/campaigns", params={"status": "draft"}, headers=w.as_(OPS))
    assert drafts.json() == []
    cancelled = w.client.post("/api/campaigns/spring/cancel", headers=w.as_(MARKETING)).json()
    assert (cancelled["status"], cancelled["by_state"]) == ("cancelled", {"skipped": 5})
    assert audit_actors(w, "spring") == [
        ("create", "token:marketing-1 (marketing)"),
        ("start", "token:marketing-1 (marketing)"),
        ("filled", "system"),  # the background fill, done
        ("pause", "token:marketing-1 (marketing)"),
        ("resume", "token:marketing-1 (marketing)"),
        ("cancel", "token:marketing-1 (marketing)"),
    ]


def test_a_field_the_api_does_not_know_is_refused_by_name(w: ApiWorld) -> None:
    assert upload(w, people_csv(2)).status_code == 201
    typo = campaign(w, reply_too="help@mail.example.com")
    assert typo.status_code == 422
    assert "reply_too" in typo.text
    marketing = w.as_(MARKETING)
    assert w.client.post("/api/suppressions", json={"adress": "a@example.org",
                         "reason": "manual"}, headers=marketing).status_code == 422  # fmt: skip
    # The CLI's word for the sender (--from) is taken as well.
    body = {"name": "autumn", "list": "people", "from": SENDER, "subject": "Hi",
            "text": "Hi, unsubscribe: {{ unsubscribe_url }}"}  # fmt: skip
    created = w.client.post("/api/campaigns", json=body, headers=marketing)
    assert created.status_code == 201, created.text


def test_campaign_errors_are_clear(w: ApiWorld) -> None:
    assert upload(w, people_csv(2)).status_code == 201
    missing = w.client.get("/api/campaigns/nope", headers=w.as_(MARKETING))
    assert (missing.status_code, missing.json()) == (404, {"error": "no campaign 'nope'"})
    unknown_field = campaign(w, subject="Hi {{ nickname }}")
    assert unknown_field.status_code == 422
    assert "nickname" in unknown_field.json()["error"]
    wrong_sender = campaign(w, sender="x@elsewhere.example")
    assert wrong_sender.status_code == 400
    assert "x@elsewhere.example" in wrong_sender.json()["error"]
    assert campaign(w, name="spring").status_code == 201
    taken = campaign(w, name="spring")
    assert (taken.status_code, taken.json()) == (
        409,
        {"error": "a campaign named 'spring' already exists"},
    )
    assert (
        w.client.post("/api/campaigns/spring/explode", headers=w.as_(MARKETING)).status_code == 422
    )


# --- domains and plans ---------------------------------------------------------------------


def test_domain_view_history_and_ops_changes(w: ApiWorld) -> None:
    detail = w.client.get(f"/api/domains/{DOMAIN}", headers=w.as_(MARKETING)).json()
    assert (detail["plan"], detail["step"], detail["status"]) == ("demo", 0, "ramping")
    assert (detail["cap_today"], detail["sent_today"], detail["left_today"]) == (60, 0, 60)
    assert detail["health"]["level"] == "unknown"
    assert (detail["health"]["hold_line"], detail["health"]["pause_line"]) == (0.01, 0.02)
    assert detail["history"][-1]["planned"] == 60
    step = w.client.post(
        f"/api/domains/{DOMAIN}/set-step", json={"step": 2, "reason": "proven"}, headers=w.as_(OPS)
    )
    assert step.status_code == 200
    assert step.json()["domain"]["cap_today"] == 240
    too_far = w.client.post(
        f"/api/domains/{DOMAIN}/set-step", json={"step": 99, "reason": "x"}, headers=w.as_(OPS)
    )
    assert too_far.status_code == 409
    bad_plan = w.client.post(
        f"/api/domains/{DOMAIN}/apply-plan",
        json={
            "plan_yaml": "name: x\nsteps:\n  - {per_hour: 10, per_day: 5, per_yearr: 1}\n",
            "reason": "x",
        },
        headers=w.as_(OPS),
    )
    assert bad_plan.status_code == 422
    assert any("per_yearr" in p for p in bad_plan.json()["problems"])
    plans = w.client.get("/api/plans", headers=w.as_(OPS)).json()
    assert {"acs-default", "conservative", "fast", "demo"} <= set(plans)
    applied = w.client.post(
        f"/api/domains/{DOMAIN}/apply-plan",
        json={"plan_yaml": plans["conservative"], "reason": "slower"},
        headers=w.as_(OPS),
    )
    assert applied.status_code == 200
    assert applied.json()["domain"]["plan"] == "conservative"
    check = w.client.post(
        "/api/plans/validate", json={"plan_yaml": plans["fast"]}, headers=w.as_(OPS)
    )  # ops only since issue 13: validating a plan is ops' work, and costs CPU
    assert check.json()["valid"] is True
    audit = w.client.get(f"/api/domains/{DOMAIN}/audit", headers=w.as_(MARKETING)).json()
    assert [e["action"] for e in audit][:2] == ["apply-plan", "set-step"]
    assert audit[0]["actor"] == "token:ops-1 (ops)"
    report = w.client.get(f"/api/domains/{DOMAIN}/report", headers=w.as_(MARKETING)).json()
    assert report["under_2_percent"] is False  # no reports yet: not proven
    assert w.client.get("/api/domains/nope.example", headers=w.as_(MARKETING)).status_code == 404


# --- monitoring, network, secrets ----------------------------------------------------------


def test_metrics_and_readiness(w: ApiWorld) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(MARKETING)).status_code == 202
    text = w.client.get("/metrics").text
    assert f'warmup_domain_step{{domain="{DOMAIN}"}} 0.0' in text
    assert f'warmup_domain_status{{domain="{DOMAIN}",status="ramping"}} 1.0' in text
    assert f'warmup_domain_cap{{domain="{DOMAIN}",period="day"}} 60.0' in text
    assert f'warmup_domain_allowance_today{{domain="{DOMAIN}"}} 60.0' in text
    assert f'warmup_ledger_rows{{domain="{DOMAIN}",state="pending"}} 3.0' in text
    assert f'warmup_domain_health_rate{{domain="{DOMAIN}",rate="failure"}} 0.0' in text
    assert "# TYPE warmup_accepted_total counter" in text
    ready = w.client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "checks": {"database": "ok"}}


def test_silence_can_be_heard_the_throttle_count_from_zero_and_the_last_dispatcher_tick(
    database: Database, tmp_path: Path
) -> None:
    from tests.conftest import redis_or_fail
    from warmup.ratelimit.dispatch_lock import DispatchLock

    client = redis_or_fail()
    scope = f"api-zero-{uuid.uuid4().hex[:8]}"  # this API's quota: never throttled yet
    with api_world(
        database, tmp_path, redis_url="redis://127.0.0.1:6379/0", acs_quota_scope=scope
    ) as w:
        with DispatchLock(client).held() as fence:
            assert fence is not None
        before = time.time()
        text = w.client.get("/metrics").text
        # Exported before the first 429, so increase() sees the first burst whole.
        assert f'warmup_throttled_total{{scope="{scope}"}} 0.0' in text
        ticked = re.search(r"^warmup_dispatcher_last_tick_timestamp_seconds (\S+)$", text, re.M)
        assert ticked is not None
        assert before - 60 < float(ticked[1]) <= before + 1
        assert f'warmup_domain_in_window{{domain="{DOMAIN}"}}' in text


def test_queue_depth_and_429s_come_from_redis_and_a_dead_redis_is_not_ready(
    database: Database, tmp_path: Path
) -> None:
    from tests.conftest import redis_or_fail
    from warmup.ratelimit.redis_limiter import RedisLimiter

    client = redis_or_fail()
    with api_world(database, tmp_path, redis_url="redis://127.0.0.1:6379/0") as w:
        scope = f"api-test-{uuid.uuid4().hex[:8]}"  # runs sharing this Redis do not collide
        RedisLimiter(client).throttle(scope, 1.0, 0.0)
        text = w.client.get("/metrics").text
        assert 'warmup_queue_depth{queue="send"}' in text
        assert f'warmup_throttled_total{{scope="{scope}"}} 1.0' in text
        assert w.client.get("/readyz").json()["checks"]["redis"] == "ok"
    client.delete(f"warmup:rl:throttles:{scope}", f"warmup:rl:throttle:{scope}")
    dead = Settings(redis_url=SecretStr("redis://127.0.0.1:1/0"))
    with TestClient(create_app(dead, database)) as unready:
        answer = unready.get("/readyz")
        assert answer.status_code == 503
        assert answer.json()["checks"] == {
            "database": "ok",
            "redis": "unreachable (ConnectionError)",
        }


def test_the_allow_list_keeps_other_networks_out_but_not_the_webhook(
    database: Database, tmp_path: Path
) -> None:
    with api_world(database, tmp_path, api_allowed_cidrs="10.0.0.0/8, 192.168.1.0/24") as w:
        outside = w.client.get(
            "/api/domains", headers=w.as_(OPS)
        )  # TestClient's host: "testclient"
        assert outside.status_code == 403
        assert w.client.get("/metrics").status_code == 403
        assert w.client.get("/dashboard").status_code == 403
        assert w.client.get("/healthz").status_code == 200
        webhook = w.client.post("/webhooks/acs", json=[])  # reachable, then its own check
        assert webhook.status_code == 401
        inside = TestClient(w.client.app, client=("10.1.2.3", 5000))
        assert inside.get("/api/domains", headers=w.as_(OPS)).status_code == 200


def test_no_response_carries_a_secret(w: ApiWorld) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    bodies = []
    for path in (
        "/api/domains",
        f"/api/domains/{DOMAIN}",
        f"/api/domains/{DOMAIN}/audit",
        "/api/campaigns",
        "/api/campaigns/spring",
        "/api/lists",
        "/api/tokens",
        "/api/whoami",
        "/metrics",
        "/readyz",
        "/openapi.json",
        "/dashboard",
        "/dashboard/app.js",
    ):
        answer = w.client.get(path, headers=w.as_(ADMIN))
        assert answer.status_code == 200, path
        bodies.append(answer.text)
    bodies.append(w.client.post("/api/campaigns/nope/start", headers=w.as_(ADMIN)).text)
    secrets = [*SECRETS["webhook_secrets"].split(","), SECRETS["unsubscribe_secret"]]
    secrets += list(w.tokens.values())
    with w.database.session() as session:
        from warmup.store.models import ApiToken

        secrets += list(session.scalars(select(ApiToken.token_hash)))
    for body in bodies:
        for secret in secrets:
            assert secret not in body


def test_the_dashboard_is_served_with_a_strict_policy(w: ApiWorld) -> None:
    page = w.client.get("/dashboard")
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "connect-src 'self'" in policy
    assert "http" not in page.text.replace("http://www.w3.org", "")  # nothing from elsewhere
    script = w.client.get("/dashboard/app.js")
    assert script.headers["content-type"].startswith("text/javascript")
    assert "innerHTML" not in script.text  # values are written as text
    assert w.client.get("/dashboard/../app.py").status_code == 404
    assert json.loads(w.client.get("/openapi.json").text)["info"]["title"] == "warmup"


def test_head_answers_wherever_get_does_with_headers_and_no_body(w: ApiWorld) -> None:
    for path in ("/dashboard", "/healthz", "/dashboard/app.js", "/u/preview"):
        got, head = w.client.get(path), w.client.head(path)
        assert head.status_code == got.status_code == 200, path
        assert head.content == b"", path
        assert head.headers["content-type"] == got.headers["content-type"], path
        assert head.headers.get("content-length") == got.headers.get("content-length"), path
    assert w.client.head("/api/campaigns").status_code == 401  # the same checks as GET
    assert w.client.head("/api/campaigns", headers=w.as_(OPS)).status_code == 200
    assert w.client.head("/no/such/page").status_code == 404


def test_ops_add_a_domain_raise_its_quota_and_add_a_sender(w: ApiWorld) -> None:
    plan = w.client.get("/api/plans", headers=w.as_(OPS)).json()["acs-default"]
    body = {"name": "News.Example.org", "plan_yaml": plan, "senders": ["hi@news.example.org"]}
    assert w.client.post("/api/domains", json=body, headers=w.as_(MARKETING)).status_code == 403
    added = w.client.post("/api/domains", json=body, headers=w.as_(OPS))
    assert added.status_code == 201, added.text
    assert (added.json()["name"], added.json()["status"]) == ("news.example.org", "ramping")
    assert added.json()["acs_quota_per_hour"] == 100  # ACS's default until raised
    again = w.client.post("/api/domains", json=body, headers=w.as_(OPS))
    assert again.status_code == 409
    elsewhere = {**body, "name": "other.example.org"}
    assert w.client.post("/api/domains", json=elsewhere, headers=w.as_(OPS)).status_code == 400
    raised = w.client.post(
        "/api/domains/news.example.org/quota",
        json={"per_minute": 300, "per_hour": 10000},
        headers=w.as_(OPS),
    )
    assert raised.json()["acs_quota_per_hour"] == 10000
    sender = w.client.post(
        "/api/domains/news.example.org/senders",
        json={"address": "team@news.example.org"},
        headers=w.as_(OPS),
    )
    assert sender.json()["senders"] == ["hi@news.example.org", "team@news.example.org"]
    actions = audit_actors(w, "news.example.org")
    assert ("set-quota", "token:ops-1 (ops)") in actions
    assert ("create", "token:ops-1 (ops)") in actions


def test_marketing_suppresses_and_allows_addresses(w: ApiWorld) -> None:
    body = {"address": "Ada@Example.org", "reason": "manual", "days": 30, "note": "asked by phone"}
    assert w.client.post("/api/suppressions", json=body, headers=w.as_(OPS)).status_code == 403
    added = w.client.post("/api/suppressions", json=body, headers=w.as_(MARKETING))
    assert added.status_code == 201, added.text
    assert (added.json()["address"], added.json()["source"]) == (
        "ada@example.org",
        "token:marketing-1 (marketing)",
    )
    assert added.json()["expires_at"] is not None
    found = w.client.get("/api/suppressions/ada@example.org", headers=w.as_(OPS))
    assert found.json()["note"] == "asked by phone"
    assert [s["address"] for s in w.client.get("/api/suppressions", headers=w.as_(OPS)).json()] == [
        "ada@example.org"
    ]
    bad = w.client.post(
        "/api/suppressions",
        json={"address": "x@y.org", "reason": "dislike"},
        headers=w.as_(MARKETING),
    )
    assert bad.status_code == 400
    assert "unknown suppression reason" in bad.json()["error"]
    removed = w.client.delete("/api/suppressions/ada@example.org", headers=w.as_(MARKETING))
    assert removed.status_code == 200
    assert w.client.get("/api/suppressions/ada@example.org", headers=w.as_(OPS)).status_code == 404
    assert (
        w.client.delete("/api/suppressions/ada@example.org", headers=w.as_(MARKETING)).status_code
        == 404
    )
    assert [a for a, _ in audit_actors(w, "ada@example.org")] == ["suppress", "unsuppress"]
