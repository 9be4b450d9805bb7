"""Shiplog removed from a server or invited back, and (with MEMBERS_INTENT) members leaving and rejoining.

Only listeners: what each event changes lives in bot/services/departures.py. The server events come
with the default intents: GUILD_DELETE without `unavailable` is a removal (`on_guild_remove`); an
outage is `on_guild_unavailable`, which changes nothing here. Member events need the privileged
members intent; `on_raw_member_remove` arrives whether or not the member was cached. A leave that
happened while no process was connected is found at start (`on_ready`): the members Shiplog stores
are looked up in each server, and those no longer there are marked as left.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.services import departures

if TYPE_CHECKING:
    from bot.bot import Shiplog

log = logging.getLogger(__name__)

# Discord answers a request for members by id with at most 100 of them.
MEMBERS_PER_REQUEST = 100


class Departures(commands.Cog):
    """Follows Shiplog's own membership of servers, and members' (with the members intent)."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    @commands.Cog.listener()
    async def on_guild_remove(self, guild: discord.Guild) -> None:
        """Shiplog was removed (kicked, banned, the server deleted): stop everything for the server."""
        settled = await departures.guild_left(self.bot.sessionmaker, guild.id, now=self.bot.now())
        if settled is not None:
            self.bot.dispatch("schedule_changed", guild.id)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """Shiplog was invited: a server it had left gets its schedule and pages back."""
        if await departures.guild_joined(self.bot.sessionmaker, guild.id, now=self.bot.now()):
            self.bot.dispatch("schedule_changed", guild.id)

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """Mark gone the servers this process's shards no longer list (removed while it was offline),
        and (with MEMBERS_INTENT) the members who left a server meanwhile.

        The bot's on_ready fires once every shard of this process is ready: READY then listed each
        shard's servers, unavailable ones included, so a server missing from the cache was removed.
        A server on a shard another process holds is left to that process.
        """
        shard_count = self.bot.shard_count or 1
        shards = set(self.bot.shards)

        def holds(guild_id: int) -> bool:
            return (guild_id >> 22) % shard_count in shards

        present = {guild.id for guild in self.bot.guilds}
        gone = await departures.reconcile_guilds(
            self.bot.sessionmaker, present=present, holds=holds, now=self.bot.now()
        )
        for guild_id in gone:
            self.bot.dispatch("schedule_changed", guild_id)
        if gone:
            log.info("Shiplog was removed from %d server(s) while offline: %s", len(gone), gone)
        if self.bot.intents.members:
            for guild in list(self.bot.guilds):
                await self.reconcile_members(guild)

    async def reconcile_members(self, guild: discord.Guild) -> list[int] | None:
        """Mark as left the stored members a server no longer lists (they left while Shiplog was offline).

        Only the members Shiplog stores something about are asked for, a hundred per gateway request
        (the whole member list of a big server is not needed). Nobody is marked when the list is not
        known: the server unavailable, or a request that failed or timed out. Return who was marked,
        or None when the server could not be checked.
        """
        if guild.unavailable:
            return None
        stored = await departures.stored_members(self.bot.sessionmaker, guild.id)
        present: set[int] = set()
        try:
            for start in range(0, len(stored), MEMBERS_PER_REQUEST):
                batch = stored[start : start + MEMBERS_PER_REQUEST]
                found = await guild.query_members(user_ids=batch, limit=len(batch), cache=False)
                present.update(member.id for member in found)
        except (TimeoutError, discord.ClientException, discord.HTTPException) as exc:
            log.warning("guild %s: could not read the member list (%r); nobody is marked as left", guild.id, exc)
            return None
        return await departures.reconcile_members(
            self.bot.sessionmaker, guild.id, checked=stored, present=present, now=self.bot.now()
        )

    @commands.Cog.listener()
    async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
        """A member left (MEMBERS_INTENT): no more mentions or DMs, and their public page closes at once."""
        if self.bot.user is not None and payload.user.id == self.bot.user.id:
            return  # Shiplog itself: on_guild_remove handles it
        closed = await departures.member_left(
            self.bot.sessionmaker, payload.guild_id, payload.user.id, now=self.bot.now()
        )
        log.info("guild %s: a member left%s", payload.guild_id, "; their public page is closed" if closed else "")

    @commands.Cog.listener()
    async def on_member_join(self, member: discord.Member) -> None:
        """A member came back (MEMBERS_INTENT): mentioned and messaged again; their page stays closed."""
        await departures.member_joined(self.bot.sessionmaker, member.guild.id, member.id)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Departures(bot))
