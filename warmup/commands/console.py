"""The consoles the commands print through.

On a terminal, rich fits tables to its width. Into a pipe or a file it would assume 80 columns
and cut names short (``campai…``) or wrap titles, so what a script or ``grep`` reads would not
be what the store holds. Piped output gets a width no table reaches instead, unless ``COLUMNS``
says otherwise; rules, which fill whatever width they get, are drawn at most
:data:`RULE_WIDTH` wide.
"""

from __future__ import annotations

import os
import sys

from rich.cells import cell_len
from rich.console import Console, RenderableType
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

PIPED_WIDTH = 10_000
RULE_WIDTH = 80


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    piped = not stream.isatty() and not os.environ.get("COLUMNS")
    return Console(stderr=stderr, width=PIPED_WIDTH if piped else None)


def rule(console: Console, title: str = "") -> None:
    """A section rule: the terminal's width, or :data:`RULE_WIDTH` into a pipe."""
    line: RenderableType = Rule(title)
    console.print(line, width=console.width if console.is_terminal else RULE_WIDTH)


def print_table(console: Console, table: Table) -> None:
    """A table, never narrower than its title: rich wraps a title to the table's width, so a
    long title over a few narrow columns would break over lines."""
    if isinstance(table.title, str):
        table.min_width = max(table.min_width or 0, cell_len(Text.from_markup(table.title).plain))
    console.print(table)
