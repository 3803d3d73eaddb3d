"""sending_domains.authentication: the domain's DNS records as ACS last verified them
(`warmup acs domain check`), and when

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29

Expand only (nullable columns): a domain never checked starts campaigns as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(sa.Column("authentication", sa.Text(), nullable=True))
        batch.add_column(
            sa.Column("authentication_checked_at", sa.DateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("authentication_checked_at")
        batch.drop_column("authentication")
