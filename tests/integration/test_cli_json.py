"""The CLI's read commands and ``--json`` (SQLite and PostgreSQL): the JSON a script gets from
the CLI is the API's answer for the same thing, field for field; and the small errors of
campaign status (a draft, suppressed rows counted as sent) stay fixed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from tests.api_world import DOMAIN, ApiWorld, api_world, campaign, people_csv, upload
from tests.cli import cli, url_of
from warmup.audit import AuditFilter, AuditLog
from warmup.domains.store import DomainStore
from warmup.store.database import Database
from warmup.store.models import LedgerRow
from warmup.tokens import Role
from warmup.views.campaigns import CampaignOut
from warmup.views.domains import DomainOut, DomainReportOut
from warmup.views.lists import ListDetailOut, ListOut
from warmup.views.plans import ScheduleOut, SimulationOut
from warmup.views.suppressions import SuppressionOut
from warmup.wiring import Stores

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def w(database: Database, tmp_path: Path) -> Iterator[ApiWorld]:
    with api_world(database, tmp_path) as world:
        yield world


def api(w: ApiWorld, path: str) -> Any:
    answer = w.client.get(path, headers=w.as_(Role.OPS))
    assert answer.status_code == 200, answer.text
    return answer.json()


def cli_json(w: ApiWorld, *args: str) -> Any:
    done = cli(url_of(w.database), *args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # stdout holds the JSON and nothing else


def test_a_draft_says_not_started_and_suppressed_rows_are_not_sent(w: ApiWorld) -> None:
    assert upload(w, people_csv(5)).status_code == 201
    assert campaign(w).status_code == 201
    draft = api(w, "/api/campaigns/spring")
    assert (draft["rows"], draft["list_recipients"], draft["eta_note"]) == (0, 5, "not started")
    text = cli(url_of(w.database), "campaign", "status", "-c", "spring").stdout
    assert "5 recipients on the list, not started" in text
    assert "nothing left to send" not in text

    suppressed = w.client.post(
        "/api/suppressions",
        json={"address": "p0@example.org", "reason": "unsubscribe"},
        headers=w.as_(Role.MARKETING),
    )
    assert suppressed.status_code == 201
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.MARKETING)).is_success
    running = api(w, "/api/campaigns/spring")
    assert running["by_state"] == {"pending": 4, "suppressed": 1}
    assert (running["sent"], running["settled"], running["remaining"]) == (0, 1, 4)


def test_cli_json_is_the_api_shape_for_the_same_thing(w: ApiWorld, tmp_path: Path) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    assert campaign(w, "autumn").status_code == 201
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.MARKETING)).is_success
    w.client.post(
        "/api/suppressions",
        json={"address": "Gone@Example.org", "reason": "complaint", "note": "via support"},
        headers=w.as_(Role.MARKETING),
    )

    pairs = {
        ("campaign", "status", "-c", "spring"): "/api/campaigns/spring",
        ("campaign", "list"): "/api/campaigns",
        ("campaign", "list", "--status", "draft"): "/api/campaigns?status=draft",
        ("domain", "status", DOMAIN): f"/api/domains/{DOMAIN}",
        ("domain", "status"): "/api/domains",
        ("domain", "report", DOMAIN): f"/api/domains/{DOMAIN}/report",
        ("lists", "show"): "/api/lists",
        ("lists", "show", "people", "--sample", "2"): "/api/lists/people?sample=2",
        ("suppression", "show", "gone@example.org"): "/api/suppressions/gone@example.org",
    }
    for command, path in pairs.items():
        from_cli, from_api = cli_json(w, *command), api(w, path)
        if path == f"/api/domains/{DOMAIN}":  # the API's single domain adds its history
            from_api.pop("history")
        assert from_cli == from_api, command

    # Each parses as its documented shape.
    assert [c.name for c in map(CampaignOut.model_validate, cli_json(w, "campaign", "list"))] == [
        "autumn",
        "spring",
    ]
    domain = DomainOut.model_validate(cli_json(w, "domain", "status", DOMAIN))
    assert domain.sending.reason  # always says whether and why
    report = DomainReportOut.model_validate(cli_json(w, "domain", "report", DOMAIN))
    assert len(report.days) == 30
    assert [x.name for x in map(ListOut.model_validate, cli_json(w, "lists", "show"))] == ["people"]
    gone = SuppressionOut.model_validate(cli_json(w, "suppression", "show", "GONE@example.org"))
    assert (gone.address, gone.reason) == ("gone@example.org", "complaint")
    assert gone.note == "via support"
    exported = cli_json(w, "suppression", "export")
    assert [SuppressionOut.model_validate(s).address for s in exported] == ["gone@example.org"]


def test_suppression_show_says_when_an_address_may_be_sent_to(w: ApiWorld) -> None:
    url = url_of(w.database)
    done = cli(url, "suppression", "show", "nobody@example.org")
    assert (done.returncode, done.stdout.strip()) == (
        1,
        "nobody@example.org is not suppressed: it may be sent to",
    )
    assert cli(url, "suppression", "show", "nobody@example.org", "--json").stdout.strip() == "null"
    cli(url, "suppression", "add", "Ann@Example.org", "--reason", "unsubscribe", "--days", "30")
    shown = cli(url, "suppression", "show", "ann@example.org").stdout
    assert "ann@example.org: suppressed (unsubscribe) since" in shown
    assert "until" in shown


def test_plan_show_and_simulate_json(database_url: str) -> None:
    plan = str(ROOT / "schedules" / "acs-default.yaml")
    shown = cli(database_url, "plan", "show", plan, "--start", "2026-11-30", "--json")
    schedule = ScheduleOut.model_validate_json(shown.stdout)
    assert (schedule.plan, schedule.steps[0].per_hour, schedule.sending_days_to_final) == (
        "acs-default",
        schedule.steps[0].per_hour,
        18,
    )
    assert schedule.quota_request is not None
    assert (str(schedule.quota_request.needed_on), str(schedule.quota_request.ask_by)) == (
        "2026-12-04",
        "2026-12-01",
    )
    simulated = cli(
        database_url, "plan", "simulate", plan, "--days", "10", "--failures", "4:3%", "--json"
    )
    result = SimulationOut.model_validate_json(simulated.stdout)
    assert len(result.days) == 10
    assert any(d.decisions for d in result.days)  # the day-4 spike is decided on
    assert result.sent == sum(d.sent for d in result.days)


def test_retry_through_the_api_and_the_cli(w: ApiWorld) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.MARKETING)).is_success
    url = url_of(w.database)
    nothing = cli(url, "campaign", "retry", "-c", "spring", "--outcomes", "soft_bounce")
    assert nothing.returncode == 1
    assert "invalid: campaign spring has no rows with outcomes soft_failure" in nothing.stderr
    refused = cli(url, "campaign", "retry", "-c", "spring", "--outcomes", "delivered")
    assert "delivered, bounced and complained rows are never retried" in refused.stderr
    with w.database.engine.begin() as connection:
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.address == "p1@example.org")
            .values(state="accepted", outcome="soft_failure", outcome_at=datetime.now(UTC))
        )
    answer = w.client.post(
        "/api/campaigns/spring/retry",
        json={"outcomes": ["soft_bounce"], "name": "spring-again"},
        headers=w.as_(Role.MARKETING),
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["recipients"] == 1
    assert answer.json()["campaign"]["status"] == "draft"
    assert answer.json()["campaign"]["list_recipients"] == 1
    made = cli(url, "campaign", "retry", "-c", "spring", "--outcomes", "soft_bounce")
    assert made.returncode == 0, made.stderr
    assert "campaign spring-retry created (draft): 1 recipients of spring" in made.stdout
    assert (
        w.client.post(
            "/api/campaigns/spring/retry",
            json={"outcomes": ["soft_bounce"]},
            headers=w.as_(Role.OPS),
        ).status_code
        == 403
    )  # marketing's verb


def test_schedule_and_unschedule_through_the_cli_and_the_api(w: ApiWorld) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    url = url_of(w.database)
    secret = {"WARMUP_UNSUBSCRIBE_SECRET": "unsubscribe-secret-value"}
    done = cli(url, "campaign", "schedule", "-c", "spring", "--at", "2030-01-07 09:00",
               "--tz", "Europe/Paris", env=secret)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "campaign spring starts at Mon 2030-01-07 09:00 CET (08:00 UTC)" in done.stdout
    shown = cli_json(w, "campaign", "status", "-c", "spring")
    assert (shown["status"], shown["scheduled_at"]) == ("scheduled", "2030-01-07T08:00:00Z")
    assert shown["eta_note"] == "scheduled to start at 2030-01-07 08:00 UTC"
    past = cli(url, "campaign", "schedule", "-c", "spring", "--at", "2020-01-01 09:00", env=secret)
    assert (past.returncode, past.stderr.strip()) == (
        1,
        "invalid: 2020-01-01 09:00 UTC is in the past",
    )

    path = "/api/campaigns/spring/schedule"
    assert w.client.delete(path, headers=w.as_(Role.OPS)).status_code == 403
    unscheduled = w.client.delete(path, headers=w.as_(Role.MARKETING))
    assert (unscheduled.status_code, unscheduled.json()["scheduled_at"]) == (200, None)
    assert w.client.delete(path, headers=w.as_(Role.MARKETING)).status_code == 409
    bad = w.client.post(path, json={"at": "2030-01-07 09:00", "tz": "Nowhere/Land"},
                        headers=w.as_(Role.MARKETING))  # fmt: skip
    assert bad.status_code == 422
    assert "unknown timezone 'Nowhere/Land'" in bad.json()["error"]
    again = w.client.post(
        path, json={"at": "2030-01-07T09:00+01:00"}, headers=w.as_(Role.MARKETING)
    )
    assert again.json()["scheduled_at"] == "2030-01-07T08:00:00Z"


def test_variants_through_the_api_and_the_cli(w: ApiWorld, tmp_path: Path) -> None:
    assert upload(w, people_csv(6)).status_code == 201
    assert campaign(w).status_code == 201
    url = url_of(w.database)
    path = "/api/campaigns/spring/variants"
    added = w.client.post(path, json={"subject": "Psst, {{ first_name }}", "test_fraction": 0.5,
                                      "wait_hours": 1}, headers=w.as_(Role.MARKETING))  # fmt: skip
    assert added.status_code == 201, added.text
    assert added.json()["variant"] == "B"
    ab = added.json()["campaign"]["ab_test"]
    assert (ab["test_fraction"], ab["wait_hours"], ab["winner"]) == (0.5, 1.0, None)
    assert [v["subject"] for v in ab["variants"]] == [
        "Hello {{ first_name }}",
        "Psst, {{ first_name }}",
    ]
    unknown_field = w.client.post(
        path, json={"subject": "{{ shoe_size }}"}, headers=w.as_(Role.MARKETING)
    )
    assert unknown_field.status_code == 422
    assert "shoe_size" in unknown_field.json()["error"]
    body = tmp_path / "c.html"
    body.write_text("<p>Hi {{ first_name }}</p>")
    third = cli(url, "campaign", "variant", "-c", "spring", "--html", str(body))
    assert third.returncode == 0, third.stderr
    assert "variant C added" in third.stdout
    assert "no link to {{ unsubscribe_url }}" in third.stdout  # the variant's own body is checked
    assert cli(url, "campaign", "variant", "-c", "spring", "--subject", "D").returncode == 0
    too_many = cli(url, "campaign", "variant", "-c", "spring", "--subject", "E")
    assert "at most 4 variants, A included" in too_many.stderr
    secret = {"WARMUP_UNSUBSCRIBE_SECRET": "unsubscribe-secret-value"}
    preview = cli(url, "campaign", "preview", "-c", "spring", "--to", "p1@example.org",
                  "--variant", "B", env=secret)  # fmt: skip
    assert "Subject: Psst, P1" in preview.stdout
    api_preview = w.client.get("/api/campaigns/spring/preview",
                               params={"to": "p1@example.org", "variant": "C"},
                               headers=w.as_(Role.OPS))  # fmt: skip
    assert api_preview.json()["html"] == "<p>Hi P1</p>"
    assert api_preview.json()["text"].strip() == "Hi P1"  # made from the variant's HTML

    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.MARKETING)).is_success
    started = w.client.get("/api/campaigns/spring", headers=w.as_(Role.MARKETING))
    assert started.json()["by_state"] == {"pending": 4, "waiting": 2}  # A, B, C, D test first
    late = w.client.post(path, json={"subject": "late"}, headers=w.as_(Role.MARKETING))
    assert late.status_code == 409
    status = cli(url, "campaign", "status", "-c", "spring").stdout
    assert "A/B test: 50% of the list, winner 1 h 00 min after the test's last send" in status


def test_exports_write_to_stdout_with_a_dash_and_say_so_on_stderr(
    w: ApiWorld, tmp_path: Path
) -> None:
    url = url_of(w.database)
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    assert w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.MARKETING)).is_success
    cli(url, "suppression", "add", "Gone@Example.org", "--reason", "complaint")
    rows = cli(url, "campaign", "export", "-c", "spring", "-o", "-", cwd=tmp_path)
    assert rows.returncode == 0, rows.stderr
    assert rows.stdout.splitlines()[0].startswith("address,")
    assert len(rows.stdout.splitlines()) == 1 + 3
    assert "3 recipients written" in rows.stderr
    listed = cli(url, "suppression", "export", "-o", "-", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines() == [
        "address,reason,source,created_at,expires_at,note",
        listed.stdout.splitlines()[1],
    ]
    assert listed.stdout.splitlines()[1].startswith("gone@example.org,complaint,")
    assert not (tmp_path / "-").exists()  # no file named "-"


def test_one_list_in_detail_shows_each_fields_fill_and_its_first_rows(w: ApiWorld) -> None:
    assert upload(w, people_csv(3)).status_code == 201
    detail = ListDetailOut.model_validate(cli_json(w, "lists", "show", "people"))
    assert (detail.name, detail.recipients) == ("people", 3)
    assert [(f.field, f.filled + f.empty) for f in detail.fill] == [
        (field, 3) for field in detail.fields
    ]
    assert len(detail.sample) == 3
    assert all("address" in row for row in detail.sample)
    table = cli(url_of(w.database), "lists", "show", "people")
    assert table.returncode == 0, table.stderr
    assert "3 recipients" in table.stdout
    missing = cli(url_of(w.database), "lists", "show", "nope")
    assert (missing.returncode, "not found: no list 'nope'" in missing.stderr) == (2, True)
    assert w.client.get("/api/lists/nope", headers=w.as_(Role.MARKETING)).status_code == 404


def test_a_list_is_deleted_only_when_no_campaign_uses_it(w: ApiWorld) -> None:
    url = url_of(w.database)
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201  # "spring" uses "people"
    refused = cli(url, "lists", "delete", "people")
    assert refused.returncode == 1
    assert "invalid: list people is used by campaign(s) spring" in refused.stderr
    marketing = w.as_(Role.MARKETING)
    assert w.client.delete("/api/lists/people", headers=marketing).status_code == 409
    other = upload(w, people_csv(2), name="autumn-list")
    assert other.status_code == 201, other.text
    assert w.client.delete("/api/lists/autumn-list", headers=w.as_(Role.OPS)).status_code == 403
    assert w.client.delete("/api/lists/autumn-list", headers=marketing).status_code == 204
    assert w.client.get("/api/lists/autumn-list", headers=marketing).status_code == 404
    done = cli(url, "lists", "delete", "autumn-list")
    assert (done.returncode, "not found" in done.stderr) == (2, True)


def test_a_draft_is_deleted_its_name_reused_and_any_campaign_cloned(w: ApiWorld) -> None:
    url = url_of(w.database)
    marketing = w.as_(Role.MARKETING)
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    assert campaign(w, "autumn").status_code == 201
    assert w.client.post("/api/campaigns/autumn/start", headers=marketing).is_success
    # A draft goes, and its name is free again.
    done = cli(url, "campaign", "delete", "-c", "spring")
    assert done.returncode == 0, done.stderr
    assert campaign(w).status_code == 201
    # A campaign that started is kept for its figures: 409, and the CLI says invalid.
    assert w.client.delete("/api/campaigns/autumn", headers=marketing).status_code == 409
    refused = cli(url, "campaign", "delete", "-c", "autumn")
    assert refused.returncode == 1
    assert "only a draft can be deleted" in refused.stderr
    # Any campaign can be cloned into a new draft with its list, sender and message.
    copied = w.client.post("/api/campaigns/autumn/clone", json={"name": "winter"},
                           headers=marketing)  # fmt: skip
    assert copied.status_code == 201, copied.text
    assert (copied.json()["status"], copied.json()["list"]) == ("draft", "people")
    again = cli(url, "campaign", "clone", "-c", "autumn", "--name", "winter")
    assert again.returncode == 1
    assert "already exists" in again.stderr
    original = Stores(w.database).campaigns.get("autumn")
    clone_of = Stores(w.database).campaigns.get("winter")
    assert (clone_of.subject, clone_of.text, clone_of.sender_address) == (
        original.subject,
        original.text,
        original.sender_address,
    )
    actions = [e.action for e in AuditLog(w.database).oldest_first(AuditFilter(subject="spring"))]
    assert actions[:3] == ["create", "delete", "create"]


def test_a_draft_is_edited_checked_as_at_create_and_a_started_one_is_not(
    w: ApiWorld, tmp_path: Path
) -> None:
    url = url_of(w.database)
    marketing = w.as_(Role.MARKETING)
    assert upload(w, people_csv(3)).status_code == 201
    assert campaign(w).status_code == 201
    body = tmp_path / "body.txt"
    body.write_text("Dear {{ first_name }}, unsubscribe: {{ unsubscribe_url }}")
    done = cli(url, "campaign", "edit", "-c", "spring", "--subject", "New {{ first_name }}",
               "--text", str(body))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "subject, text changed" in done.stdout
    edited = Stores(w.database).campaigns.get("spring")
    assert (edited.subject, edited.text) == ("New {{ first_name }}", body.read_text())
    # Checked as at create: a field the list lacks is refused, and nothing changes.
    bad = w.client.patch("/api/campaigns/spring", json={"subject": "Hi {{ nickname }}"},
                         headers=marketing)  # fmt: skip
    assert bad.status_code == 422
    assert "nickname" in bad.json()["error"]
    assert Stores(w.database).campaigns.get("spring").subject == "New {{ first_name }}"
    patched = w.client.patch("/api/campaigns/spring", json={"priority": 5}, headers=marketing)
    assert (patched.status_code, patched.json()["changed"]) == (200, ["priority"])
    # The CLI's word for the sender is taken in an edit too, as at create.
    DomainStore(w.database).add_sender(
        DOMAIN, f"offers@{DOMAIN}", actor="ops", at=datetime.now(UTC)
    )
    moved = w.client.patch("/api/campaigns/spring", json={"from": f"offers@{DOMAIN}"},
                           headers=marketing)  # fmt: skip
    assert moved.status_code == 200, moved.text
    assert moved.json()["changed"] == ["sender"]
    assert w.client.post("/api/campaigns/spring/start", headers=marketing).is_success
    late = w.client.patch("/api/campaigns/spring", json={"subject": "Too late"}, headers=marketing)
    assert late.status_code == 409
    assert "only a draft can be edited" in late.json()["error"]
