"""The weekly digest's facts: the week's merged PRs, goals, longest streaks and kudos, read for the
outbox (the digest message draws them).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import Goal, Kudos, MergedPullRequest
from bot.services.audience import departed
from bot.services.rhythm.streaks import StreakState

DIGEST_LISTED = 5
DIGEST_TOP_KUDOS = 3


async def build_digest(
    session: AsyncSession, guild_id: int, *, start: datetime, end: datetime, states: dict[int, StreakState]
) -> dict[str, Any]:
    """Return the digest of the week from `start` to `end` (excluded) as plain data for the outbox."""
    merged = (
        MergedPullRequest.guild_id == guild_id,
        # Dated by when they merged, not when Shiplog heard of them: a backlog stays in its week.
        MergedPullRequest.merged_at >= start,
        MergedPullRequest.merged_at < end,
    )
    pr_count, authors = (
        await session.execute(select(func.count(), func.count(func.distinct(MergedPullRequest.user_id))).where(*merged))
    ).one()
    prs = await session.execute(
        select(
            MergedPullRequest.user_id,
            MergedPullRequest.repo,
            MergedPullRequest.number,
            MergedPullRequest.title,
            MergedPullRequest.url,
        )
        .where(*merged)
        .order_by(MergedPullRequest.merged_at.desc(), MergedPullRequest.id.desc())
        .limit(DIGEST_LISTED)
    )

    finished = and_(Goal.status == "done", Goal.closed_at >= start, Goal.closed_at < end)
    # Two range counts, each answered from its index (goals by creation, goals by closing).
    goals_set = await session.scalar(
        select(func.count()).where(Goal.guild_id == guild_id, Goal.created_at >= start, Goal.created_at < end)
    )
    goals_finished = await session.scalar(select(func.count()).where(Goal.guild_id == guild_id, finished))
    done_goals = await session.execute(
        select(Goal.user_id, Goal.number, Goal.text)
        .where(Goal.guild_id == guild_id, finished)
        .order_by(Goal.closed_at.desc(), Goal.number.desc())
        .limit(DIGEST_LISTED)
    )

    given = (Kudos.guild_id == guild_id, Kudos.created_at >= start, Kudos.created_at < end)
    kudos_count = await session.scalar(select(func.count()).where(*given))
    received = func.count().label("received")
    top_kudos = await session.execute(
        select(Kudos.to_user_id, received)
        .where(*given)
        .group_by(Kudos.to_user_id)
        .order_by(received.desc(), Kudos.to_user_id)
        .limit(DIGEST_TOP_KUDOS)
    )

    # The week's PRs and goals are history and stay listed; the longest streaks are of members still here.
    gone = await departed(session, guild_id)
    longest = sorted(
        (
            (state.current, user_id, state.cadence)
            for user_id, state in states.items()
            if state.current > 0 and user_id not in gone
        ),
        key=lambda item: (-item[0], item[1]),
    )[:DIGEST_LISTED]
    return {
        "start": start.isoformat(),
        "end": end.isoformat(),
        "prs": {
            "count": pr_count,
            "authors": authors,
            "latest": [
                {"user_id": u, "repo": repo, "number": n, "title": title, "url": url} for u, repo, n, title, url in prs
            ],
        },
        "goals": {
            "set": goals_set,
            "finished": goals_finished,
            "latest_finished": [{"user_id": u, "number": n, "text": text} for u, n, text in done_goals],
        },
        "streaks": [{"user_id": u, "current": current, "cadence": cadence} for current, u, cadence in longest],
        "kudos": {"count": kudos_count or 0, "top": [{"user_id": u, "count": n} for u, n in top_kudos]},
    }
