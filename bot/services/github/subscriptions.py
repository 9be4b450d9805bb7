"""Which repositories' events are relayed into which channels, and milestone roles."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import MilestoneRole, Subscription
from bot.db.session import changed_rows, reading, transaction
from bot.errors import NotFoundError, UserError
from bot.services.github.api import GitHubAPI, validate_repo
from bot.services.github.events import EVENT_KINDS, PR_MILESTONES, REPO_MILESTONE, milestone_key
from bot.services.guilds import ensure_guild

_URL_PREFIX = re.compile(r"^(?:https?://)?(?:www\.)?github\.com/", re.IGNORECASE)
MAX_LABELS = 10
MILESTONES = {milestone_key("prs", n): f"{n} merged PR{'s' if n > 1 else ''}" for n in PR_MILESTONES} | {
    milestone_key("repo", REPO_MILESTONE): f"{REPO_MILESTONE} merged PRs in one repo (on the path to maintainer)"
}


@dataclass(frozen=True, slots=True)
class SubscriptionView:
    """A subscription as admins see it."""

    repo: str
    channel_id: int
    events: list[str]
    labels: list[str]
    include_bots: bool


def parse_repo(text: str) -> str:
    """Return owner/name, as typed, from 'owner/name' or a GitHub URL (compare it in lower case)."""
    return validate_repo(_URL_PREFIX.sub("", text.strip()).rstrip("/"))


def parse_events(text: str | None) -> list[str]:
    """Parse a comma list of event kinds; nothing means all four."""
    if text is None or not text.strip():
        return list(EVENT_KINDS)
    kinds = [part.strip().lower().replace(" ", "-") for part in text.split(",") if part.strip()]
    aliases = {
        "prs": "pulls",
        "pull_requests": "pulls",
        "pull-requests": "pulls",
        "release": "releases",
        "gfi": "good-first-issues",
        "issue": "issues",
        "pull": "pulls",
    }
    kinds = [aliases.get(kind, kind) for kind in kinds]
    unknown = [kind for kind in kinds if kind not in EVENT_KINDS]
    if unknown:
        raise UserError(
            f"I don't know the event kind `{unknown[0][:40]}`. Use a comma list of: {', '.join(EVENT_KINDS)}."
        )
    return [kind for kind in EVENT_KINDS if kind in kinds]


def parse_labels(text: str | None) -> list[str]:
    """Parse a comma list of labels."""
    if text is None:
        return []
    labels = [" ".join(part.split()) for part in text.split(",") if part.strip()]
    if len(labels) > MAX_LABELS or any(len(label) > 50 for label in labels):
        raise UserError(f"Give at most {MAX_LABELS} labels of at most 50 characters each.")
    return labels


def _view(sub: Subscription) -> SubscriptionView:
    return SubscriptionView(sub.repo, sub.channel_id, sub.events.split(","), list(sub.labels or []), sub.include_bots)


async def subscribe(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: GitHubAPI,
    *,
    guild_id: int,
    repo: str,
    channel_id: int,
    events: str | None,
    labels: str | None,
    include_bots: bool,
    by: int,
) -> SubscriptionView:
    """Relay a repository's events into a channel (or change an existing subscription)."""
    name = parse_repo(repo)
    kinds, wanted = parse_events(events), parse_labels(labels)
    name = (await api.repo_exists(name)).lower()  # an unknown repository is refused before anything is stored
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, guild_id)
        sub = await session.scalar(
            select(Subscription).where(
                Subscription.guild_id == guild_id, Subscription.repo == name, Subscription.channel_id == channel_id
            )
        )
        if sub is None:
            sub = Subscription(guild_id=guild_id, repo=name, channel_id=channel_id, created_by=by)
            session.add(sub)
        sub.events, sub.labels, sub.include_bots = ",".join(kinds), wanted, include_bots
        await session.flush()
        return _view(sub)


async def unsubscribe(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, repo: str, channel_id: int | None
) -> int:
    """Stop relaying a repository (into one channel, or everywhere); return how many were removed."""
    name = parse_repo(repo).lower()
    async with transaction(sessionmaker) as session:
        query = delete(Subscription).where(Subscription.guild_id == guild_id, Subscription.repo == name)
        if channel_id is not None:
            query = query.where(Subscription.channel_id == channel_id)
        removed = changed_rows(await session.execute(query))
    if not removed:
        raise NotFoundError(f"This server isn't subscribed to `{name}`{' there' if channel_id else ''}.")
    return removed


async def list_subscriptions(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int
) -> list[SubscriptionView]:
    """Return the server's subscriptions."""
    async with reading(sessionmaker) as session:
        subs = await session.scalars(
            select(Subscription).where(Subscription.guild_id == guild_id).order_by(Subscription.repo, Subscription.id)
        )
        return [_view(sub) for sub in subs]


async def set_milestone_role(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, milestone: str, role_id: int | None
) -> int | None:
    """Attach a role to a milestone (or detach it with None); return the role it had before, if any."""
    if milestone not in MILESTONES:
        raise UserError(f"`{milestone[:40]}` isn't a milestone. Pick one from the list.")
    async with transaction(sessionmaker) as session:
        await ensure_guild(session, guild_id)
        row = await session.get(MilestoneRole, (guild_id, milestone))
        before = row.role_id if row is not None else None
        if role_id is None:
            if row is not None:
                await session.delete(row)
        elif row is None:
            session.add(MilestoneRole(guild_id=guild_id, milestone=milestone, role_id=role_id))
        else:
            row.role_id = role_id
    return before


async def milestone_roles(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int) -> dict[str, int]:
    """Return milestone -> role id for the server."""
    async with reading(sessionmaker) as session:
        rows = await session.scalars(select(MilestoneRole).where(MilestoneRole.guild_id == guild_id))
        return {row.milestone: row.role_id for row in rows}
