"""Campaigns, the ledger, suppression and unsubscribe on SQLite and PostgreSQL."""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from harness.pipeline_world import people_list
from warmup.campaigns.compose import Composer
from warmup.campaigns.model import retry_outcomes
from warmup.campaigns.report import campaign_report, export_campaign
from warmup.content.templates import MessageTemplate
from warmup.content.unsubscribe import InvalidToken, Unsubscriber
from warmup.control.allowance import AcsQuota
from warmup.domains.record import Authentication
from warmup.domains.store import DomainStore
from warmup.errors import ConfigError, ConflictError, ContentError, TransitionError
from warmup.ledger.claims import DomainClaim
from warmup.ledger.states import LedgerState
from warmup.ledger.store import LedgerStore
from warmup.lists.importer import ImportOptions, ListImporter
from warmup.lists.source import ImportFailure
from warmup.plans.loader import load_plan
from warmup.plans.schedule import sending_days_needed
from warmup.store.database import Database
from warmup.store.models import ContactList, LedgerRow, Recipient
from warmup.suppression.store import SuppressionStore
from warmup.wiring import Stores

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # a Monday
PLAN = Path(__file__).parents[2] / "schedules" / "acs-default.yaml"
TEMPLATE = MessageTemplate(
    "Hi {{ first_name }}", "<p>{{ first_name }}</p>", "Hello {{ first_name }}"
)


@pytest.fixture
def world(database: Database, tmp_path: Path) -> Database:
    DomainStore(database).create(
        "mail.example.com",
        load_plan(PLAN),
        PLAN.read_text(),
        quota=AcsQuota(30, 100),
        senders=["news@mail.example.com"],
        actor="ops",
        at=T0,
    )
    people_list(
        database,
        tmp_path,
        [
            "low@example.org,Low,0.1",
            "top@gmail.com,Top,0.99",
            "none@example.org,None,",
            "mid@outlook.com,Mid,0.5",
            "gone@example.org,Gone,0.7",
        ],
        header="email,first_name,engagement",
        at=T0,
    )
    return database


