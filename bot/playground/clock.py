"""A clock that runs with real time and can be moved forward: the bot's `clock` in the tests and the playground."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import datetime, timedelta


class Clock:
    """Starts at `start` and runs with real time; `advance` jumps it forward."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("the clock needs an aware start time")
        self._start = start
        self._origin = time.monotonic()
        self._offset = timedelta()
        self._moved = asyncio.Event()  # set (and replaced) at each move: sleepers look again

    def __call__(self) -> datetime:
        return self._start + self._offset + timedelta(seconds=time.monotonic() - self._origin)

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by `delta` (never back: what the bot stored stays in its past)."""
        if delta < timedelta():
            raise ValueError("the clock only moves forward")
        self._offset += delta
        self._woken()

    def advance_to(self, when: datetime) -> None:
        """Move the clock forward to `when`, if that is ahead of it."""
        ahead = when - self()
        if ahead > timedelta():
            self._offset += ahead
            self._woken()

    def _woken(self) -> None:
        self._moved.set()
        self._moved = asyncio.Event()

    async def sleep(self, seconds: float) -> None:
        """Wait until this clock has moved `seconds` forward, by real time or by `advance` (the bot's sleep)."""
        until = self() + timedelta(seconds=seconds)
        while (left := (until - self()).total_seconds()) > 0:
            moved = self._moved
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(moved.wait(), left)
