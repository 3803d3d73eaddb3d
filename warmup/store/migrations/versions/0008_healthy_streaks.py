"""sending_domains: the healthy streak's days, when a hold or pause last began or ended, and the
provider groups whose own gates stopped their traffic

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

Expand only (both columns nullable): processes of the previous release keep working against it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("streak_days", sa.String(length=400), nullable=True))
        batch.add_column(sa.Column("troubled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("provider_holds", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("provider_holds")
        batch.drop_column("troubled_at")
        batch.drop_column("streak_days")
