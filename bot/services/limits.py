"""Spam limits: kudos per rolling 24 hours, one public check-in per cooldown, both kept through /me forget.

Counting and then inserting must not let two commands of one member both pass a limit. SQLite's
transactions start with BEGIN IMMEDIATE (bot/db/session.py), so they run one at a time; PostgreSQL
runs them side by side, so each first takes the member's row with SELECT ... FOR UPDATE (see
`lock_member`): a second command of the same member waits there until the first commits, and its
count, a later statement in READ COMMITTED, then sees the first one's row.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import CheckIn, Kudos, LimitMark, Member
from bot.services.guilds import ensure_member

KUDOS_PER_DAY = 5
KUDOS_WINDOW = timedelta(hours=24)
CHECKIN_COOLDOWN = timedelta(minutes=10)
WINDOWS = {"kudos": KUDOS_WINDOW, "checkin": CHECKIN_COOLDOWN}


def member_key(guild_id: int, user_id: int) -> str:
    """Return the name a member's limit marks go by: a hash, not their id."""
    return hashlib.sha256(f"shiplog-limits:{guild_id}:{user_id}".encode()).hexdigest()


async def lock_member(session: AsyncSession, guild_id: int, user_id: int, *, create: bool = True) -> Member | None:
    """Return the member's row (created first, unless told not to), locked until the transaction ends.

    The lock is PostgreSQL's; SQLite renders no FOR UPDATE, its BEGIN IMMEDIATE already locks.
    """
    if create:
        await ensure_member(session, guild_id, user_id)
    return await session.scalar(
        select(Member)
        .where(Member.guild_id == guild_id, Member.user_id == user_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def prune(session: AsyncSession, now: datetime) -> None:
    """Delete the marks whose window has passed, in every server."""
    await session.execute(
        delete(LimitMark).where(
            or_(*((LimitMark.kind == kind) & (LimitMark.at <= now - window) for kind, window in WINDOWS.items()))
        )
    )


async def _marks(session: AsyncSession, guild_id: int, user_id: int, kind: str, since: datetime) -> list[datetime]:
    rows = await session.scalars(
        select(LimitMark.at).where(
            LimitMark.guild_id == guild_id,
            LimitMark.member == member_key(guild_id, user_id),
            LimitMark.kind == kind,
            LimitMark.at > since,
        )
    )
    return list(rows)


async def kudos_given(session: AsyncSession, guild_id: int, user_id: int, now: datetime) -> list[datetime]:
    """Return when the member gave the kudos of the last 24 hours, oldest first (call under `lock_member`)."""
    since = now - KUDOS_WINDOW
    rows = await session.scalars(
        select(Kudos.created_at).where(
            Kudos.guild_id == guild_id, Kudos.from_user_id == user_id, Kudos.created_at > since
        )
    )
    return sorted([*rows, *await _marks(session, guild_id, user_id, "kudos", since)])


async def last_checkin_post(session: AsyncSession, guild_id: int, user_id: int, now: datetime) -> datetime | None:
    """Return when the member's last shared check-in within the cooldown was made, if any."""
    since = now - CHECKIN_COOLDOWN
    posted = await session.scalar(
        select(func.max(CheckIn.created_at)).where(
            CheckIn.guild_id == guild_id,
            CheckIn.user_id == user_id,
            CheckIn.posted.is_(True),
            CheckIn.created_at > since,
        )
    )
    times = [t for t in (posted, *await _marks(session, guild_id, user_id, "checkin", since)) if t is not None]
    return max(times, default=None)


async def keep_through_forget(session: AsyncSession, guild_id: int, user_id: int, now: datetime) -> None:
    """Before /me forget deletes them, keep the times of the member's recent kudos and check-in post."""
    await prune(session, now)
    key = member_key(guild_id, user_id)
    kudos = await session.scalars(
        select(Kudos.created_at).where(
            Kudos.guild_id == guild_id, Kudos.from_user_id == user_id, Kudos.created_at > now - KUDOS_WINDOW
        )
    )
    marks = [LimitMark(guild_id=guild_id, member=key, kind="kudos", at=at) for at in kudos]
    posted = await session.scalar(
        select(func.max(CheckIn.created_at)).where(
            CheckIn.guild_id == guild_id,
            CheckIn.user_id == user_id,
            CheckIn.posted.is_(True),
            CheckIn.created_at > now - CHECKIN_COOLDOWN,
        )
    )
    if posted is not None:
        marks.append(LimitMark(guild_id=guild_id, member=key, kind="checkin", at=posted))
    session.add_all(marks)


async def export_marks(session: AsyncSession, guild_id: int, user_id: int) -> list[dict[str, str]]:
    """Return the member's marks (kept from an earlier /me forget) for /me export."""
    rows = await session.scalars(
        select(LimitMark).where(LimitMark.guild_id == guild_id, LimitMark.member == member_key(guild_id, user_id))
    )
    return [{"kind": m.kind, "at": m.at.isoformat()} for m in rows]
