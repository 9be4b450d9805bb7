"""The outbox's Discord actions: deleting and editing the bot's own messages (/me forget).

The outbox itself is sent by a worker (bot/workers/outbox.py), not by this extension.
"""

from __future__ import annotations

import contextlib
import inspect
from typing import TYPE_CHECKING

import discord
from discord.ext import commands

from bot.services import messages

if TYPE_CHECKING:
    from bot.bot import Shiplog


class Delivery(commands.Cog):
    """Registers the actions that delete and redraw the bot's messages."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot

    async def cog_load(self) -> None:
        self.bot.actions[messages.DiscordDelete.KIND] = self.delete_message
        self.bot.actions[messages.DiscordEdit.KIND] = self.edit_message

    async def delete_message(self, guild_id: int | None, message: messages.DiscordDelete, nonce: str) -> None:
        """Delete one of the bot's messages (an outbox action, queued by /me forget)."""
        with contextlib.suppress(discord.NotFound):  # already gone: what was asked is done
            await self.bot.http.delete_message(message.channel_id, message.message_id, reason="a member's /me forget")

    async def edit_message(self, guild_id: int | None, message: messages.DiscordEdit, nonce: str) -> None:
        """Redraw one of the bot's messages from new data (an outbox action: /me forget leaves a member out)."""
        if message.message is None:
            raise ValueError("an edit with no message to draw")
        kwargs = self.bot.renderers[message.message.KIND](message.message)
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        editable = {k: v for k, v in kwargs.items() if k in ("content", "embed", "embeds", "view", "allowed_mentions")}
        editable.setdefault("allowed_mentions", discord.AllowedMentions.none())
        channel = self.bot.get_partial_messageable(message.channel_id, guild_id=guild_id)
        with contextlib.suppress(discord.NotFound):  # deleted meanwhile: nothing left to edit
            await channel.get_partial_message(message.message_id).edit(**editable)


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Delivery(bot))
