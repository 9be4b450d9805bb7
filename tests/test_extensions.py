"""Every cog loads, no two define the same command, and no cog starts work of its own."""

from __future__ import annotations

import ast
import asyncio
import collections
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from discord import app_commands

from bot.bot import Shiplog, extension_names
from bot.config import Settings
from bot.db.session import create_engine, create_sessionmaker
from bot.services.dates import parse_due
from bot.workers.scheduler import NUDGES_JOB

# A year, or a date written with one: an example holding one goes stale the day it passes.
ABSOLUTE_DATE = re.compile(r"\b(19|20)[0-9]{2}\b|\b[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}\b")


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
                before = asyncio.all_tasks()
                for name in names:
                    await bot.load_extension(name)
                # Cogs keep commands, listeners and renderers: loops and tasks are workers (bot/workers/).
                assert {task.get_name() for task in asyncio.all_tasks() - before} == set()
                top = collections.Counter(c.name for c in bot.tree.get_commands())
                assert [name for name, n in top.items() if n > 1] == []
                leaves = collections.Counter(c.qualified_name for c in bot.tree.walk_commands())
                assert [name for name, n in leaves.items() if n > 1] == []
                for command in bot.tree.walk_commands():
                    assert command.description and command.description != "…", command.qualified_name
                    assert not ABSOLUTE_DATE.search(command.description), command.qualified_name
                    for param in command.parameters if isinstance(command, app_commands.Command) else []:
                        where = f"/{command.qualified_name} {param.name}"
                        assert not ABSOLUTE_DATE.search(param.description), (where, param.description)
        finally:
            await engine.dispose()


# Run in a fresh interpreter, so nothing is imported yet: every connection the process would open
# (a socket to a database or to Discord, a SQLite file) is refused and named, and so is an engine.
_IMPORT_EVERY_EXTENSION = """
import socket, sqlite3, sys
import sqlalchemy, sqlalchemy.ext.asyncio
opened = []
def refuse(what):
    def call(*args, **kwargs):
        opened.append((current, what))
        raise OSError(f"{what} at import time")
    return call
current = None
socket.socket.connect = refuse("socket.connect")
socket.create_connection = refuse("socket.create_connection")
sqlite3.connect = refuse("sqlite3.connect")
sqlalchemy.create_engine = refuse("create_engine")
sqlalchemy.ext.asyncio.create_async_engine = refuse("create_async_engine")
for current in sys.argv[1:]:
    try:
        __import__(current)
    except OSError:
        pass
print(repr(opened))
"""


def test_importing_every_extension_opens_no_database_and_no_network() -> None:
    """Loading a cog must do nothing but define it: its work starts in setup_hook or cog_load."""
    names = extension_names()
    assert "cogs.goals" in names
    run = subprocess.run(  # noqa: S603 (this Python, this script)
        [sys.executable, "-c", _IMPORT_EVERY_EXTENSION, *names],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=60,
    )
    assert run.stdout.strip() == "[]", run.stdout + run.stderr


@pytest.mark.parametrize(("shard_ids", "radar"), [(None, True), ((0, 1), True), ((1,), False)])
async def test_only_the_process_holding_shard_0_runs_the_radar(db_url: str, shard_ids, radar: bool) -> None:
    engine = create_engine(db_url)
    settings = Settings(discord_token="x" * 30, database_url=db_url, http_port=0, shard_count=2, shard_ids=shard_ids)
    async with httpx.AsyncClient() as client:
        bot = Shiplog(settings=settings, engine=engine, sessionmaker=create_sessionmaker(engine), http_client=client)
        try:
            async with bot:
                for worker in bot.workers.all():
                    await worker.start(bot)
                tasks = {task.get_name() for task in asyncio.all_tasks()}
                assert "shiplog-github" in tasks  # every process processes stored deliveries
                assert "shiplog-outbox" in tasks  # and sends what is owed
                assert ("shiplog-radar" in tasks) is radar
                # The review nudges follow the radar's open PRs: they are queued where it runs.
                assert bot.scheduler is not None
                assert (bot.scheduler.aps.get_job(NUDGES_JOB) is not None) is radar
            assert bot.scheduler is None  # closing stopped every worker
            assert not {t.get_name() for t in asyncio.all_tasks()} & {
                "shiplog-github",
                "shiplog-radar",
                "shiplog-outbox",
            }
        finally:
            await engine.dispose()


# What starts work that outlives the call: a cog that calls one of these runs a loop of its own.
TASK_STARTERS = {"create_task", "ensure_future", "loop", "TaskGroup", "start_soon", "run_in_executor", "Thread"}


def test_no_cog_starts_a_task_or_a_loop() -> None:
    """Cogs keep commands, listeners and renderers; long-running work lives in bot/workers/."""
    found = []
    for path in sorted((Path(__file__).resolve().parent.parent / "cogs").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call):
                callee = node.func
                name = callee.attr if isinstance(callee, ast.Attribute) else getattr(callee, "id", None)
                if name in TASK_STARTERS:
                    found.append(f"{path.name}:{node.lineno} {ast.unparse(callee)}")
    assert found == []


def test_the_due_date_examples_are_relative_and_each_one_parses() -> None:
    from cogs.goals import Goals

    described = Goals.add.parameters[1]
    assert described.name == "due"
    words = described.description.removeprefix("When:").replace(" or ", ",").split(",")
    examples = [e.strip(" .") for e in words if e.strip(" .")]
    assert {"friday", "in 2 weeks", "next month"} <= set(examples)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    commands = readme.split("## Commands", 1)[1].split("\n## ", 1)[0]
    assert not ABSOLUTE_DATE.search(commands), ABSOLUTE_DATE.search(commands)
    # Whatever the day, each example is a date a member can type (the format placeholder aside).
    for now in (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), datetime(2031, 2, 28, 12, 0, tzinfo=UTC)):
        for example in examples:
            if example != "YYYY-MM-DD":
                parse_due(example, now=now, tz=ZoneInfo("UTC"))
