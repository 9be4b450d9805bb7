"""A member's week, ready to post: what `/me recap` shows and the opt-in recap DM sends after the digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CheckIn, Goal, Guild, Kudos, Member, MergedPullRequest
from bot.db.session import reading, transaction
from bot.services import audience
from bot.services.guilds import ensure_member
from bot.services.messages import OptIn
from bot.services.rhythm.streaks import member_streak
from bot.services.rhythm.when import DEFAULT_SCHEDULE, Schedule, digest_week
from bot.services.sharing import share

__all__ = ["Recap", "build", "member_week", "recap_members", "set_recap_dms"]


@dataclass(frozen=True, slots=True)
class Recap:
    """What a member did from `start` to `end` (excluded), and the drafts about it."""

    user_id: int
    start: datetime
    end: datetime
    prs: list[tuple[str, int]]  # (repository, merged PRs), most first
    goals_finished: list[str]
    goals_set: int
    checkins: int
    kudos: int
    streak: int
    cadence: str
    next_step: str | None
    drafts: dict[str, str] = field(repr=False)

    @property
    def quiet(self) -> bool:
        return not (self.prs or self.goals_finished or self.checkins)


async def member_week(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime, weeks_back: int = 0
) -> Recap:
    """The recap of a member's week, digest to digest (`rhythm.when.digest_week`), the week the server's
    digest counts: this one so far, or an earlier one."""
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        schedule = Schedule.of(guild) if guild is not None else DEFAULT_SCHEDULE
        start, end = digest_week(schedule, now, weeks_back)
        return await build(session, guild_id=guild_id, user_id=user_id, start=start, end=min(end, now), now=now)


@audience.publisher("weekly_recap")
async def build(
    session: AsyncSession, *, guild_id: int, user_id: int, start: datetime, end: datetime, now: datetime
) -> Recap:
    """Gather a member's recap of [start, end) in the caller's session, and write its drafts.

    Its drafts are meant to be posted outside Discord: merges in private repositories are left out.
    """
    in_week = (MergedPullRequest.merged_at >= start, MergedPullRequest.merged_at < end)
    merged = func.count().label("merged")
    prs = [
        (repo, count)
        for repo, count in await session.execute(
            select(MergedPullRequest.repo, merged)
            .where(
                MergedPullRequest.guild_id == guild_id,
                MergedPullRequest.user_id == user_id,
                audience.public_merges(),
                *in_week,
            )
            .group_by(MergedPullRequest.repo)
            .order_by(merged.desc(), MergedPullRequest.repo)
        )
    ]
    mine = (Goal.guild_id == guild_id, Goal.user_id == user_id)
    finished = list(
        await session.scalars(
            select(Goal.text)
            .where(*mine, Goal.status == "done", Goal.closed_at >= start, Goal.closed_at < end)
            .order_by(Goal.closed_at)
        )
    )
    goals_set = await session.scalar(select(func.count()).where(*mine, Goal.created_at >= start, Goal.created_at < end))
    checkins = await session.scalar(
        select(func.count()).where(
            CheckIn.guild_id == guild_id,
            CheckIn.user_id == user_id,
            CheckIn.created_at >= start,
            CheckIn.created_at < end,
        )
    )
    kudos = await session.scalar(
        select(func.count()).where(
            Kudos.guild_id == guild_id, Kudos.to_user_id == user_id, Kudos.created_at >= start, Kudos.created_at < end
        )
    )
    state = await member_streak(session, guild_id, user_id, now=now)
    next_step = await _next_step(session, guild_id, user_id)
    drafts = share.weekly_recap(
        prs=prs,
        goals_finished=finished,
        goals_set=goals_set or 0,
        checkins=checkins or 0,
        streak=state.current,
        cadence=state.cadence,
        kudos=kudos or 0,
        next_step=next_step,
    )
    return Recap(
        user_id, start, end, prs, finished, goals_set or 0, checkins or 0, kudos or 0, state.current, state.cadence,
        next_step, drafts,
    )  # fmt: skip


async def _next_step(session: AsyncSession, guild_id: int, user_id: int) -> str | None:
    """Suggest what to do next: the oldest open goal, else a good first issue where they merged before."""
    goal = (
        await session.execute(
            select(Goal.number, Goal.text)
            .where(Goal.guild_id == guild_id, Goal.user_id == user_id, Goal.status == "open")
            .order_by(Goal.created_at, Goal.number)
            .limit(1)
        )
    ).first()
    if goal is not None:
        return f"goal #{goal.number}, “{goal.text}”"
    repo = await session.scalar(
        select(MergedPullRequest.repo)
        .where(MergedPullRequest.guild_id == guild_id, MergedPullRequest.user_id == user_id, audience.public_merges())
        .order_by(MergedPullRequest.merged_at.desc())
        .limit(1)
    )
    if repo is not None:
        return f"a good first issue in {repo} (/gfi repo:{repo})"
    return "a good first issue (/gfi finds them by language)"


async def set_recap_dms(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, enabled: bool
) -> None:
    """Opt in to (or out of) the weekly recap by DM."""
    async with transaction(sessionmaker) as session:
        member = await ensure_member(session, guild_id, user_id)
        member.recap_dms = enabled


async def recap_members(session: AsyncSession, guild_id: int) -> list[int]:
    """Return the members of a server who get the weekly recap by DM (not those who left it)."""
    return list(
        await session.scalars(
            select(Member.user_id)
            .where(Member.guild_id == guild_id, audience.reachable(OptIn.RECAP_DMS))
            .order_by(Member.user_id)
        )
    )
