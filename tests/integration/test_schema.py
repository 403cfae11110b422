"""The Alembic history builds exactly the tables the models declare, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, MetaData

from bots.db import Database
from bots.schema import current_revision, head_revision, target_metadata, upgrade


def _diff(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": False})
    merged = MetaData()
    for metadata in target_metadata():
        for table in metadata.tables.values():
            table.to_metadata(merged)
    return list(compare_metadata(context, merged))


async def test_migrated_schema_matches_the_models(db: Database) -> None:
    async with db.engine.connect() as connection:
        differences = await connection.run_sync(_diff)
    assert differences == []


async def test_init_twice_is_a_no_op(db: Database) -> None:
    before, after = await upgrade(db)
    assert before == after == head_revision()
    assert await current_revision(db) == head_revision()
