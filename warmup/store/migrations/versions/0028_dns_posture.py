"""sending_domains.dns_posture: the domain's SPF, DMARC and MX as DNS last gave them

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-08

`warmup acs domain check` (and its `--dns-only` form, which needs no Azure) reads the domain's
own records beyond ACS's verification states: SPF's lookup count, DMARC's policy and `rua`, MX.
Kept as JSON with the time it was read; NULL for never read. Expand only: a nullable column, so
a domain never read starts campaigns as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sending_domains", sa.Column("dns_posture", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sending_domains", "dns_posture")
