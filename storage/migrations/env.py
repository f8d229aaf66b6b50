"""Alembic environment: runs on the connection the store hands over (see storage.engine)."""

from alembic import context
from sqlalchemy import text

from storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through storage.engine.upgrade(), which passes a connection")

if connection.dialect.name == "postgresql":
    # Two processes starting at once migrate one after the other.
    connection.execute(text("SELECT pg_advisory_xact_lock(7274101)"))

context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
