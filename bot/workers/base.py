"""The one protocol every worker follows, and what a worker may use of the bot that runs it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, Protocol

import discord
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.services.github.api import GitHubAPI

# A renderer turns an outbox row's message (bot/services/messages/; for a fold, the list of them)
# into the keyword arguments of `Messageable.send`. One renderer or action per message kind.
Renderer = Callable[[Any], Awaitable[dict[str, Any]] | dict[str, Any]]
# An action does something owed other than posting in a channel (a DM, granting a role), given the
# guild id, the message and the row's nonce (for a post, so that a retry after a crash shows once).
Action = Callable[[int | None, Any, str], Awaitable[None]]


class Host(Protocol):
    """What a worker may use of the bot (bot/bot.py's Shiplog): the database, the clock, the
    wakeups, and Discord only through the renderers, the actions and a channel to post in."""

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]: ...

    @property
    def github(self) -> GitHubAPI: ...

    @property
    def stopping(self) -> asyncio.Event: ...

    @property
    def outbox_wakeup(self) -> asyncio.Event: ...

    @property
    def github_wakeup(self) -> asyncio.Event: ...

    @property
    def renderers(self) -> dict[str, Renderer]: ...

    @property
    def actions(self) -> dict[str, Action]: ...

    @property
    def runs_fleet_jobs(self) -> bool: ...

    def now(self) -> datetime: ...

    def is_closed(self) -> bool: ...

    def wake_outbox(self) -> None: ...

    def intake_busy(self) -> bool: ...

    def get_partial_messageable(
        self, id: int, *, guild_id: int | None = None, type: discord.ChannelType | None = None
    ) -> discord.PartialMessageable: ...


class Worker(Protocol):
    """Long-running work the bot starts in setup_hook and drains on stop.

    `start` begins the work (its tasks run until stopped); `drain` takes nothing new and finishes
    what is in hand; `hand_back` stops what is left and returns to the database what was claimed,
    returning how many rows it gave back. `hand_back` may be called again, or without a drain (a
    close), and `start` again after it (a test stopping and resuming a worker).
    """

    name: str

    async def start(self, host: Host) -> None: ...

    async def drain(self) -> None: ...

    async def hand_back(self) -> int: ...
