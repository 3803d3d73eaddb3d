"""Sending over ACS's SMTP endpoint (``smtp.azurecomm.net:587``) with aiosmtplib.

Same contract as the REST sender (:class:`~warmup.sending.sender.MessageSender`): the same
retry policy, the same throttle hook, the same errors. Replies are read the way mail servers
mean them:

=============== ============================================ ===============================
reply           meaning                                      what happens
=============== ============================================ ===============================
451/452, 4.7.x  slow down (the quota is spent)               throttled: every worker waits
other 4xx       try again later                              backoff with jitter, retry
535/530/538     credentials refused, auth or TLS required    the domain is paused (setup)
other 5xx       this message is refused                      permanent: recorded as failed
=============== ============================================ ===============================

Connections are authenticated once (STARTTLS, then AUTH LOGIN) and reused, at most
``smtp_connections`` per process: ACS allows 250 authenticated connections per subscription.

A message is posted at most once. SMTP has no way to ask whether a message arrived, so when the
connection is lost after the message's data went out (no reply to the final dot), the row is
taken as accepted, with a note, rather than risk a second copy: its delivery report, matched by
``Message-ID``, says what became of it, or its outcome ends ``unknown``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import aiosmtplib

from warmup.errors import (
    ConfigError,
    NotSent,
    PermanentSendError,
    SendError,
    ThrottledError,
    TransientSendError,
    TransportSetupError,
)
from warmup.sending.mime import (
    envelope_recipients,
    internet_message_id,
    smtp_message_key,
    to_mime,
)
from warmup.sending.retry import RetryPolicy, ThrottleHook
from warmup.sending.sender import Accepted, answered, send_with_retries
from warmup.sending.wire import Wire
from warmup.settings import Settings, env_name
from warmup.tracing import span

SETUP_CODES = frozenset({530, 534, 535, 538})
THROTTLE_CODES = frozenset({451, 452})
IN_DOUBT = (
    "in doubt: the connection was lost after the message was sent and before ACS answered; "
    "taken as accepted, never sent again (its delivery report settles it)"
)


@dataclass(frozen=True)
class SmtpEndpoint:
    host: str
    port: int
    username: str
    password: str = field(repr=False)
    tls: ssl.SSLContext = field(repr=False)
    connect_timeout: float = 10.0
    timeout: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> SmtpEndpoint:
        password = settings.smtp_password or settings.azure_client_secret
        if not settings.smtp_username or password is None:
            raise ConfigError(
                f"sending over SMTP needs {env_name('smtp_username')} (the SMTP username, or "
                f"<resource>.<app id>.<tenant id>) and {env_name('smtp_password')} (the Entra "
                f"app's client secret; {env_name('azure_client_secret')} is used when unset)"
            )
        tls = ssl.create_default_context()
        if settings.smtp_ca_file is not None:
            try:
                tls.load_verify_locations(cafile=str(settings.smtp_ca_file))
            except (OSError, ssl.SSLError) as exc:
                raise ConfigError(
                    f"{env_name('smtp_ca_file')}={settings.smtp_ca_file}: not a readable PEM "
                    f"CA bundle ({exc})"
                ) from None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=password.get_secret_value(),
            tls=tls,
            connect_timeout=settings.connect_timeout_seconds,
            timeout=settings.read_timeout_seconds,
        )


def classify_reply(code: int, text: str, *, throttle_seconds: float) -> SendError:
    """An SMTP reply that is not success, as one of the send error kinds."""
    message = f"SMTP {code} {text}".strip()
    enhanced = text.strip()[:5]
    if code in SETUP_CODES:
        return TransportSetupError(message, status=code)
    if 400 <= code < 500:
        if code in THROTTLE_CODES or enhanced.startswith("4.7."):
            return ThrottledError(message, retry_after=throttle_seconds, status=code)
        return TransientSendError(message, status=code)
    return PermanentSendError(message, status=code)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """Abandon a transaction before DATA (RSET), so the connection can carry the next one; a
    connection that cannot be reset is closed."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def _reply_error(exc: aiosmtplib.SMTPResponseException, throttle_seconds: float) -> SendError:
    return classify_reply(exc.code, exc.message, throttle_seconds=throttle_seconds)


