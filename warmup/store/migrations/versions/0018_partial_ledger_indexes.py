"""send_ledger: the indexes on columns a row only fills later hold only the rows that have them

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30

``message_id``, ``accepted_at``, ``outcome_at`` and ``lease_deadline`` are NULL when a row is
written and, but for the lease, stay NULL until the row is sent. Their indexes held an entry
for every row all the same, and a row's every non-HOT update (claim, ``sending``, result) added
another to each. As partial indexes (``IS NOT NULL``) they hold only the rows they serve; every
query that reads them filters on the column with a strict operator (a range, an equality, a
join), which implies ``IS NOT NULL``, so each still can use its index. A campaign start writes
four index entries fewer per row.

Two reads used the full lease index for its leading ``state`` alone: the rows in doubt
(``verifying``, oldest first, for the status GETs) and the limiter's restore (``sending`` and
``verifying`` rows by time). Rows in doubt hold no lease, so they get an index of their own,
partial on those two states: small, whatever the size of the ledger.

Each index is dropped and rebuilt under its own name in the migration's transaction: no reader
ever finds it missing, but on a large ledger writes wait for the builds (README.md, "Upgrades
that rebuild ledger indexes": run the upgrade in a quiet moment).
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# name: (columns, the column that must be set)
PARTIAL = {
    "ix_send_ledger_message_id": (["message_id"], "message_id"),
    "ix_ledger_accepted_at": (["accepted_at"], "accepted_at"),
    "ix_ledger_campaign_outcome_at": (["campaign_id", "outcome_at"], "outcome_at"),
    "ix_ledger_lease": (["state", "lease_deadline"], "lease_deadline"),
}


IN_DOUBT = "state IN ('sending', 'verifying')"


def upgrade() -> None:
    for name, (columns, column) in PARTIAL.items():
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, "send_ledger")
        op.create_index(name, "send_ledger", columns, postgresql_where=where, sqlite_where=where)
    in_doubt = sa.text(IN_DOUBT)
    op.create_index(
        "ix_ledger_in_doubt",
        "send_ledger",
        ["state", "updated_at"],
        postgresql_where=in_doubt,
        sqlite_where=in_doubt,
    )


def downgrade() -> None:
    op.drop_index("ix_ledger_in_doubt", "send_ledger")
    for name, (columns, _column) in PARTIAL.items():
        op.drop_index(name, "send_ledger")
        op.create_index(name, "send_ledger", columns)
