"""The whole bot, real discord.py client included, against the fake Discord API and a real database."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import respx
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.bot import Shiplog
from bot.config import Settings
from bot.db.session import create_engine, create_sessionmaker
from bot.playground.clock import Clock
from bot.playground.fake_discord import Channel, FakeDiscord, Member, ServerSpec, build_server
from tests.conftest import NOW

WEBHOOK_SECRET = "It's a Secret to Everybody"
# The server every test starts in: an admin with Manage Server (ada), two members and two channels.
SERVER = ServerSpec(
    name="Builders",
    contents=(
        Member("ada", permissions=("manage_guild",)),
        Member("alice"),
        Member("bob"),
        Channel("goals"),
        Channel("celebrations"),
    ),
)


async def eventually(check: Callable[[], Any], timeout: float = 5.0) -> Any:
    """Poll `check` (sync or async) until it returns something truthy or `timeout` passes; return it."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.02)


@dataclass
class World:
    """A server with members and channels, and the bot connected to it."""

    fake: FakeDiscord
    guild: Any
    admin: Any
    alice: Any
    bob: Any
    goals: Any
    celebrations: Any
    db_url: str
    clock: Clock
    bot: Shiplog | None = None
    engine: AsyncEngine | None = None
    http_client: httpx.AsyncClient | None = None
    extra_settings: dict[str, Any] = field(default_factory=dict)
    # GitHub, mocked for the whole test: a request no route matches gets an empty 200, which the
    # client reads as "GitHub isn't answering", so nothing ever reaches the network.
    github: respx.MockRouter | None = None

    @contextmanager
    def mock_github(self) -> Iterator[respx.MockRouter]:
        """Add GitHub routes for a block of the test; they are removed at its end."""
        assert self.github is not None
        try:
            yield self.github
        finally:
            self.github.routes.clear()

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        assert self.bot is not None
        return self.bot.sessionmaker

    async def invoke(self, member: Any, command: str, /, **options: Any) -> Any:
        """Run a slash command as `member` and return what they see."""
        return await self.fake.invoke(self.guild, member, command, **options)

    async def autocomplete(self, member: Any, command: str, option: str, value: str, /, **other: Any) -> list[dict]:
        return await self.fake.autocomplete(self.guild, member, command, option, value, **other)

    async def wait_for_posts(self, channel: Any, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Wait until `channel` holds `count` bot messages and return them."""
        deadline = time.monotonic() + timeout
        while True:
            posts = self.fake.messages_in(channel, include_interactions=False)
            if len(posts) >= count or time.monotonic() > deadline:
                return posts
            await asyncio.sleep(0.02)

    async def start_bot(self, **settings: Any) -> Shiplog:
        """Build the bot as `bot/cli.py` does and connect it to the fake."""
        values = (
            {
                "discord_token": self.fake.token,
                "database_url": self.db_url,
                "http_port": 0,
                "dev_guild_id": self.guild.id,
                "github_webhook_secret": WEBHOOK_SECRET,
                # The radar makes a pass at start and when woken (a link); tests drive the rest.
                "github_poll_seconds": 3600,
            }
            | self.extra_settings
            | settings
        )
        self.engine = create_engine(self.db_url)
        self.http_client = httpx.AsyncClient()
        self.bot = Shiplog(
            settings=Settings(**values),
            engine=self.engine,
            sessionmaker=create_sessionmaker(self.engine),
            http_client=self.http_client,
            clock=self.clock,
            sleep=self.clock.sleep,
        )
        await self.fake.start_bot(self.bot)
        return self.bot

    async def stop_bot(self) -> None:
        """Disconnect and close everything the bot opened."""
        if self.bot is not None:
            await self.fake.stop_bot(self.bot)
            self.bot = None
        if self.http_client is not None:
            await self.http_client.aclose()
            self.http_client = None
        if self.engine is not None:
            await self.engine.dispose()
            self.engine = None

    async def restart_bot(self, before_start: Callable[[], Any] | None = None) -> Shiplog:
        """Stop the bot and start a new process's worth of it on the same database."""
        await self.stop_bot()
        if before_start is not None:
            before_start()
        return await self.start_bot()


@asynccontextmanager
async def world(db_url: str, *, start: bool = True, now: datetime = NOW) -> AsyncIterator[World]:
    """Build the server and (by default) start the bot."""
    with respx.mock(base_url="https://api.github.com", assert_all_called=False, assert_all_mocked=False) as github:
        async with _world(db_url, github, start=start, now=now) as w:
            yield w


@asynccontextmanager
async def _world(db_url: str, github: respx.MockRouter, *, start: bool, now: datetime) -> AsyncIterator[World]:
    async with FakeDiscord() as fake:
        server = build_server(fake, SERVER)
        w = World(
            fake=fake,
            guild=server.guild,
            admin=server.members["ada"],
            alice=server.members["alice"],
            bob=server.members["bob"],
            goals=server.channels["goals"],
            celebrations=server.channels["celebrations"],
            db_url=db_url,
            clock=Clock(now),
            github=github,
        )
        try:
            if start:
                await w.start_bot()
            yield w
        finally:
            await w.stop_bot()
