"""The streak-at-risk direct message: queued once per member and period, to members who asked
for it, the day (or, for a daily streak, the evening) before their streak would break.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Guild, JobRun, Member, OutboxMessage
from bot.db.session import reading, transaction
from bot.services import audience, messages, outbox
from bot.services.dates import member_today
from bot.services.rhythm import streaks
from bot.services.rhythm.when import stored_zone

log = logging.getLogger(__name__)

# The streak-at-risk DM goes out once the member's period ends within this long.
DM_LEAD = timedelta(hours=24)
# A daily period always ends within a day: warn in its evening instead, not at its midnight.
DAILY_DM_LEAD = timedelta(hours=6)


@dataclass(frozen=True, slots=True)
class StreakDM:
    """A direct message queued to a member whose streak breaks when their period ends."""

    guild_id: int
    user_id: int
    streak: int
    freezes: int
    cadence: str
    period: date
    ends_at: datetime


async def queue_streak_dms(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> list[StreakDM]:
    """Queue one DM per member and period to members who opted in, whose streak is at risk and whose
    period ends within DM_LEAD."""
    async with reading(sessionmaker) as session:
        rows = await session.execute(
            select(Member.guild_id, Member.user_id, Member.timezone)
            .join(Guild, Guild.id == Member.guild_id)
            .where(audience.reachable(messages.OptIn.STREAK_DMS), audience.guild_present())
        )
        members: defaultdict[int, dict[int, str]] = defaultdict(dict)
        for guild_id, user_id, zone_name in rows:
            members[guild_id][user_id] = zone_name
    queued: list[StreakDM] = []
    for guild_id, zones in members.items():
        try:
            async with transaction(sessionmaker) as session:
                queued += await _queue_guild_dms(session, guild_id, zones, now=now)
        except IntegrityError:
            log.info("guild %s: another process queued streak DMs at the same time; next round sees them", guild_id)
        except Exception:
            log.exception("guild %s: could not queue streak DMs", guild_id)
    return queued


async def _queue_guild_dms(
    session: AsyncSession, guild_id: int, zones: dict[int, str], *, now: datetime
) -> list[StreakDM]:
    states = await streaks.guild_streaks(session, guild_id, now=now, user_ids=zones.keys())
    candidates = []
    for user_id, zone_name in zones.items():
        state = states[user_id]
        if not state.at_risk:
            continue
        zone = stored_zone(zone_name)
        ends_at = streaks.period_end_utc(member_today(now, zone), zone, state.cadence)
        if now < ends_at <= now + (DM_LEAD if state.cadence == "weekly" else DAILY_DM_LEAD):
            candidates.append(
                StreakDM(guild_id, user_id, state.current, state.freezes, state.cadence, state.period, ends_at)
            )
    if not candidates:
        return []
    recorded = await session.execute(
        select(JobRun.job, JobRun.period).where(
            JobRun.guild_id == guild_id,
            JobRun.job.startswith("dm:"),
            JobRun.period.in_({dm.period.isoformat() for dm in candidates}),
        )
    )
    sent = {tuple(row) for row in recorded}
    queued: list[StreakDM] = []
    rows: list[OutboxMessage] = []
    for dm in candidates:
        job, period = f"dm:{dm.user_id}", dm.period.isoformat()
        if (job, period) in sent:
            continue
        session.add(JobRun(guild_id=guild_id, job=job, period=period, status="done", ran_at=now))
        message = messages.StreakDM(
            user_id=dm.user_id,
            streak=dm.streak,
            freezes=dm.freezes,
            cadence=dm.cadence,
            period=period,
            ends_at=dm.ends_at.isoformat(),
        )
        rows.append(
            outbox.row_for(
                message,
                guild_id=guild_id,
                channel_id=None,
                now=now,
                dedupe_key=f"dm.streak:{guild_id}:{dm.user_id}:{period}",
            )
        )
        queued.append(dm)
    await outbox.enqueue_many(session, rows)
    if queued:
        log.info("guild %s: queued %d streak-at-risk DMs", guild_id, len(queued))
    return queued
