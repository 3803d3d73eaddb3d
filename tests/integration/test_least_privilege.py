"""Issue 30's least-privilege and input findings, each refused with a 4xx or a clear reply."""

from pathlib import Path

import pytest

from tests.api_world import api_world, campaign, people_csv, upload
from warmup.store.database import Database
from warmup.tokens import Role

pytestmark = pytest.mark.integration


def test_overriding_the_authentication_gate_is_ops_work_not_marketings(
    database: Database, tmp_path: Path
) -> None:
    with api_world(database, tmp_path) as w:
        assert upload(w, people_csv(3)).status_code == 201
        assert campaign(w).status_code == 201
        body = {"override_auth": "DKIM is propagating"}
        refused = w.client.post(
            "/api/campaigns/spring/start", headers=w.as_(Role.MARKETING), json=body
        )
        assert refused.status_code == 403
        assert "ops" in refused.json()["error"]
        assert (
            w.client.get("/api/campaigns/spring", headers=w.as_(Role.OPS)).json()["status"]
            == "draft"
        )
        started = w.client.post("/api/campaigns/spring/start", headers=w.as_(Role.OPS), json=body)
        assert started.status_code == 202, started.text


@pytest.mark.parametrize(
    "encoding", ["rot13", "zlib_codec", "base64_codec", "uu_codec", "punycode"]
)
def test_a_list_upload_in_a_codec_that_is_no_text_encoding_is_refused_with_a_4xx(
    database: Database, tmp_path: Path, encoding: str
) -> None:
    with api_world(database, tmp_path) as w:
        answer = w.client.post(
            "/api/lists",
            headers=w.as_(Role.MARKETING),
            params={"wait": "true"},
            data={"name": "people", "encoding": encoding},
            files={"file": ("people.csv", people_csv(3), "text/csv")},
        )
        assert 400 <= answer.status_code < 500, answer.text
        assert "encoding" in answer.text


def test_a_preview_hands_out_no_working_unsubscribe_link(
    database: Database, tmp_path: Path
) -> None:
    # Previews are open to every role: a working signed link in one would let any reader
    # unsubscribe any member of the list, recorded as that member's own choice.
    with api_world(database, tmp_path) as w:
        assert upload(w, people_csv(3)).status_code == 201
        assert campaign(w).status_code == 201
        preview = w.client.get(
            "/api/campaigns/spring/preview",
            params={"to": "p1@example.org"},
            headers=w.as_(Role.OPS),
        ).json()
        assert "/u/preview" in preview["text"]
        assert "/u/preview" in preview["headers"]["List-Unsubscribe"]
        clicked = w.client.post("/u/preview")
        assert clicked.status_code == 200
        assert "unsubscribes nobody" in clicked.text
        found = w.client.get("/api/suppressions/p1@example.org", headers=w.as_(Role.OPS))
        assert found.status_code == 404


def test_audit_entries_name_the_acting_tokens_role_and_what_it_did(
    database: Database, tmp_path: Path
) -> None:
    from sqlalchemy import select

    from warmup.store.models import AuditEntry

    with api_world(database, tmp_path) as w:
        body = {"address": "gone@example.org", "reason": "complaint"}
        added = w.client.post("/api/suppressions", headers=w.as_(Role.MARKETING), json=body)
        assert added.status_code == 201, added.text
        removed = w.client.delete(
            "/api/suppressions/gone@example.org", headers=w.as_(Role.MARKETING)
        )
        assert removed.status_code == 200
        with database.session() as session:
            entries = session.execute(
                select(AuditEntry.action, AuditEntry.actor, AuditEntry.reason).where(
                    AuditEntry.subject == "gone@example.org"
                )
            ).all()
        by_name = w.client.get(
            "/api/audit", params={"actor": "token:marketing-1"}, headers=w.as_(Role.OPS)
        ).json()
        assert {entry["action"] for entry in by_name} >= {"suppress", "unsuppress"}
    removal = [entry for entry in entries if entry.action == "unsuppress"]
    assert [(e.actor, e.reason) for e in removal] == [
        ("token:marketing-1 (marketing)", "allowed again by hand")
    ]


def test_a_rejected_rows_report_leaves_no_file_and_only_marketing_reads_it(
    database: Database, tmp_path: Path
) -> None:
    # The rejected rows (addresses, personal data) are kept in the store with their import;
    # the importer's working file (owner-only while it exists) is gone once they are.
    with api_world(database, tmp_path) as w:
        answer = upload(w, people_csv(3, bad=2))
        assert answer.status_code == 201, answer.text
        link = answer.json()["report"]["rejected_report"]
        assert w.client.get(link, headers=w.as_(Role.MARKETING)).status_code == 200
        assert w.client.get(link, headers=w.as_(Role.OPS)).status_code == 403
        assert w.client.get(link).status_code == 401
    assert not list((tmp_path / "api-data").rglob("*.csv"))


def test_no_proxy_is_trusted_unless_configured() -> None:
    from warmup.settings import Settings

    assert Settings().api_trusted_proxies == ""


@pytest.mark.parametrize(
    "path", ["/metrics", "/docs", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"]
)
def test_metrics_and_the_api_docs_answer_private_networks_only_by_default(
    database: Database, tmp_path: Path, path: str
) -> None:
    from fastapi.testclient import TestClient

    from warmup.api.app import create_app

    with api_world(database, tmp_path) as w:
        outside = TestClient(w.client.app, client=("203.0.113.7", 5000))
        refused = outside.get(path)
        assert refused.status_code == 403
        assert "WARMUP_API_ADMIN_CIDRS" in refused.json()["error"]
        assert outside.get("/healthz").status_code == 200  # probes stay open
        inside = TestClient(w.client.app, client=("10.1.2.3", 5000))
        assert inside.get(path).status_code == 200
        everyone = w.settings.model_copy(update={"api_admin_cidrs": ""})
        anyone = TestClient(create_app(everyone, database), client=("203.0.113.7", 5000))
        assert anyone.get(path).status_code == 200


def test_the_api_docs_load_nothing_from_another_site_and_carry_a_csp(
    database: Database, tmp_path: Path
) -> None:
    with api_world(database, tmp_path) as w:
        page = w.client.get("/docs")
        assert page.status_code == 200
        assert "cdn" not in page.text.lower()
        assert "://" not in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'self' 'sha256-" in policy
        assert "frame-ancestors 'none'" in policy
        for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
            assert w.client.get(f"/docs/assets/{asset}").status_code == 200
        assert w.client.get("/redoc").status_code == 404
