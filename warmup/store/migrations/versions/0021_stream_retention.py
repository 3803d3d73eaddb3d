"""ledger_counts.archived, archived_attempts: a relay stream's settled rows can be pruned

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30

A relay stream never finishes, so ``warmup db prune`` could not archive its rows the way it
archives a finished campaign's. It now archives and deletes the rows of a stream that are
settled before the date, leaving the counters as they were (the stream's totals, the domain's
quarter hours), and notes the rows' share here so that ``warmup db check`` still proves the
rest exact. Expand only: two columns with a default.
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for column in ("archived", "archived_attempts"):
        op.add_column(
            "ledger_counts",
            sa.Column(column, sa.BigInteger(), nullable=False, server_default="0"),
        )


def downgrade() -> None:
    # Not a batch rebuild on SQLite: the ledger's triggers write ledger_counts and would not
    # survive the table being renamed under them. SQLite 3.35+ drops a plain column itself.
    for column in ("archived_attempts", "archived"):
        op.execute(f"ALTER TABLE ledger_counts DROP COLUMN {column}")
