"""A/B tests: a campaign's variants, its test fraction and wait, the winner; each ledger row's
variant

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29

Expand only (nullable columns): processes of the previous release keep working against it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("variants", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("test_fraction", sa.Float(), nullable=True))
        batch.add_column(sa.Column("test_wait_seconds", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("winner", sa.String(length=1), nullable=True))
        batch.add_column(sa.Column("winner_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("send_ledger") as batch:
        batch.add_column(sa.Column("variant", sa.String(length=1), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("send_ledger") as batch:
        batch.drop_column("variant")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("winner_at")
        batch.drop_column("winner")
        batch.drop_column("test_wait_seconds")
        batch.drop_column("test_fraction")
        batch.drop_column("variants")
