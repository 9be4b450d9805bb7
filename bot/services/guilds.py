"""Per-server settings and members' own preferences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import CHANNEL_PURPOSES, GitHubAccount, GitHubProfile, Guild, Member, OutboxMessage, Subscription
from bot.db.session import changed_rows, insert_ignore, reading, transaction
from bot.errors import UserError
from bot.services.dates import parse_timezone


async def ensure_guild(session: AsyncSession, guild_id: int) -> Guild:
    """Return the guild's row, creating it on first use."""
    guild = await session.get(Guild, guild_id)
    if guild is None:
        await insert_ignore(session, Guild, [{"id": guild_id}])
        guild = await session.get_one(Guild, guild_id)
    return guild


async def ensure_member(session: AsyncSession, guild_id: int, user_id: int) -> Member:
    """Return the member's row, creating it (and the guild's) on first use."""
    member = await session.get(Member, (guild_id, user_id))
    if member is None:
        await ensure_guild(session, guild_id)
        await insert_ignore(session, Member, [{"guild_id": guild_id, "user_id": user_id}])
        member = await session.get_one(Member, (guild_id, user_id))
    return member


async def member_zone(session: AsyncSession, guild_id: int, user_id: int) -> ZoneInfo:
    """Return the member's time zone (UTC until they set one)."""
    member = await session.get(Member, (guild_id, user_id))
    return ZoneInfo(member.timezone) if member is not None else ZoneInfo("UTC")


async def set_timezone(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, name: str
) -> str:
    """Set the member's time zone from an IANA name and return the canonical name."""
    try:
        zone = parse_timezone(name)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    async with transaction(sessionmaker) as session:
        member = await ensure_member(session, guild_id, user_id)
        member.timezone = zone.key
    return zone.key


async def set_channel(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    purpose: str,
    channel_id: int | None,
    now: datetime,
) -> int:
    """Point one of the server's purposes (goals, celebrations, ...) at a channel, or clear it.

    Messages that could not be delivered in the channel it replaces are sent to the new one (in the
    same transaction); return how many.
    """
    if purpose not in CHANNEL_PURPOSES:
        raise UserError(f"`{purpose}` isn't a channel purpose. Pick one of: {', '.join(CHANNEL_PURPOSES)}.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        old = guild.channel_for(purpose)
        setattr(guild, f"{purpose}_channel_id", channel_id)
        if old is None or channel_id is None or old == channel_id:
            return 0
        result = await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.guild_id == guild_id,
                OutboxMessage.status == "failed",
                OutboxMessage.channel_id == old,
            )
            .values(channel_id=channel_id, status="pending", attempts=0, next_attempt_at=now)
        )
        return changed_rows(result)


@dataclass(frozen=True, slots=True)
class RadarSettings:
    """How the server watches linked members' pull requests."""

    enabled: bool
    own_repos: bool
    review_wait_days: int


async def set_radar(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    enabled: bool | None = None,
    own_repos: bool | None = None,
    review_wait_days: int | None = None,
    now: datetime,
) -> RadarSettings:
    """Change the given radar settings (None keeps one) and return them all."""
    if review_wait_days is not None and not 1 <= review_wait_days <= 90:
        raise UserError("Pick between 1 and 90 days.")
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        if enabled and not guild.radar_enabled:
            guild.radar_since = now
            await restart_radar_cursors(session, guild_id, guild.radar_since)
        if enabled is not None:
            guild.radar_enabled = enabled
        if own_repos is not None:
            guild.celebrate_own_repos = own_repos
        if review_wait_days is not None:
            guild.review_wait_days = review_wait_days
        return RadarSettings(guild.radar_enabled, guild.celebrate_own_repos, guild.review_wait_days)


