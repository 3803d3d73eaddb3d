"""campaigns.fill_total, fill_heartbeat: a start fills the ledger in the background, in chunks

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-29

Expand only: two nullable columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("campaigns", sa.Column("fill_total", sa.BigInteger(), nullable=True))
    op.add_column(
        "campaigns", sa.Column("fill_heartbeat", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    op.drop_column("campaigns", "fill_heartbeat")
    op.drop_column("campaigns", "fill_total")
