"""SQLite's way to change a constraint of ``send_ledger``, for migrations.

SQLite cannot drop or add a constraint on an existing table. The documented way is to create
a new table from the changed definition, copy the rows, drop the old table (with its indexes
and triggers), rename the new one, and create the indexes and triggers again. Here they are
replayed from their own SQL as ``sqlite_master`` records it, so they come back exactly as they
were, whichever migration made them.
"""

from __future__ import annotations

from collections.abc import Callable

from alembic import op


def table_parts(definition: str) -> list[str]:
    """The columns and constraints of a ``CREATE TABLE``, split at the commas between them
    (not those inside a constraint's parentheses). Where SQLAlchemy put a constraint in the
    list, and how it spaced it, depends on how the table was last rebuilt."""
    body = definition[definition.index("(") + 1 : definition.rindex(")")]
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for char in body:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if char == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(char)
    parts.append("".join(current).strip())
    return parts


def without_parts(parts: list[str], unwanted: tuple[str, ...]) -> list[str]:
    """``parts`` less each of ``unwanted`` (compared with their spacing normalised); an error
    if any is missing, rather than a rebuild that silently changed nothing."""
    kept = [part for part in parts if " ".join(part.split()) not in unwanted]
    if len(kept) != len(parts) - len(unwanted):
        raise RuntimeError(f"send_ledger has not the constraints this migration knows: {parts}")
    return kept


def rebuild_sqlite_ledger(change: Callable[[list[str]], list[str]]) -> None:
    """Rebuild ``send_ledger`` with its definition's parts passed through ``change``."""
    bind = op.get_bind()
    definition = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'send_ledger'"
    ).scalar_one()
    dependents = [
        sql
        for (sql,) in bind.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'send_ledger' "
            "AND type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY type, name"
        )
    ]
    parts = ",\n\t".join(change(table_parts(definition)))
    op.execute(f"CREATE TABLE send_ledger_new (\n\t{parts}\n)")
    op.execute("INSERT INTO send_ledger_new SELECT * FROM send_ledger")
    op.execute("DROP TABLE send_ledger")
    op.execute("ALTER TABLE send_ledger_new RENAME TO send_ledger")
    for sql in dependents:
        op.execute(sql)
