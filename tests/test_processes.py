"""Real `shiplog run` and `shiplog web` processes: graceful stops, the webhook-only process, shards.

Each test serves the fake Discord from this process on a loopback port, points a child process's
discord.py at it (tests/shiplog_process.py) and shares a real SQLite file with it.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import sqlite3
import subprocess
import uuid
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import select

from bot.db.base import utcnow
from bot.db.models import OutboxMessage, WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, reading, transaction
from bot.playground.fake_discord import FakeDiscord
from bot.playground.samples import merged_pr_payload, sign
from bot.services import guilds, messages, outbox
from bot.workers.github import IDLE_POLL_SECONDS
from tests.harness import WEBHOOK_SECRET, eventually, world
from tests.shiplog_process import AS_PID_ONE, URL_VARIABLE, free_port, shiplog_process
from tests.test_e2e_github import link_alice

MESSAGES = 12


def relay(number: int) -> dict:
    return {
        "kind": "pulls",
        "action": "opened",
        "repo": "octo/ship",
        "number": number,
        "title": f"change {number}",
        "url": f"https://github.com/octo/ship/pull/{number}",
    }


async def queue_relays(db_url: str, guild_id: int, channel_id: int, count: int) -> None:
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await guilds.ensure_guild(session, guild_id)
            for number in range(1, count + 1):
                await outbox.enqueue(
                    session,
                    messages.Relay.decode(relay(number)),
                    guild_id=guild_id,
                    channel_id=channel_id,
                    now=utcnow(),
                )
    finally:
        await engine.dispose()


async def outbox_rows(db_url: str) -> list[OutboxMessage]:
    engine = create_engine(db_url)
    try:
        async with reading(create_sessionmaker(engine)) as session:
            return list((await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all())
    finally:
        await engine.dispose()


def posted_titles(fake: FakeDiscord, channel) -> list[str]:
    return [m["embeds"][0]["title"] for m in fake.messages_in(channel, include_interactions=False)]


def bot_env(fake: FakeDiscord, db_url: str, port: int, **more: str) -> dict[str, str]:
    return {
        "DISCORD_TOKEN": fake.token,
        "DATABASE_URL": db_url,
        "HTTP_PORT": str(port),
        "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET,
        URL_VARIABLE: fake.base_url,
    } | more


async def test_sigterm_mid_send_exits_0_and_hands_the_unsent_messages_back(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Builders")
        channel = fake.add_text_channel(guild, "github")
        await queue_relays(db_url, guild.id, channel.id, MESSAGES)
        fake.rest_delay = 0.25  # every call to Discord takes a while: the signal lands mid-send
        port = free_port()
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, port)) as bot:
            await eventually(lambda: len(posted_titles(fake, channel)) >= 2, timeout=30)
            bot.signal(signal.SIGTERM)
            assert await bot.wait(20) == 0, bot.output
        output = bot.output
        assert "received SIGTERM: stopping" in output
        assert "stopped cleanly: all work in hand finished" in output
        assert "Traceback" not in output

        # Nothing owed was lost or doubled: each message was posted once and marked sent, or it is
        # pending, due at once, its attempt given back.
        titles = posted_titles(fake, channel)
        assert len(titles) == len(set(titles))
        rows = await outbox_rows(db_url)
        sent = [row for row in rows if row.status == "sent"]
        pending = [row for row in rows if row.status == "pending"]
        assert len(sent) + len(pending) == MESSAGES
        assert sorted(titles) == sorted(f"[octo/ship] PR opened: change {row.data['number']}" for row in sent)
        assert pending, "the stop came before the end: some messages must be left for the next start"
        now = utcnow()
        assert all(row.next_attempt_at <= now and row.attempts == 0 for row in pending)
        assert f"{len(pending)} unsent messages handed back to the database" in output

        # The next start posts the rest at once, each once.
        fake.rest_delay = 0.0
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, port)) as again:
            await eventually(lambda: len(posted_titles(fake, channel)) >= MESSAGES, timeout=30)
            again.signal(signal.SIGINT)
            assert await again.wait(20) == 0, again.output
        titles = posted_titles(fake, channel)
        assert sorted(titles) == sorted(f"[octo/ship] PR opened: change {n}" for n in range(1, MESSAGES + 1))
        assert {row.status for row in await outbox_rows(db_url)} == {"sent"}
        assert "PyNaCl" not in again.output and "davey" not in again.output  # no voice warnings at INFO


async def test_healthz_of_a_real_process_while_logging_in_then_connected_then_stopping(
    db_url: str, tmp_path: Path
) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild(name="Builders")
        port = free_port()
        url = f"http://127.0.0.1:{port}/healthz"
        fake.rest_delay = 0.5  # logging in takes a while: /healthz answers meanwhile
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, port)) as bot:
            first = await bot.wait_healthy(port)
            assert first["status"] == "starting", first
            assert first["gateway"] == "logging in"
            fake.rest_delay = 0.0
            async with aiohttp.ClientSession() as session:

                async def connected() -> dict | None:
                    async with session.get(url) as response:
                        body = await response.json()
                        return body if body.get("gateway") == "connected" else None

                body = await eventually(connected, timeout=30)
                assert body == {
                    "status": "ok",
                    "database": "ok",
                    "gateway": "connected",
                    "gateway_detail": "1 shard connected",
                }
            bot.signal(signal.SIGTERM)
            assert await bot.wait(20) == 0, bot.output


async def test_shiplog_web_stores_a_signed_delivery_without_a_gateway(db_url: str, tmp_path: Path) -> None:
    port = free_port()
    body = merged_pr_payload(number=77)
    delivery = str(uuid.uuid4())
    # No DISCORD_TOKEN, and Discord unreachable: the web process never needs it.
    env = {"DATABASE_URL": db_url, "HTTP_PORT": str(port), "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET}
    with shiplog_process(["web"], tmp_path, **env, **{URL_VARIABLE: f"http://127.0.0.1:{free_port()}"}) as web:
        health = await web.wait_healthy(port)
        assert health == {"status": "ok", "database": "ok"}  # no gateway to report
        async with (
            aiohttp.ClientSession() as session,
            session.post(
                f"http://127.0.0.1:{port}/github/webhook",
                data=body,
                headers={
                    "Content-Type": "application/json",
                    "X-GitHub-Event": "pull_request",
                    "X-GitHub-Delivery": delivery,
                    "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
                },
            ) as response,
        ):
            assert response.status == 202, await response.text()
        web.signal(signal.SIGTERM)
        assert await web.wait(20) == 0, web.output
    assert "webhook intake only: stored deliveries are processed by `shiplog run`" in web.output
    assert "stopped cleanly" in web.output
    engine = create_engine(db_url)
    try:
        async with reading(create_sessionmaker(engine)) as session:
            stored = (await session.scalars(select(WebhookDelivery))).all()
    finally:
        await engine.dispose()
    assert [(row.delivery_id, row.status, row.body) for row in stored] == [(delivery, "pending", body)]
    assert stored[0].received_at > utcnow() - timedelta(minutes=1)


async def test_a_delivery_taken_by_shiplog_web_is_celebrated_by_the_bot(db_url: str, tmp_path: Path) -> None:
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await link_alice(w)
        port = free_port()
        env = {"DATABASE_URL": db_url, "HTTP_PORT": str(port), "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET}
        with shiplog_process(["web"], tmp_path, **env) as web:
            await web.wait_healthy(port)
            body = merged_pr_payload()
            async with (
                aiohttp.ClientSession() as session,
                session.post(
                    f"http://127.0.0.1:{port}/github/webhook",
                    data=body,
                    headers={
                        "Content-Type": "application/json",
                        "X-GitHub-Event": "pull_request",
                        "X-GitHub-Delivery": str(uuid.uuid4()),
                        "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
                    },
                ) as response,
            ):
                assert response.status == 202
            # Nothing wakes the bot's processor from another process: it looks every IDLE_POLL_SECONDS.
            (post,) = await w.wait_for_posts(w.celebrations, 1, timeout=IDLE_POLL_SECONDS + 5)
            assert post["content"] == f"🎉 Congratulations <@{w.alice.id}>!"
            web.signal(signal.SIGTERM)
            assert await web.wait(20) == 0


async def test_a_fleet_of_two_sharded_processes_answers_each_server_once(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.recommended_shards = 2  # what Discord would say; SHARD_COUNT decides
        members = {}
        while len({FakeDiscord.shard_of(g.id, 2) for g in fake.guilds.values()}) < 2:
            guild = fake.add_guild(name=f"Server {len(fake.guilds)}")
            members[guild.id] = fake.add_member(guild, "ada")
            await asyncio.sleep(0.002)  # a guild id's shard comes from its timestamp
        ports = [free_port(), free_port()]
        with (
            shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, ports[0], SHARD_COUNT="2", SHARD_IDS="0")) as a,
            shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, ports[1], SHARD_COUNT="2", SHARD_IDS="1")) as b,
        ):
            for process, port in ((a, ports[0]), (b, ports[1])):
                await process.wait_for_line("has connected to Gateway")
                await eventually(lambda port=port: _gateway_detail(port), timeout=30)
            shards = sorted(tuple(s.shard) for s in fake._sessions.values() if s.live)
            assert shards == [(0, 2), (1, 2)]
            for guild in fake.guilds.values():
                result = await fake.invoke(guild, members[guild.id], "goal list", timeout=10)
                assert result.ephemeral or result.content is not None
                callbacks = [
                    r
                    for r in fake.requests
                    if r.method == "POST" and r.path.startswith(f"/interactions/{result.interaction['id']}/")
                ]
                assert len(callbacks) == 1, callbacks  # only the process holding the server's shard answered
            for process in (a, b):
                process.signal(signal.SIGTERM)
            assert [await a.wait(20), await b.wait(20)] == [0, 0]


async def _gateway_detail(port: int) -> bool:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        body = await response.json()
    return body.get("gateway_detail") == "1 shard connected"


def _can_be_pid_one() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run([*AS_PID_ONE, "true"], capture_output=True, check=False)  # noqa: S603
    return probe.returncode == 0


@pytest.mark.skipif(not _can_be_pid_one(), reason="needs unshare and the right to make a PID namespace (root)")
async def test_sigterm_stops_the_bot_running_as_pid_1_as_in_a_container(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild(name="Builders")
        port = free_port()
        with shiplog_process(["run"], tmp_path, pid_one=True, **bot_env(fake, db_url, port)) as bot:
            await bot.wait_for_line("has connected to Gateway")
            bot.signal(signal.SIGTERM)
            # Without its own handler the kernel would drop the signal, and this wait would time out.
            assert await bot.wait(20) == 0, bot.output
        assert "received SIGTERM: stopping" in bot.output
        assert "stopped cleanly" in bot.output


async def test_sigterm_while_logging_in_exits_0(db_url: str, tmp_path: Path) -> None:
    async with FakeDiscord() as fake:
        fake.add_guild(name="Builders")
        fake.rest_delay = 1.0  # the login is still under way when the signal comes
        port = free_port()
        with shiplog_process(["run"], tmp_path, **bot_env(fake, db_url, port)) as bot:
            assert (await bot.wait_healthy(port))["status"] == "starting"
            bot.signal(signal.SIGTERM)
            assert await bot.wait(20) == 0, bot.output
        assert "stopped cleanly" in bot.output
        assert "Traceback" not in bot.output


async def test_sigterm_during_the_migration_lets_it_finish_then_exits_0_before_starting(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")  # as shiplog makes it (SQLite switches modes without waiting)
    holder.execute("BEGIN IMMEDIATE")  # the migration waits for this write lock
    env = {
        "DISCORD_TOKEN": "x" * 60,
        "DATABASE_URL": f"sqlite+aiosqlite:///{path}",
        "HTTP_PORT": str(free_port()),
        URL_VARIABLE: f"http://127.0.0.1:{free_port()}",
    }
    try:
        with shiplog_process(["run"], tmp_path, **env) as bot:
            # The process has the database open: it is in the migration, waiting for the lock.
            await eventually(lambda: _has_open(bot.proc.pid, path), timeout=20)
            bot.signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert bot.proc.poll() is None  # the signal did not cut the migration
            holder.rollback()
            assert await bot.wait(30) == 0, bot.output
    finally:
        holder.close()
    assert "Running upgrade 0008 -> 0009" in bot.output  # the migration ran to its end
    assert "received SIGTERM while migrating: stopping before the bot starts" in bot.output
    assert "web server listening" not in bot.output


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    return any(fd.resolve() == path for fd in fds.iterdir() if fd.is_symlink())
