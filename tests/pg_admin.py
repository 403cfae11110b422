"""Statements on the PostgreSQL server itself (scratch databases for tests and benchmarks)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.engine import make_url


async def admin(url: str, statement: str) -> list[Any]:
    """Run one statement over a plain asyncpg connection to the server `url` names (its
    database, or `postgres`) and return the rows it gives; `CREATE DATABASE` and `DROP
    DATABASE` cannot run inside the transactions SQLAlchemy opens."""
    import asyncpg

    parsed = make_url(url)
    connection = await asyncpg.connect(
        host=parsed.host or "127.0.0.1",
        port=parsed.port or 5432,
        user=parsed.username or "postgres",
        password=parsed.password,
        database=parsed.database or "postgres",
    )
    try:
        return list(await connection.fetch(statement))
    finally:
        await connection.close()
