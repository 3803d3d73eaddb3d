"""sending_domains.day_closed: the last local day whose boundary was processed

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("day_closed", sa.String(length=10), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("day_closed")
