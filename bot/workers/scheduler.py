"""The in-process scheduler: each server's weekly run, the streak-DM and review-nudge sweeps, and retention.

What must run lives in the database (schedules on Guild, runs in JobRun); APScheduler only decides
when to look. Jobs have fixed ids and replace_existing=True. A sync every 15 minutes brings the jobs
in line with the database (a server first seen since the start, a schedule changed by another
process) and catches up missed runs, as the start does; JobRun makes every run happen once.
The review nudges run where the radar runs (the fleet's process holding shard 0), every sweep and
at the end of each radar pass, which saw the open PRs they are about.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.job import Job
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.services import departures, retention
from bot.services.github import nudges
from bot.services.rhythm.runs import RunResult, catch_up, run_weekly
from bot.services.rhythm.settings import all_schedules, get_schedule
from bot.services.rhythm.streak_dms import StreakDM, queue_streak_dms
from bot.services.rhythm.when import Schedule, previous_run
from bot.workers.base import Host

log = logging.getLogger(__name__)

STREAK_DMS_JOB = "streak-dms"
NUDGES_JOB = "review-nudges"
SYNC_JOB = "weekly-sync"
RETENTION_JOB = "retention"
RETENTION_HOURS = 24
SWEEP_MINUTES = 15
_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def weekly_job_id(guild_id: int) -> str:
    """Return the fixed id of a server's weekly job."""
    return f"weekly:{guild_id}"


def cron_trigger(schedule: Schedule) -> CronTrigger:
    """Return the trigger that fires at the schedule's instants."""
    return CronTrigger(
        day_of_week=_CRON_DAYS[schedule.weekday],
        hour=schedule.at.hour,
        minute=schedule.at.minute,
        timezone=schedule.zone,
    )


