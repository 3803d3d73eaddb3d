"""`warmup acs` with the real azure-mgmt-communication SDK against the emulator's resource
manager routes (over TLS from its test CA): sender usernames, SMTP usernames that then log in
at the emulator's SMTP listener, the domain check and the gate it sets on campaign start, and
the failure paths ops meet (no role, wrong subscription, a refused token)."""

from __future__ import annotations

import json
import smtplib
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from harness.dns_server import DnsServer, ready_zone
from harness.pipeline_world import DOMAIN, SENDER, World, add_domain, draft, world
from tests.cli import cli, url_of
from tests.conftest import EMULATOR_KEY, emulator_config
from warmup.audit import AuditFilter, AuditLog
from warmup.domains.store import DomainStore
from warmup.emulator.config import ArmDomain
from warmup.emulator.server import EmulatorServer
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.store.database import Database
from warmup.suppression.store import SuppressionStore
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

APP_ID, APP_SECRET, TENANT = "11111111-2222-3333-4444-555555555555", "entra-secret", "tenant-1"
DKIM_FAILED = {"Domain": "Verified", "SPF": "Verified", "DKIM": "VerificationFailed",
               "DKIM2": "NotStarted", "DMARC": "Verified"}  # fmt: skip


@pytest.fixture
def azure(tmp_path: Path) -> Iterator[tuple[EmulatorServer, dict[str, str]]]:
    config = emulator_config(
        sender_domains=[DOMAIN, "ready.example.com"],
        arm_port=0,
        smtp_port=0,
        entra_apps={APP_ID: SecretStr(APP_SECRET)},
        arm_domains={DOMAIN: ArmDomain(verification=DKIM_FAILED)},
    )
    # The domain check reads DNS too: a nameserver on 127.0.0.1 where both domains are ready.
    with (
        EmulatorServer(config) as server,
        DnsServer(ready_zone(DOMAIN, "ready.example.com")) as dns,
    ):
        ca = tmp_path / "emulator-ca.pem"
        ca.write_bytes(server.ca_pem)
        env = {
            "WARMUP_AZURE_SUBSCRIPTION_ID": config.arm_subscription,
            "WARMUP_ACS_RESOURCE_GROUP": config.arm_resource_group,
            "WARMUP_ACS_EMAIL_SERVICE": config.arm_email_service,
            "WARMUP_ACS_COMMUNICATION_SERVICE": config.arm_communication_service,
            "WARMUP_ARM_ENDPOINT": server.arm_url,
            "WARMUP_AZURE_CA_FILE": str(ca),
            "WARMUP_AZURE_ACCESS_TOKEN": "a-token-from-az-cli",
            "WARMUP_DNS_NAMESERVERS": dns.nameserver,
        }
        start_env = {"WARMUP_UNSUBSCRIBE_SECRET": "acs-management-test-secret"}
        yield server, {**env, **start_env}


def draft_campaign(database: Database, folder: Path) -> None:
    add_domain(database)
    people = folder / "people.csv"
    people.write_text("email\na@example.org\nb@example.org\n")
    now = datetime.now(UTC)
    ListImporter(database).run(
        people, "people", options=ImportOptions(), rejected_path=folder / "r.csv", actor="t", at=now
    )
    draft(database, "c", "Hi", "Hello", at=now)


def test_a_sender_added_in_acs_is_registered_with_the_warmup_domain(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database
) -> None:
    _, env = azure
    url = url_of(database)
    add_domain(database)
    made = cli(url, "acs", "sender", "add", DOMAIN, "alerts", "--display-name", "Alerts", env=env)
    assert made.returncode == 0, made.stderr
    assert "registered with the warmup domain" in made.stdout
    assert f"alerts@{DOMAIN}" in DomainStore(database).get(DOMAIN).senders
    listed = cli(url, "acs", "sender", "list", DOMAIN, "--json", env=env)
    assert json.loads(listed.stdout) == [
        {"name": "alerts", "username": "alerts", "display_name": "Alerts"}
    ]
    removed = cli(url, "acs", "sender", "remove", DOMAIN, "alerts", env=env)
    assert removed.returncode == 0, removed.stderr
    assert "taken off the warmup domain" in removed.stdout
    assert json.loads(cli(url, "acs", "sender", "list", DOMAIN, "--json", env=env).stdout) == []
    # As add registered it, remove takes it off: a campaign can no longer be made with it.
    assert f"alerts@{DOMAIN}" not in DomainStore(database).get(DOMAIN).senders


