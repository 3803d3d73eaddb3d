"""SMTP both ways against the emulator's listener: what it refuses (with the exact reply codes),
and the SMTP sender's reading of replies, on real connections (aiosmtplib and smtplib)."""

from __future__ import annotations

import asyncio
import smtplib
import ssl
import uuid
from collections.abc import Iterator
from datetime import date
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.smtp import SMTP as PlainSmtpServer
from pydantic import SecretStr

from harness.pipeline_world import (
    DOMAIN,
    SMTP_PASSWORD,
    SMTP_USER,
    exactly_once,
    smtp_settings,
    world,
)
from tests.cli import cli
from tests.conftest import emulator_config
from warmup.campaigns.report import campaign_report
from warmup.control.state import Status
from warmup.domains.store import DomainStore
from warmup.emulator.server import EmulatorServer
from warmup.errors import PermanentSendError, ThrottledError, TransportSetupError
from warmup.feedback.reports import parse_report
from warmup.sending.message import build_message
from warmup.sending.mime import internet_message_id, smtp_message_key
from warmup.sending.retry import RetryPolicy
from warmup.sending.smtp import IN_DOUBT, SmtpSender, build_smtp_sender, classify_reply
from warmup.sending.transport import Transport
from warmup.settings import Settings

pytestmark = pytest.mark.integration

SENDER = "news@example.com"
LONG_USER = "acs-resource.00000000-0000-0000-0000-0000000000aa.11111111-1111-1111-1111-111111111111"


@pytest.fixture
def server() -> Iterator[EmulatorServer]:
    config = emulator_config(
        smtp_port=0, smtp_users={SMTP_USER: SMTP_PASSWORD, LONG_USER: "long-secret"}
    )
    with EmulatorServer(config) as running:
        yield running


def tls(server: EmulatorServer) -> ssl.SSLContext:
    return ssl.create_default_context(cadata=server.ca_pem.decode())


def client(server: EmulatorServer, *, login: tuple[str, str] | None = None) -> smtplib.SMTP:
    """A plain smtplib client, as a printer or an app would be: STARTTLS, then AUTH."""
    smtp = smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10)
    smtp.starttls(context=tls(server))
    if login is not None:
        smtp.login(*login)
    return smtp


def mail(sender: str = SENDER, to: str = "someone@example.org", size: int = 0) -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = sender, to, "hello"
    message.set_content("hi" + "x" * size)
    return message


def settings_for(server: EmulatorServer, tmp_path: Path, **overrides: object) -> Settings:
    values = {**smtp_settings(server, tmp_path), "smtp_throttle_seconds": 0.05, **overrides}
    return Settings(**values)  # type: ignore[arg-type]


def sender_for(
    server: EmulatorServer,
    tmp_path: Path,
    hook: list[ThrottledError] | None = None,
    **overrides: object,
) -> SmtpSender:
    return build_smtp_sender(
        settings_for(server, tmp_path, **overrides),
        RetryPolicy(max_attempts=3, backoff_initial=0.01, backoff_max=0.02),
        throttle_hook=hook.append if hook is not None else None,
    )


def message(to: str = "someone@example.org") -> dict[str, object]:
    return build_message(sender=SENDER, to=[to], subject="hello", plain_text="hi", html="<p>hi</p>")


async def send_one(sender: SmtpSender, operation_id: str, to: str = "someone@example.org"):  # type: ignore[no-untyped-def]
    try:
        return await sender.send(message(to), operation_id)
    finally:
        await sender.close()


# --- what the listener refuses, with the exact codes ------------------------------------------


def test_auth_before_starttls_is_refused_with_530(server: EmulatorServer) -> None:
    with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=10) as smtp:
        smtp.ehlo()
        code, text = smtp.docmd("AUTH", "LOGIN")
        assert code == 530
        assert b"STARTTLS" in text
        code, _ = smtp.docmd("MAIL", f"FROM:<{SENDER}>")
        assert code == 530


def test_mail_without_auth_is_refused_with_530(server: EmulatorServer) -> None:
    with client(server) as smtp, pytest.raises(smtplib.SMTPSenderRefused) as refused:
        smtp.send_message(mail())
    assert refused.value.smtp_code == 530
    assert server.stats()["accepted"] == 0


