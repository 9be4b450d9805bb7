"""The weekly runs: who the ping mentions, and the ping, the digest and the recap DMs queued once per
server and week, with the catch-up of runs missed while the bot was down.

Exactly once per server and period: a run is recorded as a JobRun row (guild, job, period) in the
same transaction as the outbox rows it queues. The run works its messages out in a read (no write
lock), then writes in one short transaction that first looks at the JobRun rows again and leaves out
any job recorded meanwhile. The unique (guild_id, job, period) constraint is the lock: on SQLite
every write transaction is BEGIN IMMEDIATE, so a second run (a restart, a misfire, another process)
waits for the first's write and then sees its rows; on PostgreSQL the second insert fails, the run
is rolled back and tried once more, and then it sees the rows.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CheckIn, Goal, Guild, JobRun, OutboxMessage
from bot.db.session import chunks, reading, transaction
from bot.services import audience, messages, outbox
from bot.services.github import nudges
from bot.services.rhythm import streaks
from bot.services.rhythm.digest import build_digest
from bot.services.rhythm.ping import DueMember, PingMessage, PingSettings, plan_ping
from bot.services.rhythm.streaks import StreakState
from bot.services.rhythm.when import Schedule, period_of, previous_run, week_closed_by
from bot.services.sharing import recap

log = logging.getLogger(__name__)

JOBS = ("ping", "digest")
# A run missed while the bot was down is still made this long after its time, and skipped after.
CATCH_UP_WINDOW = timedelta(hours=12)
# The review-wait nudge in the ping is a marker; the first few waiting PRs count as nudged.
NUDGES_SHOWN = 3


async def missing_jobs(session: AsyncSession, guild_id: int, period: str) -> list[str]:
    """Return the weekly jobs that have no recorded run for the period."""
    done = set(
        await session.scalars(
            select(JobRun.job).where(JobRun.guild_id == guild_id, JobRun.period == period, JobRun.job.in_(JOBS))
        )
    )
    return [job for job in JOBS if job not in done]


async def due_members(
    session: AsyncSession,
    guild_id: int,
    *,
    now: datetime,
    states: dict[int, StreakState],
    quiet_since: datetime | None = None,
) -> list[DueMember]:
    """Return the members the ping mentions: open goals or a streak at risk, and reminders on; with
    `quiet_since`, only those with no check-in since then.

    Members whose streak is at risk come first (longest streak first), then the rest by id.
    """
    # Members who turned reminders off, and members who left the server (MEMBERS_INTENT).
    opted_out = await audience.unreachable(session, guild_id, messages.OptIn.REMINDERS)
    # Streamed in chunks: a big server has tens of thousands of members with open goals.
    open_count: dict[int, int] = {}
    open_goals = (
        select(Goal.user_id, func.count())
        .where(Goal.guild_id == guild_id, Goal.status == "open")
        .group_by(Goal.user_id)
    )
    async for rows in chunks(session, open_goals):
        open_count.update(rows)
    at_risk = {user_id: state.current for user_id, state in states.items() if state.at_risk}
    waiting = await nudges.waiting(session, guild_id, now=now, mode="ping")
    checked_in: set[int] = set()
    if quiet_since is not None:
        recent = (
            select(CheckIn.user_id).where(CheckIn.guild_id == guild_id, CheckIn.created_at >= quiet_since).distinct()
        )
        async for rows in chunks(session, recent):
            checked_in.update(user_id for (user_id,) in rows)
    due: list[DueMember] = []
    for done, user_id in enumerate(open_count.keys() | at_risk.keys() | waiting.keys(), 1):
        if user_id not in opted_out and user_id not in checked_in:
            due.append(
                DueMember(
                    user_id=user_id,
                    open_goals=open_count.get(user_id, 0),
                    streak_at_risk=at_risk.get(user_id, 0),
                    waiting=tuple(waiting.get(user_id, ())),
                )
            )
        if done % YIELD_EVERY == 0:
            await asyncio.sleep(0)
    due.sort(key=lambda m: (-m.streak_at_risk, m.user_id))
    return due


@dataclass(frozen=True, slots=True)
class JobOutcome:
    """What one job of a run did: 'done' (messages queued, maybe none), 'skipped' (recorded as not
    posted, for `reason`) or 'already' (an earlier run recorded it; nothing done now)."""

    job: str
    status: str
    messages: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class RunResult:
    """A server's weekly run for one period."""

    guild_id: int
    period: str
    scheduled_for: datetime
    outcomes: tuple[JobOutcome, ...]

    @property
    def queued(self) -> int:
        """Return how many messages the run queued."""
        return sum(outcome.messages for outcome in self.outcomes)

    def outcome(self, job: str) -> JobOutcome | None:
        """Return what `job` did in this run."""
        return next((outcome for outcome in self.outcomes if outcome.job == job), None)


