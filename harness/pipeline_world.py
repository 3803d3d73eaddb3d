"""A whole sending world for pipeline tests: store, list, campaign, emulator, limiter, runtime."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import redis
from pydantic import SecretStr
from sqlalchemy import func, select

from harness.services import EMULATOR_KEY, emulator_config
from warmup.clock import Clock, ScaledClock, SystemClock
from warmup.content.templates import MessageTemplate
from warmup.control.allowance import AcsQuota
from warmup.domains.store import DomainStore
from warmup.emulator.server import EmulatorServer
from warmup.journal import RedisJournal
from warmup.ledger import counters
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.pipeline.runtime import Runtime
from warmup.plans.loader import parse_plan
from warmup.ratelimit.redis_limiter import RedisLimiter
from warmup.sending.transport import Transport
from warmup.settings import AcsAuth, Settings
from warmup.store.database import Database
from warmup.store.models import LedgerRow
from warmup.wiring import Stores

DOMAIN = "mail.example.com"
SENDER = f"news@{DOMAIN}"
BIG_QUOTA = AcsQuota(1_000_000, 10_000_000)
UNBOUNDED = """
name: unbounded
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
steps:
  - {per_minute: 1000000, per_hour: 10000000, per_day: 100000000}
"""


@dataclass
class World:
    database: Database
    emulator: EmulatorServer
    runtime: Runtime
    recipients: int
    limiter_prefix: str = ""
    journal_prefix: str = ""

    def lose_limiter_state(self) -> None:
        """What a Redis restart without persistence does to the limiter: every key gone."""
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for key in client.scan_iter(f"{self.limiter_prefix}*"):
            client.delete(key)
        client.close()

    def lose_journal(self) -> None:
        """What a Redis restart without persistence does to the wire journal."""
        client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
        for key in client.scan_iter(f"{self.journal_prefix}*"):
            client.delete(key)
        client.close()

    def send_until_quiet(self, rounds: int = 3) -> None:
        """Dispatch and run batches until ``rounds`` ticks in a row claim nothing."""
        quiet = 0
        while quiet < rounds:
            batches = self.runtime.dispatch()
            quiet = 0 if batches else quiet + 1
            for batch in batches:
                self.runtime.run_batch(batch.to_message())

    @property
    def domains(self) -> DomainStore:
        return DomainStore(self.database)

    def run_until_done(self, workers: int = 1, timeout: float = 60.0) -> None:
        """Dispatch and run batches on ``workers`` threads until the campaign completes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.runtime.reconcile()
            batches = self.runtime.dispatch()
            if not batches:
                if self.runtime.campaigns.finish_campaigns(datetime.now(UTC)) or self.completed():
                    return
                time.sleep(0.05)
                continue
            chunks = [batches[i::workers] for i in range(workers)]
            threads = [
                threading.Thread(
                    target=lambda c=c: [self.runtime.run_batch(b.to_message()) for b in c]
                )
                for c in chunks
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        raise AssertionError("the campaign did not complete in time")

    def completed(self) -> bool:
        return Stores(self.database).campaigns.get("c").status == "completed"


def add_domain(
    database: Database,
    plan_yaml: str = UNBOUNDED,
    *,
    quota: AcsQuota = BIG_QUOTA,
    now: datetime | None = None,
    transport: Transport = Transport.REST,
) -> None:
    """The sending domain of these tests, with its one sender, on ``plan_yaml``."""
    DomainStore(database).create(
        DOMAIN,
        parse_plan(plan_yaml),
        plan_yaml,
        quota=quota,
        senders=[SENDER],
        actor="t",
        at=now or datetime.now(UTC),
        transport=transport,
    )


def draft(database: Database, name: str, subject: str, text: str, *, at: datetime) -> None:
    """A draft campaign on the list "people" from the domain's sender."""
    Stores(database).campaigns.create(
        name,
        list_name="people",
        sender=SENDER,
        actor="t",
        at=at,
        template=MessageTemplate(subject, None, text),
    )


def people_list(
    database: Database,
    folder: Path,
    lines: Iterable[str],
    *,
    header: str = "email,name",
    at: datetime,
) -> None:
    """The list "people", imported from a CSV of ``header`` and ``lines``."""
    people = folder / "people.csv"
    with people.open("w") as out:
        out.write(header + "\n")
        out.writelines(line + "\n" for line in lines)
    ListImporter(database).run(
        people,
        "people",
        options=ImportOptions(),
        rejected_path=folder / "rejected.csv",
        actor="t",
        at=at,
    )


def seed_campaign(
    database: Database,
    folder: Path,
    *,
    recipients: int,
    plan_yaml: str = UNBOUNDED,
    quota: AcsQuota = BIG_QUOTA,
    now: datetime | None = None,
    address_prefix: str = "r",
    addresses: Sequence[str] | None = None,
    ab_test: AbTest | None = None,
    transport: Transport = Transport.REST,
) -> None:
    """A domain on ``plan_yaml``, a list of ``recipients`` (or of these ``addresses``) and a
    started campaign named "c" (an A/B test, with ``ab_test``)."""
    now = now or datetime.now(UTC)
    add_domain(database, plan_yaml, quota=quota, now=now, transport=transport)
    chosen = addresses or [f"{address_prefix}{i}@example.org" for i in range(recipients)]
    people_list(database, folder, (f"{address},R{i}" for i, address in enumerate(chosen)), at=now)
    campaigns = Stores(database).campaigns
    draft(database, "c", "Hi {{ name }}", "Hello {{ name }}", at=now)
    if ab_test is not None:
        for subject in ab_test.subjects:
            Stores(database).ab_tests.add_variant(
                "c",
                subject=subject,
                html=None,
                text=None,
                fraction=ab_test.fraction,
                wait=ab_test.wait,
                actor="t",
                at=now,
            )
    campaigns.start("c", actor="t", at=now)


@dataclass(frozen=True)
class AbTest:
    subjects: Sequence[str]  # variants B, C, D beside the campaign's "Hi {{ name }}"
    fraction: float
    wait: timedelta


SMTP_USER = "warmup-relay-test"  # a short SMTP username, as ops create for devices
SMTP_PASSWORD = "entra-app-client-secret"


def smtp_settings(server: EmulatorServer, folder: Path) -> dict[str, object]:
    """Settings that send over the emulator's SMTP listener, trusting its test CA."""
    ca_file = folder / "emulator-ca.pem"
    ca_file.write_bytes(server.ca_pem)
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": server.smtp_port,
        "smtp_username": SMTP_USER,
        "smtp_password": SecretStr(SMTP_PASSWORD),
        "smtp_ca_file": ca_file,
    }