@pytest.mark.parametrize(
    "login", [(SMTP_USER, "wrong password"), ("printer-not-created", SMTP_PASSWORD)]
)
def test_a_wrong_password_or_an_unknown_username_is_refused_with_535(
    server: EmulatorServer, login: tuple[str, str]
) -> None:
    with client(server) as smtp, pytest.raises(smtplib.SMTPAuthenticationError) as refused:
        smtp.login(*login)
    assert refused.value.smtp_code == 535


def test_a_sender_outside_the_linked_domains_is_refused_with_550(server: EmulatorServer) -> None:
    with (
        client(server, login=(SMTP_USER, SMTP_PASSWORD)) as smtp,
        pytest.raises(smtplib.SMTPSenderRefused) as refused,
    ):
        smtp.send_message(mail(sender="someone@elsewhere.net"))
    assert refused.value.smtp_code == 550


def test_a_message_over_10_mb_is_refused_with_552(server: EmulatorServer) -> None:
    refusals = (smtplib.SMTPSenderRefused, smtplib.SMTPDataError)
    with (
        client(server, login=(SMTP_USER, SMTP_PASSWORD)) as smtp,
        pytest.raises(refusals) as refused,
    ):
        smtp.send_message(mail(size=10 * 1024 * 1024 + 1))
    assert refused.value.smtp_code == 552
    assert server.stats()["accepted"] == 0


def test_both_username_forms_send_and_count_like_rest(server: EmulatorServer) -> None:
    for login in ((SMTP_USER, SMTP_PASSWORD), (LONG_USER, "long-secret")):
        with client(server, login=login) as smtp:
            smtp.send_message(mail(to=f"{login[0][:5]}@example.org"))
    stats = server.stats()
    assert stats["accepted"] == 2
    assert stats["smtp_messages"] == 2
    assert stats["outcomes"] == {"Delivered": 2}


# --- the SMTP sender ----------------------------------------------------------------------


def test_a_message_goes_once_with_the_message_id_of_its_row(
    server: EmulatorServer, tmp_path: Path
) -> None:
    operation_id = str(uuid.uuid4())
    accepted = asyncio.run(send_one(sender_for(server, tmp_path), operation_id))
    assert accepted.message_id == smtp_message_key(operation_id)
    assert accepted.attempts == 1
    assert accepted.note is None
    internet_id = internet_message_id(operation_id, SENDER)
    operations = server.call(lambda: list(server.emulator.operations.values()))
    assert [o.internet_message_id for o in operations] == [internet_id]
    # ACS's delivery report names ACS's own id; the row is found by the Message-ID.
    report = parse_report(
        {
            "id": "e1",
            "eventType": "Microsoft.Communication.EmailDeliveryReportReceived",
            "data": {
                "messageId": operations[0].message_id,
                "internetMessageId": internet_id,
                "recipient": "someone@example.org",
                "status": "Delivered",
            },
        }
    )
    assert report.message_id == accepted.message_id


def test_a_4_7_reply_is_throttling_that_every_worker_hears(
    server: EmulatorServer, tmp_path: Path
) -> None:
    server.reconfigure(send_per_minute=1)
    heard: list[ThrottledError] = []
    asyncio.run(send_one(sender_for(server, tmp_path), str(uuid.uuid4()), "a@example.org"))
    with pytest.raises(ThrottledError) as throttled:
        asyncio.run(send_one(sender_for(server, tmp_path, heard), str(uuid.uuid4())))
    assert throttled.value.status == 451
    assert throttled.value.retry_after == 0.05  # WARMUP_SMTP_THROTTLE_SECONDS
    assert len(heard) == 3  # each attempt's 451 reached the limiter
    assert server.stats()["accepted"] == 1


def test_refused_credentials_are_a_setup_error_not_the_messages(
    server: EmulatorServer, tmp_path: Path
) -> None:
    sender = sender_for(server, tmp_path, smtp_password="not the secret")
    with pytest.raises(TransportSetupError, match="535"):
        asyncio.run(send_one(sender, str(uuid.uuid4())))
    assert server.stats()["smtp_auth_failures"] == 1  # not retried: it cannot help


def test_a_server_without_starttls_never_gets_the_credentials(tmp_path: Path) -> None:
    async def scenario() -> None:
        plain = await asyncio.get_running_loop().create_server(
            lambda: PlainSmtpServer(object()), "127.0.0.1", 0
        )
        port = plain.sockets[0].getsockname()[1]
        sender = build_smtp_sender(
            Settings(  # type: ignore[call-arg]
                smtp_host="127.0.0.1", smtp_port=port, smtp_username="u", smtp_password="p"
            ),
            RetryPolicy(max_attempts=1),
        )
        try:
            with pytest.raises(TransportSetupError, match="offers no STARTTLS"):
                await sender.send(message(), str(uuid.uuid4()))
        finally:
            await sender.close()
            plain.close()

    asyncio.run(scenario())


