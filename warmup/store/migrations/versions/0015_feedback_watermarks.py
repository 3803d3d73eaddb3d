"""feedback_watermarks: how far `warmup feedback pull` has read each Log Analytics workspace

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-29

Expand only: a new table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback_watermarks",
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("position_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position_item", sa.String(length=300), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source"),
    )


def downgrade() -> None:
    op.drop_table("feedback_watermarks")
