"""Who Shiplog may talk to and about: the one place that answers it.

A member may not be DMed, pinged, celebrated or named when:

- Shiplog was removed from the server (`guilds.left_at`): nothing of the server is posted;
- they left the server (`members.left_at`): no DM, no ping, no celebration; the digest's history
  (their PRs and goals of the week) still names them;
- they were forgotten (`/me forget`): Shiplog stores no row about them at all, so nothing names them;
- they turned that kind of message off (the opt-ins on their `members` row: reminders, streak DMs,
  recap DMs, review-nudge DMs).

The outbox sender asks `refusals` about every message's subjects (bot/services/messages.py) right
before it draws or acts, so no path that queues a message can bypass these rules. The services
also ask it when they choose whom to queue for (`reachable`, `unreachable`, `departed`), which
saves queueing what would only be settled unsent.

The rules about publishing a member's work (public pages, share drafts; a private repository's
merges) belong here too, in functions of their own after the member rules below.

No Discord imports here.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    Activity,
    CheckIn,
    GitHubAccount,
    Goal,
    Guild,
    Kudos,
    Member,
    MemberPage,
    MemberStreak,
    MergedPullRequest,
    RestPeriod,
)
from bot.db.session import reading
from bot.services.messages import OptIn, Role, Subject

__all__ = [
    "DEPARTED_ERROR",
    "FORGOTTEN_ERROR",
    "GONE_ERROR",
    "OPTED_OUT_ERROR",
    "departed",
    "gone_guilds",
    "guild_present",
    "has_left",
    "is_gone",
    "reachable",
    "refusals",
    "unreachable",
]

# Why a message was settled unsent (the outbox row's last_error, which /settings show lists).
GONE_ERROR = "Shiplog was removed from the server before this message could be sent"
DEPARTED_ERROR = "not sent: the member it is about left the server"
FORGOTTEN_ERROR = "not sent: the member it is about asked Shiplog to forget them"
OPTED_OUT_ERROR = "not sent: the member turned these messages off"

# Every opt-in: the condition on a `members` row, and its answer for a member with no row yet (the
# column's default).
_OPT_INS: dict[OptIn, tuple[Any, bool]] = {
    OptIn.REMINDERS: (Member.reminders.is_(True), True),
    OptIn.STREAK_DMS: (Member.streak_dms.is_(True), False),
    OptIn.RECAP_DMS: (Member.recap_dms.is_(True), False),
    OptIn.REVIEW_NUDGE_DMS: (Member.review_nudges == "dm", False),
}


def _opted_in(member: Member | None, opt_in: OptIn) -> bool:
    if member is None:
        return _OPT_INS[opt_in][1]
    if opt_in is OptIn.REMINDERS:
        return bool(member.reminders)
    if opt_in is OptIn.STREAK_DMS:
        return bool(member.streak_dms)
    if opt_in is OptIn.RECAP_DMS:
        return bool(member.recap_dms)
    return member.review_nudges == "dm"


# Where a member's rows live: a member with none of them was forgotten (or never known).
_TRACES = (
    Goal.user_id,
    CheckIn.user_id,
    Activity.user_id,
    MemberStreak.user_id,
    GitHubAccount.user_id,
    MergedPullRequest.user_id,
    Kudos.to_user_id,
    Kudos.from_user_id,
    RestPeriod.user_id,
    MemberPage.user_id,
)


# --- the server -------------------------------------------------------------------------------------


def guild_present() -> ColumnElement[bool]:
    """SQL: the `guilds` row is of a server Shiplog is still in."""
    return Guild.left_at.is_(None)


async def gone_guilds(session: AsyncSession, guild_ids: Collection[int]) -> set[int]:
    """The servers among `guild_ids` that Shiplog was removed from (and not invited back to)."""
    if not guild_ids:
        return set()
    return set(await session.scalars(select(Guild.id).where(Guild.id.in_(guild_ids), Guild.left_at.is_not(None))))


async def is_gone(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> bool:
    """Whether Shiplog was removed from the server (and not invited back)."""
    async with reading(sessionmaker) as session:
        return bool(await gone_guilds(session, [guild_id]))


# --- members ----------------------------------------------------------------------------------------


def reachable(opt_in: OptIn | None = None) -> ColumnElement[bool]:
    """SQL over `members`: the member is still in the server (and, with `opt_in`, chose these messages)."""
    still_here = Member.left_at.is_(None)
    return still_here if opt_in is None else and_(still_here, _OPT_INS[opt_in][0])


async def unreachable(session: AsyncSession, guild_id: int, opt_in: OptIn | None = None) -> set[int]:
    """The members of the server with a row saying they may not be addressed: departed, or (with
    `opt_in`) opted out. Members with no row are reachable when the opt-in's default says so."""
    refused = Member.left_at.is_not(None)
    if opt_in is not None:
        refused = or_(refused, ~_OPT_INS[opt_in][0])
    return set(await session.scalars(select(Member.user_id).where(Member.guild_id == guild_id, refused)))


async def departed(session: AsyncSession, guild_id: int) -> set[int]:
    """The members marked as gone from the server (bot/services/departures.py)."""
    return set(
        await session.scalars(select(Member.user_id).where(Member.guild_id == guild_id, Member.left_at.is_not(None)))
    )


async def has_left(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int) -> bool:
    """Whether the member is marked as gone from the server."""
    async with reading(sessionmaker) as session:
        return user_id in await departed_among(session, guild_id, [user_id])


async def departed_among(session: AsyncSession, guild_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among `user_ids` marked as gone from the server."""
    if not user_ids:
        return set()
    return set(
        await session.scalars(
            select(Member.user_id).where(
                Member.guild_id == guild_id, Member.user_id.in_(user_ids), Member.left_at.is_not(None)
            )
        )
    )


async def _forgotten(session: AsyncSession, guild_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among `user_ids` of whom Shiplog stores no row at all in the server."""
    missing = set(user_ids)
    for column in _TRACES:
        if not missing:
            break
        table = column.class_
        found = await session.scalars(
            select(column).where(table.guild_id == guild_id, column.in_(missing)).distinct()  # type: ignore[attr-defined]
        )
        missing -= set(found)
    return missing


async def refusals(session: AsyncSession, guild_id: int | None, subjects: Iterable[Subject]) -> dict[Subject, str]:
    """Why each of `subjects` may not be addressed in the server (those that may are left out).

    A message with no server (none today) has nobody to ask about: nothing is refused.
    """
    subjects = set(subjects)
    if guild_id is None or not subjects:
        return {}
    user_ids = {subject.user_id for subject in subjects}
    members = {
        member.user_id: member
        for member in await session.scalars(
            select(Member).where(Member.guild_id == guild_id, Member.user_id.in_(user_ids))
        )
    }
    # A member with a `members` row is known; the others may have been forgotten.
    forgotten = await _forgotten(session, guild_id, user_ids - members.keys())
    refused: dict[Subject, str] = {}
    for subject in subjects:
        member = members.get(subject.user_id)
        if subject.user_id in forgotten:
            refused[subject] = FORGOTTEN_ERROR
        elif subject.role is Role.NAME:
            continue  # history: a departed member's merged PR is still the server's week
        elif member is not None and member.left_at is not None:
            refused[subject] = DEPARTED_ERROR
        elif subject.opt_in is not None and not _opted_in(member, subject.opt_in):
            refused[subject] = OPTED_OUT_ERROR
    return refused