def test_an_smtp_username_made_with_acs_logs_in_at_the_smtp_listener(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database
) -> None:
    server, env = azure
    url = url_of(database)
    made = cli(
        url, "acs", "smtp-username", "add", "printer-3f", "--app-id", APP_ID, "--tenant-id",
        TENANT, env=env,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    listed = json.loads(cli(url, "acs", "smtp-username", "list", "--json", env=env).stdout)
    assert listed == [
        {"name": "printer-3f", "username": "printer-3f", "app_id": APP_ID, "tenant_id": TENANT}
    ]
    context = ssl.create_default_context(cadata=server.ca_pem.decode())
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        smtp.login("printer-3f", APP_SECRET)  # the Entra app's client secret
    assert cli(url, "acs", "smtp-username", "remove", "printer-3f", env=env).returncode == 0
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
        smtp.starttls(context=context)
        with pytest.raises(smtplib.SMTPAuthenticationError) as refused:
            smtp.login("printer-3f", APP_SECRET)
    assert refused.value.smtp_code == 535
    long_name = cli(
        url, "acs", "smtp-username", "add", "x" * 30, "--app-id", APP_ID, "--tenant-id", TENANT,
        env=env,
    )  # fmt: skip
    assert "about 25" in long_name.stderr


def test_an_unverified_dkim_refuses_campaign_start_until_an_audited_override(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database, tmp_path: Path
) -> None:
    _, env = azure
    url = url_of(database)
    draft_campaign(database, tmp_path)
    checked = cli(url, "acs", "domain", "check", DOMAIN, env=env)
    assert checked.returncode == 1  # not ready for bulk mail
    assert "DKIM (VerificationFailed)" in checked.stdout
    status = json.loads(cli(url, "domain", "status", DOMAIN, "--json").stdout)
    assert status["authentication"]["unverified"] == ["DKIM (VerificationFailed)"]
    assert status["authentication"]["states"]["DKIM2"] == "NotStarted"
    refused = cli(url, "campaign", "start", "-c", "c", env=env)
    assert refused.returncode != 0
    assert "DKIM (VerificationFailed) not verified by ACS" in refused.stderr
    assert Stores(database).campaigns.get("c").status == "draft"
    started = cli(
        url, "campaign", "start", "-c", "c", "--override-auth", "DKIM fix is propagating", env=env
    )
    assert started.returncode == 0, started.stderr
    entries = AuditLog(database).oldest_first(AuditFilter(actions=("override-authentication",)))
    assert [e.reason for e in entries] == [
        "DKIM fix is propagating (started with DKIM (VerificationFailed) not verified by ACS)"
    ]
    # The CLI shows the campaign's audit log, the override with its reason among it.
    shown = cli(url, "campaign", "audit", "-c", "c")
    assert shown.returncode == 0, shown.stderr
    assert "override-authentication" in shown.stdout
    assert "DKIM fix is propagating" in shown.stdout


def test_a_verified_domain_starts_campaigns_without_override(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database, tmp_path: Path
) -> None:
    server, env = azure
    url = url_of(database)
    draft_campaign(database, tmp_path)
    server.reconfigure(arm_domains={})  # DOMAIN is a linked sender domain: all verified
    checked = cli(url, "acs", "domain", "check", DOMAIN, "--json", env=env)
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["unverified"] == []
    assert cli(url, "campaign", "start", "-c", "c", env=env).returncode == 0


def test_dns_that_does_not_answer_still_keeps_what_acs_said(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database
) -> None:
    _, env = azure
    add_domain(database)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as silent:  # bound, never answers
        silent.bind(("127.0.0.1", 0))
        quiet = {**env, "WARMUP_DNS_NAMESERVERS": f"127.0.0.1:{silent.getsockname()[1]}"}
        failed = cli(url_of(database), "acs", "domain", "check", DOMAIN, env=quiet)
    assert failed.returncode == 2
    assert failed.stderr.startswith(f"configuration error: DNS did not answer for {DOMAIN}")
    record = Stores(database).domains.get(DOMAIN)
    assert record.authentication is not None
    assert record.authentication.states["DKIM"] == "VerificationFailed"
    assert record.dns_posture is None


@pytest.mark.parametrize(
    ("change", "env_change", "said"),
    [
        ({"arm_forbidden": True}, {}, "Communication and Email Service Owner"),
        ({}, {"WARMUP_AZURE_SUBSCRIPTION_ID": "99999999-0000-0000-0000-000000000000"},
         "could not be found"),
        ({"arm_token": SecretStr("the-right-token")}, {}, "refused the credential"),
        ({}, {"WARMUP_ACS_RESOURCE_GROUP": ""}, "WARMUP_ACS_RESOURCE_GROUP"),
        # An Entra ID mode without its settings: one line naming the one missing.
        ({}, {"WARMUP_AZURE_ACCESS_TOKEN": "", "WARMUP_ACS_AUTH": "service_principal",
              "WARMUP_AZURE_TENANT_ID": TENANT, "WARMUP_AZURE_CLIENT_ID": APP_ID},
         "WARMUP_AZURE_CLIENT_SECRET is required when WARMUP_ACS_AUTH=service_principal"),
        ({}, {"WARMUP_AZURE_ACCESS_TOKEN": "", "WARMUP_ACS_AUTH": "workload_identity"},
         "WARMUP_AZURE_TENANT_ID is required when WARMUP_ACS_AUTH=workload_identity"),
    ],
)  # fmt: skip
def test_failures_say_what_to_do(
    azure: tuple[EmulatorServer, dict[str, str]],
    database: Database,
    change: dict[str, object],
    env_change: dict[str, str],
    said: str,
) -> None:
    server, env = azure
    if change:
        server.reconfigure(**change)
    failed = cli(url_of(database), "acs", "domain", "check", DOMAIN, env={**env, **env_change})
    assert failed.returncode != 0
    assert said in failed.stderr
    assert "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1, failed.stderr


def test_suppression_sync_goes_both_ways_and_a_second_run_changes_nothing(
    azure: tuple[EmulatorServer, dict[str, str]], database: Database
) -> None:
    server, env = azure
    url = url_of(database)
    at = datetime.now(UTC)
    store = SuppressionStore(database)
    store.add("bounced@example.org", reason="hard_bounce", source="event", actor="t", at=at)
    store.add("left@example.org", reason="unsubscribe", source="link", actor="t", at=at)
    first = cli(url, "acs", "suppression", "sync", DOMAIN, env=env)
    assert first.returncode == 0, first.stderr
    assert "2 put on ACS's list, 0 suppressed in warmup, 0 taken off" in first.stdout
    listed = server.call(lambda: dict(server.emulator.arm_state.suppressed))
    [(key, addresses)] = listed.items()
    assert key == (DOMAIN, "warmup")
    assert {a["email"] for a in addresses.values()} == {"bounced@example.org", "left@example.org"}
    # Ops add an address in the portal; warmup lifts one of its own suppressions.
    server.call(
        lambda: server.emulator.arm_state.suppressed[key].update(
            {"portal-1": {"email": "Complainer@Example.org", "notes": "added by hand"}}
        )
    )
    store.remove("left@example.org", actor="ops", at=at)
    second = cli(url, "acs", "suppression", "sync", DOMAIN, env=env)
    assert "0 put on ACS's list, 1 suppressed in warmup, 1 taken off" in second.stdout
    assert store.is_suppressed("complainer@example.org", datetime.now(UTC))
    writes = server.call(lambda: server.emulator.arm_state.writes)
    third = cli(url, "acs", "suppression", "sync", DOMAIN, env=env)
    assert "0 put on ACS's list, 0 suppressed in warmup, 0 taken off" in third.stdout
    assert server.call(lambda: server.emulator.arm_state.writes) == writes  # nothing written


@pytest.mark.timeout(120)
def test_a_sender_added_with_acs_sender_add_sends_a_campaign(
    postgres_url: str, tmp_path: Path
) -> None:
    with world(
        postgres_url, tmp_path, recipients=30, arm_port=0, require_sender_usernames=True
    ) as w:
        ca = tmp_path / "emulator-ca.pem"
        ca.write_bytes(w.emulator.ca_pem)
        config = w.emulator.emulator.config
        env = {
            "WARMUP_AZURE_SUBSCRIPTION_ID": config.arm_subscription,
            "WARMUP_ACS_RESOURCE_GROUP": config.arm_resource_group,
            "WARMUP_ACS_EMAIL_SERVICE": config.arm_email_service,
            "WARMUP_ACS_COMMUNICATION_SERVICE": config.arm_communication_service,
            "WARMUP_ARM_ENDPOINT": w.emulator.arm_url,
            "WARMUP_AZURE_CA_FILE": str(ca),
            "WARMUP_AZURE_ACCESS_TOKEN": "token",
        }
        # Until ACS knows the sender username, ACS refuses the campaign's sender.
        refused = cli(
            url_of(w.database), "send-test", "--to", "a@example.org", "--from", SENDER,
            "--no-wait", env={**env, **send_env(w)},
        )  # fmt: skip
        assert refused.returncode == 1
        assert "InvalidSenderUsername" in refused.stderr
        local = SENDER.split("@")[0]
        added = cli(url_of(w.database), "acs", "sender", "add", DOMAIN, local, env=env)
        assert added.returncode == 0, added.stderr
        assert "the warmup domain had it already" in added.stdout
        w.run_until_done(timeout=60)
        stats = w.emulator.stats()
    assert stats["accepted"] == 30
    assert stats["rejected"] == {"InvalidSenderUsername": 1}  # the send-test, before the add


def send_env(w: World) -> dict[str, str]:
    return {
        "WARMUP_ACS_AUTH": "key",
        "WARMUP_ACS_ENDPOINT": w.emulator.url,
        "WARMUP_ACS_ACCESS_KEY": EMULATOR_KEY,
    }