@contextmanager
def world(
    database_url: str,
    tmp_path: Path,
    *,
    recipients: int = 200,
    plan_yaml: str = UNBOUNDED,
    quota: AcsQuota = BIG_QUOTA,
    clock: Clock | None = None,
    settings_overrides: dict[str, object] | None = None,
    address_prefix: str = "r",
    addresses: Sequence[str] | None = None,
    ab_test: AbTest | None = None,
    transport: Transport = Transport.REST,
    **emulator: object,
) -> Iterator[World]:
    database = Database.connect(database_url, migrate=True)
    prefix = f"test:{uuid.uuid4().hex}:"
    client = redis.Redis.from_url("redis://127.0.0.1:6379/0")
    if transport is Transport.SMTP:
        emulator = {"smtp_port": 0, "smtp_users": {SMTP_USER: SMTP_PASSWORD}, **emulator}
    with EmulatorServer(emulator_config(sender_domains=[DOMAIN], **emulator)) as server:
        values: dict[str, object] = {
            "acs_auth": AcsAuth.KEY,
            "acs_endpoint": server.url,
            "acs_access_key": SecretStr(EMULATOR_KEY),
            "database_url": SecretStr(database_url),
            "redis_url": SecretStr("redis://127.0.0.1:6379/0"),
            "unsubscribe_secret": SecretStr("pipeline-test-secret"),
            "retry_backoff_initial_seconds": 0.05,
            "retry_backoff_max_seconds": 0.2,
            "batch_size": 50,
            "gate_ttl_seconds": 0.1,
            # The emulator does not limit status GETs here: rows in doubt are settled at once.
            "status_polls_per_minute": 600,
            "status_polls_per_hour": 100_000,
        }
        if isinstance(clock, ScaledClock):
            # Leases bound how long a live process may take: real seconds at any pace of the
            # service's clock (as the demo sets them). 30 clock seconds is 3 ms at a day in 8 s.
            values["lease_seconds"] = clock.clock_seconds(60)
            values["live_lease_seconds"] = clock.clock_seconds(10)
            values["queue_lease_seconds"] = clock.clock_seconds(30)
        if transport is Transport.SMTP:
            values.update(smtp_settings(server, tmp_path))
        values.update(settings_overrides or {})
        settings = Settings(**values)  # type: ignore[arg-type]
        now = (clock or SystemClock()).now()
        seed_campaign(
            database,
            tmp_path,
            recipients=recipients,
            plan_yaml=plan_yaml,
            quota=quota,
            now=now,
            address_prefix=address_prefix,
            addresses=addresses,
            ab_test=ab_test,
            transport=transport,
        )
        limiter = RedisLimiter(client, prefix)
        journal = RedisJournal(client, f"{prefix}wire:", hold_key=limiter.throttle_key)
        runtime = Runtime(settings, limiter=limiter, clock=clock, journal=journal)
        try:
            yield World(database, server, runtime, recipients, prefix, f"{prefix}wire:")
            # Whatever the test did to the ledger, the trigger-kept counters followed it.
            assert counters.mismatches(database) == []
        finally:
            runtime.close()
            for key in client.scan_iter(f"{prefix}*"):
                client.delete(key)
            database.dispose()


def ledger_states(database: Database) -> dict[str, int]:
    """How many ledger rows are in each state."""
    with database.session() as session:
        query = select(LedgerRow.state, func.count()).group_by(LedgerRow.state)
        return {state: int(n) for state, n in session.execute(query)}


def exactly_once(stats: dict[str, object], recipients: int) -> None:
    assert stats["distinct_recipients"] == recipients
    assert stats["recipients_accepted_more_than_once"] == 0
    assert stats["reused_with_different_body"] == 0
