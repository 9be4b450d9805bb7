"""Review-wait nudges: a member's open PR that waits too long for a first review gets a polite reminder.

The radar notes open PRs and whether GitHub's search says they have no review (`review:none`).
Members choose with `/me review-nudges`: "off" (the default), "ping" (a line in their weekly ping
block) or "dm". A PR is nudged at most once a week per member, wherever the nudge went.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubOpenPR, Guild, Member, ReviewNudge
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services import audience, messages, outbox
from bot.services.github.urls import safe_url
from bot.services.guilds import ensure_member

# The ping shows what waits, so the value lives beside the ping's text (no circle back through here).
from bot.services.rhythm.ping import WaitingPR

log = logging.getLogger(__name__)

MODES = ("off", "ping", "dm")
REPEAT_AFTER = timedelta(days=7)
LISTED = 3  # PRs in one DM, each with its follow-up: it stays under Discord's 2,000 characters
# Open PRs the radar has not seen for this long may be closed by now: no nudge about them.
FRESH = timedelta(hours=24)


def follow_up(pr: WaitingPR) -> str:
    """Return a polite follow-up a member can copy into their PR."""
    return (
        f"Hi! Friendly ping on this PR: it's been open for {pr.days} days. Whenever a maintainer has a moment, "
        "I'd be glad of a review, and I'm happy to make any changes needed. Thank you for your time!"
    )


async def set_mode(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, mode: str) -> str:
    """Choose how the member hears about PRs waiting for review."""
    if mode not in MODES:
        raise UserError(f"Pick one of: {', '.join(MODES)}.")
    async with transaction(sessionmaker) as session:
        (await ensure_member(session, guild_id, user_id)).review_nudges = mode
    return mode


async def waiting(
    session: AsyncSession, guild_id: int, *, now: datetime, mode: str | None = None, user_ids: set[int] | None = None
) -> dict[int, list[WaitingPR]]:
    """Return each member's PRs that wait for a first review past the server's setting.

    With `mode`, only members who chose it, and only PRs not nudged in the last week.
    """
    days = await session.scalar(select(Guild.review_wait_days).where(Guild.id == guild_id)) or 7
    query = (
        select(GitHubAccount.user_id, GitHubOpenPR)
        .join(GitHubOpenPR, GitHubOpenPR.github_id == GitHubAccount.github_id)
        .join(Guild, Guild.id == GitHubAccount.guild_id)
        .where(
            GitHubAccount.guild_id == guild_id,
            Guild.radar_enabled.is_(True),
            GitHubOpenPR.unreviewed.is_(True),
            GitHubOpenPR.opened_at <= now - timedelta(days=days),
            GitHubOpenPR.seen_at >= now - FRESH,
        )
        .order_by(GitHubAccount.user_id, GitHubOpenPR.opened_at)
    )
    if mode is not None:
        query = query.join(
            Member, (Member.guild_id == GitHubAccount.guild_id) & (Member.user_id == GitHubAccount.user_id)
        ).where(Member.review_nudges == mode, audience.reachable())  # nobody who left is nudged
    if user_ids is not None:
        query = query.where(GitHubAccount.user_id.in_(user_ids))
    recent = set()
    if mode is not None:
        recent = {
            (u, repo, n)
            for u, repo, n in await session.execute(
                select(ReviewNudge.user_id, ReviewNudge.repo, ReviewNudge.number).where(
                    ReviewNudge.guild_id == guild_id, ReviewNudge.nudged_at > now - REPEAT_AFTER
                )
            )
        }
    out: defaultdict[int, list[WaitingPR]] = defaultdict(list)
    for user_id, pr in await session.execute(query):
        if (user_id, pr.repo, pr.number) in recent:
            continue
        out[user_id].append(WaitingPR(pr.repo, pr.number, pr.title, safe_url(pr.url), (now - pr.opened_at).days))
    return dict(out)


async def mark_nudged(
    session: AsyncSession, guild_id: int, user_id: int, prs: list[WaitingPR], *, now: datetime
) -> None:
    """Record the nudges, in the transaction that queued them."""
    for pr in prs:
        row = await session.get(ReviewNudge, (guild_id, user_id, pr.repo, pr.number))
        if row is None:
            session.add(ReviewNudge(guild_id=guild_id, user_id=user_id, repo=pr.repo, number=pr.number, nudged_at=now))
        else:
            row.nudged_at = now


async def queue_dm_nudges(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime) -> int:
    """Queue a DM to every member who chose DMs and has PRs waiting (each PR once a week).

    Each server in a transaction of its own: one server's trouble never holds back the others.
    """
    async with reading(sessionmaker) as session:
        guild_ids = list(await session.scalars(select(Member.guild_id).where(Member.review_nudges == "dm").distinct()))
    queued = 0
    for guild_id in guild_ids:
        try:
            async with transaction(sessionmaker) as session:
                queued += await _queue_guild_nudges(session, guild_id, now=now)
        except Exception:
            log.exception("guild %s: could not queue review-wait nudges; trying again next pass", guild_id)
    return queued


async def _queue_guild_nudges(session: AsyncSession, guild_id: int, *, now: datetime) -> int:
    queued = 0
    for user_id, prs in (await waiting(session, guild_id, now=now, mode="dm")).items():
        prs = prs[:LISTED]
        await mark_nudged(session, guild_id, user_id, prs, now=now)
        nudge = messages.ReviewNudge(
            user_id=user_id,
            prs=tuple(messages.NudgedPR(pr.ref, pr.title, pr.url or "", pr.days, follow_up(pr)) for pr in prs),
        )
        row = await outbox.enqueue(
            session,
            nudge,
            guild_id=guild_id,
            channel_id=None,
            now=now,
            dedupe_key=f"nudge:{guild_id}:{user_id}:{now:%Y-%m-%dT%H:%M}",
        )
        queued += row is not None
    return queued
