"""recipients: the mailbox-provider group of each address, worked out once at import, so a
campaign's start fills its ledger with one INSERT … SELECT

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-29

Expand only (a nullable column): lists imported before it get their groups at their next start.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.add_column(sa.Column("provider", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("recipients") as batch:
        batch.drop_column("provider")
