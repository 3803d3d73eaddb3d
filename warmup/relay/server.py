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

AUTH is the relay's own (:meth:`RelayDoor.handle_AUTH`), so that nobody can stall it without
credentials: the scrypt check runs in a thread, off the event loop that serves every logged-in
client; an unknown name takes as long as a wrong password (timing tells no names); a
connection is closed (``421``) after ``FAILED_AUTH_CLOSE`` failures; and a client address
whose failures pile up waits longer for each answer (up to ``BACKOFF_MAX`` seconds), without
holding anyone else up.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import logging
import ssl
import time
import weakref
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session
from sqlalchemy.exc import SQLAlchemyError

from warmup.addresses import InvalidAddress, normalise_address, sender_domain
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
AUTH_OK = "235 2.7.0 Authentication successful"
AUTH_REFUSED = "535 5.7.8 Authentication credentials invalid"
AUTH_CLOSED = "421 4.7.0 Too many failed authentications: closing the connection"
AUTH_UNAVAILABLE = "454 4.7.0 Temporary authentication failure: try again later"
FAILED_AUTH_CLOSE = 5  # failures on one connection, then it is closed
BACKOFF_AFTER = 3  # failures from one address before its answers are delayed
BACKOFF_MAX = 30.0  # seconds, at most, before a refusal is answered
BACKOFF_FORGET = 900.0  # an address's failures are forgotten after this long without one
ADDRESSES_KEPT = 10_000  # addresses whose failures are remembered, the oldest dropped first


class FailedLogins:
    """Failed AUTHs by client address: how long the next refusal waits (pure, but the clock)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._by_address: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def failed(self, address: str) -> float:
        """Count a failure; the seconds its refusal should wait."""
        now = self._monotonic()
        count, last = self._by_address.pop(address, (0, now))
        count = 1 if now - last > BACKOFF_FORGET else count + 1
        self._by_address[address] = (count, now)
        while len(self._by_address) > ADDRESSES_KEPT:
            self._by_address.popitem(last=False)
        if count < BACKOFF_AFTER:
            return 0.0
        return min(BACKOFF_MAX, 0.5 * 2.0 ** (count - BACKOFF_AFTER))

    def succeeded(self, address: str) -> None:
        self._by_address.pop(address, None)


def _decoded(blob: str) -> bytes | None:
    try:
        return base64.b64decode(blob.encode(), validate=True)
    except (binascii.Error, ValueError):
        return None


async def _first_blob(server: SMTP, args: list[str], challenge: str) -> bytes | None:
    """The mechanism's first value: on the AUTH line, or asked for (RFC 4954); None when the
    client aborted or sent what cannot be decoded (already answered)."""
    blob = _decoded(args[1]) if len(args) > 1 else await server.challenge_auth(challenge)
    if blob is None:
        await server.push("501 5.5.2 Can't decode base64")
        return None
    return None if blob is MISSING else bytes(blob)


async def _credentials(server: SMTP, args: list[str]) -> tuple[bytes, bytes] | None:
    """The login and password of an AUTH PLAIN (RFC 4616) or LOGIN; None when the client
    aborted or sent what cannot be decoded (already answered)."""
    if args[0].upper() == "PLAIN":
        blob = await _first_blob(server, args, "")
        if blob is None:
            return None
        parts = blob.split(b"\x00")
        if len(parts) != 3:
            await server.push("501 5.5.2 Can't split auth value")
            return None
        return parts[1], parts[2]
    login = await _first_blob(server, args, "User Name")
    if login is None:
        return None
    password = await server.challenge_auth("Password")
    return None if password is MISSING else (login, bytes(password))


class RelayDoor:
    """The aiosmtpd handler: one per relay process."""

    def __init__(self, users: RelayUsers, intake: RelayIntake, clock: Clock) -> None:
        self._users = users
        self._intake = intake
        self._clock = clock
        self._stored = GroupCommit[Submission](intake.accept)
        self.accepted = 0
        self.refused: dict[str, int] = {}
        self._failed_logins = FailedLogins()
        # Failed AUTHs per connection (its session), forgotten with the connection.
        self._failures: weakref.WeakKeyDictionary[Session, int] = weakref.WeakKeyDictionary()

    def _refuse(self, kind: str, reply: str) -> str:
        self.refused[kind] = self.refused.get(kind, 0) + 1
        return reply

    def authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        """aiosmtpd's own AUTH path, never taken: :meth:`handle_AUTH` answers every mechanism
        the relay offers. Refuses, should a new aiosmtpd offer one more."""
        return AuthResult(success=False, handled=False)

    async def handle_AUTH(
        self, server: SMTP, session: Session, envelope: Envelope, args: list[str]
    ) -> Any:
        if args[0].upper() not in {"LOGIN", "PLAIN"}:
            return MISSING  # aiosmtpd's own path (which refuses)
        credentials = await _credentials(server, args)
        if credentials is None:
            return None  # answered already
        name = credentials[0].decode("utf-8", "replace")
        password = credentials[1].decode("utf-8", "replace")
        try:
            account = await asyncio.to_thread(self._users.authenticate, name, password)
        except SQLAlchemyError:
            log.exception("relay: cannot check user %s", name)
            return AUTH_UNAVAILABLE
        peer = _peer_host(session)
        if account is not None:
            self._failed_logins.succeeded(peer)
            session.authenticated = True
            session.auth_data = account  # type: ignore[assignment]  # aiosmtpd types it None
            session.login_data = credentials[0]
            return AUTH_OK
        self._refuse("auth", "")
        failures = self._failures.get(session, 0) + 1
        self._failures[session] = failures
        wait = self._failed_logins.failed(peer)
        if wait:
            await asyncio.sleep(wait)  # this client waits; everyone else is served meanwhile
        if failures >= FAILED_AUTH_CLOSE:
            log.warning("relay: %s failed AUTH %d times; connection closed", peer, failures)
            await server.push(AUTH_CLOSED)
            if server.transport is not None:
                server.transport.close()
            return None
        return AUTH_REFUSED

    async def handle_MAIL(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        account = session.auth_data
        if not isinstance(account, RelayAccount):  # aiosmtpd asks for AUTH first: defensive
            return self._refuse("auth", "530 5.7.0 Authentication required")
        try:
            domain = sender_domain(address)
        except InvalidAddress as exc:
            return self._refuse("sender", f"553 5.1.7 Sender address rejected: {exc}")
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


def _peer_host(session: Session) -> str:
    peer = session.peer
    return str(peer[0]) if isinstance(peer, tuple) and peer else str(peer)


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
