"""The radar runner: runs the passes of the radar (bot/services/github/radar.py), one after another.

The Radar itself is domain code; this worker builds it for the bot, runs `run_forever` where the
fleet's rule says so (the process holding shard 0), and stops it on a stop. The radar
writes github_profiles, github_accounts, github_merges, merged_prs, github_open_prs, app_state
and, for celebrations, the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.services.github.radar import Radar
from bot.workers.base import Host

log = logging.getLogger(__name__)


class RadarRunner:
    """Owns the bot's Radar and its loop (a Worker: bot/workers/base.py)."""

    name = "radar"

    def __init__(self, *, poll_seconds: float, on_pass: Callable[[], None] = lambda: None) -> None:
        self.poll_seconds = poll_seconds
        self.on_pass = on_pass  # called when a pass ends: the scheduler queues the review nudges due
        self.radar: Radar | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, host: Host) -> None:
        """Build the radar; run its passes if this process runs the fleet's jobs."""
        self.radar = Radar(
            host.sessionmaker,
            host.github,
            now=host.now,
            poll_seconds=self.poll_seconds,
            on_queued=host.wake_outbox,
            on_pass=self.on_pass,
        )
        if host.runs_fleet_jobs:
            self._task = asyncio.create_task(self.radar.run_forever(), name="shiplog-radar")
        else:
            log.info("radar: not run here; the fleet's process holding shard 0 runs it")

    def wake(self) -> None:
        """Start a pass now (a member just linked: import their history)."""
        if self.radar is not None:
            self.radar.wakeup.set()

    async def drain(self) -> None:
        """Stop the radar: a pass cut short is continued by the next."""
        await self.hand_back()

    async def hand_back(self) -> int:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return 0
