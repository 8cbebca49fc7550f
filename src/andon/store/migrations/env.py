"""Alembic environment: always run with a connection handed in by ``andon.store.migrate``."""

from alembic import context

from andon.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - only reachable via the bare alembic CLI
    raise RuntimeError("run migrations through andon.store.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=False,
)
with context.begin_transaction():
    context.run_migrations()
