"""`warmup acs domain check --dns-only` against a DNS server on 127.0.0.1 (harness/dns_server.py):
what it names, what it keeps, the gate it sets on campaign start, and DNS that does not answer.
No test here asks the internet, and none needs Azure."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from harness.dns_server import DnsServer, ready_zone
from harness.pipeline_world import DOMAIN, add_domain, draft
from tests.cli import cli, url_of
from warmup.audit import AuditFilter, AuditLog
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.store.database import Database
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

# Twelve includes, each one lookup, with ACS's: 13 lookups, over RFC 7208's ten.
LONG_SPF = "v=spf1 " + " ".join(f"include:s{i}.long.test" for i in range(12))
ZONE = {
    **ready_zone("ready.test"),
    "long.test": {"TXT": [LONG_SPF + " include:spf.protection.outlook.com -all"]},
    "_dmarc.long.test": {"TXT": ["v=DMARC1; p=reject; rua=mailto:dmarc@long.test"]},
    **{f"s{i}.long.test": {"TXT": [f"v=spf1 ip4:192.0.2.{i} -all"]} for i in range(12)},
    # SPF fine, no DMARC record anywhere (nor at the organisational domain).
    "bare.test": {
        "TXT": ["v=spf1 include:spf.protection.outlook.com -all"],
        "MX": ["mx.bare.test"],
    },
    # DMARC that asks for nothing: p=none and no rua.
    "quiet.test": {"TXT": ["v=spf1 include:spf.protection.outlook.com -all"], "MX": ["mx.quiet"]},
    "_dmarc.quiet.test": {"TXT": ["v=DMARC1; p=none"]},
    # The pipeline world's domain, without DMARC.
    DOMAIN: {"TXT": ["v=spf1 include:spf.protection.outlook.com -all"], "MX": ["mx." + DOMAIN]},
}


@pytest.fixture(scope="module")
def dns() -> Iterator[DnsServer]:
    with DnsServer(ZONE) as server:
        yield server


def check(url: str, dns: DnsServer, domain: str, *extra: str) -> tuple[int, dict[str, Any]]:
    found = cli(url, "acs", "domain", "check", domain, "--dns-only", "--json",
                "--nameserver", dns.nameserver, *extra)  # fmt: skip
    assert "Traceback" not in found.stderr, found.stderr
    return found.returncode, json.loads(found.stdout)


def test_dns_only_names_spf_over_ten_lookups_missing_dmarc_and_p_none_without_rua(
    dns: DnsServer, database: Database
) -> None:
    url = url_of(database)
    code, long = check(url, dns, "long.test")
    assert code == 1
    posture = long["dns"]
    assert posture["spf_lookups"] == 13
    assert posture["problems"] == [
        "SPF: 13 DNS lookups, over the limit of 10 (receivers treat it as a permanent error: "
        "SPF fails)"
    ]
    assert long["management"] is None
    assert long["kept"] is False

    code, bare = check(url, dns, "bare.test")
    assert code == 1
    assert bare["dns"]["problems"] == [
        "DMARC: no record at _dmarc.bare.test (Gmail and Yahoo require one of bulk senders)"
    ]

    code, quiet = check(url, dns, "quiet.test")
    assert code == 0  # a warning, not a problem: p=none is where a warm-up starts
    assert quiet["dns"]["problems"] == []
    assert quiet["dns"]["warnings"] == [
        "DMARC p=none with no rua: no aggregate reports, so nothing shows whether the domain's "
        "mail aligns before the policy is tightened"
    ]

    code, ready = check(url, dns, "ready.test")
    assert code == 0
    assert ready["dns"]["problems"] == []
    assert ready["dns"]["warnings"] == []
    assert ready["dns"]["spf_includes_acs"] is True
    assert ready["dns"]["dmarc_rua"] == ["mailto:dmarc@ready.test"]

    shown = cli(url, "acs", "domain", "check", "long.test", "--dns-only",
                "--nameserver", dns.nameserver)  # fmt: skip
    assert "13 of 10 lookups" in shown.stdout
    assert "not ready for bulk mail: SPF: 13 DNS lookups" in shown.stdout


def test_a_dns_problem_refuses_campaign_start_until_an_audited_override(
    dns: DnsServer, database: Database, tmp_path: Path
) -> None:
    url = url_of(database)
    add_domain(database)
    people = tmp_path / "people.csv"
    people.write_text("email\na@example.org\nb@example.org\n")
    now = datetime.now(UTC)
    ListImporter(database).run(
        people, "people", options=ImportOptions(), rejected_path=tmp_path / "r.csv", actor="t",
        at=now,
    )  # fmt: skip
    draft(database, "c", "Hi", "Hello", at=now)
    env = {"WARMUP_UNSUBSCRIBE_SECRET": "dns-posture-test-secret"}
    code, found = check(url, dns, DOMAIN)
    assert code == 1
    assert found["kept"] is True
    status = json.loads(cli(url, "domain", "status", DOMAIN, "--json").stdout)
    assert status["dns"]["problems"] == [
        f"DMARC: no record at _dmarc.{DOMAIN} (Gmail and Yahoo require one of bulk senders)"
    ]
    assert status["authentication"] is None  # ACS was not asked
    shown = cli(url, "domain", "status", DOMAIN)
    assert "DMARC: no record" in shown.stdout
    refused = cli(url, "campaign", "start", "-c", "c", env=env)
    assert refused.returncode == 1
    assert "not ready for bulk mail: DMARC: no record" in refused.stderr
    assert Stores(database).campaigns.get("c").status == "draft"
    started = cli(url, "campaign", "start", "-c", "c", "--override-auth", "DMARC goes live today",
                  env=env)  # fmt: skip
    assert started.returncode == 0, started.stderr
    overrides = AuditLog(database).oldest_first(AuditFilter(actions=("override-authentication",)))
    assert [e.reason for e in overrides] == [
        f"DMARC goes live today (started with DMARC: no record at _dmarc.{DOMAIN} (Gmail and "
        "Yahoo require one of bulk senders))"
    ]
    checks = AuditLog(database).oldest_first(AuditFilter(actions=("check-dns",)))
    assert len(checks) == 1
    assert "DMARC: no record" in checks[0].reason


def test_dns_that_does_not_answer_is_one_clear_line_and_keeps_nothing(
    database: Database,
) -> None:
    add_domain(database)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        failed = cli(url_of(database), "acs", "domain", "check", DOMAIN, "--dns-only",
                     "--nameserver", f"127.0.0.1:{port}")  # fmt: skip
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"configuration error: DNS did not answer for {DOMAIN}")
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr
    assert Stores(database).domains.get(DOMAIN).dns_posture is None
