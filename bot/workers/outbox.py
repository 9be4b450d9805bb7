"""The outbox sender: posts every owed message once, retrying what may pass.

Channels are independent. A dispatcher claims due rows for channels nobody here is sending to, and
gives each channel its own worker, which posts that channel's messages in order. Discord's rate
limits are per channel, and discord.py sleeps out a 429 inside `send`: that sleep now holds only
its own channel. While a worker works, it renews the lease of the rows it holds, so a claim always
outlives its send (no second process takes them meanwhile), and rows held by a process that died
come back within seconds.

Every way one message can fail ends for that message alone: a retry with backoff, or `failed`
with the reason (shown in `/settings show`, which can retry them).

On a graceful stop the dispatcher claims nothing more, each worker finishes the message it is
sending and gives the rest of its channel back; what is still held when the grace runs out is
given back too. Given back means due now, with the attempt uncounted: another process, or this one
at its next start, takes it at once instead of waiting out a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from datetime import datetime
from typing import Any

import aiohttp
import discord

from bot.services import outbox
from bot.workers.base import Host

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 30.0
CLAIM_BATCH = 50
MAX_CONCURRENT_SENDS = 16  # channels posting at once (Discord's global limit is 50 requests a second)


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


def lane(unit: list[outbox.Claimed]) -> object:
    """Return what orders a unit: its channel, or (for DMs and roles, which have none) the row itself."""
    head = unit[0]
    return head.channel_id if head.channel_id is not None else ("row", head.id)


class OutboxSender:
    """Runs the dispatcher and one worker per busy channel (a Worker: bot/workers/base.py)."""

    name = "outbox"

    def __init__(self) -> None:
        self._host: Host | None = None
        self._task: asyncio.Task[None] | None = None
        self._workers: dict[object, asyncio.Task[None]] = {}
        self._sends = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        self._held: set[int] = set()  # rows the workers hold: their leases are renewed together
        self._renewer: asyncio.Task[None] | None = None
        self._unfinished: set[int] = set()  # rows a cancelled worker held: given back by hand_back
        self._given_back = 0  # rows the workers gave back themselves since the stop began
        self.sent = 0  # messages posted since the sender was built

    @property
    def bot(self) -> Host:
        """The bot this sender posts through (set by `start`)."""
        if self._host is None:
            raise RuntimeError("the outbox sender is not started")
        return self._host

    async def start(self, host: Host) -> None:
        """Start the dispatcher and the lease renewer."""
        self._host = host
        self._task = asyncio.create_task(self._run(), name="shiplog-outbox")
        self._renewer = asyncio.create_task(self._renew_leases(), name="shiplog-outbox-leases")

    async def drain(self) -> None:
        """Claim nothing more and wait until every worker has finished its message (part of a graceful stop)."""
        if self._host is None:
            return
        self.bot.wake_outbox()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)

    async def hand_back(self) -> int:
        """Stop every task and give back the rows still claimed; return how many were given back."""
        tasks = [t for t in [self._task, *self._workers.values()] if t is not None]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # The renewer stops last: a cut-off worker's rows stayed leased until it was gone.
        if self._renewer is not None:
            self._renewer.cancel()
            await asyncio.gather(self._renewer, return_exceptions=True)
        self._task, self._renewer = None, None
        ids = sorted(self._unfinished | self._held)
        self._unfinished.clear()
        self._held.clear()
        if ids and self._host is not None:
            await outbox.release(self.bot.sessionmaker, ids, until=self.bot.now())
        given, self._given_back = self._given_back + len(ids), 0
        if given:
            log.info("gave back %d claimed outbox rows: they are due again at once", given)
        return given

    @property
    def busy_channels(self) -> set[int]:
        return {key for key in self._workers if isinstance(key, int)}

    async def _run(self) -> None:
        # No waiting for the gateway's ready event: posting to a channel by its id needs only the
        # HTTP session, which is logged in before the cogs load.
        while not self.bot.is_closed() and not self.bot.stopping.is_set():
            self.bot.outbox_wakeup.clear()
            try:
                await self.dispatch()
                timeout = await self._seconds_until_next()
            except Exception:
                log.exception("outbox dispatch failed; trying again shortly")
                timeout = 5.0
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.bot.outbox_wakeup.wait(), timeout)

    async def _seconds_until_next(self) -> float:
        due = await outbox.next_due(self.bot.sessionmaker, skip_channels=self.busy_channels)
        if due is None:
            return IDLE_POLL_SECONDS
        return min(max((due - self.bot.now()).total_seconds(), 0.05), IDLE_POLL_SECONDS)

    async def dispatch(self) -> int:
        """Claim due rows of idle channels and start their workers; return how many units were handed out."""
        handed = 0
        while not self.bot.stopping.is_set():
            rows = await outbox.claim_due(
                self.bot.sessionmaker, now=self.bot.now(), limit=CLAIM_BATCH, skip_channels=self.busy_channels
            )
            if not rows:
                return handed
            lanes: dict[object, list[list[outbox.Claimed]]] = {}
            for unit in units(rows):
                lanes.setdefault(lane(unit), []).append(unit)
            for key, queue in lanes.items():
                self._workers[key] = asyncio.create_task(self._work(key, queue), name=f"shiplog-outbox-{key}")
                handed += len(queue)
            if len(rows) < CLAIM_BATCH:
                return handed
        return handed

    async def deliver_due(self) -> int:
        """Post every due row and wait for it; return how many messages were posted (tests, tools)."""
        before = self.sent
        await self.dispatch()
        while self._workers:
            await asyncio.gather(*self._workers.values(), return_exceptions=True)
            await self.dispatch()
        return self.sent - before

    async def _work(self, key: object, queue: list[list[outbox.Claimed]]) -> None:
        """Post one channel's units in order; a delayed one holds back the rest of its channel only."""
        ids = [row.id for unit in queue for row in unit]
        self._held.update(ids)
        index = 0
        try:
            for index, unit in enumerate(queue):
                if self.bot.stopping.is_set():
                    # Stopping: the rest of this channel goes back, due now, for whoever runs next.
                    rest = [row.id for later in queue[index:] for row in later]
                    self._held.difference_update(rest)
                    await outbox.release(self.bot.sessionmaker, rest, until=self.bot.now())
                    self._given_back += len(rest)
                    return
                async with self._sends:
                    result = await self.deliver(unit)
                self._held.difference_update(row.id for row in unit)
                if isinstance(result, datetime):
                    rest = [row.id for later in queue[index + 1 :] for row in later]
                    if rest:
                        await outbox.release(self.bot.sessionmaker, rest, until=result)
                    return
                if result is True:
                    self.sent += 1
        except asyncio.CancelledError:
            # Cut off (a stop's grace ran out): what this worker still held is given back by hand_back.
            self._unfinished.update(row.id for later in queue[index:] for row in later)
            raise
        except Exception:
            # Should deliver() itself fail (the database is down, say), the leases run out and the
            # rows are claimed again: nothing is lost.
            log.exception("outbox worker for %s failed; its messages will be tried again", key)
        finally:
            self._held.difference_update(ids)
            self._workers.pop(key, None)
            self.bot.wake_outbox()  # more may be due for this channel

    async def _renew_leases(self) -> None:
        """Every RENEW_EVERY, extend the leases of all rows the workers still hold, in one statement."""
        while True:
            await asyncio.sleep(outbox.RENEW_EVERY.total_seconds())
            if self._held:
                try:
                    await outbox.renew(self.bot.sessionmaker, sorted(self._held), now=self.bot.now())
                except Exception:
                    log.exception("could not renew the outbox leases; trying again shortly")

    async def _render(self, unit: list[outbox.Addressed]) -> tuple[dict[str, Any], int]:
        """Draw a unit; return the message and how many of its rows it holds (a fold may need several)."""
        head = unit[0]
        renderer = self.bot.renderers[head.row.kind]
        kwargs = renderer([item.message for item in unit] if head.row.fold_key is not None else head.message)
        if inspect.isawaitable(kwargs):
            kwargs = await kwargs
        used = int(kwargs.pop("used", len(unit)))
        return kwargs, max(1, min(used, len(unit)))

    async def deliver(self, unit: list[outbox.Claimed]) -> bool | datetime:
        """Post one unit: True when done, False when it failed for good, else when it will be retried.

        First the audience is asked about every row (outbox.address): a row about a member who may
        not be addressed is settled unsent, and a ping or digest is drawn without them. A fold too
        large for one message goes out as several, each holding the rows it names, each marked sent
        as soon as it is posted (with its first row's nonce).
        """
        if not unit:
            return True
        kind = unit[0].kind
        if kind not in self.bot.actions and kind not in self.bot.renderers:
            ids = [row.id for row in unit]
            await outbox.mark_failed(self.bot.sessionmaker, ids, error=f"no cog handles messages of kind {kind!r}")
            return False
        addressed = await outbox.address(self.bot.sessionmaker, unit)
        if not addressed:
            return False
        while True:
            result = await self._deliver_part(addressed)
            if not isinstance(result, tuple):
                return result
            addressed = addressed[result[0] :]
            if not addressed:
                return True

    async def _deliver_part(self, unit: list[outbox.Addressed]) -> bool | datetime | tuple[int]:
        sessionmaker = self.bot.sessionmaker
        head, ids = unit[0].row, [item.row.id for item in unit]
        action = self.bot.actions.get(head.kind)
        used = len(unit)
        try:
            if action is not None:
                await action(head.guild_id, unit[0].message, head.nonce)
                message_id = None
            else:
                try:
                    kwargs, used = await self._render(unit)
                except Exception as exc:
                    log.exception("could not render outbox rows %s (%s)", ids, head.kind)
                    await outbox.mark_failed(sessionmaker, ids, error=f"could not draw the message: {exc!r}")
                    return False
                ids = ids[:used]
                kwargs.setdefault("allowed_mentions", discord.AllowedMentions.none())
                channel = self.bot.get_partial_messageable(head.channel_id or 0, guild_id=head.guild_id)
                # Discord drops a second message with the same nonce: a retry after a crash shows once.
                message = await channel.send(nonce=head.nonce, **kwargs)
                message_id = message.id
        except discord.HTTPException as exc:
            reason = permanent_reason(exc)
            if reason is not None:
                # The rest of a large fold goes to the same channel: it fails for the same reason.
                log.warning("outbox rows %s (%s) failed: %s", ids, head.kind, reason)
                await outbox.mark_failed(sessionmaker, [item.row.id for item in unit], error=reason)
                return False
            error, limit = f"Discord answered {exc.status}", outbox.MAX_ATTEMPTS
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            error, limit = f"network error: {exc!r}", outbox.MAX_ATTEMPTS
        except Exception as exc:
            # Nobody expected this (a bug, bad data): retry a few times, then show it as failed.
            log.exception("outbox rows %s (%s) raised an unexpected error", ids, head.kind)
            error, limit = f"unexpected error: {exc!r}", outbox.MAX_UNEXPECTED_ATTEMPTS
        else:
            await outbox.mark_sent(sessionmaker, ids, message_id=message_id, now=self.bot.now())
            return (used,) if used < len(unit) else True
        when = await outbox.mark_retry(
            sessionmaker,
            [item.row.id for item in unit],
            attempts=head.attempts,
            error=error,
            now=self.bot.now(),
            max_attempts=limit,
        )
        if when is None:
            return False
        log.info("outbox rows %s delayed (%s); next attempt at %s", ids, error, when)
        return when
