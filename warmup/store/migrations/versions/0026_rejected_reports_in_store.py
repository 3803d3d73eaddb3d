"""list_imports.rejected_rows: the rejected-rows report kept in the store

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-07

An import's rejected rows were a file in the API's data directory, so with two replicas a
download could reach the one without it (404). The report is now kept with its import,
gzip-compressed and bounded by WARMUP_API_REPORT_MAX_BYTES, and any replica serves it. NULL:
none rejected, or an import from before this revision (its file, if any, is no longer served).
Expand only: a nullable column.
"""

import sqlalchemy as sa
from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("list_imports", sa.Column("rejected_rows", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    op.drop_column("list_imports", "rejected_rows")
