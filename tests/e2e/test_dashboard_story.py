"""Issue 7 as a new user tries it, in a real browser against a real `warmup api` process.

Ops makes tokens with the CLI; marketing uploads a CSV and starts a campaign through the API;
everyone watches the dashboard in headless Chromium while the pipeline sends to the emulator
and delivery reports come back through the API's webhook. A bounce spike pauses the domain: the
dashboard shows the pause and its reason; the marketing token is refused the resume (no button,
and 403 from the API); ops resumes from the dashboard, and the audit log names the token.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import redis
import requests
from playwright.sync_api import Page, expect
from pydantic import SecretStr

from harness.deployment import free_port
from harness.postmaster import issue_series
from tests.api_world import people_csv
from tests.browser import artefact, chromium
from tests.conftest import EMULATOR_KEY, emulator_config, wait_until
from warmup.emulator.server import EmulatorServer
from warmup.feedback.postmaster_store import PostmasterStore
from warmup.pipeline.runtime import Runtime
from warmup.ratelimit.redis_limiter import RedisLimiter
from warmup.settings import AcsAuth, Settings

pytestmark = pytest.mark.integration
DOMAIN = "mail.example.com"
WEBHOOK_SECRET = "story-webhook-secret"
UNSUBSCRIBE_SECRET = "story-unsubscribe-secret"
PLAN = """
name: story
quota: {per_minute: 100000, per_hour: 1000000, headroom: 1.0}
gates:
  window_hours: 24
  min_sample: 150
  failure_rate: {hold: 1%, pause: 2%}
  hard_bounce_rate: {hold: 1%, pause: 2%}
resume: {step_back: 1}
steps:
  - {per_hour: 100000, per_day: 1000000}
  - {per_hour: 200000, per_day: 2000000}
"""


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "warmup", *args], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@contextmanager
def api_process(env: dict[str, str], folder: Path) -> Iterator[str]:
    port = free_port()
    log = (folder / "api.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "warmup", "api", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (folder / "api.log").read_text()
            try:
                if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the API did not become ready"
            time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


@contextmanager
def sending(settings: Settings) -> Iterator[Runtime]:
    """The pipeline's loop (dispatch, send, feedback) on a thread until the block ends."""
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    prefix = f"test:{uuid.uuid4().hex}:"
    runtime = Runtime(settings, limiter=RedisLimiter(client, prefix))
    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                runtime.reconcile()
                for batch in runtime.dispatch():
                    runtime.run_batch(batch.to_message())
                runtime.feedback()
                stop.wait(0.2)
        except BaseException as exc:  # shown by the test, not lost with the thread
            errors.append(exc)
            raise

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield runtime
    finally:
        stop.set()
        thread.join(30)
        runtime.close()
        assert not errors, errors
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


def keep_postmaster_series(store: PostmasterStore) -> None:
    """Issue 35's series, ending the day before yesterday, as `warmup postmaster pull` keeps it."""
    from warmup.feedback.postmaster_pull import day_of

    first = datetime.now(UTC).date() - timedelta(days=5)
    store.add(DOMAIN, [day_of(item) for item in issue_series(DOMAIN, first)], datetime.now(UTC))


def sign_in(page: Page, url: str, token: str) -> None:
    page.goto(f"{url}/dashboard")
    page.fill("#token", token)
    page.click("#login button[type=submit]")
    expect(page.locator(f'.domain[data-domain="{DOMAIN}"]')).to_be_visible(timeout=15_000)


