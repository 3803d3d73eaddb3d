"""contact_lists.languages: the languages a list's recipients read

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

The unsubscribe pages come in the languages a list declares (``lists import --language``),
chosen among them by the browser's Accept-Language. NULL: a list that declared none, offered
every language warmup has pages in. Expand only: a nullable column.
"""

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("contact_lists", sa.Column("languages", sa.JSON(), nullable=True))


def downgrade() -> None:
    op.drop_column("contact_lists", "languages")
