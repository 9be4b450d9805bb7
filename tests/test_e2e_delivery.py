"""The outbox under faults, end to end: nonces, bursts, failed messages, 429s, crashes, bad rows.

Each test drives the real bot (discord.py included) against the fake Discord API, as in
tests/test_e2e_github.py, and checks what a channel ends up showing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import delete, select, text, update

from bot.db.models import OutboxMessage
from bot.db.session import reading, transaction
from bot.playground.samples import load, merged_pr_payload
from bot.services import messages, outbox
from tests.harness import World, eventually, world
from tests.test_e2e_github import count, link_alice, post_delivery, settle


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        yield w


def posts(w: World, channel: Any) -> list[dict[str, Any]]:
    return w.fake.messages_in(channel, include_interactions=False)


async def queue_relay(w: World, channel_id: int, title: str) -> int:
    """Queue one relay line straight into the outbox, as GitHub processing would."""
    async with transaction(w.sessionmaker) as session:
        row = await outbox.enqueue(
            session,
            messages.Relay(
                event="releases",
                action="published",
                repo="encode/httpx",
                title=title,
                tag="v1",
                url="https://github.com/encode/httpx/releases/v1",
            ),
            guild_id=w.guild.id,
            channel_id=channel_id,
            now=w.clock(),
        )
        row_id = row.id
    assert w.bot is not None
    w.bot.wake_outbox()
    return row_id


async def test_a_message_is_posted_although_sqlite_reuses_a_deleted_row_id(w: World) -> None:
    """Deleting the newest rows (as /me forget did, or restoring a backup) makes SQLite hand their ids out
    again; a nonce made from the id then repeated a posted message's, and Discord dropped the new one.

    PostgreSQL's sequence hands an id out again once it is set back, as restoring an older dump does."""
    await w.invoke(w.alice, "goal add", text="alice's goal")
    await w.wait_for_posts(w.goals, 1)
    async with transaction(w.sessionmaker) as session:
        alice_row = await session.scalar(select(func_max_id()))
        await session.execute(delete(OutboxMessage).where(OutboxMessage.id == alice_row))
        if session.get_bind().dialect.name == "postgresql":
            await session.execute(
                text("SELECT setval(pg_get_serial_sequence('outbox', 'id'), :id, false)"), {"id": alice_row}
            )
    await w.invoke(w.bob, "goal add", text="bob's goal")
    async with transaction(w.sessionmaker) as session:
        bob_row = await session.scalar(select(func_max_id()))
    assert bob_row == alice_row  # SQLite handed the deleted row's id out again
    shown = await eventually(lambda: [p for p in posts(w, w.goals) if "bob's goal" in str(p["embeds"])])
    assert len(shown) == 1  # posted, not swallowed as a repeat of alice's message


def func_max_id() -> Any:
    from sqlalchemy import func

    return func.max(OutboxMessage.id)


async def test_a_burst_too_large_for_one_message_names_every_event(w: World) -> None:
    relays = await w.fake.create_channel(w.guild, "github")
    with w.mock_github() as gh:
        gh.get("/repos/Codertocat/Hello-World").respond(json={"full_name": "Codertocat/Hello-World"})
        await w.invoke(w.admin, "github-admin subscribe", repo="Codertocat/Hello-World", channel=relays)
    opened = json.loads(load("pull_request/opened.payload.json"))
    bodies = []
    for n in range(1, 31):
        payload = json.loads(json.dumps(opened))
        payload["pull_request"]["number"] = payload["number"] = n
        payload["pull_request"]["id"] = 1000 + n
        payload["pull_request"]["title"] = f"Change number {n} " + "x" * 230
        payload["pull_request"]["html_url"] = f"https://github.com/Codertocat/Hello-World/pull/{n}"
        bodies.append(json.dumps(payload).encode())
    for body in bodies:
        assert (await post_delivery(w, body))[0] == 202
    await w.wait_for_posts(relays, 2, timeout=8)
    await settle(w, 1.0)
    shown = posts(w, relays)
    assert len(shown) >= 2  # 30 lines of ~220 characters cannot fit one embed
    text = "\n".join((p["embeds"][0].get("description") or "") + (p["embeds"][0].get("title") or "") for p in shown)
    assert all(f"Change number {n} " in text for n in range(1, 31))
    assert "more" not in text
    for post in shown:
        embed = post["embeds"][0]
        assert len(embed.get("description") or "") <= 4096
        assert sum(len(str(embed.get(k) or "")) for k in ("title", "description")) <= 6000
    assert await count(w, OutboxMessage, OutboxMessage.status == "sent") == 30  # every relay, marked once


