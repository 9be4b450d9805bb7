"""A server's community page: what its members shipped together, at an address anyone can open, by opt-in.

An admin publishes it (`set_community`, `/settings pages community:true`); the address is
`PUBLIC_URL/c/<slug>`, the slug made from the server's name the first time (unique, kept from then
on). What it shows is read here as a `CommunityPage` that holds no id: merged PRs this month, by
month over the last 12 and in all, how many repositories, the top repositories, members' first-ever
merged PRs and members with a streak going. Members are named (and linked) only when they have a
public page; everyone else is a number. Nothing from a private repository, nothing about a member
who left (audience.py), and no bot (their PRs are never stored; spam/invalid ones are withdrawn).
Writes the `community_*` columns of `guilds` (and refreshes `page_name`, the name pages show).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from itertools import pairwise

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, Guild, MemberPage, MergedPullRequest
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services import audience
from bot.services.guilds import ensure_guild
from bot.services.rhythm.streaks import guild_streaks, stored_currents
from bot.services.sharing.pages import clean_name, page_path

__all__ = [
    "CommunityPage",
    "CommunitySetting",
    "First",
    "Named",
    "community_url",
    "load_community",
    "make_slug",
    "set_community",
    "valid_slug",
]

SLUG_LIMIT = 40
_SLUG = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,46}[a-z0-9])?")
MONTHS = 12
# What the page lists at most; the counts above the lists are always whole.
MAX_TOP_REPOS = 10
MAX_FIRSTS = 12
MAX_STREAKS = 20


def make_slug(name: str) -> str:
    """Return a readable slug for a server's name: lower-case ASCII letters, digits and dashes."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:SLUG_LIMIT].strip("-")
    return slug or "community"


def valid_slug(value: str) -> bool:
    """Return whether `value` could be a community slug (anything else is not looked up)."""
    return _SLUG.fullmatch(value) is not None


def community_url(public_url: str, slug: str) -> str:
    """Return the community page's address under PUBLIC_URL."""
    return f"{public_url}/c/{slug}"


async def _free_slug(session: AsyncSession, name: str) -> str:
    """Return the slug of `name`, or of `name-2`, `name-3`…: the first no other server has."""
    base = make_slug(name)
    slug, n = base, 1
    # Each candidate is looked up itself: a long name's `-n` slugs are cut short, so no one
    # pattern of `base` finds them all.
    while await session.scalar(select(Guild.id).where(Guild.community_slug == slug)) is not None:
        n += 1
        slug = f"{base[: SLUG_LIMIT - len(str(n)) - 1].rstrip('-')}-{n}"
    return slug


@dataclass(frozen=True, slots=True)
class CommunitySetting:
    """A server's community page after an admin's change: on or off, and its address while it is on."""

    enabled: bool
    url: str | None


async def set_community(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    enabled: bool,
    server_name: str,
    public_url: str | None,
) -> CommunitySetting:
    """Publish or withdraw the server's community page; raise UserError when it cannot be published.

    The slug is made the first time the page is published and kept: turning it off and on again
    gives the same address (unlike members' pages, the community page is the server's own).
    """
    if enabled and public_url is None:
        raise UserError(
            "The community page needs this Shiplog's `PUBLIC_URL` (the address its web server is reached at), "
            "which whoever runs it hasn't set yet. Nothing was changed."
        )
    async with transaction(sessionmaker) as session:
        guild = await ensure_guild(session, guild_id)
        guild.community_enabled = enabled
        if not enabled or public_url is None:
            return CommunitySetting(False, None)
        guild.page_name = clean_name(server_name, "a Shiplog server")
        if guild.community_slug is None:
            guild.community_slug = await _free_slug(session, server_name)
        return CommunitySetting(True, community_url(public_url, guild.community_slug))


@dataclass(frozen=True, slots=True)
class Named:
    """A member with a public page, as the community page names them: their page's name and path, and a number."""

    name: str
    path: str
    value: int


@dataclass(frozen=True, slots=True)
class First:
    """The first-ever merged PR (in a public repository) of a member with a public page."""

    name: str
    path: str
    repo: str
    number: int
    merged_at: datetime


