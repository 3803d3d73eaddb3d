"""sending_domains.transport: how the domain's mail reaches ACS, "rest" (the Email REST API)
or "smtp" (smtp.azurecomm.net:587)

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-29

Expand only: existing domains keep sending over REST.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.add_column(
            sa.Column("transport", sa.String(length=10), nullable=False, server_default="rest")
        )


def downgrade() -> None:
    with op.batch_alter_table("sending_domains") as batch:
        batch.drop_column("transport")