def test_a_connection_lost_after_the_data_is_taken_as_sent_never_sent_twice(
    server: EmulatorServer, tmp_path: Path
) -> None:
    server.reconfigure(drop_after_accept_rate=1.0)
    accepted = asyncio.run(send_one(sender_for(server, tmp_path), str(uuid.uuid4())))
    assert accepted.note == IN_DOUBT
    stats = server.stats()
    assert stats["accepted"] == 1
    assert stats["smtp_messages"] == 1


@pytest.mark.parametrize(
    ("code", "text", "kind"),
    [
        (451, "4.7.500 Server busy", ThrottledError),
        (452, "4.5.3 Too many recipients", ThrottledError),
        (450, "4.7.1 Try later", ThrottledError),
        (535, "5.7.8 Authentication credentials invalid", TransportSetupError),
        (530, "5.7.0 Authentication required", TransportSetupError),
        (550, "5.1.1 Mailbox unavailable", PermanentSendError),
        (554, "5.2.0 Transaction failed", PermanentSendError),
    ],
)
def test_replies_are_read_as_mail_servers_mean_them(code: int, text: str, kind: type) -> None:
    error = classify_reply(code, text, throttle_seconds=60)
    assert type(error) is kind
    assert error.status == code


def test_a_421_is_transient_not_throttling() -> None:
    error = classify_reply(421, "4.3.2 Service not available", throttle_seconds=60)
    assert error.retryable
    assert not isinstance(error, ThrottledError)


# --- through the pipeline -----------------------------------------------------------------


def test_refused_smtp_credentials_pause_the_domain_and_send_nothing(
    postgres_url: str, tmp_path: Path
) -> None:
    with world(
        postgres_url,
        tmp_path,
        recipients=30,
        transport=Transport.SMTP,
        settings_overrides={"smtp_password": SecretStr("an expired client secret")},
    ) as w:
        for batch in w.runtime.dispatch():
            w.runtime.run_batch(batch.to_message())
        state = w.domains.get(DOMAIN).state
        report = campaign_report(
            w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
        )
        stats = w.emulator.stats()
    assert state.status is Status.PAUSED
    assert "535" in state.reason
    assert "cannot send" in state.reason
    assert report.by_state == {"pending": 30}  # every row waits for the fix
    assert stats["accepted"] == 0
    assert stats["smtp_auth_failures"] >= 1


def test_an_smtp_campaign_runs_through_the_pipeline_once(postgres_url: str, tmp_path: Path) -> None:
    with world(postgres_url, tmp_path, recipients=120, transport=Transport.SMTP) as w:
        w.run_until_done(workers=3, timeout=60)
        stats = w.emulator.stats()
        report = campaign_report(
            w.database, DomainStore(w.database), "c", today=date.today(), message_kb=5
        )
    exactly_once(stats, 120)
    assert stats["smtp_messages"] == 120
    assert report.by_state == {"accepted": 120}


def test_send_test_over_smtp_proves_the_credentials(server: EmulatorServer, tmp_path: Path) -> None:
    settings = smtp_settings(server, tmp_path)
    env = {
        "WARMUP_SMTP_HOST": "127.0.0.1",
        "WARMUP_SMTP_PORT": str(settings["smtp_port"]),
        "WARMUP_SMTP_USERNAME": SMTP_USER,
        "WARMUP_SMTP_PASSWORD": SMTP_PASSWORD,
        "WARMUP_SMTP_CA_FILE": str(settings["smtp_ca_file"]),
    }
    args = ("send-test", "--transport", "smtp", "--to", "ops@example.org", "--from", SENDER)
    sent = cli(f"sqlite:///{tmp_path / 'w.db'}", *args, env=env)
    assert sent.returncode == 0, sent.stderr
    assert "accepted (250)" in sent.stdout
    assert server.stats()["accepted"] == 1
    refused = cli(
        f"sqlite:///{tmp_path / 'w.db'}", *args, env={**env, "WARMUP_SMTP_PASSWORD": "wrong"}
    )
    assert refused.returncode == 1
    assert "535" in refused.stderr
    missing = cli(f"sqlite:///{tmp_path / 'w.db'}", *args)
    assert missing.returncode != 0
    assert "WARMUP_SMTP_USERNAME" in missing.stderr
