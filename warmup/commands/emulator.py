"""``warmup emulator``: run the local ACS Email emulator in the foreground."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from pydantic import ValidationError

from warmup.emulator.config import EmulatorConfig, EventSchema
from warmup.emulator.core import Emulator
from warmup.errors import ConfigError


def _rate(help_text: str) -> Any:
    """A 0..1 probability option with its help."""
    return typer.Option(min=0.0, max=1.0, help=help_text, show_default=False)


Fault500 = Annotated[float | None, _rate("Share of requests answered 500.")]
Fault503 = Annotated[float | None, _rate("Share of requests answered 503.")]
Fault429 = Annotated[float | None, _rate("Share of requests answered 429 (Retry-After).")]
DropRate = Annotated[float | None, _rate("Share of connections closed with no answer.")]
BounceRate = Annotated[float | None, _rate("Share of recipients that bounce (hard).")]
FailureRate = Annotated[float | None, _rate("Share of recipients whose delivery fails.")]
SpamRate = Annotated[float | None, _rate("Share of recipients whose mail is filtered as spam.")]
DuplicateRate = Annotated[float | None, _rate("Share of reports delivered twice.")]


def _smtp_users(pairs: list[str] | None) -> dict[str, str] | None:
    if not pairs:
        return None
    users = {}
    for pair in pairs:
        username, colon, password = pair.partition(":")
        if not colon or not username or not password:
            raise ConfigError(f"--smtp-user {pair!r}: expected USERNAME:PASSWORD")
        users[username] = password
    return users


def load_config(file: Path | None, flags: dict[str, Any]) -> EmulatorConfig:
    """A config from an optional YAML/JSON file, overridden by the flags that were given."""
    values: dict[str, Any] = {}
    if file is not None:
        loaded = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"{file}: the emulator config must be a mapping of fields")
        values.update(loaded)
    values.update({key: value for key, value in flags.items() if value is not None})
    try:
        return EmulatorConfig.model_validate(values)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)
        ]
        raise ConfigError("invalid emulator config:\n  " + "\n  ".join(problems)) from None


def emulator(
    access_key: Annotated[
        str | None,
        typer.Option(
            envvar="WARMUP_EMULATOR_ACCESS_KEY",
            help="Base64 access key clients sign with (default: random, printed; "
            "or set WARMUP_EMULATOR_ACCESS_KEY).",
            show_envvar=False,
            show_default=False,
        ),
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (0 picks a free one).")] = 7071,
    config: Annotated[
        Path | None, typer.Option(help="YAML/JSON file with any config fields; flags win.")
    ] = None,
    sender_domain: Annotated[
        list[str] | None, typer.Option(help="Sender domain linked to the resource (repeatable).")
    ] = None,
    per_minute: Annotated[int | None, typer.Option(help="Send quota per minute.")] = None,
    per_hour: Annotated[int | None, typer.Option(help="Send quota per hour.")] = None,
    status_per_minute: Annotated[int | None, typer.Option(help="Status-GET quota/min.")] = None,
    status_per_hour: Annotated[int | None, typer.Option(help="Status-GET quota/hour.")] = None,
    time_scale: Annotated[
        float | None, typer.Option(help="Quota windows pass this many times faster.")
    ] = None,
    latency_ms: Annotated[float | None, typer.Option(help="Fixed latency per request.")] = None,
    jitter_ms: Annotated[float | None, typer.Option(help="Extra random latency, 0..N ms.")] = None,
    fault_500: Fault500 = None,
    fault_503: Fault503 = None,
    fault_429: Fault429 = None,
    drop_rate: DropRate = None,
    bounce_rate: BounceRate = None,
    failure_rate: FailureRate = None,
    spam_rate: SpamRate = None,
    status_delay: Annotated[
        float | None, typer.Option(help="Seconds an operation stays Running.")
    ] = None,
    webhook_url: Annotated[
        str | None, typer.Option(help="Where delivery reports are pushed (Event Grid style).")
    ] = None,
    event_schema: Annotated[
        EventSchema | None, typer.Option(help="Event Grid or CloudEvents envelopes.")
    ] = None,
    event_delay: Annotated[float | None, typer.Option(help="Seconds before a report.")] = None,
    event_jitter: Annotated[
        float | None, typer.Option(help="Random extra delay: reports arrive out of order.")
    ] = None,
    duplicate_rate: DuplicateRate = None,
    accept_bearer: Annotated[
        bool | None, typer.Option("--accept-bearer", help="Also accept Entra ID bearer tokens.")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for faults and outcomes.")] = None,
    smtp_port: Annotated[
        int | None,
        typer.Option(help="Also listen for SMTP here (STARTTLS + AUTH; 0 picks a free port)."),
    ] = None,
    smtp_user: Annotated[
        list[str] | None,
        typer.Option(
            help="USERNAME:PASSWORD the SMTP listener accepts (repeatable; the long "
            "<resource>.<app id>.<tenant id> form or a short SMTP username)."
        ),
    ] = None,
    arm_port: Annotated[
        int | None,
        typer.Option(
            help="Also serve the resource manager and Log Analytics routes over TLS here "
            "(0 picks a free port)."
        ),
    ] = None,
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            "--smtp-ca-file",
            help="Where to write the CA certificate of the TLS listeners (SMTP, --arm-port).",
        ),
    ] = None,
) -> None:
    """Serve the ACS Email REST API locally: quotas, faults, outcomes and delivery reports."""
    generated = access_key is None and config is None
    if generated:
        access_key = base64.b64encode(os.urandom(32)).decode()
    settings = load_config(
        config,
        {
            "access_key": access_key,
            "host": host,
            "port": port,
            "sender_domains": sender_domain,
            "send_per_minute": per_minute,
            "send_per_hour": per_hour,
            "status_per_minute": status_per_minute,
            "status_per_hour": status_per_hour,
            "time_scale": time_scale,
            "latency_ms": latency_ms,
            "jitter_ms": jitter_ms,
            "fault_500_rate": fault_500,
            "fault_503_rate": fault_503,
            "fault_429_rate": fault_429,
            "drop_rate": drop_rate,
            "bounce_rate": bounce_rate,
            "failure_rate": failure_rate,
            "spam_rate": spam_rate,
            "status_delay_seconds": status_delay,
            "webhook_url": webhook_url,
            "event_schema": event_schema,
            "event_delay_seconds": event_delay,
            "event_delay_jitter_seconds": event_jitter,
            "duplicate_rate": duplicate_rate,
            "accept_bearer": accept_bearer,
            "seed": seed,
            "smtp_port": smtp_port,
            "smtp_users": _smtp_users(smtp_user),
            "ca_file": str(ca_file) if ca_file else None,
            "arm_port": arm_port,
        },
    )

    def ready(running: Emulator) -> None:
        url = running.base_url
        typer.echo(f"ACS Email emulator listening on {url}")
        typer.echo(f"sender domains: {', '.join(settings.sender_domains) or 'any'}")
        if generated:
            # A throwaway key for a local emulator: printed so that clients can use it.
            typer.echo(
                f"generated access key (local use only): {settings.access_key.get_secret_value()}"
            )
            typer.echo(f"connection string: endpoint={url}/;accesskey=<the key above>")
        if running.smtp_port is not None:
            typer.echo(
                f"SMTP on {settings.host}:{running.smtp_port} (STARTTLS, AUTH LOGIN/PLAIN; "
                f"users: {', '.join(settings.smtp_users) or 'none'})"
            )
        if running.arm_url is not None:
            typer.echo(f"resource manager and Log Analytics routes on {running.arm_url}")
        if settings.ca_file and running.ca_pem is not None:
            typer.echo(f"CA certificate of the TLS listeners written to {settings.ca_file}")
        typer.echo(f"stats: {url}/_emulator/stats   (Ctrl-C to stop)")

    from warmup.emulator.server import serve_forever  # aiohttp: only when serving

    try:
        asyncio.run(serve_forever(settings, ready))
    except KeyboardInterrupt:
        typer.echo("emulator stopped")
