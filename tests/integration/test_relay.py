"""The SMTP relay as apps and printers meet it (Python's smtplib): what it refuses, with the
exact reply codes, and what it takes: stored with its ledger rows before the 250."""

from __future__ import annotations

import json
import smtplib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from harness.pipeline_world import DOMAIN, SENDER, UNBOUNDED, add_domain
from harness.relay_world import Relay, relay_in_thread, submission
from tests.cli import cli, url_of
from warmup.campaigns.streams import RELAY_PRIORITY, TransactionalStreams, stream_name
from warmup.domains.actions import OpsRequest, act
from warmup.domains.record import Authentication
from warmup.domains.store import DomainStore
from warmup.errors import ConfigError, ConflictError
from warmup.relay.passwords import verify_password
from warmup.store.database import Database
from warmup.store.models import LedgerRow, RelayMessage, RelayUser
from warmup.wiring import Stores

pytestmark = pytest.mark.integration

TINY_DAY = """
name: tiny-day
quota: {per_minute: 1000000, per_hour: 10000000, headroom: 1.0}
steps:
  - {per_minute: 3, per_hour: 3, per_day: 3}
"""


@dataclass
class RelayWorld:
    database: Database
    relay: Relay
    login: tuple[str, str]


def relay_world(database: Database, plan_yaml: str = UNBOUNDED) -> Iterator[RelayWorld]:
    add_domain(database, plan_yaml)
    password = Stores(database).relay_users.add(
        "printer-3f", DOMAIN, actor="ops", at=datetime.now(UTC)
    )
    with relay_in_thread(database) as relay:
        yield RelayWorld(database, relay, ("printer-3f", password))


@pytest.fixture
def w(database: Database) -> Iterator[RelayWorld]:
    yield from relay_world(database)


def rows(database: Database) -> list[LedgerRow]:
    with database.session() as session:
        return list(session.scalars(select(LedgerRow).order_by(LedgerRow.id)))


# --- refused, with the exact codes -------------------------------------------------------


def test_without_starttls_nothing_but_starttls_is_answered(w: RelayWorld) -> None:
    with smtplib.SMTP("127.0.0.1", w.relay.port, timeout=10) as smtp:
        smtp.ehlo()
        assert smtp.docmd("AUTH", "PLAIN")[0] == 530
        assert smtp.docmd("MAIL", f"FROM:<{SENDER}>")[0] == 530
    assert rows(w.database) == []


def test_without_auth_mail_is_refused_with_530(w: RelayWorld) -> None:
    with w.relay.client() as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(submission(SENDER, ["a@example.org"]))
    assert refused.value.smtp_code == 530
    assert b"5.7.0" in refused.value.smtp_error


def test_a_wrong_password_is_refused_with_535(w: RelayWorld) -> None:
    with w.relay.client() as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login("printer-3f", "not-its-password")
    assert refused.value.smtp_code == 535


def test_a_username_ops_did_not_create_is_refused_with_535(w: RelayWorld) -> None:
    with w.relay.client() as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login("printer-4g", w.login[1])
    assert refused.value.smtp_code == 535


def test_a_sender_outside_the_users_domain_is_refused_with_553(w: RelayWorld) -> None:
    with w.relay.client(w.login) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(submission("ceo@other-domain.com", ["a@example.org"]))
    assert refused.value.smtp_code == 553
    assert rows(w.database) == []


