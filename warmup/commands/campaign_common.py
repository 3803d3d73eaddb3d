"""What the ``warmup campaign`` commands share: the console, the campaign option, and how a
template file is read and warnings shown."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from warmup.commands.console import make_console

console = make_console()
Name = Annotated[str, typer.Option("--campaign", "-c", help="Campaign name.")]
Reason = Annotated[str, typer.Option("--reason", "-r", help="Why: kept in the audit log.")]


def read_file(path: Path | None) -> str | None:
    return path.read_text(encoding="utf-8") if path is not None else None


def warn(warnings: list[str]) -> None:
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", markup=True, highlight=False)
