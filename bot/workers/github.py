"""The webhook processor: turns stored GitHub deliveries into celebrations, relays and roles.

The intake (bot/web.py) only stores a delivery and answers 202; this worker processes what is
pending (bot/services/github/events.py's process_batch), in batches, and wakes the outbox sender
after each batch. It writes webhook_deliveries (their status) and, through the batch, the outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from bot.services.github import events as github_events
from bot.workers.base import Host

log = logging.getLogger(__name__)

# Deliveries stored by this process wake the processor at once; those stored by `shiplog web`
# processes wake nobody here, so the processor also looks on its own this often.
IDLE_POLL_SECONDS = 5
# Deliveries the processor takes per transaction while webhooks are arriving (BATCH_SIZE otherwise).
BUSY_BATCH_SIZE = 4


class GitHubProcessor:
    """Processes stored webhook deliveries until stopped (a Worker: bot/workers/base.py)."""

    name = "github"

    def __init__(self) -> None:
        self._host: Host | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: Host) -> None:
        """Start processing; deliveries stored before a crash are still pending: the first round takes them."""
        self._host = host
        self._task = asyncio.create_task(self._process_loop(host), name="shiplog-github")

    async def drain(self) -> None:
        """Let the batch in hand finish (the loop takes no new one once the bot is stopping)."""
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)

    async def hand_back(self) -> int:
        """Cancel what is left: a batch cut off rolls back, its deliveries stay pending for the next start."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return 0

    async def _process_loop(self, bot: Host) -> None:
        while not bot.is_closed() and not bot.stopping.is_set():
            bot.github_wakeup.clear()
            try:
                while not bot.stopping.is_set():
                    # While webhooks pour in, acking them comes first (GitHub waits for the 2xx, not
                    # for the celebration): processing takes smaller batches, so an ack never queues
                    # long behind one on the write lock, and rests as long as each batch took, so it
                    # keeps at most half the process. It never stops, so a flood cannot starve it.
                    busy = bot.intake_busy()
                    started = time.perf_counter()
                    limit = BUSY_BATCH_SIZE if busy else github_events.BATCH_SIZE
                    if not await github_events.process_batch(bot.sessionmaker, now=bot.now(), limit=limit):
                        break
                    # Each batch's messages are committed with it: the outbox can post them now,
                    # not once the whole backlog is processed.
                    bot.wake_outbox()
                    if busy:
                        await asyncio.sleep(time.perf_counter() - started)
            except Exception:
                log.exception("processing GitHub deliveries failed; trying again shortly")
                await asyncio.sleep(5)
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(bot.github_wakeup.wait(), IDLE_POLL_SECONDS)
