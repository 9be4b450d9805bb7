"""The bot's life as an operator sees it: /healthz follows the real gateway; a stop drains, then closes."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import aiohttp
from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import transaction
from bot.playground.samples import merged_pr_payload
from bot.services import guilds, messages, outbox
from tests.harness import World, eventually, world
from tests.test_e2e_github import post_delivery


async def healthz(w: World) -> tuple[int, dict]:
    assert w.bot is not None
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{w.bot.web.port}/healthz") as response,
    ):
        return response.status, await response.json()


async def test_healthz_is_503_once_the_gateway_is_gone_for_over_a_minute_and_200_when_it_resumes(db_url: str) -> None:
    async with world(db_url) as w:
        assert (await healthz(w))[1]["gateway"] == "connected"
        # Discord drops the connection and answers no new one for now (no HELLO).
        w.fake.gateway_hold = asyncio.Event()
        await w.fake.disconnect_clients(4000, wait_for_reconnect=False)
        status, body = await eventually(lambda: _disconnected(w), timeout=5)
        assert status == 200 and body["status"] == "ok"  # a short drop is a resume away
        w.clock.advance(timedelta(seconds=61))
        status, body = await healthz(w)
        assert status == 503
        assert body["status"] == "unhealthy"
        assert body["gateway_detail"].startswith("shard 0 disconnected 6")
        w.fake.gateway_hold.set()  # Discord answers again: discord.py resumes by itself
        assert await eventually(lambda: _connected(w), timeout=10)


async def _disconnected(w: World) -> tuple[int, dict] | None:
    status, body = await healthz(w)
    return (status, body) if body.get("gateway") == "disconnected" else None


async def _connected(w: World) -> bool:
    status, body = await healthz(w)
    return status == 200 and body.get("gateway") == "connected"


async def test_a_stop_refuses_new_webhooks_finishes_the_send_in_hand_and_hands_the_rest_back(db_url: str) -> None:
    async with world(db_url) as w:
        assert w.bot is not None
        async with transaction(w.sessionmaker) as session:
            await guilds.ensure_guild(session, w.guild.id)
            for number in range(5):
                await outbox.enqueue(
                    session,
                    messages.Relay(event="pulls", action="opened", repo="o/r", number=number, title="t", url=""),
                    guild_id=w.guild.id,
                    channel_id=w.celebrations.id,
                    now=w.clock(),
                )
        w.fake.rest_delay = 0.5
        w.bot.wake_outbox()
        await eventually(lambda: w.fake._inflight > 0)  # the first message is on its way to Discord
        stopping = asyncio.create_task(w.bot.shutdown())
        await eventually(lambda: w.bot is not None and w.bot.stopping.is_set())
        status, answer = await post_delivery(w, merged_pr_payload())
        assert (status, answer["error"]) == (503, "Shiplog is restarting; redeliver this in a minute.")
        assert await healthz(w) == (
            503,
            {"status": "stopping", "database": "ok", "gateway": "connected", "gateway_detail": "1 shard connected"},
        )
        await stopping
        assert w.bot.is_closed()
        posted = w.fake.messages_in(w.celebrations, include_interactions=False)
        assert len(posted) == 1  # the send in hand finished; nothing new was started
        async with transaction(w.sessionmaker) as session:
            rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [row.status for row in rows] == ["sent"] + ["pending"] * 4
        assert all(row.attempts == 0 and row.next_attempt_at <= w.clock() for row in rows[1:])


async def test_a_send_still_running_when_the_grace_ends_is_handed_back_and_shown_once(db_url: str, caplog) -> None:
    async with world(db_url) as w:
        assert w.bot is not None
        async with transaction(w.sessionmaker) as session:
            await guilds.ensure_guild(session, w.guild.id)
            for number in range(3):
                await outbox.enqueue(
                    session,
                    messages.Relay(event="pulls", action="opened", repo="o/r", number=number, title="t", url=""),
                    guild_id=w.guild.id,
                    channel_id=w.celebrations.id,
                    now=w.clock(),
                )
        w.fake.rest_delay = 1.5  # Discord is slower than the grace
        w.bot.wake_outbox()
        await eventually(lambda: w.fake._inflight > 0)
        with caplog.at_level("INFO", logger="bot.bot"):
            await w.bot.shutdown(grace=0.3)
        assert "stopped cleanly: cut off after 0.3 s; 3 unsent messages handed back" in caplog.text
        async with transaction(w.sessionmaker) as session:
            rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
        assert [(row.status, row.attempts) for row in rows] == [("pending", 0)] * 3
        # Discord may still post the send that was cut off; the next start retries it with the same
        # nonce, so it shows once.
        await w.stop_bot()
        w.fake.rest_delay = 0.0
        await w.start_bot()
        await w.wait_for_posts(w.celebrations, 3)
        # The cut-off send has landed (or been dropped) once the fake has no request in flight.
        assert await eventually(lambda: w.fake._inflight == 0)
        posts = w.fake.messages_in(w.celebrations, include_interactions=False)
        assert sorted(p["embeds"][0]["title"] for p in posts) == ["[o/r] PR opened: t" for _ in range(3)]
        assert len({p["nonce"] for p in posts}) == 3
