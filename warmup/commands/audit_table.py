"""An audit log's entries as a table, newest first (a domain's, a campaign's)."""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console
from rich.table import Table

from warmup.audit import AuditRecord
from warmup.commands.console import print_table


def print_audit(console: Console, subject: str, entries: Iterable[AuditRecord]) -> None:
    table = Table(title=f"audit log of {subject}")
    for column in ("at (UTC)", "action", "actor", "reason"):
        table.add_column(column)
    for entry in entries:
        table.add_row(f"{entry.at:%Y-%m-%d %H:%M:%S}", entry.action, entry.actor, entry.reason)
    print_table(console, table)
