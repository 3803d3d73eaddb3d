"""``warmup db upgrade|current``: the store's schema (Alembic migrations)."""

from __future__ import annotations

import typer

from warmup.commands.context import command_settings
from warmup.store.database import Database, current_revision, upgrade

app = typer.Typer(
    help="The store's schema: upgrade it, or show its revision.", no_args_is_help=True
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
