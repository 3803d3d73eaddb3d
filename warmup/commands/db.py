"""``warmup db upgrade|current|check|prune``: the store's schema (Alembic migrations), the
ledger's counters, retention."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from warmup.campaigns.prune import prunable, prunable_streams, prune_streams
from warmup.campaigns.prune import prune as prune_campaigns
from warmup.commands.context import actor, command_settings
from warmup.ledger import counters
from warmup.ledger.references import orphans, shared_operation_ids
from warmup.lists.measures import mismatches as list_mismatches
from warmup.relay.intake import Forgotten, forget_sent
from warmup.store.database import Database, current_revision, upgrade

app = typer.Typer(
    help="The store: upgrade its schema, show its revision, check its counters, prune.",
    no_args_is_help=True,
)


@app.command("upgrade")
def upgrade_command() -> None:
    """Bring the database to the latest schema. SQLite stores are also upgraded on first use;
    on PostgreSQL only this command (the deployment's migrate Job) changes the schema, and
    other commands refuse a schema that is behind."""
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
    the ledger row for row, each list's kept size and field counts (what a campaign start
    reads) with its recipients, every campaign and recipient the ledger names exists, and no
    two ledger rows share an Operation-Id; exit 1, listing each difference, if not.

    Reads the whole ledger once: minutes at tens of millions of rows. The counters are kept by
    database triggers, so a difference means someone changed the counters or disabled the
    triggers by hand."""
    database = Database.connect(command_settings().database_url.get_secret_value())
    started = time.monotonic()
    with database.engine.begin() as connection:
        counters.fold(connection)
    found = counters.mismatches(database)
    with database.engine.connect() as connection:
        found += list_mismatches(connection)
        dangling = orphans(connection) + shared_operation_ids(connection)
    seconds = time.monotonic() - started
    for problem in [*map(str, found), *dangling]:
        typer.echo(problem)
    if found or dangling:
        typer.echo(
            f"{len(found)} counter(s) differ from the rows they count, {len(dangling)} "
            f"kind(s) of broken reference or shared id ({seconds:.1f} s)",
            err=True,
        )
        raise typer.Exit(1)
    typer.echo(
        f"counters agree with the ledger and the lists, every ledger reference holds, every "
        f"Operation-Id is its own ({seconds:.1f} s)"
    )


@app.command()
def prune(
    finished_before: Annotated[
        datetime,
        typer.Option(
            formats=["%Y-%m-%d"],
            help=(
                "Campaigns completed or cancelled before this day (UTC) lose their ledger "
                "rows; so do relay streams' rows settled before it."
            ),
        ),
    ],
    archive_dir: Annotated[
        Path, typer.Option(help="Where each campaign's rows go, as ledger-NAME-ID.csv.gz.")
    ] = Path("ledger-archive"),
    dry_run: Annotated[bool, typer.Option(help="Only list the campaigns it would prune.")] = False,
) -> None:
    """Archive finished campaigns' ledger rows to compressed CSV, then delete them; the same
    for the rows of relay streams settled before the day (the streams run on); and delete the
    bodies of relayed messages received before the day once all their rows are sent.

    Counters, the audit log and suppressions stay: campaign reports, /metrics and domain
    history still add up, and `warmup db check` still proves the rest of the ledger exact.
    One campaign per transaction; the archive is on disk before its rows are deleted."""
    settings = command_settings()
    database = Database.connect(settings.database_url.get_secret_value())
    before = finished_before.replace(tzinfo=UTC)
    who, now = actor(settings), datetime.now(UTC)
    if dry_run:
        for _, name in prunable(database, before):
            typer.echo(f"would prune {name}")
        for _, name, rows in prunable_streams(database, before):
            typer.echo(f"would prune {rows:,} settled rows of relay stream {name}")
        bodies = forget_sent(database, before, actor=who, at=now, dry_run=True)
        typer.echo(f"would delete the bodies of {_relayed(bodies)}")
        return
    pruned = prune_campaigns(
        database,
        before,
        archive_dir,
        actor=who,
        at=now,
        done=lambda p: typer.echo(f"{p.campaign}: {p.rows:,} rows archived to {p.archive}"),
    )
    typer.echo(f"{len(pruned)} campaign(s) pruned, {sum(p.rows for p in pruned):,} rows")
    streams = prune_streams(
        database,
        before,
        archive_dir,
        actor=who,
        at=now,
        done=lambda p: typer.echo(f"{p.campaign}: {p.rows:,} settled rows archived to {p.archive}"),
    )
    typer.echo(f"relay streams: {sum(p.rows for p in streams):,} settled rows pruned")
    bodies = forget_sent(
        database,
        before,
        actor=who,
        at=now,
        progress=lambda so_far: typer.echo(f"… {so_far.messages:,} relayed bodies deleted"),
    )
    typer.echo(f"bodies of {_relayed(bodies)} deleted")


def _relayed(bodies: Forgotten) -> str:
    return f"{bodies.messages:,} relayed message(s), {bodies.bytes / 1024**2:,.1f} MB"
