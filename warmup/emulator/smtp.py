"""The emulator's SMTP door, as ``smtp.azurecomm.net:587`` behaves: STARTTLS, then AUTH, then
mail that counts against the same quota, outcomes, delivery reports and stats as the REST API.

Replies follow what mail servers mean: ``451 4.7.500`` when the quota is spent (try later),
``535 5.7.8`` for credentials ACS does not know, ``550 5.7.1`` for a sender domain that is not
linked, ``452 4.5.3`` past 50 recipients, ``552`` over 10 MB. Injected faults map to SMTP too: a
"429" is a ``451``, a 5xx is a ``421`` (service not available), a drop closes the connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ssl
import time
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from warmup.emulator.core import Emulator, Operation
from warmup.emulator.validation import MAX_RECIPIENTS, MAX_REQUEST_BYTES, Rejection, SendRequest

THROTTLED = "451 4.7.500 Server busy: the email sending quota is exceeded. Try again later."
UNAVAILABLE = "421 4.3.2 Service not available, closing transmission channel"
_headers = BytesHeaderParser(policy=default_policy)


class SmtpDoor:
    """The aiosmtpd handler: one per emulator, on the emulator's own event loop."""

    def __init__(self, emulator: Emulator) -> None:
        self._emulator = emulator

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        config = self._emulator.config
        if isinstance(auth_data, LoginPassword):
            username = auth_data.login.decode("utf-8", "replace")
            configured = config.smtp_users.get(username)
            expected = (
                configured.get_secret_value()
                if configured is not None
                else self._emulator.arm_state.smtp_password(config, username)
            )
            if expected is not None and hmac.compare_digest(auth_data.password, expected.encode()):
                return AuthResult(success=True, auth_data=username)
        self._emulator.stats.smtp_auth_failures += 1
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        domains = self._emulator.config.sender_domains
        domain = address.rpartition("@")[2].lower()
        if domains and domain not in domains:
            self._emulator.stats.rejected["DomainNotLinked"] += 1
            return f"550 5.7.1 The sender domain {domain} is not linked to this resource"
        try:
            self._emulator.check_sender_username(address)
        except Rejection as rejection:
            self._emulator.stats.rejected[rejection.code] += 1
            return f"550 5.7.1 {rejection.message}"
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            self._emulator.stats.rejected["TooManyRecipients"] += 1
            return f"452 4.5.3 Too many recipients: at most {MAX_RECIPIENTS} per message"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(options)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        emulator, config = self._emulator, self._emulator.config
        emulator.stats.send_request_walls.append(time.time())
        emulator.stats.smtp_messages += 1
        emulator.stats.smtp_received_recipients.update(a.lower() for a in envelope.rcpt_tos)
        delay = config.latency_ms + emulator.rng.uniform(0, config.jitter_ms)
        if delay > 0:
            await asyncio.sleep(delay / 1000)
        fault = emulator.injected_fault()
        if fault == "drop":
            _hang_up(server)
            return UNAVAILABLE  # never seen: the connection is gone
        if fault == "429":
            return THROTTLED
        if fault is not None:
            return UNAVAILABLE
        content = envelope.original_content or b""
        headers = _headers.parsebytes(content)
        message_id = headers.get("Message-ID")
        request = SendRequest(
            sender=str(envelope.mail_from),
            recipients=tuple(envelope.rcpt_tos),
            subject=str(headers.get("Subject") or ""),
        )
        admitted = emulator.accept(
            request,
            message_id=None,
            body_hash=hashlib.sha256(content).hexdigest(),
            internet_message_id=str(message_id) if message_id else None,
        )
        if not isinstance(admitted, Operation):
            return THROTTLED
        if emulator.rng.random() < config.drop_after_accept_rate:
            emulator.stats.injected["drop_after_accept"] += 1
            _hang_up(server)
        queued = f"[InternalId={admitted.message_id}] Queued mail for delivery"
        return f"250 2.6.0 {admitted.internet_message_id or ''} {queued}".replace("  ", " ")


def _hang_up(server: SMTP) -> None:
    if isinstance(server.transport, asyncio.Transport):
        server.transport.abort()


def smtp_server(door: SmtpDoor, tls: ssl.SSLContext) -> SMTP:
    """One connection's protocol object (the server builds one per client)."""
    return SMTP(
        door,
        hostname="emulator.azurecomm.net",
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        authenticator=door.authenticate,
        data_size_limit=MAX_REQUEST_BYTES,
        timeout=60,
    )
