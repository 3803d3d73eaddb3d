"""``warmup suppression add|remove|show|import|export``: addresses never to send to."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Annotated

import typer

from warmup.commands.context import actor, command_settings, now, open_stores
from warmup.commands.output import AsJson, print_json, write_json_array, written
from warmup.csvsafe import STDOUT, open_output
from warmup.suppression.store import REASONS, SuppressionStore
from warmup.views.suppressions import suppression_out

app = typer.Typer(help="The suppression list: addresses never to send to.", no_args_is_help=True)


def _store() -> tuple[SuppressionStore, str]:
    settings = command_settings()
    return open_stores(settings).suppressions, actor(settings)


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
def show(
    address: Annotated[str, typer.Argument(help="The address to look up.")],
    as_json: AsJson = False,
) -> None:
    """Is this address suppressed, why, since when and until when? Exit 1 if it is not."""
    store, _ = _store()
    row = store.find(address, now())
    if row is None:
        if as_json:
            typer.echo("null")
        else:
            typer.echo(f"{address} is not suppressed: it may be sent to")
        raise typer.Exit(1)
    shape = suppression_out(row)
    if as_json:
        print_json(shape)
        return
    until = f"until {shape.expires_at:%Y-%m-%d %H:%M} UTC" if shape.expires_at else "for good"
    typer.echo(
        f"{shape.address}: suppressed ({shape.reason}) since "
        f"{shape.created_at:%Y-%m-%d %H:%M} UTC, {until}; source {shape.source}"
    )
    if shape.note:
        typer.echo(f"note: {shape.note}")


@app.command()
def export(
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="File to write, - for standard output (--json: the default)."
        ),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Write the active suppression list as CSV (or, with --json, a JSON array)."""
    store, _ = _store()
    if as_json:
        with open_output(output or STDOUT) as out:
            count = write_json_array(out, (suppression_out(r) for r in store.active(now())))
        written(count, "suppressed addresses", output or STDOUT)
        return
    if output is None:
        raise typer.BadParameter("give the CSV file to write (- for stdout)", param_hint="--output")
    written(store.export(output, now()), "suppressed addresses", output)
