"""The ``warmup`` command. Each group of subcommands lives in :mod:`warmup.commands`."""

from __future__ import annotations

import sys
from importlib import import_module
from importlib.metadata import version as package_version
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer import _click as click  # Typer 0.29 carries its own click: its types are these
from typer.core import TyperCommand, TyperGroup

from warmup.errors import ConfigError, NotFoundError, WarmupError

if TYPE_CHECKING:
    from sqlalchemy.exc import DBAPIError

# Each command: where it lives (module, then the Typer app or the function) and its one-line
# help, shown by ``warmup --help`` without importing it. A command's module is imported only
# when that command runs: `warmup --version` or `warmup plan show` never load the Azure SDKs,
# aiohttp, Celery or the relay (tests/unit/test_cli_start.py keeps the help in step).
COMMANDS: dict[str, tuple[str, str, str]] = {
    "emulator": (
        "emulator",
        "emulator",
        "Serve the ACS Email REST API locally: quotas, faults, outcomes and delivery reports.",
    ),
    "send-test": (
        "trial_send",
        "trial_send",
        "Send one message through the configured ACS (or the emulator); print id and status.",
    ),
    "demo": (
        "demo",
        "demo",
        "Run a campaign end to end: embedded Redis, SQLite, the emulator, a worker and beat.",
    ),
    "dev": (
        "dev",
        "dev",
        "Run the emulator, a worker, beat and the API on your store, until Ctrl-C.",
    ),
    "worker": (
        "worker",
        "worker",
        "Run a worker: sends batches, runs the dispatcher tick and housekeeping.",
    ),
    "beat": (
        "worker",
        "beat",
        "Run the scheduler: a dispatcher tick every second, housekeeping every 5 s.",
    ),
    "ready": (
        "worker",
        "ready",
        "Readiness: exit 0 if the store and Redis answer and ACS is configured, 1 otherwise.",
    ),
    "api": (
        "api",
        "api",
        "Serve the HTTP API, the dashboard (/dashboard), the webhook, metrics and health.",
    ),
    "plan": ("plan", "app", "Validate, show and simulate ramp plans."),
    "domain": ("domain", "app", "Sending domains: status, hold, resume, steps, plans, quota."),
    "lists": ("lists", "app", "Recipient lists: import CSV files, see what is there."),
    "campaign": (
        "campaign",
        "app",
        "Campaigns: create, preview, start, pause, resume, cancel, list, status, export; "
        "A/B variants, schedule, retry.",
    ),
    "suppression": ("suppression", "app", "The suppression list: addresses never to send to."),
    "db": (
        "db",
        "app",
        "The store: upgrade its schema, show its revision, check its counters, prune.",
    ),
    "feedback": ("feedback", "app", "Delivery feedback without Event Grid."),
    "dmarc": (
        "dmarc",
        "app",
        "DMARC aggregate reports: import them (files, or the rua mailbox), see alignment.",
    ),
    "postmaster": (
        "postmaster",
        "app",
        "Gmail Postmaster Tools: pull each day's stats, see them and the gate's verdicts.",
    ),
    "token": (
        "token",
        "app",
        "API tokens: marketing (lists, campaigns), ops (domains, plans), admin (tokens).",
    ),
    "relay": ("relay", "app", "The SMTP relay: apps' and devices' mail through the domain's ramp."),
    "acs": (
        "acs",
        "app",
        "Azure-side tasks: sender usernames, SMTP usernames, domain verification.",
    ),
}


def load_command(name: str) -> click.Command:
    """The click command of ``name``, its module imported now."""
    module_name, attribute, _ = COMMANDS[name]
    target = getattr(import_module(f"warmup.commands.{module_name}"), attribute)
    if isinstance(target, typer.Typer):
        command: click.Command = typer.main.get_group(target)
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(target)
        command = typer.main.get_command(single)
    command.name = name
    return command


class LazyCommands(TyperGroup):
    """Commands listed from :data:`COMMANDS` and imported only when one runs (or asks for its
    own help)."""

    _resolving = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        if self._resolving:
            return load_command(cmd_name)
        # Listing (``warmup --help``): the name and its help, nothing imported.
        return TyperCommand(cmd_name, help=COMMANDS[cmd_name][2])

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        self._resolving = True
        try:
            return super().resolve_command(ctx, args)
        finally:
            self._resolving = False


app = typer.Typer(
    name="warmup",
    help="Send bulk email through Azure Communication Services while a domain warms up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyCommands,
)


def _version(shown: bool) -> None:
    if shown:
        typer.echo(f"warmup {package_version('warmup')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Send bulk email through Azure Communication Services while a domain warms up."""


def _unreachable(exc: DBAPIError) -> str:
    """One line naming where the database was looked for, never its password."""
    first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    from warmup.logs import RedactSecrets

    return RedactSecrets(_database_passwords()).redact(first)


def _database_passwords() -> list[str]:
    from warmup.settings import load_settings

    try:
        from warmup.logs import secret_values

        return secret_values(load_settings())
    except ConfigError:
        return []


def main() -> None:
    """Console entry point: errors become one clear line, never a traceback.

    ``not found`` (exit 2), ``invalid`` (exit 1) and ``configuration error`` (exit 2) each say
    what they mean; an unreachable database names where it was looked for, without a password.
    """
    try:
        app()
    except NotFoundError as exc:
        typer.secho(f"not found: {exc}", fg="red", err=True)
        sys.exit(2)
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", fg="red", err=True)
        sys.exit(2)
    except WarmupError as exc:
        typer.secho(f"invalid: {exc}", fg="red", err=True)
        sys.exit(1)
    except Exception as exc:
        # SQLAlchemy is imported by the commands that use a store, not here (start-up time).
        if not _unreachable_database(exc):
            raise
        typer.secho(f"database unreachable: {_unreachable(exc)}", fg="red", err=True)  # type: ignore[arg-type]
        sys.exit(2)


def _unreachable_database(exc: BaseException) -> bool:
    sqlalchemy_exc: Any = sys.modules.get("sqlalchemy.exc")
    return sqlalchemy_exc is not None and isinstance(
        exc, sqlalchemy_exc.OperationalError | sqlalchemy_exc.InterfaceError
    )
