"""What admins and members set for the weekly rhythm: the schedule, the streak cadence, the ping's
settings, and each member's reminders and streak DMs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Guild, JobRun
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services import audience
from bot.services.dates import TimezoneError, parse_timezone
from bot.services.guilds import ensure_guild, ensure_member
from bot.services.rhythm import streaks
from bot.services.rhythm.ping import PingSettings
from bot.services.rhythm.runs import missing_jobs
from bot.services.rhythm.when import (
    DEFAULT_SCHEDULE,
    Schedule,
    next_run,
    parse_time,
    parse_weekday,
    period_of,
    previous_run,
    stored_zone,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ScheduleChange:
    """A server's new schedule, when it next posts, and which of its channels are still unset."""

    schedule: Schedule
    next_run: datetime
    unset_channels: tuple[str, ...]


async def set_schedule(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    weekday: str,
    at: str,
    timezone: str | None,
    now: datetime,
) -> ScheduleChange:
    """Set when the server's weekly ping and digest go out; leaving out `timezone` keeps the current one.

    The new schedule applies from its next instant: a time that already passed this week does not
    post late (a restart's catch-up would), and a week whose run already went out does not get another.
    """
    day = parse_weekday(weekday)
    local_time = parse_time(at)
    try:
        zone = parse_timezone(timezone) if timezone is not None else None
    except TimezoneError as exc:
        raise UserError(str(exc)) from None
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        schedule = Schedule(day, local_time, zone or stored_zone(guild.schedule_timezone))
        guild.schedule_weekday, guild.schedule_time = day, f"{local_time:%H:%M}"
        guild.schedule_timezone = schedule.zone.key
        last = previous_run(schedule, now)
        last_period = period_of(schedule, last)
        for job in await missing_jobs(session, guild_id, last_period):
            session.add(JobRun(guild_id=guild_id, job=job, period=last_period, status="skipped", ran_at=now))
        upcoming = next_run(schedule, now)
        if not await missing_jobs(session, guild_id, period_of(schedule, upcoming)):
            upcoming = next_run(schedule, upcoming)
        unset = tuple(purpose for purpose in ("accountability", "digest") if guild.channel_for(purpose) is None)
    log.info("guild %s: weekly schedule is now %s", guild_id, schedule.key)
    return ScheduleChange(schedule, upcoming, unset)


async def get_schedule(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> Schedule:
    """Return the server's schedule (the default until it has a row)."""
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        return Schedule.of(guild) if guild is not None else DEFAULT_SCHEDULE


async def all_schedules(sessionmaker: async_sessionmaker[AsyncSession]) -> dict[int, Schedule]:
    """Return the schedule of every server Shiplog is in (none for a server it was removed from)."""
    async with reading(sessionmaker) as session:
        present = await session.scalars(select(Guild).where(audience.guild_present()))
        return {guild.id: Schedule.of(guild) for guild in present}


async def set_cadence(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, cadence: str, now: datetime
) -> str:
    """Set whether the server's streaks count weeks or days."""
    if cadence not in streaks.CADENCES:
        raise UserError(f"Pick one of: {', '.join(streaks.CADENCES)}.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        changed = guild.cadence != cadence
        guild.cadence = cadence
        if changed:
            await session.flush()
            await streaks.refresh_streaks(session, guild_id, now=now)  # the stored streaks count the new periods
    return cadence


async def set_reminders(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int, enabled: bool
) -> None:
    """Choose whether the member is mentioned in the weekly accountability ping."""
    async with transaction(sessionmaker) as session:
        (await ensure_member(session, guild_id, user_id)).reminders = enabled


async def set_streak_dms(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int, enabled: bool
) -> None:
    """Choose whether the member gets a direct message the day before their streak would break."""
    async with transaction(sessionmaker) as session:
        (await ensure_member(session, guild_id, user_id)).streak_dms = enabled


async def set_ping(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    quiet_only: bool | None = None,
    cap: int | None = None,
    role_id: int | None = None,
    clear_role: bool = False,
) -> PingSettings:
    """Change the given ping settings (None keeps one; a cap of 0 removes the cap) and return them all."""
    if cap is not None and not 0 <= cap <= 1_000_000:
        raise UserError("Pick a cap between 1 and 1,000,000 members, or 0 for no cap.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        if quiet_only is not None:
            guild.ping_quiet_only = quiet_only
        if cap is not None:
            guild.ping_cap = cap or None
        if clear_role:
            guild.ping_role_id = None
        elif role_id is not None:
            guild.ping_role_id = role_id
        return PingSettings.of(guild)
