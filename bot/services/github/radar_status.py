"""What `/github-admin status` shows of a server's linked members (the radar's own state is in radar.py)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubProfile, Guild
from bot.db.session import reading


async def status(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> dict[str, Any]:
    """Return what `/github-admin status` shows about a server's members (the radar's own state is in memory)."""
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        rows = (
            await session.execute(
                select(
                    GitHubAccount.user_id,
                    GitHubAccount.login,
                    GitHubAccount.github_id,
                    GitHubProfile.gone_at,
                    GitHubProfile.history_status,
                )
                .outerjoin(GitHubProfile, GitHubProfile.id == GitHubAccount.github_id)
                .where(GitHubAccount.guild_id == guild_id)
                .order_by(GitHubAccount.login_lower)
            )
        ).all()
    return {
        "radar_enabled": guild.radar_enabled if guild else True,
        "celebrate_own_repos": guild.celebrate_own_repos if guild else False,
        "review_wait_days": guild.review_wait_days if guild else 7,
        "linked": len(rows),
        "importing": [(u, login) for u, login, _, gone, state in rows if state == "pending"],
        "gone": [(u, login) for u, login, _, gone, state in rows if gone is not None],
        # Linked by login while GitHub was away: the radar looks the id up (the cog shows who GitHub didn't know).
        "no_id": [(u, login) for u, login, github_id, _, _ in rows if github_id is None],
    }
