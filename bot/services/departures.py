"""When Shiplog is removed from a server, or a member leaves one: what stops, and what comes back.

A server Shiplog was removed from is marked gone (`guilds.left_at`): no weekly run is planned or
caught up for it, its pending messages are settled as failed (they could only meet 403s and 404s),
and its public pages answer 404. Nothing is deleted: a re-invite clears the mark and everything
resumes, pages at their old addresses included.

A member who left (heard with the members intent, found missing from the server's member list at
start with it (`reconcile_members`), or told by an admin's `/settings member-left`)
is marked gone (`members.left_at`): the weekly ping leaves them out, they get no streak or recap
DMs, and their public page is closed at once, as if they had opted out. Their goals and history
stay; rejoining clears the mark (their page stays closed until they open it again).

Writes `guilds.left_at` (and the radar's restart point on a return), `members.left_at`, the status
of a gone server's outbox rows, JobRun rows (a run missed while gone, recorded as skipped), and
deletes a departing member's `member_pages` row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from sqlalchemy import exists, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, Goal, Guild, JobRun, Member, MemberPage, MemberStreak, OutboxMessage
from bot.db.session import changed_rows, insert_ignore, reading, transaction
from bot.services.audience import GONE_ERROR, has_left, is_gone
from bot.services.guilds import restart_radar_cursors
from bot.services.rhythm import when
from bot.services.rhythm.runs import JOBS
from bot.services.sharing import pages

__all__ = [
    "guild_joined",
    "guild_left",
    "has_left",
    "is_gone",
    "member_joined",
    "member_left",
    "reconcile_guilds",
    "reconcile_members",
    "stored_members",
]

log = logging.getLogger(__name__)


async def guild_left(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, now: datetime) -> int | None:
    """Mark the server gone and settle its pending messages; return how many were settled.

    None when Shiplog never stored anything for the server (nothing is stored for it now either).
    """
    async with transaction(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        if guild is None:
            return None
        if guild.left_at is None:
            guild.left_at = now
        settled = await settle_outbox(session, [guild_id])
    log.info("guild %s: Shiplog was removed; %d pending messages settled as failed", guild_id, settled)
    return settled


async def settle_outbox(session: AsyncSession, guild_ids: Collection[int]) -> int:
    """Mark the pending messages of gone servers as failed (not sent, never retried by themselves)."""
    if not guild_ids:
        return 0
    result = await session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.guild_id.in_(guild_ids), OutboxMessage.status == "pending")
        .values(status="failed", last_error=GONE_ERROR)
    )
    return changed_rows(result)


async def guild_joined(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, *, now: datetime) -> bool:
    """Clear the server's gone mark (a re-invite); return whether it was gone.

    The weekly run whose time fell while Shiplog was away is recorded as skipped: a re-invite must
    not post last Monday's ping hours late. The next one goes out as usual. The radar starts again
    from now, as when an admin turns it back on (the radar does not search for a gone server's
    members meanwhile).
    """
    async with transaction(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        if guild is None or guild.left_at is None:
            return False
        left_at, guild.left_at = guild.left_at, None
        if guild.radar_enabled:
            # As when the radar is turned back on: what merged while Shiplog was away is not celebrated now.
            guild.radar_since = now
            await restart_radar_cursors(session, guild_id, now)
        schedule = when.Schedule.of(guild)
        last = when.previous_run(schedule, now)
        if last >= left_at:
            period = when.period_of(schedule, last)
            done = set(
                await session.scalars(select(JobRun.job).where(JobRun.guild_id == guild_id, JobRun.period == period))
            )
            session.add_all(
                JobRun(guild_id=guild_id, job=job, period=period, status="skipped", ran_at=now)
                for job in JOBS
                if job not in done
            )
    log.info("guild %s: Shiplog is back (away since %s)", guild_id, left_at.isoformat())
    return True


async def reconcile_guilds(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    present: Collection[int],
    holds: Callable[[int], bool],
    now: datetime,
) -> list[int]:
    """Mark gone the servers removed while no process was connected; return their ids.

    `present` is every server the gateway listed for this process's shards (unavailable ones too);
    `holds` says whether a server's shard is one of them. A server on another process's shard is
    never judged here.
    """
    present = set(present)
    async with reading(sessionmaker) as session:
        known = list(await session.scalars(select(Guild.id).where(Guild.left_at.is_(None))))
    gone = [guild_id for guild_id in known if holds(guild_id) and guild_id not in present]
    for guild_id in gone:
        await guild_left(sessionmaker, guild_id, now=now)
    return gone


async def stored_members(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> list[int]:
    """Return the members of a server Shiplog stores something about and does not know to have left.

    These are the ones it could mention, message or publish: to check against the server's member
    list when it was not listening (`reconcile_members`).
    """
    async with reading(sessionmaker) as session:
        left = select(Member.user_id).where(Member.guild_id == guild_id, Member.left_at.is_not(None))
        ids: set[int] = set()
        for model in (Member, MemberPage, Goal, MemberStreak, GitHubAccount):
            ids.update(
                await session.scalars(
                    select(model.user_id).where(model.guild_id == guild_id, model.user_id.not_in(left)).distinct()
                )
            )
    return sorted(ids)


async def reconcile_members(
    sessionmaker: async_sessionmaker[AsyncSession],
    guild_id: int,
    *,
    checked: Collection[int],
    present: Collection[int],
    now: datetime,
) -> list[int]:
    """Mark as left the members who left while no process was listening; return their ids.

    `checked` are the members whose presence was asked of Discord (from `stored_members`) and
    `present` those it found in the server: only a member asked about and not found is marked, as
    if their leave had been heard live (`member_left`: their public page closes). The caller must
    not call this when the member list could not be read (no members intent, the server
    unavailable, a request that failed): nobody is judged on a list that is not known.
    """
    found = set(present)
    gone = [user_id for user_id in checked if user_id not in found]
    for user_id in gone:
        await member_left(sessionmaker, guild_id, user_id, now=now)
    if gone:
        log.info("guild %s: %d member(s) left while Shiplog was offline", guild_id, len(gone))
    return gone


async def _knows_member(session: AsyncSession, guild_id: int, user_id: int) -> bool:
    """Whether Shiplog stores anything that would mention or message the member."""
    for model, user_column in (
        (Goal, Goal.user_id),
        (MemberStreak, MemberStreak.user_id),
        (GitHubAccount, GitHubAccount.user_id),
    ):
        found = await session.scalar(select(exists().where(model.guild_id == guild_id, user_column == user_id)))
        if found:
            return True
    return False


async def member_left(
    sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int, *, now: datetime
) -> bool:
    """Mark the member gone and close their public page; return whether their page was closed.

    A member Shiplog knows nothing about leaves nothing behind: no row is made for them.
    """
    closed = await pages.close_page(sessionmaker, guild_id=guild_id, user_id=user_id)
    async with transaction(sessionmaker) as session:
        member = await session.get(Member, (guild_id, user_id))
        if (
            member is None
            and await session.get(Guild, guild_id) is not None
            and await _knows_member(session, guild_id, user_id)
        ):
            await insert_ignore(session, Member, [{"guild_id": guild_id, "user_id": user_id}])
            member = await session.get(Member, (guild_id, user_id))
        if member is not None and member.left_at is None:
            member.left_at = now
    return closed


async def member_joined(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int) -> bool:
    """Clear the member's gone mark (they rejoined); return whether they were gone."""
    async with transaction(sessionmaker) as session:
        result = await session.execute(
            update(Member)
            .where(Member.guild_id == guild_id, Member.user_id == user_id, Member.left_at.is_not(None))
            .values(left_at=None)
        )
        return bool(changed_rows(result))
