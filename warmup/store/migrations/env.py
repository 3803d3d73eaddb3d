"""Alembic environment: the engine comes from :func:`warmup.store.database.alembic_config`."""

from alembic import context
from sqlalchemy import text

from warmup.store.models import Base

MIGRATION_LOCK = 0x7761726D7570  # "warmup": the advisory lock's key

connectable = context.config.attributes["engine"]
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # One migrator at a time: a second `warmup db upgrade` waits here, then finds the
            # schema at head. The lock ends with the transaction.
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
    connection.commit()
