"""postmaster_days: Gmail Postmaster Tools' daily stats (`warmup postmaster pull`)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-08

One row per domain and day as Google published it: the user-reported spam ratio with its
interval, the domain's reputation, the SPF, DKIM and DMARC pass shares and the delivery
errors. A day is kept once. Expand only: a new table.
"""

import sqlalchemy as sa
from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "postmaster_days",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("spam_ratio", sa.Float(), nullable=True),
        sa.Column("spam_lower", sa.Float(), nullable=True),
        sa.Column("spam_upper", sa.Float(), nullable=True),
        sa.Column("reputation", sa.String(10), nullable=True),
        sa.Column("spf_ratio", sa.Float(), nullable=True),
        sa.Column("dkim_ratio", sa.Float(), nullable=True),
        sa.Column("dmarc_ratio", sa.Float(), nullable=True),
        sa.Column("delivery_errors", sa.Text(), nullable=True),
        sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("domain", "day", name="uq_postmaster_day"),
    )


def downgrade() -> None:
    op.drop_table("postmaster_days")
