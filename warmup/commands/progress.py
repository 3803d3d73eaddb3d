"""A progress line for long commands whose total is not known in advance (exports, report
imports): what, how many so far, how long. On stderr, transient, and only on a terminal, so
stdout stays the result (``--json`` or a summary line) and logs stay clean."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn


@contextmanager
def counting(what: str) -> Iterator[Callable[[int], None]]:
    """``with counting("exporting") as done: done(n)`` shows "exporting 12,000 · 0:00:03"."""
    console = Console(stderr=True)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description} {task.completed:,.0f}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # nothing in logs and pipes
    ) as bar:
        task = bar.add_task(what, total=None)
        yield lambda done: bar.update(task, completed=done)