class SmtpConnections:
    """A pool of authenticated connections: taken one per message, given back after a clean
    exchange, dropped after anything else (a half-done transaction is not worth saving)."""

    def __init__(self, endpoint: SmtpEndpoint, size: int, *, throttle_seconds: float) -> None:
        self._endpoint = endpoint
        self._slots = asyncio.Semaphore(size)
        self._idle: list[aiosmtplib.SMTP] = []
        self._throttle_seconds = throttle_seconds
        self.opened = 0

    async def _open(self) -> aiosmtplib.SMTP:
        end = self._endpoint
        client = aiosmtplib.SMTP(
            hostname=end.host,
            port=end.port,
            start_tls=False,  # asked for below, and required: credentials never go in clear
            tls_context=end.tls,
            timeout=end.timeout,
        )
        try:
            await client.connect(timeout=end.connect_timeout)
            await client.ehlo()
            if not client.supports_extension("starttls"):
                raise TransportSetupError(
                    f"{end.host}:{end.port} offers no STARTTLS: the credentials are not sent"
                )
            await client.starttls()
            await client.ehlo()  # again after STARTTLS, as RFC 3207 asks: AUTH is offered now
            await client.auth_login(end.username, end.password)
        except TransportSetupError:
            client.close()
            raise
        except aiosmtplib.SMTPResponseException as exc:
            client.close()
            raise _reply_error(exc, self._throttle_seconds) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            client.close()
            raise TransientSendError(f"cannot reach {end.host}:{end.port}: {exc}") from None
        self.opened += 1
        return client

    @contextlib.asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        async with self._slots:
            client = self._idle.pop() if self._idle else await self._open()
            clean = False
            try:
                yield client
                clean = True
            except NotSent:
                clean = True  # held back before its transaction began: the connection is fine
                raise
            finally:
                if clean and client.is_connected:
                    self._idle.append(client)
                else:
                    client.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, OSError):
                await client.quit()


class SmtpSender:
    def __init__(
        self,
        connections: SmtpConnections,
        policy: RetryPolicy,
        *,
        throttle_seconds: float,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        throttle_hook: ThrottleHook | None = None,
    ) -> None:
        self._connections = connections
        self._policy = policy
        self._throttle_seconds = throttle_seconds
        self._sleep = sleep
        self._throttle_hook = throttle_hook

    async def send(
        self,
        message: Mapping[str, Any],
        operation_id: str,
        *,
        before_retry: Callable[[], Awaitable[None]] | None = None,
        wire: Wire | None = None,
    ) -> Accepted:
        message_id = internet_message_id(operation_id, str(message["senderAddress"]))
        payload = to_mime(message, message_id).as_bytes()
        sender, recipients = str(message["senderAddress"]), envelope_recipients(message)

        async def post(attempt: int) -> Accepted:
            try:
                in_doubt = await self._post(sender, recipients, payload, wire)
            except ThrottledError as exc:
                if self._throttle_hook is not None:
                    self._throttle_hook(exc)  # every 4.7.x: all workers must hold back
                raise
            key = smtp_message_key(operation_id)
            return Accepted(key, operation_id, attempt, IN_DOUBT if in_doubt else None)

        with span("smtp.send", operation_id=operation_id):
            return await send_with_retries(
                self._policy,
                what=f"send {operation_id} over SMTP",
                sleep=self._sleep,
                post=post,
                before_retry=before_retry,
            )

    async def _post(
        self, sender: str, recipients: list[str], payload: bytes, wire: Wire | None
    ) -> bool:
        """One SMTP transaction; ``True`` when it is in doubt (see the module's docstring).
        ``wire`` hears of it right before DATA: until then nothing of the message has left
        (a throttle or a pause that lands while it waits for a connection, or meanwhile,
        still keeps it back, and the transaction is reset)."""
        async with self._connections.connection() as client:
            try:
                await client.mail(sender)
                for address in recipients:
                    await client.rcpt(address)
            except aiosmtplib.SMTPResponseException as exc:
                raise answered(_reply_error(exc, self._throttle_seconds), wire) from None
            except (aiosmtplib.SMTPException, OSError) as exc:
                # Nothing of the message went out: safe to try again.
                error = TransientSendError(f"SMTP connection lost before DATA: {exc}")
                raise answered(error, wire) from None
            if wire is not None:
                try:
                    await wire.leaving()
                except NotSent:
                    await _reset(client)
                    raise
            try:
                await client.data(payload)
            except aiosmtplib.SMTPResponseException as exc:
                raise answered(_reply_error(exc, self._throttle_seconds), wire) from None
            except (aiosmtplib.SMTPException, OSError):
                client.close()
                return True
        return False

    async def close(self) -> None:
        await self._connections.close()


def build_smtp_sender(
    settings: Settings,
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    throttle_hook: ThrottleHook | None = None,
) -> SmtpSender:
    connections = SmtpConnections(
        SmtpEndpoint.from_settings(settings),
        settings.smtp_connections,
        throttle_seconds=settings.smtp_throttle_seconds,
    )
    return SmtpSender(
        connections,
        policy,
        throttle_seconds=settings.smtp_throttle_seconds,
        sleep=sleep,
        throttle_hook=throttle_hook,
    )