async def run_weekly(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, scheduled_for: datetime, now: datetime
) -> RunResult:
    """Queue the server's ping and digest for the period of `scheduled_for`, unless already done.

    More than CATCH_UP_WINDOW after `scheduled_for`, a job not yet done is recorded as skipped instead.
    The messages are worked out in a read (no write lock; the event loop gets a turn every
    YIELD_EVERY members), then one short transaction looks at the JobRun rows again and records the
    runs with their outbox rows: a job another run recorded in between is left to it.
    """
    for attempt in (1, 2):
        try:
            return await _run_weekly(sessionmaker, guild_id, scheduled_for=scheduled_for, now=now)
        except IntegrityError:
            # Another process recorded the same period between our check and our insert (PostgreSQL);
            # the next attempt sees its rows.
            if attempt == 2:
                raise
            log.info("guild %s: another process ran the weekly jobs at the same time; checking again", guild_id)
    raise AssertionError("unreachable")


# The streak walk gives the event loop a turn after this many members.
YIELD_EVERY = 200


@dataclass(frozen=True, slots=True)
class _Planned:
    """A job of a run as worked out in the read: its messages (outbox data), or why it is skipped."""

    job: str
    channel_id: int | None
    reason: str = ""
    payloads: tuple[messages.Message, ...] = ()
    nudged: tuple[DueMember, ...] = ()  # mentioned members whose waiting PRs the ping marks
    dms: tuple[messages.RecapDM, ...] = ()  # recap DMs sent after the digest (one per member)


async def _run_weekly(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, scheduled_for: datetime, now: datetime
) -> RunResult:
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        if guild is None or guild.left_at is not None:  # Shiplog was removed: nothing runs, nothing is recorded
            return RunResult(guild_id, "", scheduled_for, ())
        schedule = Schedule.of(guild)
        period = period_of(schedule, scheduled_for)
        missing = await missing_jobs(session, guild_id, period)
        if not missing:
            return RunResult(guild_id, period, scheduled_for, tuple(JobOutcome(job, "already") for job in JOBS))
        plans = await _plan_jobs(session, guild, schedule, period, missing, scheduled_for=scheduled_for, now=now)

    # The write: short, whatever the server's size. BEGIN IMMEDIATE waits for a concurrent run's
    # write, and then this look sees its rows (on PostgreSQL a race ends in IntegrityError, retried).
    async with transaction(sessionmaker) as session:
        still_missing = set(await missing_jobs(session, guild_id, period))
        outcomes = [JobOutcome(job, "already") for job in JOBS if job not in still_missing or job not in missing]
        rows: list[dict[str, Any]] = []
        for plan in plans:
            if plan.job not in still_missing:
                continue
            status = "skipped" if plan.reason else "done"
            session.add(JobRun(guild_id=guild_id, job=plan.job, period=period, status=status, ran_at=now))
            if plan.reason:
                outcomes.append(JobOutcome(plan.job, "skipped", reason=plan.reason))
                continue
            for member in plan.nudged:  # nudged in the transaction of the ping: never twice in a week
                await nudges.mark_nudged(
                    session, guild_id, member.user_id, list(member.waiting[:NUDGES_SHOWN]), now=now
                )
            rows += [
                outbox.values_for(
                    message,
                    guild_id=guild_id,
                    channel_id=plan.channel_id,
                    now=now,
                    dedupe_key=f"rhythm:{guild_id}:{period}:{plan.job}:{n}",
                )
                for n, message in enumerate(plan.payloads)
            ]
            # After the digest: the same transaction, so each opted-in member gets it once a week.
            rows += [
                outbox.values_for(
                    dm,
                    guild_id=guild_id,
                    channel_id=None,
                    now=now,
                    dedupe_key=f"rhythm:{guild_id}:{period}:recap:{dm.user_id}",
                )
                for dm in plan.dms
            ]
            outcomes.append(JobOutcome(plan.job, "done", messages=len(plan.payloads)))
        await session.flush()
        if rows:
            await session.execute(insert(OutboxMessage), rows)
    for outcome in outcomes:
        if outcome.status == "skipped":
            log.warning("guild %s: skipped the weekly %s of %s: %s", guild_id, outcome.job, period, outcome.reason)
        elif outcome.status == "done":
            log.info(
                "guild %s: queued the weekly %s of %s (%d messages)", guild_id, outcome.job, period, outcome.messages
            )
    outcomes.sort(key=lambda outcome: JOBS.index(outcome.job))
    return RunResult(guild_id, period, scheduled_for, tuple(outcomes))


