"""delivery_events.acs_message_id: ACS's id of a message sent over SMTP

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

A message sent over SMTP is known to its ledger row by the Message-ID warmup gave it; its
delivery report says so (internetMessageId) and is matched on that. Its opens and clicks name
only ACS's id, which the report also carries: kept here, so that engagement events find the
row through it. NULL for everything sent over REST, where the two ids are one. Expand only: a
nullable, indexed column.
"""

import sqlalchemy as sa
from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("delivery_events", sa.Column("acs_message_id", sa.String(100), nullable=True))
    op.create_index("ix_delivery_events_acs_message_id", "delivery_events", ["acs_message_id"])


def downgrade() -> None:
    op.drop_index("ix_delivery_events_acs_message_id", table_name="delivery_events")
    op.drop_column("delivery_events", "acs_message_id")
