"""Delivers the outbox: posts every owed message once, retrying what may pass."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
        return f"missing permission (Discord said: {error.text or 'Forbidden'})"
    if isinstance(error, discord.NotFound):
        return "the channel (or member, or role) no longer exists or I can't see it"
    if error.status == 429 or error.status >= 500:
        return None
    return f"Discord refused it ({error.status}: {error.text or 'Bad Request'})"


def units(rows: list[outbox.Claimed]) -> list[list[outbox.Claimed]]:
    """Group claimed rows into what is sent as one: a fold group, or a single row; oldest first."""
    groups: dict[object, list[outbox.Claimed]] = {}
    for row in rows:
        key = (row.fold_key, row.attempts) if row.fold_key is not None else ("row", row.id)
        groups.setdefault(key, []).append(row)
    return sorted(groups.values(), key=lambda group: group[0].id)


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
        """Post every due row; return how many messages were posted."""
        sent = 0
        while True:
            rows = await outbox.claim_due(self.bot.sessionmaker, now=self.bot.now())
            if not rows:
                return sent
            # Channels with a delayed message: later messages there wait for it, to keep their order.
            held: dict[int | None, datetime] = {}
            for unit in units(rows):
                channel_id = unit[0].channel_id
                if channel_id in held:
                    await outbox.release(self.bot.sessionmaker, [r.id for r in unit], until=held[channel_id])
                    continue
                result = await self.deliver(unit)
                if isinstance(result, datetime) and channel_id is not None:
                    held[channel_id] = result
                elif result:
                    sent += 1
            if held:
                return sent

    async def _render(self, unit: list[outbox.Claimed]) -> dict[str, Any]:
        head = unit[0]
        renderer = self.bot.renderers[head.kind]
        data = {"items": [row.data for row in unit]} if head.fold_key is not None else head.data
        kwargs = renderer(data)
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        return kwargs

    async def deliver(self, unit: list[outbox.Claimed]) -> bool | datetime:
        """Post one unit: True when done, False when it failed for good, else when it will be retried."""
        sessionmaker = self.bot.sessionmaker
        head, ids = unit[0], [row.id for row in unit]
        action = self.bot.actions.get(head.kind)
        if action is None and head.kind not in self.bot.renderers:
            await outbox.mark_failed(sessionmaker, ids, error=f"no cog handles messages of kind {head.kind!r}")
            return False
        try:
            if action is not None:
                await action(head.guild_id, head.data)
                message_id = None
            else:
                try:
                    kwargs = await self._render(unit)
                except Exception as exc:
                    log.exception("could not render outbox rows %s (%s)", ids, head.kind)
                    await outbox.mark_failed(sessionmaker, ids, error=f"could not draw the message: {exc!r}")
                    return False
                kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
                channel = self.bot.get_partial_messageable(head.channel_id or 0, guild_id=head.guild_id)
                # Discord drops a second message with the same nonce: a retry after a crash shows once.
                message = await channel.send(nonce=f"shiplog-{head.id}", **kwargs)
                message_id = message.id
        except discord.HTTPException as exc:
            reason = permanent_reason(exc)
            if reason is not None:
                log.warning("outbox rows %s (%s) failed: %s", ids, head.kind, reason)
                await outbox.mark_failed(sessionmaker, ids, error=reason)
                return False
            error = f"Discord answered {exc.status}"
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error = f"network error: {exc!r}"
        else:
            await outbox.mark_sent(sessionmaker, ids, message_id=message_id, now=self.bot.now())
            return True
        when = await outbox.mark_retry(sessionmaker, ids, attempts=head.attempts, error=error, now=self.bot.now())
        if when is None:
            return False
        log.info("outbox rows %s delayed (%s); next attempt at %s", ids, error, when)
        return when


async def setup(bot: Shiplog) -> None:
    await bot.add_cog(Delivery(bot))
