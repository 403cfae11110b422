"""`POST /slack/events`: signatures verified, stored before the ack, redeliveries are no-ops."""

from __future__ import annotations

import json
import logging
import time
from urllib.parse import urlencode

import pytest
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


async def test_bodies_bolt_cannot_read_are_refused_without_a_traceback(
    slack: SlackDesk, caplog: pytest.LogCaptureFixture
) -> None:
    """Bolt parses the body before it checks the signature; a body it cannot read, or a
    timestamp that is not a number, used to escape as a 500 with a traceback."""
    bad_json = "{not json"
    unsigned = await slack.post(bad_json, headers={"Content-Type": "application/json"})
    signed = await slack.post(bad_json, headers=signed_headers(SECRET, bad_json))
    bad_payload = urlencode({"payload": "{not json"})
    signed_form = await slack.post(bad_payload)
    a_list = await slack.post(
        "[1, 2]", headers=signed_headers(SECRET, "[1, 2]", content_type="application/json")
    )
    body = event_body(p.dm_message("UCUST4", "DCUST4", "hi"))
    timestamp = {**signed_headers(SECRET, body), "X-Slack-Request-Timestamp": "soon"}
    not_a_time = await slack.post(body, headers=timestamp)
    assert [r.status_code for r in (unsigned, signed, signed_form, a_list, not_a_time)] == [
        401,
        400,
        400,
        400,
        401,
    ]
    assert signed.json() == {"error": "not a Slack request body"}
    assert await inbox_rows(slack) == []
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


async def test_a_signed_body_of_a_shape_relaydesk_cannot_read_is_kept_as_failed(
    slack: SlackDesk, caplog: pytest.LogCaptureFixture
) -> None:
    """Acknowledged, stored and marked failed with a line in the log: not a 500 that Slack
    retries, and not a traceback."""
    event = p.dm_message("UCUST5", "DCUST5", "hi")
    event["event"]["subtype"], event["event"]["message"] = "message_changed", "not an object"
    press = p.block_action("UAGENT1", "CPAYMENTS", "desk:assign", "1", message_ts="100.300")
    press["actions"] = ["not an object"]
    assert (await slack.event(event)).status_code == 200
    assert (await slack.event(event, retry=1)).status_code == 200
    assert (await slack.interact(press)).status_code == 200
    await slack.settle()
    rows = await inbox_rows(slack)
    assert [(r.platform_id, r.chat_key, r.state) for r in rows] == [
        (event["event_id"], "slack:unreadable", "failed"),
        (f"interaction:{press['trigger_id']}", "slack:unreadable", "failed"),
    ]
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []
    kept = [r.getMessage() for r in caplog.records if "kept unparsed" in r.getMessage()]
    assert kept == [f"slack: {event['event_id']} kept unparsed: AttributeError"] * 2 + [
        f"slack: interaction:{press['trigger_id']} kept unparsed: AttributeError"
    ]


async def test_a_dm_with_a_nul_or_a_lone_surrogate_is_stored_and_answered(slack: SlackDesk) -> None:
    """JSON allows `\\u0000` and an unpaired `\\ud800`; no database stores them in text.
    Stored with U+FFFD in their place, not refused with a 503 on every retry."""
    dm = p.dm_message("UCUST6", "DCUST6", "PLACEHOLDER")
    body = event_body(dm).replace("PLACEHOLDER", "my card \\u0000 was \\ud800 charged twice")
    assert (await slack.post(body)).status_code == 200
    await slack.settle()
    (row,) = [r for r in await inbox_rows(slack) if r.platform_id == dm["event_id"]]
    assert row.state == "done"
    assert json.loads(row.payload)["event"]["text"] == "my card \ufffd was \ufffd charged twice"
    replies = [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == "DCUST6"]
    assert len(replies) == 1 and "#" in replies[0]["text"]
