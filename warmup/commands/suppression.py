"""``warmup suppression import|export|add|remove``: addresses never to send to."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from warmup.commands.context import actor, command_settings, now, open_database
from warmup.suppression.store import REASONS, SuppressionStore

app = typer.Typer(help="The suppression list: addresses never to send to.", no_args_is_help=True)


def _store() -> tuple[SuppressionStore, str]:
    settings = command_settings()
    return SuppressionStore(open_database(settings)), actor(settings)


@app.command()
def add(
    address: Annotated[str, typer.Argument(help="The address to suppress.")],
    reason: Annotated[str, typer.Option(help=f"One of: {', '.join(sorted(REASONS))}.")] = "manual",
    days: Annotated[int | None, typer.Option(min=1, help="Expire after this many days.")] = None,
    note: Annotated[str, typer.Option(help="A note for whoever looks later.")] = "",
) -> None:
    """Suppress one address (for good, or for --days)."""
    store, who = _store()
    at = now()
    expires = at + timedelta(days=days) if days else None
    fresh = store.add(
        address, reason=reason, source=who, actor=who, at=at, expires_at=expires, note=note
    )
    typer.echo(f"{address}: {'suppressed' if fresh else 'suppression updated'} ({reason})")


@app.command()
def remove(address: Annotated[str, typer.Argument(help="The address to allow again.")]) -> None:
    """Remove an address from the suppression list."""
    store, who = _store()
    if not store.remove(address, actor=who, at=now()):
        typer.echo(f"{address} was not suppressed")
        raise typer.Exit(1)
    typer.echo(f"{address} removed from the suppression list")


@app.command("import")
def import_file(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV with an address column.")
    ],
) -> None:
    """Suppress every address of a CSV (columns: address or email, optional reason)."""
    store, who = _store()
    result = store.import_file(file, actor=who, at=now())
    typer.echo(
        f"{result.added:,} added, {result.updated:,} updated, {len(result.invalid):,} invalid"
    )
    for line, problem in result.invalid[:20]:
        typer.echo(f"  line {line}: {problem}", err=True)


@app.command()
def export(
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV file to write.")],
) -> None:
    """Write the active suppression list as CSV."""
    store, _ = _store()
    count = store.export(output, now())
    typer.echo(f"{count:,} suppressed addresses written to {output}")
