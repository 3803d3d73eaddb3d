"""contact_lists.size, filled: a list's size and its fields' fill, kept as recipients are written

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30

A campaign start refuses a list whose rows lack a field the template uses, and counted the
list to size its fill: three reads of every recipient inside the request (1.4 s at a million).
The import now keeps both figures on the list row. Expand only: two nullable columns; lists
written before this have NULL and are measured from their rows the first time a start or a
summary needs them (``warmup.lists.measures``).
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact_lists", sa.Column("size", sa.BigInteger(), nullable=True))
    op.add_column("contact_lists", sa.Column("filled", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("contact_lists", "filled")
    op.drop_column("contact_lists", "size")
