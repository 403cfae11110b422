"""Agents: who works which department at which tier, availability, and round-robin assignment.

helpdesk.yaml says who the agents are; the `agents` table keeps what changes at run time
(available or away, when each was last given a ticket).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.config import TIERS, AgentConfig, HelpdeskConfig
from tickets.errors import TicketError
from tickets.models import Agent


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def _ensure_rows(session: AsyncSession, agents: Sequence[AgentConfig]) -> None:
    """Insert missing agent rows (concurrent callers may race: conflicts are no-ops)."""
    if not agents:
        return
    insert = pg_insert if _is_postgres(session) else sqlite_insert
    values = [
        {
            "slack_user_id": a.slack_id,
            "name": a.name,
            "departments": list(a.departments),
            "tier": a.tier,
            "active": True,
            "available": True,
            "assign_seq": 0,
            "created_at": datetime.now(UTC),
        }
        for a in agents
    ]
    await session.execute(
        insert(Agent).values(values).on_conflict_do_nothing(index_elements=["slack_user_id"])
    )


async def sync_agents(session: AsyncSession, config: HelpdeskConfig) -> int:
    """Make the agents table match helpdesk.yaml (names, departments, tiers, who is active)."""
    wanted = {a.slack_id: a for a in config.all_agents()}
    departments: dict[str, list[str]] = {k: list(a.departments) for k, a in wanted.items()}
    for department in config.departments:
        for slack_id in department.agents:
            if department.name not in departments[slack_id]:
                departments[slack_id].append(department.name)
    await _ensure_rows(session, list(wanted.values()))
    rows = (await session.scalars(select(Agent))).all()
    for row in rows:
        agent = wanted.get(row.slack_user_id)
        if agent is None:
            row.active = False
            continue
        row.active = True
        row.name = agent.name
        row.tier = agent.tier
        row.departments = departments[row.slack_user_id]
    await session.flush()
    return len(wanted)


async def list_agents(session: AsyncSession) -> Sequence[Agent]:
    return (await session.scalars(select(Agent).order_by(Agent.slack_user_id))).all()


async def set_available(
    session: AsyncSession, config: HelpdeskConfig, who: str, available: bool
) -> Agent:
    """Mark an agent available for round-robin or away (by Slack id or name)."""
    agent = config.find_agent(who)
    if agent is None:
        raise TicketError(f"unknown agent {who!r}")
    await _ensure_rows(session, [agent])
    row = await session.scalar(select(Agent).where(Agent.slack_user_id == agent.slack_id))
    assert row is not None
    row.available = available
    await session.flush()
    return row


async def pick_round_robin(
    session: AsyncSession,
    config: HelpdeskConfig,
    department: str,
    tier: str,
    now: datetime,
) -> Agent | None:
    """The available agent of `department` whose turn it is, now marked as given a ticket.

    Agents of the ticket's tier come first, then higher tiers; on PostgreSQL the candidate rows
    are locked so concurrent assignments take turns.
    """
    members = config.agents_of(department)
    if not members:
        return None
    await _ensure_rows(session, members)
    query = (
        select(Agent)
        .where(Agent.slack_user_id.in_([a.slack_id for a in members]), Agent.available)
        .order_by(Agent.id)
    )
    if _is_postgres(session):
        query = query.with_for_update()
    rows = (await session.scalars(query)).all()
    tier_of = {a.slack_id: a.tier for a in members}
    level = TIERS.index(tier) if tier in TIERS else 0
    for wanted in [t for t in TIERS[level:]]:
        candidates = [r for r in rows if tier_of.get(r.slack_user_id) == wanted]
        if candidates:
            chosen = min(candidates, key=lambda r: (r.assign_seq, r.id))
            chosen.assign_seq = max(r.assign_seq for r in rows) + 1
            chosen.last_assigned_at = now
            await session.flush()
            return chosen
    return None