def test_create_checks_sender_list_and_template(world: Database) -> None:
    store = Stores(world).campaigns
    with pytest.raises(ConfigError, match="not a registered sender address"):
        store.create(
            "c",
            list_name="people",
            sender="x@mail.example.com",
            template=TEMPLATE,
            actor="m",
            at=T0,
        )
    with pytest.raises(ConfigError, match="no list 'nope'"):
        store.create(
            "c",
            list_name="nope",
            sender="news@mail.example.com",
            template=TEMPLATE,
            actor="m",
            at=T0,
        )
    with pytest.raises(ContentError, match="uses city"):
        store.create(
            "c",
            list_name="people",
            sender="news@mail.example.com",
            template=MessageTemplate("{{ city }}", None, "x"),
            actor="m",
            at=T0,
        )
    with pytest.raises(ContentError):
        store.create(
            "c",
            list_name="people",
            sender="news@mail.example.com",
            template=MessageTemplate("x", None, "{{ ''.__class__.__mro__ }}"),
            actor="m",
            at=T0,
        )
    store.create(
        "c", list_name="people", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    with pytest.raises(ConflictError, match="already exists"):
        store.create(
            "c",
            list_name="people",
            sender="news@mail.example.com",
            template=TEMPLATE,
            actor="m",
            at=T0,
        )


def test_start_fills_the_ledger_most_engaged_first(world: Database) -> None:
    SuppressionStore(world).add(
        "gone@example.org", reason="hard_bounce", source="event", actor="system", at=T0
    )
    store = Stores(world).campaigns
    store.create(
        "c", list_name="people", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    assert store.start("c", actor="m", at=T0) == 5
    with world.session() as session:
        rows = session.scalars(select(LedgerRow).order_by(LedgerRow.rank)).all()
    assert [r.address for r in rows] == [
        "top@gmail.com",
        "gone@example.org",
        "mid@outlook.com",
        "low@example.org",
        "none@example.org",
    ]
    assert [r.provider for r in rows][:3] == ["gmail", "other", "microsoft"]
    assert rows[1].state == LedgerState.SUPPRESSED
    assert {r.state for r in rows} == {LedgerState.PENDING, LedgerState.SUPPRESSED}
    # Each row's Operation-Id is random (uuid4), stored once, different from every other.
    assert len({r.operation_id for r in rows}) == len(rows)
    assert all(uuid.UUID(r.operation_id).version == 4 for r in rows)
    with pytest.raises(TransitionError, match="is running; start needs it draft"):
        store.start("c", actor="m", at=T0)


def test_empty_fields_are_reported_before_start(world: Database, tmp_path: Path) -> None:
    gaps = tmp_path / "gaps.csv"
    gaps.write_text("email,first_name\na@example.org,A\nb@example.org,\nc@example.org,  \n")
    ListImporter(world).run(
        gaps, "gaps", options=ImportOptions(), rejected_path=tmp_path / "g.csv", actor="m", at=T0
    )
    store = Stores(world).campaigns
    store.create(
        "g", list_name="gaps", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    with pytest.raises(ContentError, match=r"first_name is empty on 2 rows \(lines 3, 4\)"):
        store.start("g", actor="m", at=T0)
    assert store.start("g", actor="m", at=T0, allow_empty_fields=True) == 3
    # Allowed, an empty field renders blank: the row is sent, not failed as undefined.
    campaign = store.get("g")
    composer = Composer.for_campaign(
        campaign, Unsubscriber(secret=b"secret-for-tests", public_url="https://x")
    )
    for address in ("b@example.org", "c@example.org"):
        _, rendered = composer.compose(address, store.recipient(campaign, address).fields)
        assert (rendered.subject, rendered.text) == ("Hi", "Hello ")
    # A row that lacks the field altogether (its value never stored) renders blank too.
    _, rendered = composer.compose("d@example.org", {})
    assert rendered.text == "Hello "


def test_pause_resume_cancel_and_counts_that_add_up(world: Database, tmp_path: Path) -> None:
    store = Stores(world).campaigns
    store.create(
        "c", list_name="people", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    store.start("c", actor="m", at=T0)
    assert store.change("c", "pause", actor="m", reason="r", at=T0).value == "paused"
    assert store.change("c", "resume", actor="m", reason="r", at=T0).value == "running"
    report = campaign_report(
        world, DomainStore(world), "c", today=date(2026, 11, 30), message_kb=50
    )
    assert report.adds_up
    assert report.remaining == 5
    assert report.eta == date(2026, 11, 30)  # 5 emails fit in the first day
    assert report.cost_total == pytest.approx(5 * (0.00025 + 0.00012 * 50 / 1024))
    store.change("c", "cancel", actor="m", reason="wrong list", at=T0)
    report = campaign_report(
        world, DomainStore(world), "c", today=date(2026, 11, 30), message_kb=50
    )
    assert report.by_state == {"skipped": 5}
    assert report.adds_up
    assert export_campaign(world, "c", tmp_path / "out.csv") == 5
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("address,state,outcome")
    assert lines[1].startswith("top@gmail.com,skipped,")


def test_eta_follows_the_ramp_for_a_big_list() -> None:
    plan = load_plan(PLAN)
    # 400 + 400 + 800 + 800 + 1,600 = 4,000 in five sending days with a raised quota
    assert (
        sending_days_needed(
            plan, step=0, healthy_days_at_step=0, remaining=4000, per_hour_ceiling=90_000
        )
        == 5
    )
    # at the default quota (90/hour usable in a 14-hour window) the ramp is held to 800/day
    assert (
        sending_days_needed(
            plan, step=0, healthy_days_at_step=0, remaining=4000, per_hour_ceiling=90
        )
        == 6
    )


def test_unsubscribe_link_suppresses_and_skips_unsent_rows(world: Database) -> None:
    store = Stores(world).campaigns
    campaign = store.create(
        "c", list_name="people", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    store.start("c", actor="m", at=T0)
    unsubscriber = Unsubscriber(secret=b"secret-for-tests", public_url="https://x")
    suppression = SuppressionStore(world)
    token = unsubscriber.token(campaign.id, "mid@outlook.com")
    assert suppression.unsubscribe(token, unsubscriber, at=T0) == "mid@outlook.com"
    assert suppression.is_suppressed("mid@outlook.com", T0)
    with world.session() as session:
        row = session.scalar(select(LedgerRow).where(LedgerRow.address == "mid@outlook.com"))
        assert row is not None
        assert (row.state, row.last_error) == ("suppressed", "unsubscribed")
    forged = token[:-1] + ("B" if token[-1] != "B" else "C")
    with pytest.raises(InvalidToken):
        suppression.unsubscribe(forged, unsubscriber, at=T0)


def test_suppression_expiry_import_export_remove(database: Database, tmp_path: Path) -> None:
    store = SuppressionStore(database)
    store.add(
        "Soon@Example.org",
        reason="soft_bounce",
        source="event",
        actor="s",
        at=T0,
        expires_at=T0 + timedelta(days=1),
    )
    assert store.is_suppressed("soon@example.org", T0)
    assert not store.is_suppressed("soon@example.org", T0 + timedelta(days=2))
    with pytest.raises(ConfigError, match="unknown suppression reason"):
        store.add("a@example.org", reason="because", source="x", actor="s", at=T0)
    source = tmp_path / "in.csv"
    source.write_text(
        "Email,Reason\na@example.org,complaint\nnot-an-address,manual\nb@example.org,\n"
    )
    result = store.import_file(source, actor="ops", at=T0)
    assert (result.added, result.updated) == (2, 0)
    assert result.invalid[0][0] == 3
    assert store.export(tmp_path / "out.csv", T0) == 3
    exported = (tmp_path / "out.csv").read_text()
    assert "a@example.org,complaint" in exported
    assert "b@example.org,imported" in exported
    assert store.remove("a@example.org", actor="ops", at=T0)
    assert not store.remove("a@example.org", actor="ops", at=T0)


def test_claims_go_most_engaged_first_across_providers_within_their_budgets(
    world: Database,
) -> None:
    # Ranks: top@gmail.com, gone@example.org, mid@outlook.com, low@example.org, none@example.org
    store = Stores(world).campaigns
    store.create(
        "c", list_name="people", sender="news@mail.example.com", template=TEMPLATE, actor="m", at=T0
    )
    store.start("c", actor="m", at=T0)
    campaign = store.get("c")
    record = DomainStore(world).get("mail.example.com")
    ledger = LedgerStore(world)

    def claim(n: int, budgets: dict[str, int]) -> list[str]:
        domain = DomainClaim(record.id, T0 - timedelta(hours=1), 10_000, budgets=budgets)
        ids = ledger.claim(
            campaign.id, n, owner="t", deadline=T0 + timedelta(minutes=5), now=T0, domain=domain
        )
        with world.session() as session:
            rows = session.scalars(select(LedgerRow).where(LedgerRow.id.in_(ids)))
            return [r.address for r in sorted(rows, key=lambda r: r.rank)]

    # "other" holds ranks 2, 4 and 5, but must not go before the most engaged microsoft row.
    assert claim(2, {"other": 1}) == ["top@gmail.com", "gone@example.org"]
    # other's budget is spent: microsoft's rank-3 row is next, other's rows wait.
    assert claim(5, {"other": 0}) == ["mid@outlook.com"]
    assert claim(5, {}) == ["low@example.org", "none@example.org"]


def test_retry_takes_exactly_the_chosen_outcomes_less_suppressed_since(world: Database) -> None:
    store = Stores(world).campaigns
    store.create("spring", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    store.start("spring", actor="m", at=T0)
    outcomes = {
        "top@gmail.com": ("delivered", T0),
        "low@example.org": ("soft_failure", T0),
        "mid@outlook.com": ("hard_bounce", T0),
        "none@example.org": ("unknown", T0),
        "gone@example.org": ("soft_failure", T0),
    }
    with world.engine.begin() as connection:  # as delivery reports and polling would leave them
        for address, (outcome, at) in outcomes.items():
            connection.execute(
                update(LedgerRow)
                .where(LedgerRow.address == address)
                .values(state="accepted", outcome=outcome, outcome_at=at)
            )
    SuppressionStore(world).add("gone@example.org", reason="unsubscribe", source="link",
                                actor="x", at=T0 + timedelta(hours=1))  # fmt: skip
    later = T0 + timedelta(days=1)
    with pytest.raises(ContentError, match="never retried"):
        retry_outcomes("soft_bounce,delivered")
    campaign, rows = Stores(world).retries.retry(
        "spring",
        outcomes=retry_outcomes("soft_bounce,unknown"),
        settled_before=later,
        new_name=None,
        actor="m",
        at=later,
    )
    assert (campaign.name, campaign.status, rows) == ("spring-retry", "draft", 2)
    assert (campaign.subject, campaign.html, campaign.text) == (
        TEMPLATE.subject,
        TEMPLATE.html,
        TEMPLATE.text,
    )
    with world.session() as session:
        copied = dict(
            session.execute(
                select(Recipient.address, Recipient.fields).where(
                    Recipient.list_id == campaign.list_id
                )
            ).all()
        )
    assert copied == {
        "low@example.org": {"first_name": "Low", "engagement": "0.1"},
        "none@example.org": {"first_name": "None", "engagement": ""},
    }
    assert store.start("spring-retry", actor="m", at=later) == 2
    # A second retry gets a name of its own; outcomes newer than the cut-off are left out.
    again, rows = Stores(world).retries.retry(
        "spring",
        outcomes=["soft_failure"],
        settled_before=later,
        new_name=None,
        actor="m",
        at=later,
    )
    assert (again.name, rows) == ("spring-retry-2", 1)
    with pytest.raises(ContentError, match="no rows with outcomes unknown"):
        Stores(world).retries.retry(
            "spring", outcomes=["unknown"], settled_before=T0, new_name=None, actor="m", at=later
        )


def test_failed_reaches_rows_that_never_left_as_campaign_status_counts_them(
    world: Database,
) -> None:
    # A row whose message did not render, or that ACS refused for good, is `failed` by state
    # with no outcome: status shows it among the failed, so a retry of "failed" takes it too.
    store = Stores(world).campaigns
    store.create("spring", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    store.start("spring", actor="m", at=T0)
    with world.engine.begin() as connection:
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.address == "low@example.org")
            .values(state="failed", last_error="render: 'city' is undefined", updated_at=T0)
        )
        connection.execute(
            update(LedgerRow)
            .where(LedgerRow.address == "top@gmail.com")
            .values(state="accepted", outcome="failed", outcome_at=T0)
        )
    later = T0 + timedelta(hours=1)
    campaign, rows = Stores(world).retries.retry(
        "spring", outcomes=retry_outcomes("failed"), settled_before=later, new_name=None,
        actor="m", at=later,
    )  # fmt: skip
    assert rows == 2
    with world.session() as session:
        retried = set(
            session.scalars(select(Recipient.address).where(Recipient.list_id == campaign.list_id))
        )
    assert retried == {"low@example.org", "top@gmail.com"}


def test_a_scheduled_draft_starts_at_its_time_and_problems_show_when_scheduling(
    world: Database, tmp_path: Path
) -> None:
    store, planner = Stores(world).campaigns, Stores(world).schedule
    store.create("spring", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    nine = planner.start_time("spring", "2026-12-01 09:00", "Europe/Paris")
    assert nine == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    assert planner.start_time("spring", "2026-12-01 09:00", None) == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC
    )  # the plan's timezone (UTC)
    with pytest.raises(ContentError, match="unknown timezone 'Mars/Olympus'"):
        planner.start_time("spring", "2026-12-01 09:00", "Mars/Olympus")
    with pytest.raises(ContentError, match="give a time such as"):
        planner.start_time("spring", "tomorrow-ish", None)
    with pytest.raises(ContentError, match="in the past"):
        planner.schedule("spring", start_at=T0 - timedelta(hours=1), allow_empty_fields=False,
                         actor="m", at=T0)  # fmt: skip
    planner.schedule("spring", start_at=nine, allow_empty_fields=False, actor="mo", at=T0)
    assert campaign_report(
        world, DomainStore(world), "spring", today=T0.date(), message_kb=50
    ).eta_note == ("scheduled to start at 2026-12-01 08:00 UTC")
    assert planner.start_due(nine - timedelta(seconds=1)) == ([], [])  # not yet
    assert planner.start_due(nine) == (["spring"], [])
    # Started, not filled: housekeeping hands the fill to a job of its own, once.
    assert store.get("spring").status == "starting"
    assert store.claim_stalled_fills(nine, timedelta(minutes=2)) == ["spring"]
    assert store.claim_stalled_fills(nine, timedelta(minutes=2)) == []
    store.fill("spring", lambda: nine)
    assert store.get("spring").status == "running"
    assert store.get("spring").scheduled_at is None
    assert planner.start_due(nine + timedelta(minutes=1)) == ([], [])  # once

    # A field some rows leave empty is refused when scheduling, not discovered at the time.
    gaps = MessageTemplate(
        "Hi {{ first_name }}", None, "{{ engagement }} for {{ unsubscribe_url }}"
    )
    store.create("gaps", list_name="people", sender="news@mail.example.com", template=gaps,
                 actor="m", at=T0)  # fmt: skip
    with pytest.raises(ContentError, match="engagement is empty on 1 rows"):
        planner.schedule("gaps", start_at=nine, allow_empty_fields=False, actor="m", at=T0)
    # A start that fails at its time (here: ACS found the domain's DKIM broken since) is
    # audited and unscheduled.
    planner.schedule("gaps", start_at=nine, allow_empty_fields=True, actor="m", at=T0)
    broken = {"Domain": "Verified", "SPF": "Verified", "DKIM": "VerificationFailed",
              "DKIM2": "Verified", "DMARC": "Verified"}  # fmt: skip
    DomainStore(world).set_authentication(
        "mail.example.com",
        Authentication("CustomerManaged", broken, T0),
        actor="ops",
        unverified=["DKIM (VerificationFailed)"],
    )
    assert planner.start_due(nine) == ([], ["gaps"])
    assert store.get("gaps").scheduled_at is None
    with pytest.raises(TransitionError, match="not scheduled"):
        planner.unschedule("gaps", actor="m", at=nine)


def test_two_starts_at_once_fill_the_ledger_once(world: Database) -> None:
    store = Stores(world).campaigns
    store.create("race", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    barrier = threading.Barrier(2)

    def start() -> str:
        barrier.wait()
        try:
            return f"started {Stores(world).campaigns.start('race', actor='m', at=T0)}"
        except TransitionError as exc:
            return str(exc)

    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: start(), range(2)))
    # One starts it. The other is refused, or, if it came once the first had set it
    # starting, takes part in the same fill (a start resumes a fill, after a crash too):
    # the chunks take turns on the campaign's row and neither writes a recipient twice.
    assert "started 5" in results, results
    other = results[1] if results[0] == "started 5" else results[0]
    assert other in {
        "started 5",
        "campaign race was started meanwhile",  # it read the draft before the other's commit
        "campaign race is running; start needs it draft",
    }, results
    with world.session() as session:
        rows = session.scalar(
            select(func.count()).where(LedgerRow.campaign_id == store.get("race").id)
        )
    assert rows == 5


def test_the_fill_gives_each_row_a_random_operation_id_and_its_provider(world: Database) -> None:
    # Random uuid4s, not derived: two installations sharing an ACS resource never present one
    # id for different mail. Made by the database in the fill's one INSERT … SELECT (SQLite
    # through the function the store registers) and stored, so every attempt reuses it.
    store = Stores(world).campaigns
    store.create("ids", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    assert store.start("ids", actor="m", at=T0) == 5
    with world.session() as session:
        rows = session.execute(
            select(
                LedgerRow.address, LedgerRow.operation_id, LedgerRow.provider, LedgerRow.rank
            ).order_by(LedgerRow.rank)
        ).all()
    ids = [operation_id for _, operation_id, _, _ in rows]
    assert len(set(ids)) == 5
    assert all(uuid.UUID(i).version == 4 for i in ids)
    assert [(a, p, r) for a, _, p, r in rows] == [
        ("top@gmail.com", "gmail", 1),
        ("gone@example.org", "other", 2),
        ("mid@outlook.com", "microsoft", 3),
        ("low@example.org", "other", 4),
        ("none@example.org", "other", 5),
    ]


def test_a_list_imported_before_provider_groups_gets_them_at_start(world: Database) -> None:
    with world.engine.begin() as connection:  # as schema 0011 leaves older lists
        connection.execute(update(Recipient).values(provider=None))
        connection.execute(update(ContactList).values(size=None, filled=None))  # and 0019
    store = Stores(world).campaigns
    store.create("old", list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    assert store.start("old", actor="m", at=T0) == 5
    with world.session() as session:
        providers = dict(session.execute(select(LedgerRow.address, LedgerRow.provider)).all())
    assert providers["top@gmail.com"] == "gmail"
    assert providers["mid@outlook.com"] == "microsoft"
    assert providers["low@example.org"] == "other"


def test_a_retry_name_too_long_for_a_list_is_refused_clearly(world: Database) -> None:
    store = Stores(world).campaigns
    long_name = "x" * 196  # "-retry" makes it 202: longer than a list name may be
    store.create(long_name, list_name="people", sender="news@mail.example.com",
                 template=TEMPLATE, actor="m", at=T0)  # fmt: skip
    store.start(long_name, actor="m", at=T0)
    with world.engine.begin() as connection:
        connection.execute(update(LedgerRow).values(outcome="unknown", outcome_at=T0))
    with pytest.raises(ImportFailure, match="1 to 200 characters"):
        Stores(world).retries.retry(
            long_name, outcomes=["unknown"], settled_before=T0 + timedelta(hours=1),
            new_name=None, actor="m", at=T0 + timedelta(hours=1),
        )  # fmt: skip
