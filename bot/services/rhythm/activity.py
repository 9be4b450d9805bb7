"""Activity that counts for streaks, and the milestones it reaches."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Activity, Goal, Guild
from bot.db.session import changed_rows
from bot.services import messages, outbox
from bot.services.dates import member_today
from bot.services.guilds import member_zone
from bot.services.rhythm.streaks import STREAK_MILESTONES, StreakState, member_streak, refresh_member, refresh_streaks

GOAL_MILESTONE_EVERY = 10


async def record(
    session: AsyncSession,
    *,
    guild_id: int,
    user_id: int,
    kind: str,
    ref: str,
    now: datetime,
    at: datetime | None = None,
) -> bool:
    """Record one activity (a check-in, a merged PR, a finished goal) on the member's local date, once.

    It is dated `at` (when it happened, such as a PR's merge), by default `now`.
    """
    seen = await session.scalar(
        select(Activity.id).where(
            Activity.guild_id == guild_id, Activity.user_id == user_id, Activity.kind == kind, Activity.ref == ref
        )
    )
    if seen is not None:
        return False
    zone = await member_zone(session, guild_id, user_id)
    today = member_today(min(at or now, now), zone)
    session.add(Activity(guild_id=guild_id, user_id=user_id, kind=kind, ref=ref, local_date=today, created_at=now))
    await session.flush()

    # The stored streak (for the leaderboard) moves in the same transaction as the activity.
    state = await refresh_member(session, guild_id, user_id, now=now, zone=zone)
    await celebrate_milestones(session, guild_id=guild_id, user_id=user_id, now=now, state=state)
    return True


async def forget(session: AsyncSession, *, guild_id: int, user_id: int, kind: str, ref: str, now: datetime) -> bool:
    """Take one recorded activity back (a merged PR that no longer counts); False when none was recorded.

    The stored streak is recomputed from what is left, in the same transaction. Milestones already
    celebrated stay celebrated.
    """
    result = await session.execute(
        delete(Activity).where(
            Activity.guild_id == guild_id, Activity.user_id == user_id, Activity.kind == kind, Activity.ref == ref
        )
    )
    if not changed_rows(result):
        return False
    await refresh_streaks(session, guild_id, [user_id], now=now)
    return True


async def celebrate_milestones(
    session: AsyncSession, *, guild_id: int, user_id: int, now: datetime, state: StreakState | None = None
) -> list[str]:
    """Queue celebrations for a streak milestone or a round number of finished goals, each once.

    `state`: the member's streak at `now`, when the caller has just computed it.
    """
    guild = await session.get(Guild, guild_id)
    if guild is None or guild.celebrations_channel_id is None:
        return []
    queued = []
    if state is None:
        state = await member_streak(session, guild_id, user_id, now=now)
    if state.active_now and state.current in STREAK_MILESTONES.get(state.cadence, ()):
        row = await outbox.enqueue(
            session,
            messages.StreakMilestone(user_id=user_id, streak=state.current, cadence=state.cadence),
            guild_id=guild_id,
            channel_id=guild.celebrations_channel_id,
            now=now,
            # The same length reached again in another run is another period, so another key.
            dedupe_key=f"streak:{guild_id}:{user_id}:{state.current}:{state.period.isoformat()}",
        )
        if row is not None:
            queued.append(f"streak:{state.current}")
    finished = await session.scalar(
        select(func.count())
        .select_from(Goal)
        .where(Goal.guild_id == guild_id, Goal.user_id == user_id, Goal.status == "done")
    )
    if finished and finished % GOAL_MILESTONE_EVERY == 0:
        row = await outbox.enqueue(
            session,
            messages.GoalsMilestone(user_id=user_id, goals=finished),
            guild_id=guild_id,
            channel_id=guild.celebrations_channel_id,
            now=now,
            dedupe_key=f"goals:{guild_id}:{user_id}:{finished}",
        )
        if row is not None:
            queued.append(f"goals:{finished}")
    return queued
