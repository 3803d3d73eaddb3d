"""campaigns: when a draft is to start by itself, who scheduled it, and whether the start may
leave template fields empty

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29

Expand only (nullable columns): processes of the previous release keep working against it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("scheduled_by", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("schedule_allow_empty", sa.Boolean(), nullable=True))
        batch.create_index("ix_campaigns_scheduled_at", ["scheduled_at"])


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_index("ix_campaigns_scheduled_at")
        batch.drop_column("schedule_allow_empty")
        batch.drop_column("scheduled_by")
        batch.drop_column("scheduled_at")
