"""Numbers and names beyond what the columns hold are refused in one line, on both databases
(PostgreSQL would otherwise fail the statement with a driver error)."""

from __future__ import annotations

import pytest

from bots.db import Database
from bots.errors import NotFoundError
from bots.privacy import resolve_customer
from tickets.config import default_config
from tickets.errors import TicketInputError, TicketNotFound
from tickets.service import Helpdesk, get_ticket

from .helpers import local, open_one, reload


@pytest.mark.parametrize("number", [2**31, 10**20, -1])
async def test_a_ticket_number_out_of_range_does_not_exist(db: Database, number: int) -> None:
    async with db.session() as session:
        with pytest.raises(TicketNotFound) as caught:
            await get_ticket(session, number)
    assert str(caught.value) == f"ticket #{number} does not exist"


async def test_a_customer_id_out_of_range_does_not_exist(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(NotFoundError) as caught:
            await resolve_customer(session, "99999999999999999999")
    assert str(caught.value) == "customer 99999999999999999999 does not exist"


async def test_an_assignee_too_long_for_the_column_changes_nothing(db: Database) -> None:
    desk = Helpdesk(default_config())  # no agents listed: any id may be assigned
    number = await open_one(db, desk, "hello", local(2026, 3, 2, 8))
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        with pytest.raises(TicketInputError) as caught:
            await desk.assign(session, ticket, "x" * 65, actor="cli")
    assert str(caught.value) == "an agent id has at most 64 characters"
    assert (await reload(db, number)).assignee is None