async def test_failed_messages_come_back_with_the_retry_button_and_with_a_new_channel(w: World) -> None:
    await link_alice(w)
    w.fake.fail_next("POST", rf"/channels/{w.celebrations.id}/messages", 403)
    await post_delivery(w, merged_pr_payload(number=1))
    await eventually(lambda: count(w, OutboxMessage, OutboxMessage.status == "failed"))
    shown = await w.invoke(w.admin, "settings show")
    button = shown.components[0]["components"][0]
    assert button["custom_id"] == "shiplog:retry-failed"
    # A member without Manage Server can't press it (were the message ever shown to them).
    refused = await w.fake.click(w.guild, w.bob, shown, "shiplog:retry-failed")
    assert refused.ephemeral and "Manage Server" in refused.content
    retried = await w.fake.click(w.guild, w.admin, shown, "shiplog:retry-failed")
    assert retried.ephemeral and "Brought back 1 message" in retried.content
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    assert "Congratulations" in post["content"]

    # A second failure, then the admin picks another channel: the message goes there by itself.
    w.fake.fail_next("POST", rf"/channels/{w.celebrations.id}/messages", 403)
    await post_delivery(w, merged_pr_payload(number=2))
    await eventually(lambda: count(w, OutboxMessage, OutboxMessage.status == "failed"))
    party = await w.fake.create_channel(w.guild, "party")
    res = await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=party)
    assert "1 message I couldn't deliver in the old channel will go here" in res.content
    (moved,) = await w.wait_for_posts(party, 1)
    assert "Congratulations" in moved["content"]
    assert await count(w, OutboxMessage, OutboxMessage.status == "failed") == 0


async def test_a_row_that_raises_an_unexpected_error_fails_alone(w: World) -> None:
    assert w.bot is not None

    async def broken(guild_id: int | None, message: messages.DiscordDelete, nonce: str) -> None:
        raise KeyError("a bug in an action")

    w.bot.actions[messages.DiscordDelete.KIND] = broken
    async with transaction(w.sessionmaker) as session:
        delete = messages.DiscordDelete(channel_id=1, message_id=2)
        await outbox.enqueue(session, delete, guild_id=w.guild.id, channel_id=None, now=w.clock())
    await queue_relay(w, w.goals.id, "after the broken one")
    (post,) = await w.wait_for_posts(w.goals, 1)
    assert "after the broken one" in str(post["embeds"])

    async def broken_row() -> OutboxMessage:
        async with reading(w.sessionmaker) as session:
            return (
                await session.scalars(select(OutboxMessage).where(OutboxMessage.kind == messages.DiscordDelete.KIND))
            ).one()

    # The two rows go to two senders: the post can land before the broken row's failure is written.
    row = await eventually(lambda: _recorded(broken_row(), attempts=1))
    assert row.status == "pending" and "unexpected error" in row.last_error
    for attempt in range(2, outbox.MAX_UNEXPECTED_ATTEMPTS + 1):
        # A claim counts the attempt before it is made, so the count alone says nothing of its end:
        # the error is cleared while the row waits out its backoff, and the next one marks the end.
        async with transaction(w.sessionmaker) as session:
            await session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(last_error=None))
        w.clock.advance(timedelta(minutes=31))  # past any backoff
        w.bot.wake_outbox()
        row = await eventually(lambda attempt=attempt: _recorded(broken_row(), attempts=attempt))
    assert row.status == "failed" and "KeyError" in row.last_error
    assert row.attempts == outbox.MAX_UNEXPECTED_ATTEMPTS
    w.clock.advance(timedelta(minutes=31))
    w.bot.wake_outbox()
    await settle(w, 0.3)
    assert (await broken_row()).attempts == outbox.MAX_UNEXPECTED_ATTEMPTS  # failed for good: never tried again


async def _recorded(row: Awaitable[OutboxMessage], *, attempts: int) -> OutboxMessage | None:
    """The row once its `attempts`-th attempt has ended and written its error, else None."""
    found = await row
    return found if found.attempts == attempts and found.last_error else None


async def test_a_429_on_one_channel_delays_no_other_channel_and_the_claim_outlives_it(w: World) -> None:
    # discord.py sleeps out the 429 inside send(); the fake scales its sleeps by 0.01, so 800 s is 8 s.
    w.fake.fail_next("POST", rf"/channels/{w.goals.id}/messages", 429, retry_after=800)
    slow = await queue_relay(w, w.goals.id, "held by a 429")
    await eventually(lambda: w.fake.requests_to("POST", rf"/channels/{w.goals.id}/messages"))
    await queue_relay(w, w.celebrations.id, "another channel")
    await w.wait_for_posts(w.celebrations, 1, timeout=3)
    assert posts(w, w.goals) == []  # posted while the goals channel still waits out its 429
    await asyncio.sleep(outbox.CLAIM_LEASE.total_seconds() + 1)  # past the first lease: it was renewed
    assert posts(w, w.goals) == []
    stolen = await outbox.claim_due(w.sessionmaker, now=w.clock())  # what a second process would see
    assert slow not in [row.id for row in stolen]
    (held,) = await w.wait_for_posts(w.goals, 1, timeout=6)
    assert "held by a 429" in str(held["embeds"])
    await settle(w, 0.5)
    assert len(posts(w, w.goals)) == 1


