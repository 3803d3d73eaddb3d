"""Sending domains in the store, on SQLite and PostgreSQL."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect

from warmup.control import machine, ops
from warmup.control.allowance import AcsQuota
from warmup.control.health import Level, OutcomeCounts, Verdict
from warmup.control.state import Status
from warmup.domains.store import DomainStore, UnknownDomainError
from warmup.errors import ConfigError, TransitionError
from warmup.plans.loader import load_plan
from warmup.store.database import Database, upgrade
from warmup.store.models import Base

pytestmark = pytest.mark.integration
SCHEDULES = Path(__file__).parents[2] / "schedules"
T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def add(store: DomainStore, name: str = "mail.example.com") -> None:
    path = SCHEDULES / "acs-default.yaml"
    store.create(
        name,
        load_plan(path),
        path.read_text(),
        quota=AcsQuota(30, 100),
        senders=[f"news@{name}"],
        actor="ops@example.com",
        at=T0,
    )


def test_migrations_create_exactly_the_modelled_tables(database: Database) -> None:
    tables = set(inspect(database.engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    upgrade(database.engine)  # at head already: nothing to do, no error


def test_create_and_read_back_with_aware_times(database: Database) -> None:
    store = DomainStore(database)
    add(store)
    record = store.get("MAIL.example.com")
    assert record.state.status is Status.RAMPING
    assert record.state.since == T0
    assert record.state.since.tzinfo is not None
    assert record.plan.name == "acs-default"
    assert record.senders == ("news@mail.example.com",)
    assert [e.action for e in store.audit("mail.example.com")] == ["create"]


def test_a_sender_must_be_on_the_domain(database: Database) -> None:
    store = DomainStore(database)
    with pytest.raises(ConfigError, match="not on the domain"):
        store.create(
            "mail.example.com",
            load_plan(SCHEDULES / "fast.yaml"),
            "",
            quota=AcsQuota(),
            senders=["news@elsewhere.com"],
            actor="o",
            at=T0,
        )
    add(store)
    with pytest.raises(TransitionError, match="already exists"):
        add(store)
    with pytest.raises(ConfigError, match="not on the domain"):
        store.add_sender("mail.example.com", "x@other.com", actor="o", at=T0)
    store.add_sender("mail.example.com", "hello@mail.example.com", actor="o", at=T0)
    assert store.domain_of_sender("HELLO@mail.example.com").state.domain == "mail.example.com"
    with pytest.raises(ConfigError, match="not a registered sender"):
        store.domain_of_sender("nobody@mail.example.com")


def test_transitions_are_stored_with_their_audit_entries(database: Database) -> None:
    store = DomainStore(database)
    add(store)
    verdict = Verdict(
        Level.PAUSE, "failure rate 2.4 % over 1,180 reports ≥ pause 2 %", OutcomeCounts()
    )
    store.transition(
        "mail.example.com", lambda r: machine.on_health(r.plan, r.state, verdict, at=T0)
    )
    paused = store.get("mail.example.com")
    assert paused.state.status is Status.PAUSED
    assert paused.version == 2
    later = T0 + timedelta(hours=3)
    store.transition(
        "mail.example.com",
        lambda r: ops.resume(r.plan, r.state, actor="ops@example.com", reason="cleaned", at=later),
    )
    resumed = store.get("mail.example.com")
    assert resumed.state.health_since == later
    entries = store.audit("mail.example.com")
    assert [(e.action, e.actor) for e in entries] == [
        ("resume", "ops@example.com"),
        ("pause", "health-gate"),
        ("create", "ops@example.com"),
    ]
    assert entries[1].reason == "failure rate 2.4 % over 1,180 reports ≥ pause 2 %"
    assert entries[1].details == {
        "from_status": "ramping",
        "to_status": "paused",
        "from_step": 0,
        "to_step": 0,
    }


def test_a_refused_action_changes_nothing(database: Database) -> None:
    store = DomainStore(database)
    add(store)
    with pytest.raises(TransitionError):
        store.transition(
            "mail.example.com",
            lambda r: ops.resume(r.plan, r.state, actor="o", reason="r", at=T0),
        )
    assert store.get("mail.example.com").version == 1
    assert len(store.audit("mail.example.com")) == 1


def test_concurrent_transitions_never_lose_an_update(database: Database) -> None:
    """Eight threads each set a different step 5 times; every change lands, in some order."""
    store = DomainStore(database)
    add(store)
    errors: list[BaseException] = []

    def worker(step: int) -> None:
        try:
            for _ in range(5):
                store.transition(
                    "mail.example.com",
                    lambda r: ops.set_step(
                        r.plan, r.state, step, actor=f"w{step}", reason="race", at=T0
                    ),
                )
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(step,)) for step in range(1, 9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    record = store.get("mail.example.com")
    audit = store.audit("mail.example.com", limit=100)
    assert record.version == 1 + len(audit) - 1  # one version per stored transition
    assert len(audit) == 1 + 8 * 5
    assert record.state.step == int(audit[0].details["to_step"])


def test_quota_and_unknown_domains(database: Database) -> None:
    store = DomainStore(database)
    add(store)
    store.set_quota("mail.example.com", AcsQuota(600, 20_000), actor="o", reason="raised", at=T0)
    assert store.get("mail.example.com").quota == AcsQuota(600, 20_000)
    assert "30/min, 100/hour → 600/min, 20000/hour" in store.audit("mail.example.com")[0].reason
    with pytest.raises(UnknownDomainError, match="warmup domain add"):
        store.get("nope.example.com")


def test_migrations_and_models_agree(database: Database) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        assert compare_metadata(context, Base.metadata) == []


def test_an_existing_database_is_upgraded_in_place(tmp_path: Path) -> None:
    from sqlalchemy import text

    from warmup.store.database import make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(
            text(
                "insert into audit_log (at, actor, subject_type, subject, action, reason, details) "
                "values ('2026-01-01 00:00:00', 'o', 'domain', 'd', 'create', 'kept', '{}')"
            )
        )
    upgrade(engine)
    with engine.connect() as connection:
        assert connection.execute(text("select reason from audit_log")).scalar_one() == "kept"
        assert connection.execute(text("select count(*) from send_ledger")).scalar_one() == 0
    engine.dispose()
