"""``warmup relay``: the SMTP relay for apps and devices; ``warmup relay user add|list|remove``."""

from __future__ import annotations

import asyncio
import signal
import ssl
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from warmup.commands.console import make_console, print_table
from warmup.commands.context import actor, command_settings, now, open_stores
from warmup.commands.output import AsJson, print_json
from warmup.errors import ConfigError
from warmup.relay.users import DEVICE_USERNAME_LIMIT, RelayUsers, check_name

app = typer.Typer(
    help="The SMTP relay: apps' and devices' mail through the domain's ramp.",
    invoke_without_command=True,
)
users_app = typer.Typer(help="Who may submit mail to the relay.", no_args_is_help=True)
app.add_typer(users_app, name="user")
console = make_console()


def tls_context(
    cert: Path | None, key: Path | None, self_signed_ca: Path | None, host: str
) -> ssl.SSLContext:
    """The relay's STARTTLS certificate: the files given, or one from a local CA made now
    (its certificate written to ``self_signed_ca``, for clients to trust; tests and trials)."""
    if self_signed_ca is not None:
        from warmup.emulator.tls import local_authority

        authority = local_authority(host)
        self_signed_ca.write_bytes(authority.ca_pem)
        return authority.server_context
    if cert is None or key is None:
        raise ConfigError(
            "the relay needs a TLS certificate for STARTTLS: --tls-cert and --tls-key "
            "(or --self-signed-ca FILE for a local trial)"
        )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"cannot load the TLS certificate {cert} / {key}: {exc}") from None
    return context


async def _serve(host: str, port: int, tls: ssl.SSLContext) -> None:
    from warmup.relay.server import RelayDoor, start_relay

    settings = command_settings()
    stores = open_stores(settings)
    door = RelayDoor(stores.relay_users, stores.relayed, stores.clock)
    server = await start_relay(door, tls, host, port)
    bound = server.sockets[0].getsockname()
    typer.echo(f"warmup relay listening on {bound[0]}:{bound[1]} (STARTTLS, AUTH LOGIN/PLAIN)")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        await server.wait_closed()
        stores.database.dispose()
        typer.echo(f"relay stopped: {door.accepted} accepted, refused {door.refused or 'none'}")


@app.callback()
def relay(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (587: submission).")] = 587,
    tls_cert: Annotated[Path | None, typer.Option(help="PEM certificate chain.")] = None,
    tls_key: Annotated[Path | None, typer.Option(help="PEM private key.")] = None,
    self_signed_ca: Annotated[
        Path | None,
        typer.Option(help="Make a local CA and certificate; write the CA here (trials only)."),
    ] = None,
) -> None:
    """Accept SMTP submissions (STARTTLS, AUTH) from relay users and send them through the
    domain's ramp, ahead of its campaigns. Without a subcommand, serves until stopped."""
    if ctx.invoked_subcommand is not None:
        return
    tls = tls_context(tls_cert, tls_key, self_signed_ca, host)
    asyncio.run(_serve(host, port, tls))


def warn_if_long_for_devices(username: str) -> None:
    if len(username) > DEVICE_USERNAME_LIMIT:
        typer.secho(
            f"note: {username!r} has {len(username)} characters; many printers and appliances "
            f"accept about {DEVICE_USERNAME_LIMIT} at most",
            fg="yellow",
            err=True,
        )


def _users() -> tuple[RelayUsers, str]:
    settings = command_settings()
    return open_stores(settings).relay_users, actor(settings)


@users_app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="A short username, e.g. printer-3f.")],
    domain: Annotated[str, typer.Option(help="The sending domain it may relay for.")],
) -> None:
    """Create a relay user. Its password is printed once, alone on stdout; only a hash is kept."""
    check_name(name)
    warn_if_long_for_devices(name)
    users, who = _users()
    password = users.add(name, domain, actor=who, at=now())
    typer.echo(f"relay user {name} may relay for {domain}; its password (shown once):", err=True)
    typer.echo(password)


@users_app.command("list")
def list_users(as_json: AsJson = False) -> None:
    """Every relay user: its domain, who made it and when."""
    users, _ = _users()
    found = users.all()
    if as_json:
        print_json(found)
        return
    if not found:
        console.print("no relay users yet (add one with: warmup relay user add NAME --domain D)")
        return
    table = Table("user", "domain", "created", "by")
    for user in found:
        table.add_row(user.name, user.domain, f"{user.created_at:%Y-%m-%d %H:%M}", user.created_by)
    print_table(console, table)


@users_app.command("remove")
def remove_user(name: Annotated[str, typer.Argument(help="The relay user.")]) -> None:
    """Remove a relay user: it is refused within a minute (processes remember a login)."""
    users, who = _users()
    users.remove(name, actor=who, at=now())
    console.print(f"relay user {name} removed")
