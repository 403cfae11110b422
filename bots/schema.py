"""Schema management: every package's metadata, and `init` (create or upgrade, idempotent)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData
from sqlalchemy.exc import SQLAlchemyError

from bots.db import Database
from bots.errors import StorageError

MIGRATIONS = Path(__file__).parent / "migrations"


def target_metadata() -> list[MetaData]:
    """The metadata of every package's tables, for Alembic's comparisons."""
    import bots.report_indexes  # registers the answer-log index reports add
    import bots.slack.models  # registers the Slack card/thread table
    import bots.state  # noqa: F401 - registers the conversations table
    import tickets.report_models  # noqa: F401 - registers the indexes reports rely on
    from bots.pipeline.models import PipelineBase
    from drafting.models import DraftingBase
    from knowledge.models import KnowledgeBase
    from tickets.models import TicketsBase

    return [
        TicketsBase.metadata,
        PipelineBase.metadata,
        KnowledgeBase.metadata,
        DraftingBase.metadata,
    ]


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def current_revision(db: Database) -> str | None:
    def _current(connection: Connection) -> str | None:
        return MigrationContext.configure(connection).get_current_revision()

    async with db.engine.connect() as connection:
        return await connection.run_sync(_current)


async def reachable_revision(db: Database) -> str | None:
    """`current_revision`, with a database that cannot be reached (or opened) raised as a
    one-line `StorageError`."""
    try:
        return await current_revision(db)
    except (OSError, SQLAlchemyError) as exc:
        cause = getattr(exc, "orig", None) or exc
        cause = cause.__cause__ or cause  # asyncpg's own error, under SQLAlchemy's adapter
        detail = (str(cause).strip().splitlines() or [""])[0]
        raise StorageError(f"cannot reach the database: {type(cause).__name__}: {detail}") from None


async def upgrade(db: Database) -> tuple[str | None, str | None]:
    """Bring the schema to the newest revision; returns (before, after)."""
    config = alembic_config()

    def _upgrade(connection: Connection) -> None:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")

    before = await reachable_revision(db)
    async with db.engine.begin() as connection:
        await connection.run_sync(_upgrade)
    return before, await current_revision(db)


async def ensure_current(db: Database) -> None:
    """Fail with a clear message when the schema is missing or behind the code."""
    current = await reachable_revision(db)
    head = head_revision()
    if current != head:
        state = "empty" if current is None else f"at {current}"
        raise StorageError(f"the database schema is {state}, not {head}: run `relaydesk init`")
