"""What Shiplog knows of a GitHub user's merged PRs: the history imported on linking, and every merge since.

A member's counts are their whole history, not what happened since they linked: "13th merged PR",
"5th in mlflow/mlflow". On linking, the radar imports the history (GitHub's total, and up to
HISTORY_PAGES pages of PRs, each stored as a `GitHubMerge`); every later merge, found by the radar
or delivered by a webhook, is stored the same way, once. A history larger than the pages read is
counted from GitHub's total and shown as "500+": never a false "first".
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, GitHubOpenPR, GitHubProfile, MergedPullRequest
from bot.db.session import hold, insert_ignore, reading, transaction
from bot.services import audience
from bot.services.github.api import GitHubAPI, GitHubUnprocessable, is_login
from bot.services.github.merges import discounted, is_bot
from bot.services.github.urls import safe_url

log = logging.getLogger(__name__)

HISTORY_PAGES = 5  # pages of 100 merged PRs read on linking; past that, counts are "500+"
PER_PAGE = 100


def merged_query(login: str) -> str:
    """Return the search for every merged PR a user authored."""
    return f"is:pr is:merged author:{login}"


async def ensure_profile(session: AsyncSession, github_id: int, login: str, *, now: datetime) -> GitHubProfile:
    """Return the user's profile, creating it (history still to import) on first sight.

    A new profile's cursor starts now: the import counts what merged before as history, and the
    radar celebrates what merges from here on, even before the import has run.
    """
    profile = await session.get(GitHubProfile, github_id)
    if profile is None:
        await insert_ignore(session, GitHubProfile, [{"id": github_id, "login": login, "checked_through": now}])
        # Inserted here, or by another process meanwhile (insert_ignore): either way it is there now.
        profile = await session.get_one(GitHubProfile, github_id)
    elif is_login(login) and profile.login != login:
        profile.login = login  # a display name only: identity is the id (see links.follow_login)
    return hold(session, profile)  # the merge's later steps read it again


async def record_merge(
    session: AsyncSession, github_id: int, repo: str, number: int, merged_at: datetime, source: str, *, private: bool
) -> str | None:
    """Store a merge once; return the source that had already stored it (None when it is new).

    `private`: from a private repository (audience.py); a merge seen as private by any path stays so.
    """
    before = await session.scalar(
        select(GitHubMerge.source).where(
            GitHubMerge.github_id == github_id, GitHubMerge.repo == repo, GitHubMerge.number == number
        )
    )
    if before is None:
        await insert_ignore(
            session,
            GitHubMerge,
            [
                {
                    "github_id": github_id,
                    "repo": repo,
                    "number": number,
                    "merged_at": merged_at,
                    "source": source,
                    "private": private,
                }
            ],
        )
    elif private:
        await session.execute(
            update(GitHubMerge)
            .where(GitHubMerge.github_id == github_id, GitHubMerge.repo == repo, GitHubMerge.number == number)
            .values(private=True)
        )
    return before


@dataclass(frozen=True, slots=True)
class Counts:
    """A merge's place in its author's history: the Nth overall and the Mth in its repository.

    `known` is False while the history is not imported (the counts are then this server's only),
    and `exact` False when the history was larger than what was read (the counts are then lower bounds).
    """

    total: int
    in_repo: int
    known: bool
    exact: bool


async def counts(
    session: AsyncSession,
    *,
    github_id: int | None,
    guild_id: int,
    user_id: int,
    repo: str,
    number: int,
) -> Counts:
    """Return a merge's place among its author's merges, in the order Shiplog learned of them.

    That order (the row ids) gives every merge its own number, which only grows: a merge found late
    by the radar never makes a second "first", and every milestone is reached once. The counts are
    known only while the radar watches the user (their history is kept up to date).
    """
    profile = await session.get(GitHubProfile, github_id) if github_id is not None else None
    merge_id = None
    if profile is not None and profile.history_status == "done" and await _watched(session, profile.id):
        merge_id = await session.scalar(
            select(GitHubMerge.id).where(
                GitHubMerge.github_id == profile.id, GitHubMerge.repo == repo, GitHubMerge.number == number
            )
        )
    if profile is None or merge_id is None:
        base = (
            select(func.count())
            .select_from(MergedPullRequest)
            .where(MergedPullRequest.guild_id == guild_id, MergedPullRequest.user_id == user_id)
        )
        row = (await session.execute(base.add_columns(func.count().filter(MergedPullRequest.repo == repo)))).one()
        return Counts(row[0] or 0, row[1] or 0, known=False, exact=False)
    mine = select(func.count(), func.count().filter(GitHubMerge.repo == repo)).where(
        GitHubMerge.github_id == profile.id, GitHubMerge.id <= merge_id
    )
    total, in_repo = (await session.execute(mine)).one()
    unread = max(0, profile.history_total - profile.history_read)
    return Counts(total + unread, in_repo, known=True, exact=unread == 0)


async def _watched(session: AsyncSession, github_id: int) -> bool:
    """Tell whether a server with the radar on (and Shiplog in it) links this user (so their merges are all seen)."""
    from bot.db.models import Guild

    return (
        await session.scalar(
            select(GitHubAccount.id)
            .join(Guild, Guild.id == GitHubAccount.guild_id)
            .where(GitHubAccount.github_id == github_id, Guild.radar_enabled.is_(True), Guild.left_at.is_(None))
            .limit(1)
        )
    ) is not None


@dataclass(frozen=True, slots=True)
class Imported:
    """What a history import found."""

    github_id: int
    total: int
    read: int
    exact: bool
    first_merged_at: datetime | None


async def import_history(
    sessionmaker: async_sessionmaker[AsyncSession],
    api: GitHubAPI,
    profile_id: int,
    *,
    now: Any,
    background: bool = True,
) -> Imported | None:
    """Import a user's merged-PR history (posting nothing); None when the profile is gone meanwhile.

    The pages are read outside any transaction (GitHub can take seconds); what they hold is stored
    in one transaction at the end, so an import cut short stores nothing and is simply made again.
    """
    async with reading(sessionmaker) as session:
        profile = await session.get(GitHubProfile, profile_id)
        if profile is None:
            return None
        login = profile.login
    started = now()
    # History is what merged before the member linked (the profile's first cursor); what merged
    # since is left for the radar and the webhooks to find, and to celebrate.
    cutoff = profile.checked_through or started
    later = others = 0
    rows: dict[tuple[str, int], tuple[datetime, bool]] = {}
    authenticated = api.limits.has_token
    total = 0
    for page in range(1, HISTORY_PAGES + 1):
        # Oldest first, so a capped history still knows its first merge.
        result = await api.search_issues(
            merged_query(login), page=page, per_page=PER_PAGE, sort="created", order="asc", background=background
        )
        total = max(total, result.total_count)
        for item in result.items:
            if item.author_id != profile_id:
                if item.author_login.lower() == login.lower():
                    # GitHub gives the login to another account now: this profile's login is stale, and
                    # what the search found is someone else's history. Follow the id first (the radar does).
                    raise GitHubUnprocessable(f"GitHub user {profile_id}'s login {login} belongs to someone else")
                others += 1  # not theirs: only the numeric id counts, in the total too
                continue
            if is_bot(item.author) or discounted(item.labels):
                # A bot's work, or labelled spam or invalid: it counts for nothing, in the total neither.
                others += 1
                continue
            merged_at = item.merged_at or item.closed_at
            if merged_at is not None and merged_at > cutoff:
                later += 1
            elif merged_at is not None:
                private = audience.search_item_private(item, authenticated=authenticated)
                rows[(item.repo.lower(), item.number)] = (merged_at, private)
        # Paging goes by what GitHub sent: a malformed item skipped is still one of the page's.
        if result.sent < PER_PAGE or page * PER_PAGE >= min(result.total_count, 1000):
            break
    first = min((merged_at for merged_at, _ in rows.values()), default=None)
    async with transaction(sessionmaker) as session:
        profile = await session.get(GitHubProfile, profile_id)
        if profile is None:
            return None  # unlinked everywhere while the import ran
        await insert_ignore(
            session,
            GitHubMerge,
            [
                {
                    "github_id": profile_id,
                    "repo": repo,
                    "number": number,
                    "merged_at": merged_at,
                    "source": "history",
                    "private": private,
                }
                for (repo, number), (merged_at, private) in rows.items()
            ],
        )
        total = max(total - later - others, len(rows))
        profile.history_status = "done"
        profile.history_total = total
        profile.history_read = len(rows)
        profile.first_merged_at = first
        profile.imported_at = started
        # The radar goes on from the cutoff: it finds (and celebrates) what merged after it.
        profile.checked_through = cutoff
    log.info("imported %d of %d merged PRs of GitHub user %s", len(rows), total, login)
    return Imported(profile_id, total, len(rows), len(rows) >= total, first)


async def drop_orphans(session: AsyncSession) -> int:
    """Delete what is stored about GitHub users no member links any more; return how many profiles went."""
    linked = select(GitHubAccount.github_id).where(GitHubAccount.github_id.is_not(None))
    orphans = list(await session.scalars(select(GitHubProfile.id).where(GitHubProfile.id.not_in(linked))))
    if orphans:
        for model in (GitHubMerge, GitHubOpenPR):
            await session.execute(delete(model).where(model.github_id.in_(orphans)))
        await session.execute(delete(GitHubProfile).where(GitHubProfile.id.in_(orphans)))
    return len(orphans)


@dataclass(frozen=True, slots=True)
class OpenPR:
    """An open PR as `/github prs` lists it."""

    repo: str
    number: int
    title: str
    url: str | None  # None when the stored address is not a safe GitHub link
    days_open: int
    unreviewed: bool


@dataclass(frozen=True, slots=True)
class Summary:
    """A linked member's GitHub record: `/github prs`."""

    login: str
    known: bool
    total: int
    exact: bool
    first_merged_at: datetime | None
    repos: list[tuple[str, int]]
    open_prs: list[OpenPR]
    open_checked_at: datetime | None


async def summary(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime, repos: int = 8
) -> Summary | None:
    """Return the member's merged count, top repositories and open PRs; None when they have not linked."""
    async with reading(sessionmaker) as session:
        account = await session.scalar(
            select(GitHubAccount).where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id)
        )
        if account is None:
            return None
        profile = await session.get(GitHubProfile, account.github_id) if account.github_id is not None else None
        if profile is None or profile.history_status != "done":
            return Summary(account.login, False, 0, False, None, [], [], None)
        count = func.count().label("n")
        top = await session.execute(
            select(GitHubMerge.repo, count)
            .where(GitHubMerge.github_id == profile.id)
            .group_by(GitHubMerge.repo)
            .order_by(count.desc(), GitHubMerge.repo)
            .limit(repos)
        )
        stored = await session.scalar(select(func.count()).where(GitHubMerge.github_id == profile.id)) or 0
        opened = await session.scalars(
            select(GitHubOpenPR).where(GitHubOpenPR.github_id == profile.id).order_by(GitHubOpenPR.opened_at)
        )
        unread = max(0, profile.history_total - profile.history_read)
        return Summary(
            login=profile.login,
            known=True,
            total=stored + unread,
            exact=unread == 0,
            first_merged_at=profile.first_merged_at,
            repos=[(repo, n) for repo, n in top],
            open_prs=[
                OpenPR(pr.repo, pr.number, pr.title, safe_url(pr.url), (now - pr.opened_at).days, pr.unreviewed)
                for pr in opened
            ],
            open_checked_at=profile.open_checked_at,
        )
