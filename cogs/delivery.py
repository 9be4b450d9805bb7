"""Delivers the outbox: posts every owed message once, retrying what may pass."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import datetime
from typing import TYPE_CHECKING

import aiohttp
import discord
from discord.ext import commands

from bot.services import outbox

if TYPE_CHECKING:
    from bot.bot import Shiplog

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 30.0


def permanent_reason(error: discord.HTTPException) -> str | None:
    """Return why a Discord error will never pass, or None when a retry may succeed."""
    if isinstance(error, discord.Forbidden):
        return f"missing permission to post there (Discord said: {error.text or 'Forbidden'})"
    if isinstance(error, discord.NotFound):
        return "the channel no longer exists or I can't see it"
    if error.status == 429 or error.status >= 500:
        return None
    return f"Discord refused the message ({error.status}: {error.text or 'Bad Request'})"


class Delivery(commands.Cog):
    """Runs one loop that posts due outbox rows in order."""

    def __init__(self, bot: Shiplog) -> None:
        self.bot = bot
        self._task: asyncio.Task[None] | None = None

    async def cog_load(self) -> None:
        self._task = asyncio.create_task(self._run(), name="shiplog-outbox")

    async def cog_unload(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        await self.bot.wait_until_ready()
        while not self.bot.is_closed():
            self.bot.outbox_wakeup.clear()
            try:
                await self.deliver_due()
                timeout = await self._seconds_until_next()
            except Exception:
                log.exception("outbox delivery round failed; trying again shortly")
                timeout = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bot.outbox_wakeup.wait(), timeout)

    async def _seconds_until_next(self) -> float:
        due = await outbox.next_due(self.bot.sessionmaker)
        if due is None:
            return IDLE_POLL_SECONDS
        return min(max((due - self.bot.now()).total_seconds(), 0.05), IDLE_POLL_SECONDS)

    async def deliver_due(self) -> int:
        """Post every due row; return how many were posted."""
        sent = 0
        while True:
            rows = await outbox.claim_due(self.bot.sessionmaker, now=self.bot.now())
            if not rows:
                return sent
            # Channels with a delayed message: later messages there wait for it, to keep their order.
            held: dict[int, datetime] = {}
            for row in rows:
                if row.channel_id in held:
                    await outbox.release(self.bot.sessionmaker, row.id, until=held[row.channel_id])
                    continue
                result = await self.deliver(row)
                if isinstance(result, datetime):
                    held[row.channel_id] = result
                elif result:
                    sent += 1
            if held:
                return sent

    async def deliver(self, row: outbox.Claimed) -> bool | datetime:
        """Post one row: True when posted, False when it failed for good, else when it will be retried."""
        sessionmaker = self.bot.sessionmaker
        renderer = self.bot.renderers.get(row.kind)
        if renderer is None:
            await outbox.mark_failed(sessionmaker, row.id, error=f"no cog draws messages of kind {row.kind!r}")
            return False
        try:
            kwargs = renderer(row.data)
            if inspect.isawaitable(kwargs):
                kwargs = await kwargs
        except Exception as exc:
            log.exception("could not render outbox row %s (%s)", row.id, row.kind)
            await outbox.mark_failed(sessionmaker, row.id, error=f"could not draw the message: {exc!r}")
            return False
        kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
        channel = self.bot.get_partial_messageable(row.channel_id, guild_id=row.guild_id)
        try:
            # Discord drops a second message with the same nonce: a retry after a crash shows once.
            message = await channel.send(nonce=f"shiplog-{row.id}", **kwargs)
        except discord.HTTPException as exc:
            reason = permanent_reason(exc)
            if reason is not None:
                log.warning("outbox row %s to channel %s failed: %s", row.id, row.channel_id, reason)
                await outbox.mark_failed(sessionmaker, row.id, error=reason)
                return False
            error = f"Discord answered {exc.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"network error: {exc!r}"
        else:
            await outbox.mark_sent(sessionmaker, row.id, message_id=message.id, now=self.bot.now())
            return True
        when = await outbox.mark_retry(sessionmaker, row.id, attempts=row.attempts, error=error, now=self.bot.now())
        if when is None:
            return False
        log.info("outbox row %s delayed (%s); next attempt at %s", row.id, error, when)
        return when


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Delivery(bot))
