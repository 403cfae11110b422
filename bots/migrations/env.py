"""Alembic environment: runs on the connection `bots.schema` hands it."""

from __future__ import annotations

from alembic import context

from bots.schema import target_metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `relaydesk init`, which provides the connection")

context.configure(
    connection=connection,
    target_metadata=target_metadata(),
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
