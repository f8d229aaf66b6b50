"""Alembic environment: runs on the connection the store hands over (see storage.engine),
or offline (`storage.engine.migration_sql`) to print the DDL for a database administrator."""

from alembic import context
from sqlalchemy import text

from storage.models import Base

config = context.config

if context.is_offline_mode():
    context.configure(
        url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
        literal_binds=True, dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through storage.engine.upgrade(), which passes one")
    if connection.dialect.name == "postgresql":
        # Two processes starting at once migrate one after the other.
        connection.execute(text("SELECT pg_advisory_xact_lock(7274101)"))
    context.configure(
        connection=connection, target_metadata=Base.metadata, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()
