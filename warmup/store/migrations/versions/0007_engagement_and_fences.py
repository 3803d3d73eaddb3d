"""engagement_events (opens and clicks from ACS) and dispatch_fences (one dispatcher at a time)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "engagement_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("dedupe_key", sa.String(length=600), nullable=False, unique=True),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("engagement", sa.String(length=20), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("user_agent", sa.Text(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_engagement_message", "engagement_events", ["message_id", "recipient"], unique=False
    )
    op.create_table(
        "dispatch_fences",
        sa.Column("domain_id", BigId, primary_key=True),
        sa.Column("fence", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dispatch_fences")
    op.drop_index("ix_engagement_message", table_name="engagement_events")
    op.drop_table("engagement_events")