async def _plan_jobs(
    session: AsyncSession,
    guild: Guild,
    schedule: Schedule,
    period: str,
    missing: Sequence[str],
    *,
    scheduled_for: datetime,
    now: datetime,
) -> list[_Planned]:
    """Work out each missing job's messages, or why it is skipped (reads only)."""
    plans: list[_Planned] = []
    states: dict[int, StreakState] | None = None
    for job in missing:
        channel_id = guild.channel_for("accountability" if job == "ping" else "digest")
        if now - scheduled_for > CATCH_UP_WINDOW:
            plans.append(
                _Planned(
                    job, channel_id, f"missed by {_hours(now - scheduled_for)}, more than {_hours(CATCH_UP_WINDOW)}"
                )
            )
            continue
        if channel_id is None:
            plans.append(
                _Planned(job, channel_id, f"no {'accountability' if job == 'ping' else 'digest'} channel is set")
            )
            continue
        if states is None:
            states = await streaks.stored_states(session, guild.id, now=now, yield_every=YIELD_EVERY)
        week_start, _ = week_closed_by(schedule, scheduled_for)
        if job == "ping":
            settings = PingSettings.of(guild)
            members = await due_members(
                session, guild.id, now=now, states=states, quiet_since=week_start if settings.quiet_only else None
            )
            await asyncio.sleep(0)
            pings, mentioned = plan_ping(members, settings, cadence=guild.cadence)
            nudged = tuple(member for member in mentioned if member.waiting)
            plans.append(_Planned(job, channel_id, payloads=tuple(ping_payload(m) for m in pings), nudged=nudged))
        else:
            data = await build_digest(session, guild.id, start=week_start, end=scheduled_for, states=states)
            dms = await _recap_dms(session, guild, start=week_start, end=scheduled_for, now=now)
            digest = messages.Digest.decode(data | {"period": period})
            plans.append(_Planned(job, channel_id, payloads=(digest,), dms=dms))
        await asyncio.sleep(0)
    return plans


async def _recap_dms(
    session: AsyncSession, guild: Guild, *, start: datetime, end: datetime, now: datetime
) -> tuple[messages.RecapDM, ...]:
    """The recap DMs of the week that ends with this digest, for the members who asked for them."""
    dms = []
    for user_id in await recap.recap_members(session, guild.id):
        week = await recap.build(session, guild_id=guild.id, user_id=user_id, start=start, end=end, now=now)
        dms.append(messages.RecapDM(user_id=user_id, start=start.isoformat(), quiet=week.quiet, drafts=week.drafts))
        await asyncio.sleep(0)
    return tuple(dms)


def ping_payload(message: PingMessage) -> messages.Ping:
    """Return a ping message as the outbox's value (render_ping draws it)."""
    return messages.Ping(content=message.content, user_ids=tuple(message.user_ids), role_ids=tuple(message.role_ids))


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.1f} hours"


async def catch_up(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> list[RunResult]:
    """Make (or, when too late, record as skipped) every server's most recent run that is missing.

    A server created after its most recent scheduled time has nothing to catch up.
    """
    async with reading(sessionmaker) as session:
        wanted: dict[int, tuple[datetime, str]] = {}
        for guild in await session.scalars(select(Guild).where(audience.guild_present())):
            schedule = Schedule.of(guild)
            last = previous_run(schedule, now)
            if guild.created_at <= last:
                wanted[guild.id] = (last, period_of(schedule, last))
        periods = {period for _, period in wanted.values()}
        rows = await session.execute(
            select(JobRun.guild_id, JobRun.job, JobRun.period).where(JobRun.job.in_(JOBS), JobRun.period.in_(periods))
        )
        recorded = {tuple(row) for row in rows}
    results = []
    for guild_id, (last, period) in sorted(wanted.items()):
        if all((guild_id, job, period) in recorded for job in JOBS):
            continue
        try:
            results.append(await run_weekly(sessionmaker, guild_id, scheduled_for=last, now=now))
        except Exception:
            log.exception("guild %s: could not catch up the weekly run of %s", guild_id, period)
    return results
