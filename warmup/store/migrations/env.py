"""Alembic environment: the engine comes from :func:`warmup.store.database.alembic_config`."""

from alembic import context

from warmup.store.models import Base

connectable = context.config.attributes["engine"]
with connectable.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