async def test_rows_claimed_by_a_process_that_died_are_posted_within_seconds(w: World) -> None:
    assert w.bot is not None
    await w.bot.workers.outbox.hand_back()  # this process no longer sends...
    await queue_relay(w, w.goals.id, "claimed, then the process died")
    claimed = await outbox.claim_due(w.sessionmaker, now=w.clock())  # ...after it had claimed the row
    assert len(claimed) == 1
    await w.restart_bot()
    await w.wait_for_posts(w.goals, 1, timeout=outbox.CLAIM_LEASE.total_seconds() + 5)
    await settle(w, 0.5)
    assert len(posts(w, w.goals)) == 1


async def test_forget_removes_the_bots_posts_about_the_member_and_edits_shared_ones(w: World) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    await w.invoke(w.alice, "goal add", text="alice's first goal")
    await w.invoke(w.alice, "goal add", text="alice's second goal")
    await w.invoke(w.bob, "goal add", text="bob's goal")
    await w.invoke(w.alice, "checkin", note="alice's progress")
    await w.invoke(w.alice, "kudos", member=w.bob, reason="for the review")
    await w.invoke(w.bob, "kudos", member=w.alice, reason="for the docs")
    # A weekly ping naming both (as the scheduler queues it).
    async with transaction(w.sessionmaker) as session:
        content = f"📣 Weekly check-in!\n<@{w.alice.id}>\n• `#1` alice's first goal\n<@{w.bob.id}>\n• `#3` bob's goal"
        await outbox.enqueue(
            session,
            messages.Ping(content=content, user_ids=(w.alice.id, w.bob.id)),
            guild_id=w.guild.id,
            channel_id=accountability.id,
            now=w.clock(),
        )
    assert w.bot is not None
    w.bot.wake_outbox()
    await w.wait_for_posts(w.goals, 3)
    await w.wait_for_posts(accountability, 2)
    await w.wait_for_posts(w.celebrations, 2)
    stuck = next(p for p in posts(w, w.goals) if "alice's second goal" in str(p["embeds"]))
    w.fake.fail_next("DELETE", rf"/channels/{w.goals.id}/messages/{stuck['id']}", 403)

    res = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, res, "shiplog:forget:yes")
    await done.wait_for(lambda r: "Welcome back" in (r.content or ""), timeout=15)
    assert "I took you out of 5 of my messages in the channels" in done.content  # 4 deleted, the ping edited
    assert "1 could not be removed: missing permission" in done.content

    everything = str([posts(w, c) for c in (w.goals, accountability, w.celebrations)])
    for gone in ("alice's first goal", "alice's progress", "for the review", "for the docs"):
        assert gone not in everything.replace("• `#1` alice's first goal", "")  # the ping is checked below
    assert "alice's second goal" in everything  # the one Discord refused stays, and the member is told
    assert "bob's goal" in str(posts(w, w.goals))
    (ping,) = [p for p in posts(w, accountability) if "Weekly check-in" in p["content"]]
    assert f"<@{w.alice.id}>" not in ping["content"] and "alice's first goal" not in ping["content"]
    assert f"<@{w.bob.id}>" in ping["content"]
    # Nothing about alice is left to post or to find, and the refusal is visible to admins.
    async with transaction(w.sessionmaker) as session:
        rows = (await session.scalars(select(OutboxMessage))).all()
    assert not [r for r in rows if w.alice.id in json.loads(json.dumps(r.data, default=str)).get("user_ids", [])]
    failed = [r for r in rows if r.status == "failed"]
    assert [r.kind for r in failed] == ["discord.delete"]


async def test_an_owed_message_is_posted_before_the_gateway_is_ready(w: World) -> None:
    assert w.bot is not None
    await w.bot.workers.outbox.hand_back()
    await queue_relay(w, w.goals.id, "owed from the last run")
    await w.stop_bot()
    w.fake.gateway_hold = asyncio.Event()  # the gateway says nothing: the bot logs in, never becomes ready
    starting = asyncio.create_task(w.start_bot())
    try:
        (post,) = await w.wait_for_posts(w.goals, 1, timeout=5)
        assert "owed from the last run" in str(post["embeds"])
        assert w.bot is not None and not w.bot.is_ready()
        assert not w.fake.connected
    finally:
        w.fake.gateway_hold.set()
    await asyncio.wait_for(starting, 10)
    assert w.bot.is_ready()
    await settle(w, 0.3)
    assert len(posts(w, w.goals)) == 1
