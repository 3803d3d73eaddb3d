"""sending_domains.gate_marks: each health gate's last hold and release

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-07

The gates now release only on reports received since a hold began, at most once a day, and
after a release judge only reports from that hold's start on (docs/decisions.md). Each gate
(the domain's, each provider group's) remembers when its hold began, when it was last released
and where its evidence starts: a JSON list, NULL for none. Expand only: a nullable column.
"""

import sqlalchemy as sa
from alembic import op

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sending_domains", sa.Column("gate_marks", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("sending_domains", "gate_marks")
