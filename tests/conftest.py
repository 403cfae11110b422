"""Shared fixtures: migrated SQLite and PostgreSQL databases, settings, services."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from bots.db import Database
from bots.schema import upgrade
from bots.settings import Settings
from tests.pg_admin import admin

PG_ENV = "RELAYDESK_TEST_DATABASE_URL"
SHARED = Path(__file__).resolve().parents[2] / "shared"
FIXTURES = SHARED / "fixtures"
DATA = SHARED / "data"


def postgres_url() -> str | None:
    return os.environ.get(PG_ENV) or None


requires_postgres = pytest.mark.skipif(
    postgres_url() is None, reason=f"no PostgreSQL server: {PG_ENV} is not set"
)


def requires_shared(path: Path) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not path.exists(), reason=f"shared fixtures not found at {path.name} (../shared missing)"
    )


async def make_postgres_database() -> tuple[str, str]:
    """A fresh, empty database on the test server; returns (url, name)."""
    base = postgres_url()
    assert base is not None
    name = f"relaydesk_t_{uuid.uuid4().hex[:12]}"
    await admin(base, f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    return url, name


async def drop_postgres_database(name: str) -> None:
    base = postgres_url()
    assert base is not None
    await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
    await upgrade(db)
    yield db
    await db.close()


@pytest.fixture
async def pg_db() -> AsyncIterator[Database]:
    if postgres_url() is None:
        pytest.skip(f"no PostgreSQL server: {PG_ENV} is not set")
    url, name = await make_postgres_database()
    db = Database(url)
    await upgrade(db)
    yield db
    await db.close()
    await drop_postgres_database(name)


@pytest.fixture(params=["sqlite", "postgres"])
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The same test on SQLite and on PostgreSQL (skipped with a reason when there is none)."""
    if request.param == "sqlite":
        database = Database(f"sqlite+aiosqlite:///{tmp_path / 'test.db'}")
        await upgrade(database)
        yield database
        await database.close()
        return
    if postgres_url() is None:
        pytest.skip(f"no PostgreSQL server: {PG_ENV} is not set")
    url, name = await make_postgres_database()
    database = Database(url)
    await upgrade(database)
    yield database
    await database.close()
    await drop_postgres_database(name)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test: data in a temporary folder, no platform configured."""
    return Settings(RELAYDESK_DATA_DIR=tmp_path / "data")
