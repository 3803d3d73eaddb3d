"""``warmup send-test``: prove the credentials and the sender address work, before a campaign."""

from __future__ import annotations

import asyncio
import uuid
from typing import Annotated

import typer

from warmup.errors import ConfigError, SendError
from warmup.logs import configure_logging
from warmup.sending.transport import Transport
from warmup.settings import Settings, env_name, load_settings


def run_smtp_trial_send(settings: Settings, message: dict[str, object]) -> str:
    """Send one message over SMTP (STARTTLS + AUTH LOGIN): proves the SMTP credentials.
    SMTP has no status to wait for: a 250 is the answer; the delivery report follows."""
    from warmup.sending.retry import RetryPolicy
    from warmup.sending.smtp import build_smtp_sender

    async def send() -> str:
        smtp = build_smtp_sender(settings, RetryPolicy.from_settings(settings))
        try:
            accepted = await smtp.send(message, str(uuid.uuid4()))
        finally:
            await smtp.close()
        typer.echo(
            f"accepted (250): message id {accepted.message_id} after {accepted.attempts} "
            "attempt(s)" + (f"; {accepted.note}" if accepted.note else "")
        )
        return "Accepted"

    typer.echo(
        f"sending over SMTP via {settings.smtp_host}:{settings.smtp_port} "
        f"as {settings.smtp_username}"
    )
    return asyncio.run(send())


def run_trial_send(
    settings: Settings,
    *,
    to: str,
    sender: str | None,
    subject: str,
    wait: bool,
    timeout: float,
    transport: Transport = Transport.REST,
) -> str:
    """Send one message and (optionally) wait for its final status; return that status."""
    from warmup.sending.message import build_message

    sender = sender or settings.sender_address
    if sender is None:
        raise ConfigError(f"no sender address: pass --from or set {env_name('sender_address')}")
    message = build_message(
        sender=sender,
        to=[to],
        subject=subject,
        plain_text="This is a test message from warmup send-test.",
    )
    if transport is Transport.SMTP:
        return run_smtp_trial_send(settings, message)
    return asyncio.run(rest_trial_send(settings, message, to, sender, wait, timeout))


async def rest_trial_send(
    settings: Settings,
    message: dict[str, object],
    to: str,
    sender: str,
    wait: bool,
    wait_seconds: float,
) -> str:
    """One send through the REST sender the workers use (the same retries and classification);
    an answer lost on the way is settled by asking ACS, never by posting again."""
    from warmup.errors import AmbiguousSendError
    from warmup.sending.client import build_async_client
    from warmup.sending.retry import RetryPolicy
    from warmup.sending.sender import AsyncSender

    client = build_async_client(settings)
    try:
        acs = AsyncSender(client, RetryPolicy.from_settings(settings))
        typer.echo(f"sending to {to} from {sender} via {client.auth.endpoint} ({client.auth.mode})")
        operation_id = str(uuid.uuid4())
        try:
            accepted = await acs.send(message, operation_id)
            message_id, attempts = accepted.message_id, accepted.attempts
        except AmbiguousSendError:
            known = await acs.lookup(operation_id)
            if known is None:  # ACS never got it: nothing was sent
                raise
            message_id, attempts = known.message_id, 1
            typer.echo("the answer was lost; ACS says it has the message")
        typer.echo(f"accepted: message id {message_id} after {attempts} attempt(s)")
        if not wait:
            return "Accepted"
        final = await acs.wait_for_status(message_id, within=wait_seconds)
        suffix = f" ({final.error})" if final.error else ""
        typer.echo(f"status: {final.status}{suffix}")
        return final.status
    finally:
        await client.close()


def trial_send(
    to: Annotated[str, typer.Option("--to", help="Recipient address.")],
    sender: Annotated[
        str | None,
        typer.Option("--from", help="Sender address (default: WARMUP_SENDER_ADDRESS)."),
    ] = None,
    subject: Annotated[str, typer.Option(help="Subject line.")] = "warmup send-test",
    wait: Annotated[bool, typer.Option(help="Wait for the operation's final status.")] = True,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the status.")] = 120.0,
    transport: Annotated[
        Transport,
        typer.Option(help="rest: the Email REST API; smtp: ACS's SMTP endpoint (WARMUP_SMTP_*)."),
    ] = Transport.REST,
) -> None:
    """Send one message through the configured ACS (or the emulator); print id and status."""
    settings = load_settings()
    configure_logging(settings)
    try:
        status = run_trial_send(
            settings,
            to=to,
            sender=sender,
            subject=subject,
            wait=wait,
            timeout=timeout,
            transport=transport,
        )
    except SendError as exc:
        typer.secho(f"send failed: {exc}", fg="red", err=True)
        raise typer.Exit(1) from None
    if status not in {"Accepted", "Succeeded"}:
        raise typer.Exit(1)