def test_a_message_over_acs_size_limit_is_refused_with_552(w: RelayWorld) -> None:
    big = submission(SENDER, ["a@example.org"], size=10 * 1024 * 1024)
    refusals = (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
    with w.relay.client(w.login) as smtp, pytest.raises(refusals) as refused:
        smtp.send_message(big)
    assert refused.value.smtp_code == 552
    assert rows(w.database) == []


def test_a_bad_recipient_address_is_refused_with_550(w: RelayWorld) -> None:
    with w.relay.client(w.login) as smtp:
        smtp.ehlo()
        smtp.mail(SENDER)
        code, _ = smtp.rcpt("not an address")
    assert code == 550


# --- taken -------------------------------------------------------------------------------


def test_a_message_is_stored_with_its_rows_before_the_250(w: RelayWorld) -> None:
    with w.relay.client(w.login) as smtp:
        refused = smtp.send_message(submission(SENDER, ["Ada@Example.org", "bob@example.org"]))
    assert refused == {}
    stream = TransactionalStreams(w.database).get(DOMAIN)
    assert stream is not None
    found = rows(w.database)
    assert [(r.address, r.state, r.campaign_id) for r in found] == [
        ("ada@example.org", "pending", stream.campaign_id),
        ("bob@example.org", "pending", stream.campaign_id),
    ]
    with w.database.session() as session:
        message = session.scalar(select(RelayMessage))
        assert message is not None
        assert message.user_name == "printer-3f"
        assert message.mail_from == SENDER
        assert b"Your password reset" in message.raw
    assert {r.relay_message_id for r in found} == {message.id}


def test_the_stream_is_a_campaign_ahead_of_every_other(w: RelayWorld) -> None:
    with w.relay.client(w.login) as smtp:
        smtp.send_message(submission(SENDER, ["a@example.org"]))
        smtp.send_message(submission(SENDER, ["a@example.org"]))  # the same address again
    with w.database.session() as session:
        from warmup.store.models import Campaign

        campaign = session.scalar(select(Campaign).where(Campaign.name == stream_name(DOMAIN)))
        assert campaign is not None
        assert (campaign.kind, campaign.status, campaign.priority) == (
            "relay",
            "running",
            RELAY_PRIORITY,
        )
    assert len(rows(w.database)) == 2  # one row per message, though the address repeats


def test_a_paused_domain_answers_451_and_takes_mail_again_after_resume(w: RelayWorld) -> None:
    at = datetime.now(UTC)
    store = DomainStore(w.database)
    act(store, DOMAIN, "pause", OpsRequest(actor="ops", reason="bounce spike", at=at))
    with w.relay.client(w.login) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(submission(SENDER, ["a@example.org"]))
    assert refused.value.smtp_code == 451
    assert b"4.7.1" in refused.value.smtp_error
    assert b"bounce spike" in refused.value.smtp_error
    act(store, DOMAIN, "resume", OpsRequest(actor="ops", reason="fixed", at=at))
    w.relay.door._intake._verdicts.clear()  # type: ignore[union-attr]  # skip the 1 s cache
    with w.relay.client(w.login) as smtp:
        assert smtp.send_message(submission(SENDER, ["a@example.org"])) == {}
    assert len(rows(w.database)) == 1


def test_a_spent_daily_cap_answers_451(database: Database) -> None:
    for world in relay_world(database, plan_yaml=TINY_DAY):
        with world.relay.client(world.login) as smtp:
            smtp.send_message(submission(SENDER, ["a@example.org", "b@example.org"]))
            world.relay.door._intake._verdicts.clear()  # type: ignore[union-attr]
            smtp.send_message(submission(SENDER, ["c@example.org"]))
            world.relay.door._intake._verdicts.clear()  # type: ignore[union-attr]
            with pytest.raises(smtplib.SMTPSenderRefused) as refused:
                smtp.send_message(submission(SENDER, ["d@example.org"]))
        assert refused.value.smtp_code == 451
        assert b"daily cap" in refused.value.smtp_error
        assert len(rows(database)) == 3


# --- users -------------------------------------------------------------------------------


def test_passwords_are_kept_only_as_hashes(database: Database) -> None:
    add_domain(database)
    users = Stores(database).relay_users
    password = users.add("scanner", DOMAIN, actor="ops", at=datetime.now(UTC))
    with database.session() as session:
        stored = session.scalar(select(RelayUser.password_hash))
    assert stored is not None
    assert password not in stored
    assert verify_password(password, stored)
    assert users.authenticate("scanner", password) is not None
    assert users.authenticate("scanner", password + "x") is None
    with pytest.raises(ConflictError, match="already exists"):
        users.add("scanner", DOMAIN, actor="ops", at=datetime.now(UTC))
    with pytest.raises(ConfigError, match="a-z"):
        users.add("Printer 3F", DOMAIN, actor="ops", at=datetime.now(UTC))
    users.remove("scanner", actor="ops", at=datetime.now(UTC))
    assert Stores(database).relay_users.authenticate("scanner", password) is None


def test_ops_manage_relay_users_from_the_cli(database: Database) -> None:
    url = url_of(database)
    add_domain(database)
    made = cli(url, "relay", "user", "add", "printer-3f", "--domain", DOMAIN)
    assert made.returncode == 0, made.stderr
    password = made.stdout.strip()
    assert len(password) == 32  # alone on stdout, for a script to take
    assert "shown once" in made.stderr
    assert Stores(database).relay_users.authenticate("printer-3f", password) is not None
    long_name = cli(url, "relay", "user", "add", "x" * 30, "--domain", DOMAIN)
    assert long_name.returncode == 0
    assert "about 25" in long_name.stderr
    listed = cli(url, "relay", "user", "list", "--json")
    assert [u["name"] for u in json.loads(listed.stdout)] == ["printer-3f", "x" * 30]
    assert json.loads(listed.stdout)[0]["domain"] == DOMAIN
    unknown_domain = cli(url, "relay", "user", "add", "app", "--domain", "nope.example.com")
    assert unknown_domain.returncode != 0
    assert "no sending domain" in unknown_domain.stderr
    assert cli(url, "relay", "user", "remove", "printer-3f").returncode == 0
    gone = cli(url, "relay", "user", "remove", "printer-3f")
    assert gone.returncode != 0
    assert "no relay user" in gone.stderr
    no_tls = cli(url, "relay", "--port", "0")
    assert no_tls.returncode != 0
    assert "--tls-cert" in no_tls.stderr


def test_a_domain_whose_dns_check_failed_answers_451_until_a_check_passes(w: RelayWorld) -> None:
    """Relayed mail takes the DNS gate campaigns take: SPF, DKIM or DMARC not verified at the
    last check is a 451 with the records named, and it ramps nothing meanwhile."""
    store = DomainStore(w.database)
    failed = {"Domain": "Verified", "SPF": "Verified", "DKIM": "VerificationFailed",
              "DKIM2": "NotStarted", "DMARC": "Verified"}  # fmt: skip
    at = datetime.now(UTC)
    store.set_authentication(
        DOMAIN, Authentication("CustomerManaged", failed, at), actor="ops",
        unverified=["DKIM (VerificationFailed)"],
    )  # fmt: skip
    with w.relay.client(w.login) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(submission(SENDER, ["a@example.org"]))
    assert refused.value.smtp_code == 451
    assert b"4.7.1" in refused.value.smtp_error
    assert b"DKIM (VerificationFailed)" in refused.value.smtp_error
    assert rows(w.database) == []
    verified = {**failed, "DKIM": "Verified"}
    store.set_authentication(
        DOMAIN, Authentication("CustomerManaged", verified, at), actor="ops", unverified=[]
    )
    w.relay.door._intake._verdicts.clear()  # type: ignore[union-attr]  # skip the 1 s cache
    with w.relay.client(w.login) as smtp:
        assert smtp.send_message(submission(SENDER, ["a@example.org"])) == {}
    assert len(rows(w.database)) == 1
