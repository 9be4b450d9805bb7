"""Several real processes on one database: every kind of work is done once (issue 10's exactly-once tests).

With TEST_DATABASE_URL set these run on PostgreSQL, where the processes truly run side by side
(claims use FOR UPDATE SKIP LOCKED, the weekly run a unique constraint); on SQLite they share one
file through BEGIN IMMEDIATE. Each process is the real `shiplog` command (tests/shiplog_process.py).
"""

from __future__ import annotations

import asyncio
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models import Goal, JobRun, WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, reading, transaction
from bot.playground.fake_discord import FakeDiscord
from bot.playground.samples import merged_pr_payload, sign
from bot.services import guilds
from bot.workers.github import IDLE_POLL_SECONDS
from tests.harness import WEBHOOK_SECRET, World, eventually, world
from tests.shiplog_process import free_port, shiplog_process
from tests.test_e2e_github import link_alice
from tests.test_processes import MESSAGES, bot_env, outbox_rows, posted_titles, queue_relays


async def post(session: aiohttp.ClientSession, port: int, body: bytes, delivery: str) -> int:
    headers = {
        "Content-Type": "application/json",
        "X-GitHub-Event": "pull_request",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
    }
    async with session.post(f"http://127.0.0.1:{port}/github/webhook", data=body, headers=headers) as response:
        return response.status


@asynccontextmanager
async def bot_and_two_web_processes(db_url: str, tmp_path: Path) -> AsyncIterator[tuple[World, list[int]]]:
    """The bot (in this process) with a celebrations channel and alice linked, and two `shiplog web` on its database.

    Yields the world and the two web processes' ports; at the end both get SIGTERM and must exit 0.
    """
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await link_alice(w)
        ports = [free_port(), free_port()]
        env = {"DATABASE_URL": db_url, "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with (
            shiplog_process(["web"], tmp_path, HTTP_PORT=str(ports[0]), **env) as a,
            shiplog_process(["web"], tmp_path, HTTP_PORT=str(ports[1]), **env) as b,
        ):
            for process, port in zip((a, b), ports, strict=True):
                await process.wait_healthy(port)
            yield w, ports
            for process in (a, b):
                process.signal(signal.SIGTERM)
            assert [await a.wait(20), await b.wait(20)] == [0, 0]


async def nothing_left_to_send(db_url: str, fake: FakeDiscord) -> bool:
    """Whether every outbox row is settled and no call to Discord is under way: nothing more will be posted."""
    rows = await outbox_rows(db_url)
    return bool(rows) and all(row.status != "pending" for row in rows) and fake._inflight == 0


def celebrated(w: World) -> list[str]:
    return [p["embeds"][0]["title"] for p in w.fake.messages_in(w.celebrations, include_interactions=False)]


async def test_one_delivery_sent_to_two_web_processes_is_celebrated_once(db_url: str, tmp_path: Path) -> None:
    async with bot_and_two_web_processes(db_url, tmp_path) as (w, ports):
        body, delivery = merged_pr_payload(title="Sent twice"), str(uuid.uuid4())
        async with aiohttp.ClientSession() as session:
            # The same delivery to both at once (a retry that raced the first), then once more to each.
            statuses = await asyncio.gather(*(post(session, port, body, delivery) for port in ports))
            again = [await post(session, port, body, delivery) for port in ports]
        assert sorted(statuses) in ([200, 202], [202, 202]) and again == [200, 200]
        await w.wait_for_posts(w.celebrations, 1, timeout=IDLE_POLL_SECONDS + 10)
        assert await eventually(lambda: nothing_left_to_send(db_url, w.fake), timeout=10)
        assert celebrated(w) == ["🎉 Sent twice"]
        async with reading(w.sessionmaker) as session:
            rows = (await session.scalars(select(WebhookDelivery.delivery_id))).all()
        assert rows == [delivery]


