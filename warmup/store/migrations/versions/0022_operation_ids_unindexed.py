"""send_ledger.operation_id without a unique index

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30

Every row's Operation-Id is a fresh version-4 UUID: 122 bits from the database's (or Python's)
cryptographic random source, drawn when the row is written and never copied to another row.
Two alike among ten billion rows has a probability near 10^-17. The unique index guarded
against that at the price of one random insert into a large B-tree per row: 30 % of a campaign
start's fill, and the largest cost left in it (``benchmarks/README.md``, "Campaign start").
Nothing reads the ledger by Operation-Id (a report or a status answer names the message id,
which is indexed), so no index is kept in its place. ``warmup db check`` proves the ids
distinct (``warmup.ledger.references.shared_operation_ids``).

PostgreSQL drops the constraint (a catalog change and the index file, no rewrite). SQLite
rebuilds the table without it (``warmup.store.sqlite_ledger_rebuild``).
"""

from alembic import op

from warmup.store.sqlite_ledger_rebuild import rebuild_sqlite_ledger, without_parts

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

UNIQUE_OPERATION_ID = ("UNIQUE (operation_id)",)


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("send_ledger_operation_id_key", "send_ledger", type_="unique")
    else:
        rebuild_sqlite_ledger(lambda parts: without_parts(parts, UNIQUE_OPERATION_ID))


def downgrade() -> None:
    # Fails, as it should, if two rows share an id: then the older code's guarantee is broken.
    if op.get_bind().dialect.name == "postgresql":
        op.create_unique_constraint("send_ledger_operation_id_key", "send_ledger", ["operation_id"])
    else:
        rebuild_sqlite_ledger(lambda parts: [*parts, *UNIQUE_OPERATION_ID])
