"""send_ledger: campaign_id and recipient_id without foreign keys (loose references)

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30

A foreign key checks every row written: a lookup of the parent and, for the campaign, a
key-share lock on its row, once per ledger row. On a campaign start's fill (one
``INSERT … SELECT`` of 200,000 rows a chunk) the two checks were 37 % of the time
(``benchmarks/README.md``, "Campaign start"). They guard against nothing that can happen: no
code path deletes a campaign, a list or a recipient (their ``ON DELETE`` actions never ran),
and every writer takes the ids from the rows it references in the same transaction (the fill
from the list it reads, the relay from its stream). ``warmup db check`` proves the references
(``warmup.ledger.references.orphans``).

PostgreSQL drops the two constraints (a catalog change, no rewrite). SQLite cannot drop a
constraint: the table is rebuilt (the documented twelve steps), its indexes and triggers
replayed from ``sqlite_master`` exactly as they were.
"""

from collections.abc import Callable

from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    "FOREIGN KEY(campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE",
    "FOREIGN KEY(recipient_id) REFERENCES recipients (id) ON DELETE SET NULL",
)


def _parts(definition: str) -> list[str]:
    """The columns and constraints of a ``CREATE TABLE``, split at the commas between them
    (not those inside a constraint's parentheses). Where SQLAlchemy put the foreign keys in
    the list, and how it spaced them, depends on how the table was last rebuilt."""
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


def _rebuild_sqlite_ledger(change: Callable[[list[str]], list[str]]) -> None:
    """SQLite's way to alter a constraint: a new table from the changed definition, the rows
    copied, the old table dropped (with its indexes and triggers), the new one renamed, and
    the indexes and triggers created again from their own recorded SQL."""
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
    parts = ",\n\t".join(change(_parts(definition)))
    op.execute(f"CREATE TABLE send_ledger_new (\n\t{parts}\n)")
    op.execute("INSERT INTO send_ledger_new SELECT * FROM send_ledger")
    op.execute("DROP TABLE send_ledger")
    op.execute("ALTER TABLE send_ledger_new RENAME TO send_ledger")
    for sql in dependents:
        op.execute(sql)


def _without_foreign_keys(parts: list[str]) -> list[str]:
    kept = [part for part in parts if " ".join(part.split()) not in FOREIGN_KEYS]
    if len(kept) != len(parts) - len(FOREIGN_KEYS):
        raise RuntimeError(f"send_ledger has not the foreign keys this migration knows: {parts}")
    return kept


def _with_foreign_keys(parts: list[str]) -> list[str]:
    return [*parts, *FOREIGN_KEYS]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("send_ledger_campaign_id_fkey", "send_ledger", type_="foreignkey")
        op.drop_constraint("send_ledger_recipient_id_fkey", "send_ledger", type_="foreignkey")
    else:
        _rebuild_sqlite_ledger(_without_foreign_keys)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(
            "send_ledger_campaign_id_fkey", "send_ledger", "campaigns", ["campaign_id"], ["id"],
            ondelete="CASCADE",
        )  # fmt: skip
        op.create_foreign_key(
            "send_ledger_recipient_id_fkey", "send_ledger", "recipients", ["recipient_id"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
    else:
        _rebuild_sqlite_ledger(_with_foreign_keys)
