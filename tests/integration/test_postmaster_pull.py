"""`warmup postmaster pull` and `postmaster report` through Google's own client and google-auth,
against the emulator's Postmaster Tools routes (its root URL) and token endpoint: each day kept
once, pages followed, refusals named, and the days shown where people look."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from harness.pipeline_world import DOMAIN, add_domain
from harness.postmaster import (
    authorized_user_file,
    issue_series,
    service_account_file,
    traffic_stats,
)
from harness.services import emulator_config
from tests.api_world import api_world
from tests.cli import cli, url_of
from warmup.emulator.server import EmulatorServer
from warmup.store.database import Database
from warmup.tokens import Role

pytestmark = pytest.mark.integration


def pull_env(server: EmulatorServer, credentials: Path) -> dict[str, str]:
    return {
        "WARMUP_POSTMASTER_CREDENTIALS_FILE": str(credentials),
        "WARMUP_POSTMASTER_ENDPOINT": server.url,
    }


@pytest.mark.parametrize("kind", ["authorized_user", "service_account"])
def test_each_day_is_kept_once_through_pages_and_shown_with_the_gates_verdict(
    database: Database, tmp_path: Path, kind: str
) -> None:
    add_domain(database)
    today = datetime.now(UTC).date()
    first = today - timedelta(days=4)
    with EmulatorServer(emulator_config(sender_domains=[DOMAIN])) as server:
        # Pages of two: the client must follow nextPageToken to see all four days.
        server.reconfigure(
            postmaster_days={DOMAIN: issue_series(DOMAIN, first)}, postmaster_page_size=2
        )
        credentials = (
            authorized_user_file(tmp_path)
            if kind == "authorized_user"
            else service_account_file(tmp_path, server.url)
        )
        env = pull_env(server, credentials)
        url = url_of(database)
        pulled = cli(url, "postmaster", "pull", env=env)
        assert pulled.returncode == 0, pulled.stderr
        newest = first + timedelta(days=3)
        assert f"{DOMAIN}: 4 new days kept, the newest {newest}" in pulled.stdout
        again = cli(url, "postmaster", "pull", DOMAIN, env=env)
        assert again.returncode == 0, again.stderr
        assert f"{DOMAIN}: 0 new days kept" in again.stdout
        assert server.stats()["postmaster_requests"] >= 4  # a list, and pages of days, twice

    found = json.loads(cli(url, "postmaster", "report", DOMAIN, "--json").stdout)
    assert [d["verdict"] for d in found["days"]] == ["ok", "ok", "hold", "pause"]
    assert found["days"][2]["spam_lower"] == pytest.approx(0.0012)
    assert found["last"]["reputation"] == "LOW"
    assert (found["spam_hold_line"], found["spam_pause_line"]) == (0.001, 0.003)
    assert found["last_judged"] is None  # judged when a day closes, not when pulled
    shown = cli(url, "postmaster", "report", DOMAIN).stdout
    assert "0.15 %" in shown
    assert "MEDIUM" in shown

    status = cli(url, "domain", "status", DOMAIN)
    assert status.returncode == 0, status.stderr
    assert (
        f"Gmail Postmaster Tools {newest}: spam 0.35 % (0.32–0.39 %), reputation LOW; "
        "gate: pause" in status.stdout
    )
    as_json = json.loads(cli(url, "domain", "status", DOMAIN, "--json").stdout)
    assert as_json["postmaster"]["last"]["day"] == newest.isoformat()
    report = json.loads(cli(url, "domain", "report", DOMAIN, "--json").stdout)
    assert report["postmaster_last"]["spam_ratio"] == pytest.approx(0.0035)


def test_authentication_below_the_plans_line_is_a_warning_in_domain_status(
    database: Database, tmp_path: Path
) -> None:
    add_domain(database)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    with EmulatorServer(emulator_config(sender_domains=[DOMAIN])) as server:
        day = traffic_stats(DOMAIN, yesterday, 0.02, "HIGH", dkim=0.95)
        server.reconfigure(postmaster_days={DOMAIN: [day]})
        env = pull_env(server, authorized_user_file(tmp_path))
        assert cli(url_of(database), "postmaster", "pull", env=env).returncode == 0
    status = cli(url_of(database), "domain", "status", DOMAIN).stdout
    assert f"warning: DKIM passed on 95 % of Gmail's mail on {yesterday} (below 98 %)" in status


def test_refusals_and_unregistered_domains_are_named(database: Database, tmp_path: Path) -> None:
    add_domain(database)
    url = url_of(database)
    with EmulatorServer(emulator_config(sender_domains=[DOMAIN])) as server:
        env = pull_env(server, service_account_file(tmp_path, server.url))
        missing = cli(url, "postmaster", "pull", DOMAIN, env=env)
        assert missing.returncode == 1
        assert f"{DOMAIN}: not in Postmaster Tools for these credentials" in missing.stdout
        server.reconfigure(postmaster_days={DOMAIN: []}, postmaster_forbidden=True)
        forbidden = cli(url, "postmaster", "pull", env=env)
        assert forbidden.returncode == 2
        assert "Postmaster Tools refused the credentials (403" in forbidden.stderr
        assert "Traceback" not in forbidden.stderr
        server.reconfigure(postmaster_forbidden=False, postmaster_grant=False)
        revoked = cli(url, "postmaster", "pull", env=env)
        assert revoked.returncode == 2
        assert "Google did not grant a token: ('invalid_grant" in revoked.stderr
    unset = cli(url, "postmaster", "pull")
    assert unset.returncode == 2
    assert "WARMUP_POSTMASTER_CREDENTIALS_FILE is not set" in unset.stderr
    broken = tmp_path / "broken.json"
    broken.write_text("{}")
    bad = cli(url, "postmaster", "pull", env={"WARMUP_POSTMASTER_CREDENTIALS_FILE": str(broken)})
    assert bad.returncode == 2
    assert "credentials in" in bad.stderr
    assert "cannot be used" in bad.stderr


def test_metrics_give_the_newest_days_spam_rate_reputation_and_age(
    database: Database, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    with (
        api_world(database, tmp_path) as w,
        EmulatorServer(emulator_config(sender_domains=[DOMAIN])) as server,
    ):
        server.reconfigure(postmaster_days={DOMAIN: issue_series(DOMAIN, today - timedelta(5))})
        env = pull_env(server, authorized_user_file(tmp_path))
        assert cli(url_of(database), "postmaster", "pull", env=env).returncode == 0
        text = w.client.get("/metrics").text
        detail = w.client.get(f"/api/domains/{DOMAIN}", headers=w.as_(Role.OPS)).json()
    assert f'warmup_postmaster_spam_ratio{{domain="{DOMAIN}"}} 0.0035' in text
    assert f'warmup_postmaster_spam_ratio_lower_bound{{domain="{DOMAIN}"}} 0.00315' in text
    assert f'warmup_postmaster_reputation{{domain="{DOMAIN}"}} 1.0' in text  # LOW
    assert f'warmup_postmaster_day_age_days{{domain="{DOMAIN}"}} 2.0' in text
    # The dashboard's chart reads the days and the plan's lines from the domain's detail.
    chart = detail["postmaster"]
    assert [d["spam_ratio"] for d in chart["days"]] == pytest.approx([5e-4, 8e-4, 1.5e-3, 3.5e-3])
    assert (chart["spam_hold_line"], chart["spam_pause_line"]) == (0.001, 0.003)
