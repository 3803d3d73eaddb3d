"""engagement_events.credited_at: an open or click whose send was not yet recorded keeps its points

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-08

An open or a click that arrived before its send's result reached the ledger was kept, but its
points matched no row and were lost. Each event now records when its points reached the
recipient; the feedback tick credits the ones still waiting once their row knows its message.
Existing events are taken as credited (their points were added, or are gone for good). Expand
only: a nullable column and a partial index.
"""

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None

WAITING = "credited_at IS NULL"


def upgrade() -> None:
    op.add_column(
        "engagement_events", sa.Column("credited_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.execute("UPDATE engagement_events SET credited_at = received_at")
    op.create_index(
        "ix_engagement_uncredited",
        "engagement_events",
        ["received_at"],
        postgresql_where=sa.text(WAITING),
        sqlite_where=sa.text(WAITING),
    )


def downgrade() -> None:
    op.drop_index("ix_engagement_uncredited", table_name="engagement_events")
    op.drop_column("engagement_events", "credited_at")
