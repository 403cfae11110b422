"""`POST /slack/events`: signatures verified, stored before the ack, redeliveries are no-ops."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from bots.pipeline.models import InboxRow
from tests.fakes import slack_payloads as p
from tests.fakes.slack_signing import event_body, signed_headers
from tests.integration.slack.conftest import SECRET, SlackDesk


async def inbox_rows(slack: SlackDesk) -> list[InboxRow]:
    async with slack.db.session() as session:
        return list((await session.scalars(select(InboxRow).order_by(InboxRow.id))).all())


async def test_url_verification_is_answered_with_the_challenge(slack: SlackDesk) -> None:
    body = p.url_verification()
    response = await slack.event(body)
    assert response.status_code == 200
    assert response.json() == {"challenge": body["challenge"]}
    assert await inbox_rows(slack) == []


async def test_a_signed_event_is_in_the_inbox_when_the_200_arrives(slack: SlackDesk) -> None:
    body = p.dm_message("UCUST1", "DCUST1", "Where is my order?")
    response = await slack.event(body)
    assert response.status_code == 200
    rows = await inbox_rows(slack)  # read right after the response: it was committed before
    assert [(r.channel, r.platform_id, r.chat_key) for r in rows] == [
        ("slack", body["event_id"], "slack:DCUST1")
    ]
    assert json.loads(rows[0].payload)["event"]["text"] == "Where is my order?"


async def test_the_same_event_retried_three_times_is_handled_once(slack: SlackDesk) -> None:
    body = p.dm_message("UCUST2", "DCUST2", "Hello?")
    first = await slack.event(body)
    retries = [await slack.event(body, retry=n) for n in (1, 2, 3)]
    assert first.status_code == 200
    assert [r.status_code for r in retries] == [200, 200, 200]
    assert len(await inbox_rows(slack)) == 1
    await slack.settle()
    replies = slack.api.calls_to("chat.postMessage")
    assert len([r for r in replies if r["channel"] == "DCUST2"]) == 1  # one answer, not four


async def test_unsigned_wrongly_signed_and_stale_requests_are_refused(slack: SlackDesk) -> None:
    body = event_body(p.dm_message("UCUST3", "DCUST3", "hi"))
    unsigned = await slack.post(body, headers={"Content-Type": "application/json"})
    wrong = await slack.post(body, secret="not-the-secret")
    stale = await slack.post(body, timestamp=int(time.time()) - 6 * 60)
    tampered_headers = signed_headers(SECRET, body)
    tampered = await slack.post(body.replace("hi", "HI"), headers=tampered_headers)
    assert [r.status_code for r in (unsigned, wrong, stale, tampered)] == [401, 401, 401, 401]
    assert await inbox_rows(slack) == []
    assert slack.api.calls == []


async def test_interactivity_and_the_slash_command_use_the_same_endpoint(slack: SlackDesk) -> None:
    action = p.block_action("UAGENT1", "CPAYMENTS", "desk:assign", "1", message_ts="100.200")
    command = p.slash_command("UAGENT1", "CPAYMENTS", "ticket 1", response_url="http://x/r")
    assert (await slack.interact(action)).status_code == 200
    assert (await slack.command(command)).status_code == 200
    ids = [r.platform_id for r in await inbox_rows(slack)]
    assert ids == [f"interaction:{action['trigger_id']}", f"command:{command['trigger_id']}"]


async def test_the_bots_own_posts_and_unhandled_kinds_are_acked_not_stored(
    slack: SlackDesk,
) -> None:
    echo = await slack.event(p.bot_echo("CPAYMENTS", "a card"))
    top_level = await slack.event(
        {**p.thread_reply("UAGENT1", "CPAYMENTS", "1.1", "hi"), "event_id": "EvTop"}
        | {"event": {**p.thread_reply("U1", "CPAYMENTS", "1.1", "x")["event"], "thread_ts": None}}
    )
    assert (echo.status_code, top_level.status_code) == (200, 200)
    assert await inbox_rows(slack) == []


async def test_ssl_check_is_answered_without_storing(slack: SlackDesk) -> None:
    fields = p.slash_command("U1", "C1", "", response_url="http://x/r")
    fields["ssl_check"] = "1"
    response = await slack.command(fields)
    assert response.status_code == 200
    assert await inbox_rows(slack) == []