@dataclass(frozen=True, slots=True)
class CommunityPage:
    """What the community page shows: nothing in it is an id or private."""

    server_name: str
    this_month: int
    in_all: int
    repositories: int
    months: list[tuple[date, int]]  # the first day of each of the last 12 months (UTC), oldest first
    top_repos: list[tuple[str, int]]
    # Named lists hold only members with a public page: a PR or a streak shown beside "a member" would
    # let anyone find who it is on GitHub. Everyone else is in the counts.
    firsts: list[First]  # newest first, at most MAX_FIRSTS
    firsts_count: int  # members whose first-ever merged PR was in the 12 months
    streaks: list[Named]  # longest first, at most MAX_STREAKS; `value` is the streak
    streaks_count: int
    cadence: str

    @property
    def more_firsts(self) -> int:
        """Members with a first merged PR this year who are not listed (no public page, or past the list's end)."""
        return self.firsts_count - len(self.firsts)

    @property
    def more_streaks(self) -> int:
        """Members with a streak going who are not listed (no public page, or past the list's end)."""
        return self.streaks_count - len(self.streaks)


def month_starts(now: datetime, months: int = MONTHS) -> list[datetime]:
    """Return the first instants (UTC) of the last `months` months, the current one last."""
    year, month = now.astimezone(UTC).year, now.astimezone(UTC).month
    out = []
    for back in range(months - 1, -1, -1):
        y, m = divmod(year * 12 + month - 1 - back, 12)
        out.append(datetime(y, m + 1, 1, tzinfo=UTC))
    return out


async def _counts(
    session: AsyncSession, guild_id: int, starts: list[datetime], departed: set[int]
) -> tuple[dict[str, int], list[int]]:
    """The server's public merges by members still here: by repository, and in each month of `starts`.

    Both are read from indexes alone (`ix_merged_prs_guild_repo_public`, `…_merged_public`): 100,000
    merges are counted in about 20 ms, where one pass over the rows with the months as CASE sums took
    300 ms. Members who left are few: their merges are counted the same way and taken off, which
    keeps the big counts free of a per-row test.
    """
    by_repo = await _count_by_repo(session, guild_id, None)
    by_month = await _count_by_month(session, guild_id, starts, None)
    if departed:
        for repo, n in (await _count_by_repo(session, guild_id, departed)).items():
            by_repo[repo] -= n
        gone = await _count_by_month(session, guild_id, starts, departed)
        by_month = [n - m for n, m in zip(by_month, gone, strict=True)]
    return {repo: n for repo, n in by_repo.items() if n > 0}, by_month


def _merges_of(guild_id: int, only: set[int] | None) -> list[ColumnElement[bool]]:
    pr = MergedPullRequest
    return [pr.guild_id == guild_id, audience.public_merges(), *([pr.user_id.in_(only)] if only else [])]


async def _count_by_repo(session: AsyncSession, guild_id: int, only: set[int] | None) -> dict[str, int]:
    rows = await session.execute(
        select(MergedPullRequest.repo, func.count()).where(*_merges_of(guild_id, only)).group_by(MergedPullRequest.repo)
    )
    return {repo: n for repo, n in rows}


async def _count_by_month(
    session: AsyncSession, guild_id: int, starts: list[datetime], only: set[int] | None
) -> list[int]:
    pr = MergedPullRequest
    bounds = [*starts, None]
    months = [
        select(func.count())
        .where(*_merges_of(guild_id, only), pr.merged_at >= lo, *([pr.merged_at < hi] if hi else []))
        .scalar_subquery()
        for lo, hi in pairwise(bounds)
    ]
    row = (await session.execute(select(*months))).one()
    return [int(n or 0) for n in row]


async def _named(session: AsyncSession, guild: Guild) -> dict[int, tuple[str, str]]:
    """Members with a public page in this server: user id -> (their page's name, its path)."""
    if not guild.pages_enabled or guild.page_slug is None:
        return {}
    rows = await session.execute(
        select(MemberPage.user_id, MemberPage.display_name, MemberPage.slug).where(MemberPage.guild_id == guild.id)
    )
    return {user_id: (name, page_path(guild.page_slug, slug)) for user_id, name, slug in rows}


