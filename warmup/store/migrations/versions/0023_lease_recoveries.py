"""lease_recoveries: what housekeeping made of each lapsed batch's rows

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

A batch whose process died leaves rows ``sending``. Since the wire journal, only those whose
request may have left are in doubt; the others go back to ``pending`` without a status GET.
One row per lapsed batch records the split, so that campaign and domain status, the API and
/metrics can show recovery as it happens. Expand only: a new table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "lease_recoveries",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("campaign_id", BigId, nullable=False),
        sa.Column("batch", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("unsent", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("in_doubt", sa.Integer(), nullable=False),
        sa.Column("journal_lost", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_lease_recoveries_campaign", "lease_recoveries", ["campaign_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_lease_recoveries_campaign", table_name="lease_recoveries")
    op.drop_table("lease_recoveries")
