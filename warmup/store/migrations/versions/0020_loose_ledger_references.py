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

from alembic import op

from warmup.store.sqlite_ledger_rebuild import rebuild_sqlite_ledger, without_parts

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

FOREIGN_KEYS = (
    "FOREIGN KEY(campaign_id) REFERENCES campaigns (id) ON DELETE CASCADE",
    "FOREIGN KEY(recipient_id) REFERENCES recipients (id) ON DELETE SET NULL",
)


def _without_foreign_keys(parts: list[str]) -> list[str]:
    return without_parts(parts, FOREIGN_KEYS)


def _with_foreign_keys(parts: list[str]) -> list[str]:
    return [*parts, *FOREIGN_KEYS]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("send_ledger_campaign_id_fkey", "send_ledger", type_="foreignkey")
        op.drop_constraint("send_ledger_recipient_id_fkey", "send_ledger", type_="foreignkey")
    else:
        rebuild_sqlite_ledger(_without_foreign_keys)


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
        rebuild_sqlite_ledger(_with_foreign_keys)