async def _firsts(
    session: AsyncSession, guild_id: int, since: datetime, departed: set[int]
) -> list[tuple[int, str, int, datetime]]:
    """Members' first-ever merged PRs since `since`, newest first: (user id, repo, number, merged at).

    First-ever is over everything Shiplog knows of the member's GitHub account (github_merges: the
    history import, the radar and webhooks). A first merge in a private repository is left out.
    """
    accounts = select(GitHubAccount.github_id).where(GitHubAccount.guild_id == guild_id)
    first = (
        select(GitHubMerge.github_id, func.min(GitHubMerge.merged_at).label("at"))
        .where(GitHubMerge.github_id.in_(accounts))
        .group_by(GitHubMerge.github_id)
        .having(func.min(GitHubMerge.merged_at) >= since)
        .subquery()
    )
    rows = await session.execute(
        select(GitHubAccount.user_id, GitHubMerge.repo, GitHubMerge.number, GitHubMerge.merged_at)
        .select_from(GitHubMerge)
        .join(first, (GitHubMerge.github_id == first.c.github_id) & (GitHubMerge.merged_at == first.c.at))
        .join(GitHubAccount, (GitHubAccount.github_id == GitHubMerge.github_id) & (GitHubAccount.guild_id == guild_id))
        .where(audience.public_merges(GitHubMerge))
        .order_by(GitHubMerge.merged_at, GitHubMerge.repo, GitHubMerge.number)  # two merged at once: the first
    )
    seen: dict[int, tuple[int, str, int, datetime]] = {}
    for user_id, repo, number, merged_at in rows:
        if user_id not in departed and user_id not in seen:
            seen[user_id] = (user_id, repo, number, merged_at)
    return sorted(seen.values(), key=lambda row: (row[3], row[1], row[2]), reverse=True)


async def _streaks(session: AsyncSession, guild_id: int, now: datetime, departed: set[int]) -> dict[int, int]:
    """Members with a streak going: user id -> its length (from the stored streaks; stale ones recomputed)."""
    currents, stale = await stored_currents(session, guild_id, now=now)
    if stale:
        for user_id, state in (await guild_streaks(session, guild_id, now=now, user_ids=stale)).items():
            if state.current:
                currents[user_id] = state.current
    return {user_id: n for user_id, n in currents.items() if n > 0 and user_id not in departed}


@audience.publisher()
async def load_community(
    sessionmaker: async_sessionmaker[AsyncSession], slug: str, *, now: datetime
) -> CommunityPage | None:
    """Gather the server's community page, or None when there is none (unknown, off, or Shiplog removed)."""
    if not valid_slug(slug):
        return None
    async with reading(sessionmaker) as session:
        guild = await session.scalar(
            select(Guild).where(
                Guild.community_slug == slug, Guild.community_enabled.is_(True), audience.guild_present()
            )
        )
        if guild is None:
            return None
        starts = month_starts(now)
        departed = await audience.departed(session, guild.id)
        by_repo, months = await _counts(session, guild.id, starts, departed)
        named = await _named(session, guild)
        firsts = await _firsts(session, guild.id, starts[0], departed)
        going = await _streaks(session, guild.id, now, departed)
        cadence = guild.cadence
        server_name = guild.page_name or "a Shiplog server"

    top = sorted(by_repo.items(), key=lambda item: (-item[1], item[0].lower()))
    shown_firsts = [
        First(*named[user_id], repo, number, merged_at)
        for user_id, repo, number, merged_at in firsts
        if user_id in named
    ][:MAX_FIRSTS]
    by_length = sorted(
        ((user_id, n) for user_id, n in going.items() if user_id in named),
        key=lambda item: (-item[1], named[item[0]][0].lower()),
    )
    shown_streaks = [Named(*named[user_id], length) for user_id, length in by_length[:MAX_STREAKS]]
    return CommunityPage(
        server_name=server_name,
        this_month=months[-1],
        in_all=sum(by_repo.values()),
        repositories=len(by_repo),
        months=[(start.date(), n) for start, n in zip(starts, months, strict=True)],
        top_repos=top[:MAX_TOP_REPOS],
        firsts=shown_firsts,
        firsts_count=len(firsts),
        streaks=shown_streaks,
        streaks_count=len(going),
        cadence=cadence,
    )
