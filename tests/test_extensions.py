"""Every cog loads, and no two define the same command."""

from __future__ import annotations

import asyncio
import collections

import httpx
import pytest

from bot.bot import Shiplog, extension_names
from bot.config import Settings
from bot.db.session import create_engine, create_sessionmaker


async def test_every_extension_loads_and_command_names_are_unique(db_url: str) -> None:
    engine = create_engine(db_url)
    async with httpx.AsyncClient() as client:
        bot = Shiplog(
            settings=Settings(discord_token="x" * 30, database_url=db_url, http_port=0),
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            http_client=client,
        )
        # discord.py's AutoShardedClient is set up by `async with` (or start), and can only close once set up.
        try:
            async with bot:
                names = extension_names()
                assert "cogs.goals" in names and not any(n.split(".")[-1].startswith("_") for n in names)
                for name in names:
                    await bot.load_extension(name)
                top = collections.Counter(c.name for c in bot.tree.get_commands())
                assert [name for name, n in top.items() if n > 1] == []
                leaves = collections.Counter(c.qualified_name for c in bot.tree.walk_commands())
                assert [name for name, n in leaves.items() if n > 1] == []
                for command in bot.tree.walk_commands():
                    assert command.description and command.description != "…", command.qualified_name
        finally:
            await engine.dispose()


@pytest.mark.parametrize("name", extension_names())
def test_cogs_import_no_database_or_network_at_import_time(name: str) -> None:
    __import__(name)


@pytest.mark.parametrize(("shard_ids", "radar"), [(None, True), ((0, 1), True), ((1,), False)])
async def test_only_the_process_holding_shard_0_runs_the_radar(db_url: str, shard_ids, radar: bool) -> None:
    engine = create_engine(db_url)
    settings = Settings(discord_token="x" * 30, database_url=db_url, http_port=0, shard_count=2, shard_ids=shard_ids)
    async with httpx.AsyncClient() as client:
        bot = Shiplog(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), http_client=client)
        try:
            async with bot:
                await bot.load_extension("cogs.github")
                tasks = {task.get_name() for task in asyncio.all_tasks()}
                assert "shiplog-github" in tasks  # every process processes stored deliveries
                assert ("shiplog-radar" in tasks) is radar
        finally:
            await engine.dispose()
