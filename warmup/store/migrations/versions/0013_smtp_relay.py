"""The SMTP relay: its users, the messages it took, and their rows in the ledger as each
domain's transactional stream (a campaign of kind "relay")

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-29

send_ledger.relay_message_id is 0 on campaign rows and the relayed message's id on relay rows:
one address may get many relayed messages, so the ledger's uniqueness becomes (campaign,
address, relayed message), which keeps one row per address for campaigns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "relay_users",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("domain_id", BIG_ID, nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["sending_domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", name="uq_relay_user_name"),
    )
    op.create_table(
        "relay_messages",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("domain_id", BIG_ID, nullable=False),
        sa.Column("user_name", sa.String(length=64), nullable=False),
        sa.Column("mail_from", sa.String(length=320), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["domain_id"], ["sending_domains.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(
            sa.Column("kind", sa.String(length=20), nullable=False, server_default="bulk")
        )
    with op.batch_alter_table("send_ledger") as batch:
        batch.add_column(sa.Column("relay_message_id", BIG_ID, nullable=False, server_default="0"))
        batch.drop_constraint("uq_ledger_address", type_="unique")
        batch.create_unique_constraint(
            "uq_ledger_address", ["campaign_id", "address", "relay_message_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("send_ledger") as batch:
        batch.drop_constraint("uq_ledger_address", type_="unique")
        batch.create_unique_constraint("uq_ledger_address", ["campaign_id", "address"])
        batch.drop_column("relay_message_id")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("kind")
    op.drop_table("relay_messages")
    op.drop_table("relay_users")