class Scheduler:
    """A small wrapper around APScheduler's AsyncIOScheduler, with the bot's jobs."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        clock: Callable[[], datetime] = utcnow,
        on_queued: Callable[[], None] = lambda: None,
        retention_days: int | None = None,
        review_nudges: bool = False,
    ) -> None:
        self.sessionmaker = sessionmaker
        self.retention_days = retention_days  # None: no retention job (tests that do not want one)
        self.review_nudges = review_nudges  # False: no review-nudges job (another process runs it)
        self._nudging = False  # the review-nudges job is running...
        self._nudge_again = False  # ...and was asked for again meanwhile: it goes round once more
        self.clock = clock
        self.on_queued = on_queued
        self._running: set[asyncio.Task[Any]] = set()  # jobs in progress, for a stop to wait on or cut off
        self._cut_off = False  # set by stop(): a job cancelled now ends quietly, its transaction rolled back
        # A run that fires late (the loop was busy, the machine slept) still runs, once: the run
        # itself decides whether it is too late.
        self.aps = AsyncIOScheduler(
            timezone=UTC, job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None}
        )

    async def start(self) -> None:
        """Start the scheduler, add a job for every server in the database and catch up missed runs."""
        self.aps.start()
        self.aps.add_job(
            self._job(self.sync),
            IntervalTrigger(minutes=SWEEP_MINUTES),
            id=SYNC_JOB,
            name="weekly sync",
            replace_existing=True,
        )
        self.aps.add_job(
            self._job(self.send_streak_dms),
            IntervalTrigger(minutes=SWEEP_MINUTES),
            id=STREAK_DMS_JOB,
            name="streak-at-risk DMs",
            replace_existing=True,
        )
        if self.review_nudges:
            self.aps.add_job(
                self._job(self.queue_review_nudges),
                IntervalTrigger(minutes=SWEEP_MINUTES),
                id=NUDGES_JOB,
                name="review-wait nudges",
                replace_existing=True,
            )
        if self.retention_days is not None:
            # Daily, the first pass a few minutes after the start (not in it: the start stays quick).
            self.aps.add_job(
                self._job(self.prune),
                IntervalTrigger(hours=RETENTION_HOURS),
                id=RETENTION_JOB,
                name=f"retention ({self.retention_days} days)",
                replace_existing=True,
                next_run_time=datetime.now(UTC) + timedelta(minutes=SWEEP_MINUTES),  # APScheduler keeps real time
            )
        try:
            await self.sync()
        except Exception:
            # The bot must start even if this fails; the next sync tries again.
            log.exception("could not schedule the weekly runs at start; trying again in %d minutes", SWEEP_MINUTES)

    def shutdown(self) -> None:
        """Start no more jobs; a running job is not waited for (`settle` waits for it or cuts it off)."""
        if self.aps.running:
            self.aps.shutdown(wait=False)

    async def settle(self, *, cut_off: bool) -> None:
        """Start no more jobs, then wait for those running (a drain), or cancel them first (a hand-back).

        A job cut off rolls its transaction back and ends quietly: a weekly run is caught up at the
        next start, and the sweeps run again then. Without this, a job still running while the
        process closes its database fails, and APScheduler logs that as an error.
        """
        if self.aps.running:
            self.aps.pause()  # no job starts now; those running go on (a shutdown would cancel them)
        if cut_off:
            self._cut_off = True
            for task in self._running:
                task.cancel()
        if self._running:
            # asyncio.wait, not gather: a drain cut off at the bot's grace leaves the jobs to hand_back.
            await asyncio.wait(set(self._running))
        self.shutdown()

    def _job(self, job: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """Wrap a job function so that a stop can wait for it or cut it off (`settle`)."""

        @functools.wraps(job)
        async def run(*args: Any) -> Any:
            task = asyncio.current_task()
            if task is not None:
                self._running.add(task)
            try:
                return await job(*args)
            except asyncio.CancelledError:
                if not self._cut_off:
                    raise
                log.info("%s cut off by the stop; it runs again at the next start", job.__name__)
                return None
            finally:
                if task is not None:
                    self._running.discard(task)

        return run

    def nudge_soon(self) -> None:
        """Run the review-nudges job now (a radar pass ended: the open PRs it saw may be due a nudge)."""
        if self._nudging:
            self._nudge_again = True
            return
        job = self.aps.get_job(NUDGES_JOB) if self.aps.running else None
        if job is not None:
            job.modify(next_run_time=datetime.now(UTC))  # APScheduler keeps real time

    def schedule_guild(self, guild_id: int, schedule: Schedule) -> Job:
        """Add or replace the server's weekly job."""
        return self.aps.add_job(
            self._job(self.run_guild),
            cron_trigger(schedule),
            args=[guild_id, schedule.key],
            id=weekly_job_id(guild_id),
            name=f"weekly run of guild {guild_id} ({schedule.key})",
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=None,
        )

    def job(self, guild_id: int) -> Job | None:
        """Return the server's weekly job, if scheduled."""
        return self.aps.get_job(weekly_job_id(guild_id))

    async def reschedule(self, guild_id: int) -> Job | None:
        """Follow a changed schedule at once; a server Shiplog was removed from loses its job (None)."""
        if await departures.is_gone(self.sessionmaker, guild_id):
            if (job := self.job(guild_id)) is not None:
                job.remove()
            return None
        return self.schedule_guild(guild_id, await get_schedule(self.sessionmaker, guild_id))

    async def run_guild(
        self, guild_id: int, key: str | None = None, *, scheduled_for: datetime | None = None
    ) -> RunResult | None:
        """Run the server's weekly jobs for its most recent scheduled time (the job function).

        `key` is the schedule the job was added with: when the database says otherwise (another
        process changed it), the job is replaced and nothing runs now.
        """
        now = self.clock()
        current = await get_schedule(self.sessionmaker, guild_id)
        if key is not None and key != current.key:
            log.info("guild %s: schedule changed to %s since this job was added; rescheduling", guild_id, current.key)
            self.schedule_guild(guild_id, current)
            return None
        # APScheduler 3 does not hand the fire time to the job. The job fires at a scheduled instant,
        # so the most recent one is that fire time; a late run finds the same one, or a newer one.
        when = scheduled_for or previous_run(current, now)
        result = await run_weekly(self.sessionmaker, guild_id, scheduled_for=when, now=now)
        if result.queued:
            self.on_queued()
        return result

    async def sync(self) -> list[RunResult]:
        """Make the jobs match the servers' schedules, then catch up missed runs."""
        schedules = await all_schedules(self.sessionmaker)
        for guild_id, schedule in schedules.items():
            job = self.job(guild_id)
            if job is None or job.args[1] != schedule.key:
                self.schedule_guild(guild_id, schedule)
        for job in self.aps.get_jobs():
            if job.id.startswith("weekly:") and int(job.id.removeprefix("weekly:")) not in schedules:
                job.remove()
        return await self.catch_up()

    async def catch_up(self) -> list[RunResult]:
        """Make the runs missed within the catch-up window; record older ones as skipped."""
        results = await catch_up(self.sessionmaker, now=self.clock())
        if any(result.queued for result in results):
            self.on_queued()
        return results

    async def send_streak_dms(self) -> list[StreakDM]:
        """Queue the streak-at-risk DMs that are due (the streak-dms job)."""
        queued = await queue_streak_dms(self.sessionmaker, now=self.clock())
        if queued:
            self.on_queued()
        return queued

    async def queue_review_nudges(self) -> int:
        """Queue the review-wait DMs that are due (the review-nudges job); return how many were queued."""
        self._nudging = True
        queued = 0
        try:
            while True:
                self._nudge_again = False
                queued += await nudges.queue_dm_nudges(self.sessionmaker, now=self.clock())
                if not self._nudge_again:
                    break
        finally:
            self._nudging = False
        if queued:
            self.on_queued()
        return queued

    async def prune(self) -> retention.Pruned:
        """Drop old delivery bodies and prune old sent messages (the retention job)."""
        return await retention.prune(self.sessionmaker, days=self.retention_days or 1, now=self.clock())


class SchedulerWorker:
    """Builds the bot's Scheduler at start and shuts it down on stop (a Worker: bot/workers/base.py)."""

    name = "scheduler"

    def __init__(self, *, retention_days: int | None) -> None:
        self.retention_days = retention_days
        self.scheduler: Scheduler | None = None

    async def start(self, host: Host) -> None:
        """Start the scheduler: add every server's job and catch up missed runs."""
        self.scheduler = Scheduler(
            host.sessionmaker,
            clock=host.now,
            on_queued=host.wake_outbox,
            retention_days=self.retention_days,
            review_nudges=host.runs_fleet_jobs,
        )
        await self.scheduler.start()

    def nudge_soon(self) -> None:
        """Run the review-nudges job now, if this process runs it."""
        if self.scheduler is not None:
            self.scheduler.nudge_soon()

    async def drain(self) -> None:
        """Start no more jobs, and let those running finish (the bot cuts the drain off at its grace)."""
        if self.scheduler is not None:
            await self.scheduler.settle(cut_off=False)

    async def hand_back(self) -> int:
        """Cut off what still runs (a run cut off writes nothing, and is caught up at the next start)."""
        scheduler, self.scheduler = self.scheduler, None
        if scheduler is not None:
            await scheduler.settle(cut_off=True)
        return 0
