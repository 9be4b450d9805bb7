"""What the share buttons and the recap put in a member's hands to post outside Discord.

Each function gathers the data a draft or a picture is made from, and asks `bot.services.audience`
first: nothing from a private repository, nothing about a member who may not be published.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import Activity, Goal, MergedPullRequest
from bot.db.session import reading
from bot.errors import NotFoundError
from bot.services import audience
from bot.services.rhythm.checkins import StreakPicture, streak_picture
from bot.services.sharing import share

__all__ = ["SharePost", "goal_post", "public_streak_picture", "streak_post"]


@dataclass(frozen=True, slots=True)
class SharePost:
    """Ready-to-copy drafts (one per network, share.NETWORKS) for the member they are about."""

    user_id: int
    drafts: dict[str, str]


_GONE = "There's nothing to share about that any more."


@audience.publisher("goal_done")
async def goal_post(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, number: int) -> SharePost:
    """Drafts about a finished goal; its issue's link is left out when the repository is private."""
    async with reading(sessionmaker) as session:
        goal = await session.scalar(select(Goal).where(Goal.guild_id == guild_id, Goal.number == number))
        if goal is None or goal.status != "done":
            raise NotFoundError(f"I can't find a finished goal #{number} any more.")
        if not await audience.may_publish_member(session, guild_id, goal.user_id):
            raise NotFoundError(_GONE)
        hidden = await audience.private_repos(session, guild_id, goal.user_id)
    url = None
    if goal.link_repo and goal.link_number and goal.link_repo.lower() not in hidden:
        url = f"https://github.com/{goal.link_repo}/issues/{goal.link_number}"
    took = (goal.closed_at - goal.created_at).days if goal.closed_at else None
    return SharePost(goal.user_id, share.goal_done(goal=goal.text, url=url, days=took))


@audience.publisher("streak_milestone")
async def streak_post(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, length: int, cadence: str
) -> SharePost:
    """Drafts about a streak milestone (the picture to go with them: `public_streak_picture`)."""
    async with reading(sessionmaker) as session:
        if not await audience.may_publish_member(session, guild_id, user_id):
            raise NotFoundError(_GONE)
    return SharePost(user_id, share.streak_milestone(length=length, cadence=cadence))


@audience.publisher()
async def public_streak_picture(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> StreakPicture:
    """The member's streak picture as it may be published: a day's merges in private repositories are not drawn."""
    picture = await streak_picture(sessionmaker, guild_id=guild_id, user_id=user_id, now=now)
    async with reading(sessionmaker) as session:
        if not await audience.may_publish_member(session, guild_id, user_id):
            return replace(picture, days={})
        hidden = await _private_days(session, guild_id, user_id, since=min(picture.days, default=None))
    if not hidden:
        return picture
    days = {day: count - hidden.get(day, 0) for day, count in picture.days.items()}
    return replace(picture, days={day: count for day, count in days.items() if count > 0})


async def _private_days(session: AsyncSession, guild_id: int, user_id: int, *, since: date | None) -> Counter[date]:
    """Count, per day, the member's activity that is a merge in a private repository."""
    if since is None:
        return Counter()
    private = {
        f"{repo}#{number}"
        for repo, number in await session.execute(
            select(MergedPullRequest.repo, MergedPullRequest.number).where(
                MergedPullRequest.guild_id == guild_id,
                MergedPullRequest.user_id == user_id,
                MergedPullRequest.private.is_(True),
            )
        )
    }
    if not private:
        return Counter()
    rows = await session.execute(
        select(Activity.local_date, Activity.ref).where(
            Activity.guild_id == guild_id,
            Activity.user_id == user_id,
            Activity.kind == "pr",
            Activity.local_date >= since,
        )
    )
    return Counter(day for day, ref in rows if ref in private)
