"""send_ledger.status_checked_at: when an operation's status was last polled

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("send_ledger") as batch:
        batch.add_column(sa.Column("status_checked_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send_ledger") as batch:
        batch.drop_column("status_checked_at")
