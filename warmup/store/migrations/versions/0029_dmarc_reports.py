"""dmarc_reports, dmarc_sources: DMARC aggregate reports (`warmup dmarc import`)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-08

Receivers' daily counts of the domain's mail per source IP, with SPF and DKIM alignment and
whether the source is ACS's. A report is kept once per reporter and report id. Expand only:
two new tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "dmarc_reports",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("org_name", sa.String(200), nullable=False),
        sa.Column("report_id", sa.String(200), nullable=False),
        sa.Column("domain", sa.String(253), nullable=False),
        sa.Column("policy", sa.String(20), nullable=False),
        sa.Column("begin_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("org_name", "report_id", name="uq_dmarc_report"),
    )
    op.create_index("ix_dmarc_reports_day", "dmarc_reports", ["day"])
    op.create_table(
        "dmarc_sources",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "report_id",
            sa.Integer(),
            sa.ForeignKey("dmarc_reports.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("source_ip", sa.String(45), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("header_from", sa.String(253), nullable=False),
        sa.Column("spf_aligned", sa.Boolean(), nullable=False),
        sa.Column("dkim_aligned", sa.Boolean(), nullable=False),
        sa.Column("aligned", sa.Boolean(), nullable=False),
        sa.Column("acs", sa.Boolean(), nullable=False),
        sa.Column("disposition", sa.String(20), nullable=False),
    )
    op.create_index("ix_dmarc_sources_report_id", "dmarc_sources", ["report_id"])
    op.create_index("ix_dmarc_sources_from", "dmarc_sources", ["header_from", "report_id"])


def downgrade() -> None:
    op.drop_index("ix_dmarc_sources_from", table_name="dmarc_sources")
    op.drop_index("ix_dmarc_sources_report_id", table_name="dmarc_sources")
    op.drop_table("dmarc_sources")
    op.drop_index("ix_dmarc_reports_day", table_name="dmarc_reports")
    op.drop_table("dmarc_reports")
