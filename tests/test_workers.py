"""The workers (bot/workers/): the review nudges as a scheduler job, and the one protocol they share."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.config import Settings
from bot.db.models import GitHubAccount, GitHubOpenPR, GitHubProfile, Member
from bot.workers.base import Worker
from bot.workers.scheduler import NUDGES_JOB, SWEEP_MINUTES, Scheduler
from bot.workers.wiring import build_workers
from tests.conftest import NOW
from tests.harness import eventually
from tests.test_schedule import ALICE, GUILD, add_rows, make_guild, outbox_rows


async def _a_pr_waiting_for_review(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker,
        Member(guild_id=GUILD, user_id=ALICE, review_nudges="dm"),
        GitHubProfile(id=901, login="alice-gh"),
    )
    await add_rows(
        sessionmaker,
        GitHubAccount(guild_id=GUILD, user_id=ALICE, github_id=901, login="alice-gh", login_lower="alice-gh"),
        GitHubOpenPR(
            github_id=901,
            repo="org/repo",
            number=7,
            title="waiting",
            url="https://github.com/org/repo/pull/7",
            opened_at=NOW - timedelta(days=10),
            unreviewed=True,
            seen_at=NOW - timedelta(hours=1),
        ),
    )


async def test_the_review_nudges_are_a_scheduler_job_that_a_radar_pass_runs_at_once(sessionmaker) -> None:
    await _a_pr_waiting_for_review(sessionmaker)
    woken: list[bool] = []
    # A process of a fleet that does not run the radar has no review-nudges job: nothing to wake.
    elsewhere = Scheduler(sessionmaker, clock=lambda: NOW, review_nudges=False)
    await elsewhere.start()
    try:
        assert elsewhere.aps.get_job(NUDGES_JOB) is None
        elsewhere.nudge_soon()
        await asyncio.sleep(0.2)
        assert await outbox_rows(sessionmaker, "dm.review_nudge") == []
    finally:
        elsewhere.shutdown()

    scheduler = Scheduler(sessionmaker, clock=lambda: NOW, on_queued=lambda: woken.append(True), review_nudges=True)
    await scheduler.start()
    try:
        job = scheduler.aps.get_job(NUDGES_JOB)
        assert job is not None and job.trigger.interval == timedelta(minutes=SWEEP_MINUTES)
        woken.clear()
        scheduler.nudge_soon()  # what the radar's on_pass does when a pass ends
        (row,) = await eventually(lambda: outbox_rows(sessionmaker, "dm.review_nudge"))
        assert row.data["user_id"] == ALICE and row.channel_id is None
        assert woken == [True]  # the outbox sender is told at once
        # The job runs again every sweep; within the week the same PR is not nudged twice.
        assert await scheduler.queue_review_nudges() == 0
        assert len(await outbox_rows(sessionmaker, "dm.review_nudge")) == 1
    finally:
        scheduler.shutdown()


async def test_every_worker_can_be_handed_back_before_it_started() -> None:
    """A bot whose start failed before setup_hook still closes: handing back unstarted workers is a no-op."""
    workers = build_workers(Settings(discord_token="x" * 30, database_url="sqlite+aiosqlite://", http_port=0))
    every: list[Worker] = workers.all()
    assert [worker.name for worker in every] == ["outbox", "github", "radar", "scheduler"]
    for worker in every:
        await worker.drain()
        assert await worker.hand_back() == 0
    assert workers.radar.radar is None and workers.scheduler.scheduler is None


async def test_a_stop_waits_for_a_running_job_or_cuts_it_off_without_an_error(sessionmaker, caplog) -> None:
    """A drain lets a job APScheduler is running finish; a hand-back cancels it. Neither is logged as
    an error (APScheduler's own shutdown cancels running jobs, which it logs as failed)."""
    caplog.set_level("INFO")
    started, release = asyncio.Event(), asyncio.Event()
    finished: list[str] = []

    async def job(name: str) -> None:
        started.set()
        await release.wait()
        finished.append(name)

    drained = Scheduler(sessionmaker, clock=lambda: NOW)
    drained.aps.start()
    drained.aps.add_job(drained._job(job), args=["drained"])  # no trigger: runs once, at once
    await asyncio.wait_for(started.wait(), 5)
    draining = asyncio.create_task(drained.settle(cut_off=False))
    await asyncio.sleep(0.05)
    assert not draining.done()  # the drain waits for the job in hand
    release.set()
    await asyncio.wait_for(draining, 5)
    assert finished == ["drained"] and not drained.aps.running

    started.clear()
    release.clear()
    cut = Scheduler(sessionmaker, clock=lambda: NOW)
    cut.aps.start()
    cut.aps.add_job(cut._job(job), args=["cut off"])
    await asyncio.wait_for(started.wait(), 5)
    await asyncio.wait_for(cut.settle(cut_off=True), 5)
    assert finished == ["drained"] and not cut.aps.running
    await asyncio.sleep(0.05)  # APScheduler reports a job's end from a callback
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.text
    assert "cut off by the stop" in caplog.text
