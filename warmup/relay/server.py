"""``warmup relay``: an SMTP submission server (aiosmtpd) whose mail goes out through the ramp.

What a client must do, and what it hears when it does not:

=========================================== ===========================================
step                                        refused with
=========================================== ===========================================
STARTTLS before anything else               ``530`` Must issue a STARTTLS command first
AUTH LOGIN/PLAIN as a user ops created      ``535 5.7.8`` (unknown user or wrong password)
MAIL FROM on the user's own domain          ``553 5.7.1`` sender not on the user's domain
the domain can take it now                  ``451 4.7.1`` with the reason (paused, cap...)
at most 50 recipients, valid addresses      ``452 4.5.3`` / ``550 5.1.3``
at most 10 MB (ACS's limit)                 ``552``
=========================================== ===========================================

A message is answered ``250`` only once it is stored with its ledger rows (see intake.py).
Database work runs in threads, off the event loop; password checks are remembered per
process (see users.py), so a client that logs in per message costs scrypt once a minute.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any

from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session
from sqlalchemy.exc import SQLAlchemyError

from warmup.addresses import InvalidAddress, normalise_address
from warmup.clock import Clock
from warmup.errors import WarmupError
from warmup.logs import quiet_aiosmtpd
from warmup.relay.batcher import GroupCommit
from warmup.relay.intake import RelayIntake, Submission
from warmup.relay.users import RelayAccount, RelayUsers

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # ACS's limit per request, attachments included
MAX_RECIPIENTS = 50
TEMPORARY = "451 4.3.0 Temporary failure: the relay cannot store mail now; try again later"


class RelayDoor:
    """The aiosmtpd handler: one per relay process."""

    def __init__(self, users: RelayUsers, intake: RelayIntake, clock: Clock) -> None:
        self._users = users
        self._intake = intake
        self._clock = clock
        self._stored = GroupCommit[Submission](intake.accept)
        self.accepted = 0
        self.refused: dict[str, int] = {}

    def _refuse(self, kind: str, reply: str) -> str:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        return reply

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            name = auth_data.login.decode("utf-8", "replace")
            try:
                account = self._users.authenticate(
                    name, auth_data.password.decode("utf-8", "replace")
                )
            except SQLAlchemyError:
                log.exception("relay: cannot check user %s", name)
                account = None
            if account is not None:
                return AuthResult(success=True, auth_data=account)
        self._refuse("auth", "")
        return AuthResult(success=False, handled=False)

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        account = session.auth_data
        if not isinstance(account, RelayAccount):  # aiosmtpd asks for AUTH first: defensive
            return self._refuse("auth", "530 5.7.0 Authentication required")
        domain = address.rpartition("@")[2].lower()
        if domain != account.domain:
            return self._refuse(
                "sender",
                f"553 5.7.1 Sender address rejected: {address} is not on {account.domain}, "
                f"the domain {account.name} may relay for",
            )
        try:
            known = self._intake.known_refusal(account)
            refusal = (
                known.refusal
                if known is not None
                else await asyncio.to_thread(self._intake.refusal, account, self._clock.now())
            )
        except (SQLAlchemyError, WarmupError):
            log.exception("relay: cannot check domain %s", account.domain)
            return self._refuse("store", TEMPORARY)
        if refusal is not None:
            return self._refuse("held", f"451 4.7.1 {refusal}")
        envelope.mail_from = address
        envelope.mail_options.extend(options)
        return "250 2.1.0 OK"

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if len(envelope.rcpt_tos) >= MAX_RECIPIENTS:
            return self._refuse(
                "recipients", f"452 4.5.3 Too many recipients: at most {MAX_RECIPIENTS}"
            )
        try:
            normal = normalise_address(address)
        except InvalidAddress as exc:
            return self._refuse("recipient", f"550 5.1.3 Bad recipient address {address}: {exc}")
        envelope.rcpt_tos.append(normal)
        envelope.rcpt_options.extend(options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        account = session.auth_data
        if not isinstance(account, RelayAccount) or envelope.mail_from is None:
            return self._refuse("auth", "530 5.7.0 Authentication required")
        submission = Submission(
            account,
            envelope.mail_from,
            list(envelope.rcpt_tos),
            envelope.original_content or b"",
            self._clock.now(),
        )
        try:
            message_id = await self._stored.submit(submission)
        except (SQLAlchemyError, WarmupError, RuntimeError):
            log.exception("relay: cannot store a message from %s", account.name)
            return self._refuse("store", TEMPORARY)
        self.accepted += 1
        return f"250 2.0.0 OK: queued as {message_id}"


def relay_protocol(door: RelayDoor, tls: ssl.SSLContext) -> SMTP:
    """One connection's protocol object (the server builds one per client)."""
    return SMTP(
        door,
        hostname="warmup-relay",
        ident="warmup relay",
        tls_context=tls,
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=door.authenticate,
        data_size_limit=MAX_MESSAGE_BYTES,
        timeout=300,
    )


async def start_relay(door: RelayDoor, tls: ssl.SSLContext, host: str, port: int) -> asyncio.Server:
    quiet_aiosmtpd()
    return await asyncio.get_running_loop().create_server(
        lambda: relay_protocol(door, tls), host, port, backlog=512
    )
