"""The ``warmup`` command. Each group of subcommands lives in :mod:`warmup.commands`."""

from __future__ import annotations

import sys

import typer

from warmup.commands import (
    api,
    campaign,
    db,
    demo,
    domain,
    emulator,
    feedback,
    lists,
    plan,
    suppression,
    token,
    trial_send,
    worker,
)
from warmup.errors import ConfigError, WarmupError

app = typer.Typer(
    name="warmup",
    help="Send bulk email through Azure Communication Services while a domain warms up.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
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
app.command("worker")(worker.worker)
app.command("beat")(worker.beat)
app.command("ready")(worker.ready)
app.command("api")(api.api)


def main() -> None:
    """Console entry point: our own errors become one clear line, never a traceback."""
    try:
        app()
    except ConfigError as exc:
        typer.secho(f"configuration error: {exc}", fg="red", err=True)
        sys.exit(2)
    except WarmupError as exc:
        typer.secho(f"error: {exc}", fg="red", err=True)
        sys.exit(1)
