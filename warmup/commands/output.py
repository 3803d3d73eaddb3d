"""``--json`` on the commands that read: the API's shape for the same thing, on stdout alone.

Scripts and cron jobs parse it, so nothing else (progress, colour, warnings) goes to stdout
when it is asked for. The shapes live in :mod:`warmup.views`; ``docs/json.md`` lists them.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import IO, Annotated, Any

import pydantic_core
import typer
from pydantic import BaseModel

from warmup.csvsafe import STDOUT

AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print JSON in the API's shape (docs/json.md) instead of a table."),
]


def written(count: int, what: str, path: Path) -> None:
    """Say how many were written where: on stderr when the data went to stdout (``-o -``),
    so that a pipe carries the data alone."""
    if path == STDOUT:
        typer.echo(f"{count:,} {what} written", err=True)
    else:
        typer.echo(f"{count:,} {what} written to {path}")


def print_json(value: Any) -> None:
    """Write a view (a pydantic model, or a list of them) as indented JSON to stdout."""
    typer.echo(pydantic_core.to_json(value, indent=2).decode())


def write_json_array(out: IO[str], items: Iterable[BaseModel]) -> int:
    """Stream a JSON array of views, one per line, without holding them all; return how many."""
    count = 0
    out.write("[")
    for item in items:
        out.write(("," if count else "") + "\n  " + item.model_dump_json())
        count += 1
    out.write("\n]\n" if count else "]\n")
    return count