async def restart_radar_cursors(session: AsyncSession, guild_id: int, now: datetime) -> None:
    """Start the server's members' radar searches from `now` (the radar turned back on, Shiplog back in the server).

    The radar then celebrates what merges from now on, not what merged while it was off: members
    watched by no other server (with the radar on, and Shiplog in it) start their search from now.
    """
    elsewhere = (
        select(GitHubAccount.github_id)
        .join(Guild, Guild.id == GitHubAccount.guild_id)
        .where(
            Guild.radar_enabled.is_(True),
            Guild.left_at.is_(None),
            Guild.id != guild_id,
            GitHubAccount.github_id.is_not(None),
        )
    )
    here = select(GitHubAccount.github_id).where(GitHubAccount.guild_id == guild_id)
    await session.execute(
        update(GitHubProfile)
        .where(GitHubProfile.id.in_(here), GitHubProfile.id.not_in(elsewhere))
        .values(checked_through=now)
    )


@dataclass(frozen=True, slots=True)
class FailedDelivery:
    """A message that could not be delivered and will not be retried."""

    channel_id: int | None  # None for a DM or an action (a role to grant)
    kind: str
    error: str
    count: int


@dataclass(frozen=True, slots=True)
class GuildSettings:
    """What `/settings show` displays."""

    channels: dict[str, int | None]
    pending_messages: int
    failed: list[FailedDelivery]


async def get_settings(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> GuildSettings:
    """Return the server's settings and the state of its message deliveries."""
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        channels = {p: (guild.channel_for(p) if guild else None) for p in CHANNEL_PURPOSES}
        pending = await session.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.guild_id == guild_id, OutboxMessage.status == "pending")
        )
        rows = await session.execute(
            select(
                OutboxMessage.channel_id,
                OutboxMessage.kind,
                OutboxMessage.last_error,
                func.count(),
            )
            .where(OutboxMessage.guild_id == guild_id, OutboxMessage.status == "failed")
            .group_by(OutboxMessage.channel_id, OutboxMessage.kind, OutboxMessage.last_error)
            .order_by(func.max(OutboxMessage.id).desc())
            .limit(10)
        )
        failed = [FailedDelivery(channel_id=c, kind=k, error=e or "unknown error", count=n) for c, k, e, n in rows]
    return GuildSettings(channels=channels, pending_messages=pending or 0, failed=failed)


@dataclass(frozen=True, slots=True)
class ServerSummary:
    """What `/about` says about a server: its settings in short."""

    channels: dict[str, int | None]
    cadence: str
    schedule_weekday: int
    schedule_time: str
    schedule_timezone: str
    ping_quiet_only: bool
    ping_cap: int | None
    radar: RadarSettings
    linked_members: int
    relayed_repos: int
    community_slug: str | None = None  # the community page's, while it is published


# A server that never changed a setting has no row yet: it runs on the columns' defaults.
_GUILD_DEFAULTS = {
    column.key: column.default.arg
    for column in Guild.__table__.columns
    if column.default is not None and column.default.is_scalar
}


async def summary(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> ServerSummary:
    """Return the server's settings in short; reading them stores nothing, not even the server's row."""
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, guild_id)
        linked = await session.scalar(
            select(func.count()).select_from(GitHubAccount).where(GitHubAccount.guild_id == guild_id)
        )
        relayed = await session.scalar(
            select(func.count(func.distinct(Subscription.repo))).where(Subscription.guild_id == guild_id)
        )
    values = dict(_GUILD_DEFAULTS)
    if guild is not None:
        values |= {column.key: getattr(guild, column.key) for column in Guild.__table__.columns}
    return ServerSummary(
        channels={purpose: values.get(f"{purpose}_channel_id") for purpose in CHANNEL_PURPOSES},
        cadence=values["cadence"],
        schedule_weekday=values["schedule_weekday"],
        schedule_time=values["schedule_time"],
        schedule_timezone=values["schedule_timezone"],
        ping_quiet_only=values["ping_quiet_only"],
        ping_cap=values.get("ping_cap"),
        radar=RadarSettings(values["radar_enabled"], values["celebrate_own_repos"], values["review_wait_days"]),
        linked_members=linked or 0,
        relayed_repos=relayed or 0,
        community_slug=values.get("community_slug") if values.get("community_enabled") else None,
    )
