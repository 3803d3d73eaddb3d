"""The ``warmup`` command. Each group of subcommands lives in :mod:`warmup.commands`."""

from __future__ import annotations

import sys
from importlib.metadata import version as package_version
from typing import Annotated

import typer
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from warmup.commands import (
    acs,
    api,
    campaign,
    db,
    demo,
    domain,
    emulator,
    feedback,
    lists,
    plan,
    relay,
    suppression,
    token,
    trial_send,
    worker,
)
from warmup.errors import ConfigError, NotFoundError, WarmupError
from warmup.logs import RedactSecrets, secret_values
from warmup.settings import load_settings

app = typer.Typer(
    name="warmup",
    help="Send bulk email through Azure Communication Services while a domain warms up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
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


app.command("emulator")(emulator.emulator)
app.command("send-test")(trial_send.trial_send)
app.command("demo")(demo.demo)
app.add_typer(plan.app, name="plan")
app.add_typer(domain.app, name="domain")
app.add_typer(lists.app, name="lists")
app.add_typer(campaign.app, name="campaign")
app.add_typer(suppression.app, name="suppression")
app.add_typer(db.app, name="db")
app.add_typer(feedback.app, name="feedback")
app.add_typer(token.app, name="token")
app.add_typer(relay.app, name="relay")
app.add_typer(acs.app, name="acs")
app.command("worker")(worker.worker)
app.command("beat")(worker.beat)
app.command("ready")(worker.ready)
app.command("api")(api.api)


def _unreachable(exc: DBAPIError) -> str:
    """One line naming where the database was looked for, never its password."""
    first = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
    return RedactSecrets(_database_passwords()).redact(first)


def _database_passwords() -> list[str]:
    try:
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
    except (OperationalError, InterfaceError) as exc:
        typer.secho(f"database unreachable: {_unreachable(exc)}", fg="red", err=True)
        sys.exit(2)