async def test_fifty_merges_spread_over_two_web_processes_give_fifty_celebrations(db_url: str, tmp_path: Path) -> None:
    async with bot_and_two_web_processes(db_url, tmp_path) as (w, ports):
        bodies = [merged_pr_payload(number=100 + n, title=f"Fleet {n}") for n in range(50)]
        async with aiohttp.ClientSession() as session:
            statuses = await asyncio.gather(
                *(post(session, ports[n % 2], body, str(uuid.uuid4())) for n, body in enumerate(bodies))
            )
        assert statuses == [202] * 50
        await w.wait_for_posts(w.celebrations, 50, timeout=IDLE_POLL_SECONDS + 30)
        assert await eventually(lambda: nothing_left_to_send(db_url, w.fake), timeout=10)
        assert sorted(celebrated(w)) == sorted(f"🎉 Fleet {n}" for n in range(50))


async def test_kill_9_of_a_bot_mid_send_gives_each_owed_message_exactly_once(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Builders")
        channel = fake.add_text_channel(guild, "github")
        await queue_relays(db_url, guild.id, channel.id, MESSAGES)
        fake.rest_delay = 0.25  # every call to Discord takes a while: the kill lands mid-send
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, free_port())) as doomed:
            await eventually(lambda: len(posted_titles(fake, channel)) >= 3, timeout=30)
            doomed.kill()  # SIGKILL: no handler, no hand-back; its claims run out instead
        assert "stopped cleanly" not in doomed.output
        fake.rest_delay = 0.0
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, free_port())) as survivor:
            await eventually(lambda: len(posted_titles(fake, channel)) >= MESSAGES, timeout=60)
            # Every row sent and no send under way: anything posted twice has shown by now.
            assert await eventually(lambda: nothing_left_to_send(db_url, fake), timeout=10)
            survivor.signal(signal.SIGTERM)
            assert await survivor.wait(20) == 0, survivor.output
        titles = posted_titles(fake, channel)
        assert sorted(titles) == sorted(f"[octo/ship] PR opened: change {n}" for n in range(1, MESSAGES + 1))
        assert {row.status for row in await outbox_rows(db_url)} == {"sent"}


async def test_two_bot_processes_catching_up_the_same_week_send_one_ping(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Builders")
        alice = fake.add_member(guild, "alice")
        accountability = fake.add_text_channel(guild, "accountability")
        digest = fake.add_text_channel(guild, "digest")
        # The server's weekly run was due an hour ago (within the 12-hour catch-up window) and never ran.
        due = utcnow() - timedelta(hours=1)
        engine = create_engine(db_url)
        try:
            async with transaction(create_sessionmaker(engine)) as session:
                row = await guilds.ensure_guild(session, guild.id)
                row.created_at = due - timedelta(days=30)
                row.accountability_channel_id, row.digest_channel_id = accountability.id, digest.id
                row.schedule_weekday, row.schedule_time, row.schedule_timezone = due.weekday(), f"{due:%H:%M}", "UTC"
                row.last_goal_number = 1
                session.add(Goal(guild_id=guild.id, number=1, user_id=alice.id, text="ship it", status="open"))
        finally:
            await engine.dispose()
        shards = [bot_env(fake, db_url, free_port(), SHARD_COUNT="2", SHARD_IDS=str(n)) for n in (0, 1)]
        with shiplog_process(["run"], tmp_path, **shards[0]) as a, shiplog_process(["run"], tmp_path, **shards[1]) as b:
            await eventually(lambda: fake.messages_in(digest, include_interactions=False), timeout=30)
            await asyncio.sleep(2)  # a second ping or digest would show by now
            pings = fake.messages_in(accountability, include_interactions=False)
            assert len(pings) == 1 and f"<@{alice.id}>" in pings[0]["content"]
            assert len(fake.messages_in(digest, include_interactions=False)) == 1
            for process in (a, b):
                process.signal(signal.SIGTERM)
            codes = [await a.wait(20), await b.wait(20)]
            assert codes == [0, 0], f"{a.output}\n----\n{b.output}"
        engine = create_engine(db_url)
        try:
            async with reading(create_sessionmaker(engine)) as session:
                runs = (await session.execute(select(JobRun.job, JobRun.status).order_by(JobRun.job))).all()
        finally:
            await engine.dispose()
        assert [tuple(run) for run in runs] == [("digest", "done"), ("ping", "done")]
