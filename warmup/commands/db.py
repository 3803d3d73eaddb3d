"""``warmup db upgrade|current|check``: the store's schema (Alembic migrations) and the
ledger's counters."""

from __future__ import annotations

import time

import typer

from warmup.commands.context import command_settings
from warmup.ledger import counters
from warmup.store.database import Database, current_revision, upgrade

app = typer.Typer(
    help="The store: upgrade its schema, show its revision, check its counters.",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database to the latest schema (commands also do this on first use)."""
    database = Database.connect(command_settings().database_url.get_secret_value(), migrate=False)
    before = current_revision(database.engine)
    upgrade(database.engine)
    after = current_revision(database.engine)
    typer.echo(
        f"schema at {after}"
        + (f" (was {before or 'empty'})" if before != after else " (up to date)")
    )


@app.command()
def current() -> None:
    """Show the schema revision of the configured database."""
    database = Database.connect(command_settings().database_url.get_secret_value(), migrate=False)
    typer.echo(current_revision(database.engine) or "empty (run: warmup db upgrade)")


@app.command()
def check() -> None:
    """Prove the ledger's counters (what /metrics, status and the dispatcher read) agree with
    the ledger row for row; exit 1, listing each difference, if they do not.

    Reads the whole ledger once: minutes at tens of millions of rows. The counters are kept by
    database triggers, so a difference means someone changed the counters or disabled the
    triggers by hand."""
    database = Database.connect(command_settings().database_url.get_secret_value())
    started = time.monotonic()
    with database.engine.begin() as connection:
        counters.fold(connection)
    found = counters.mismatches(database)
    seconds = time.monotonic() - started
    for mismatch in found:
        typer.echo(str(mismatch))
    if found:
        typer.echo(f"{len(found)} counter(s) differ from the ledger ({seconds:.1f} s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"counters and ledger agree ({seconds:.1f} s)")