@pytest.mark.timeout(240)
def test_a_new_user_watches_a_pause_and_ops_resumes_it(postgres_url: str, tmp_path: Path) -> None:
    plan = tmp_path / "story.yaml"
    plan.write_text(PLAN)
    env = {k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")}
    env.update(
        {
            "WARMUP_DATABASE_URL": postgres_url,
            "WARMUP_WEBHOOK_SECRETS": WEBHOOK_SECRET,
            "WARMUP_UNSUBSCRIBE_SECRET": UNSUBSCRIBE_SECRET,
            "WARMUP_API_DATA_DIR": str(tmp_path / "api-data"),
            "WARMUP_ACTOR": "ops-setup",
        }
    )
    cli(env, "db", "upgrade")
    quota = ("--acs-per-minute", "100000", "--acs-per-hour", "1000000")
    cli(env, "domain", "add", DOMAIN, "--plan", str(plan), "--sender", f"news@{DOMAIN}", *quota)
    ops = cli(env, "token", "create", "ana", "--role", "ops")
    marketing = cli(env, "token", "create", "mo", "--role", "marketing")

    config = emulator_config(
        sender_domains=[DOMAIN], bounce_rate=0.0, seed=3, event_delay_seconds=0.05
    )
    with (
        EmulatorServer(config) as emulator,
        api_process(env, tmp_path) as url,
        chromium() as browser,
    ):
        as_marketing = {"Authorization": f"Bearer {marketing}"}
        uploaded = requests.post(
            f"{url}/api/lists",
            headers=as_marketing,
            data={"name": "customers"},
            files={"file": ("customers.csv", people_csv(3000), "text/csv")},
            timeout=60,
        )
        assert uploaded.status_code == 202, uploaded.text  # imported in the background
        deadline = time.monotonic() + 60
        while (
            job := requests.get(
                url + uploaded.headers["location"], headers=as_marketing, timeout=10
            ).json()
        )["status"] == "running":
            assert time.monotonic() < deadline, job
            time.sleep(0.2)
        assert (job["status"], job["report"]["imported"]) == ("done", 3000)
        created = requests.post(
            f"{url}/api/campaigns",
            headers=as_marketing,
            json={
                "name": "winter-news",
                "list": "customers",
                "sender": f"news@{DOMAIN}",
                "subject": "Hello {{ first_name }}",
                "text": "News for you. Unsubscribe: {{ unsubscribe_url }}",
            },
            timeout=30,
        )
        assert created.status_code == 201, created.text
        started = requests.post(
            f"{url}/api/campaigns/winter-news/start", headers=as_marketing, timeout=60
        )
        assert started.status_code == 202, started.text  # the fill runs in the background
        wait_until(
            lambda: (
                requests.get(
                    f"{url}/api/campaigns/winter-news", headers=as_marketing, timeout=30
                ).json()["status"]
                == "running"
            )
        )
        emulator.reconfigure(webhook_url=f"{url}/webhooks/acs?code={WEBHOOK_SECRET}")

        settings = Settings(
            acs_auth=AcsAuth.KEY,
            acs_endpoint=emulator.url,
            acs_access_key=SecretStr(EMULATOR_KEY),
            database_url=SecretStr(postgres_url),
            unsubscribe_secret=SecretStr(UNSUBSCRIBE_SECRET),
            batch_size=50,
            max_claim_per_tick=50,  # slow enough to watch, and to judge between slices
            gate_ttl_seconds=0.1,
        )
        ops_page = browser.new_page(viewport={"width": 1280, "height": 1000})
        with sending(settings) as runtime:
            sign_in(ops_page, url, ops)
            expect(ops_page.locator("#who")).to_have_text("ana (ops)")
            card = ops_page.locator(f'.domain[data-domain="{DOMAIN}"]')
            expect(card.locator(".status")).to_have_text("ramping")
            # Beside ACS's states, what the domain's DNS and DMARC reports said (nothing yet).
            expect(card.locator(".dns")).to_have_text(
                "not read (warmup acs domain check --dns-only)"
            )
            expect(card.locator(".dmarc")).to_contain_text("no aggregate report in 14 days")
            expect(card.locator(".postmaster")).to_have_text("no day kept (warmup postmaster pull)")
            # Gmail Postmaster Tools' days as a pull keeps them: issue 35's series. The card
            # names the newest day and charts each against the plan's hold and pause lines.
            keep_postmaster_series(runtime.stores.postmaster)
            expect(card.locator(".postmaster")).to_contain_text(
                "spam 0.35 %, reputation LOW; gate pause", timeout=15_000
            )
            expect(card.locator("svg.spam-chart circle.spam-day")).to_have_count(4)
            expect(card.locator("svg.spam-chart circle.spam-day.hold")).to_have_count(1)
            expect(card.locator("svg.spam-chart circle.spam-day.pause")).to_have_count(1)
            expect(card.locator("svg.spam-chart .spam-hold-line")).to_have_count(1)
            expect(card.locator("svg.spam-chart .spam-pause-line")).to_have_count(1)
            row = ops_page.locator('.campaign[data-campaign="winter-news"]')
            expect(row.locator(".status")).to_have_text("running")
            # Healthy sending first, then the bounce spike.
            deadline = time.monotonic() + 60
            while emulator.stats()["accepted"] < 400:
                assert time.monotonic() < deadline, "sending did not start"
                time.sleep(0.2)
            emulator.reconfigure(bounce_rate=0.15)
            expect(card.locator(".status")).to_have_text("paused", timeout=90_000)
            # The chart: sent and planned per day, failure rate against the hold and pause lines.
            expect(card.locator("svg.chart .pause-line")).to_have_count(1)
            expect(card.locator("svg.chart .hold-line")).to_have_count(1)
            expect(card.locator("svg.chart rect.sent")).to_have_count(1)  # one day so far
            expect(row.locator(".failures")).not_to_have_text("no reports yet")
            reason = card.locator(".reason").inner_text()
            assert "≥ pause 2 %" in reason, reason
            expect(card.locator(".sending-now")).to_contain_text("Not sending now: paused:")
            ops_page.screenshot(path=artefact("dashboard-paused.png"), full_page=True)
            sent_at_pause = emulator.stats()["accepted"]
            assert sent_at_pause < 3000  # the pause stopped the campaign short

            # Marketing sees the pause but has no resume button, and the API refuses it.
            marketing_page = browser.new_page()
            sign_in(marketing_page, url, marketing)
            paused_card = marketing_page.locator(f'.domain[data-domain="{DOMAIN}"]')
            expect(paused_card.locator(".status")).to_have_text("paused")
            expect(paused_card.locator(".resume")).to_have_count(0)
            # Marketing's own lever is the campaign: pause it from the dashboard, then resume.
            campaign_row = marketing_page.locator('.campaign[data-campaign="winter-news"]')
            expect(ops_page.locator(".campaign .campaign-pause")).to_have_count(0)  # ops: none
            campaign_row.locator(".campaign-pause").click()
            expect(campaign_row.locator(".status")).to_have_text("paused")
            campaign_row.locator(".campaign-resume").click()
            expect(campaign_row.locator(".status")).to_have_text("running")
            # A draft can be given a start time from the dashboard, and have it taken away.
            draft = requests.post(
                f"{url}/api/campaigns",
                headers=as_marketing,
                json={
                    "name": "spring-news",
                    "list": "customers",
                    "sender": f"news@{DOMAIN}",
                    "subject": "Spring",
                    "text": "Soon. Unsubscribe: {{ unsubscribe_url }}",
                },
                timeout=30,
            )
            assert draft.status_code == 201, draft.text
            draft_row = marketing_page.locator('.campaign[data-campaign="spring-news"]')
            draft_row.locator(".schedule-at").fill("2030-01-07T09:00")
            draft_row.locator(".campaign-schedule").click()
            expect(draft_row.locator(".eta")).to_contain_text("scheduled to start at 2030-01-07")
            draft_row.locator(".campaign-unschedule").click()
            expect(draft_row.locator(".eta")).to_have_text("not started")
            refused = requests.post(
                f"{url}/api/domains/{DOMAIN}/resume",
                headers=as_marketing,
                json={"reason": "let me"},
                timeout=10,
            )
            assert refused.status_code == 403
            time.sleep(1)
            assert emulator.stats()["accepted"] == sent_at_pause  # still paused, nothing sent

            # Ops cleans the list (no more bounces) and resumes from the dashboard.
            emulator.reconfigure(bounce_rate=0.0)
            card.locator(".resume-reason").fill("bad segment removed")
            card.locator(".resume").click()
            expect(card.locator(".status")).to_have_text("ramping", timeout=15_000)
            expect(ops_page.locator("#message")).to_contain_text("resume")
            ops_page.screenshot(path=artefact("dashboard-resumed.png"), full_page=True)

        audit = requests.get(
            f"{url}/api/domains/{DOMAIN}/audit", headers=as_marketing, timeout=10
        ).json()
        actions = [(entry["action"], entry["actor"]) for entry in audit]
        assert actions[0] == ("resume", "token:ana (ops)")
        assert audit[0]["reason"].startswith("bad segment removed")
        assert ("pause", "health-gate") in actions
        assert not any(actor.startswith("token:mo") for _, actor in actions)  # nothing by mo
        campaign_log = requests.get(
            f"{url}/api/audit",
            params={"subject_type": "campaign", "actor": "token:mo"},
            headers=as_marketing,
            timeout=10,
        ).json()
        assert [(e["subject"], e["action"]) for e in campaign_log] == [
            ("spring-news", "unschedule"),
            ("spring-news", "schedule"),
            ("spring-news", "create"),
            ("winter-news", "resume"),
            ("winter-news", "pause"),
            ("winter-news", "start"),
            ("winter-news", "create"),
        ]
        log = (tmp_path / "api.log").read_text()
        for secret in (ops, marketing, WEBHOOK_SECRET, UNSUBSCRIBE_SECRET):
            assert secret not in log
        assert "POST /webhooks/acs" in log  # the access log is there, redacted
