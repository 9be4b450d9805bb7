"""Mentors by repository: who in the server has merged in a repository, and who offers to help there.

A member opts in with `/me mentor` (`members.mentor`, off by default, with a short note). Their
merges in a repository are counted from every source Shiplog has: the history imported on linking
and every merge since (`github_merges`, through their linked account), and the merges recorded in
the server by the radar and webhooks (`merged_prs`), each pull request once.

Only opted-in members are named; the others are a count. Nobody is named or counted for a merge
from a private repository (audience.py: it never leaves the server that heard of it, and a merge
not known to be public is private), nor once they left the server, nor when their linked account is
a bot. Forgetting (privacy.py) deletes the `members` row, and with it the opt-in and the note.

No Discord imports here.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import CompoundSelect, func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, Member, MergedPullRequest
from bot.db.session import reading, transaction
from bot.errors import UserError
from bot.services.github.api import validate_repo
from bot.services.github.merges import BOT_SUFFIX
from bot.services.guilds import ensure_member

__all__ = [
    "NOTE_MAX",
    "Mentor",
    "MentorSetting",
    "RepoPeople",
    "clean_note",
    "helpers_for",
    "merged_repos",
    "parse_repo",
    "people_for",
    "set_mentor",
    "who_knows",
]

NOTE_MAX = 100
# A GitHub address: the repository is its first two path segments (a PR's or an issue's address too).
_URL = re.compile(r"^(?:https?://)?(?:www\.)?github\.com/(?P<path>[^?#]*)", re.IGNORECASE)
AUTOCOMPLETE_LIMIT = 25  # Discord shows at most 25 choices


@dataclass(frozen=True, slots=True)
class MentorSetting:
    """A member's mentor opt-in, as it now stands."""

    enabled: bool
    note: str | None


@dataclass(frozen=True, slots=True)
class Mentor:
    """An opted-in member's merges in one repository."""

    user_id: int
    merges: int
    last_merged_at: datetime
    note: str | None


@dataclass(frozen=True, slots=True)
class RepoPeople:
    """The members with merged PRs in a repository: the opted-in, most merges first, and the others' count."""

    repo: str  # owner/name in lower case
    mentors: list[Mentor]
    others: int

    @property
    def anyone(self) -> bool:
        return bool(self.mentors) or self.others > 0


def parse_repo(text: str) -> str:
    """Return owner/name, as typed, from 'owner/name' or any GitHub address inside a repository."""
    text = text.strip()
    url = _URL.match(text)
    if url is not None:
        text = "/".join(url["path"].split("/")[:2])
    return validate_repo(text)


def clean_note(note: str | None) -> str | None:
    """Return the note on one line with its spaces folded (None when empty); refuse one too long."""
    if note is None:
        return None
    folded = " ".join(note.split())
    if len(folded) > NOTE_MAX:
        raise UserError(f"Your note can be up to {NOTE_MAX} characters; that one has {len(folded)}.")
    return folded or None


async def set_mentor(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    guild_id: int,
    user_id: int,
    enabled: bool,
    note: str | None = None,
) -> MentorSetting:
    """Opt in to (or out of) being named as someone who can help where you merged.

    Opting in without a note keeps the note already set; opting out deletes the note, as nothing
    shows it any more.
    """
    cleaned = clean_note(note)
    async with transaction(sessionmaker) as session:
        member = await ensure_member(session, guild_id, user_id)
        member.mentor = enabled
        if not enabled:
            member.mentor_note = None
        elif cleaned is not None:
            member.mentor_note = cleaned
        return MentorSetting(member.mentor, member.mentor_note)


def _left_out(guild_id: int) -> CompoundSelect[int]:
    """SQL: the server's members never named nor counted: those who left it, and those linked to a bot account."""
    departed = select(Member.user_id).where(Member.guild_id == guild_id, Member.left_at.is_not(None))
    bots = select(GitHubAccount.user_id).where(
        GitHubAccount.guild_id == guild_id, GitHubAccount.login_lower.endswith(BOT_SUFFIX, autoescape=True)
    )
    return departed.union(bots)


async def _merges_by_member(session: AsyncSession, guild_id: int, repo: str) -> dict[int, dict[int, datetime]]:
    """Return user id -> {PR number: merged at} of every public merge in `repo` by the server's members.

    `merged_prs.repo` and `github_merges.repo` are stored in lower case (merges.Merge), so `repo` is too.
    """
    left_out = _left_out(guild_id)
    rows = await session.execute(
        select(
            MergedPullRequest.user_id, MergedPullRequest.number, MergedPullRequest.merged_at, MergedPullRequest.private
        ).where(
            MergedPullRequest.guild_id == guild_id,
            MergedPullRequest.repo == repo,
            MergedPullRequest.user_id.not_in(left_out),
        )
    )
    found: list[tuple[int, int, datetime, bool]] = [(r[0], r[1], r[2], r[3]) for r in rows]
    rows = await session.execute(
        select(GitHubAccount.user_id, GitHubMerge.number, GitHubMerge.merged_at, GitHubMerge.private)
        .join(GitHubMerge, GitHubMerge.github_id == GitHubAccount.github_id)
        .where(GitHubAccount.guild_id == guild_id, GitHubMerge.repo == repo, GitHubAccount.user_id.not_in(left_out))
    )
    found += [(r[0], r[1], r[2], r[3]) for r in rows]
    # A pull request any path saw as private stays private, whoever's row says so.
    private = {number for _user_id, number, _merged_at, is_private in found if is_private}
    seen: dict[int, dict[int, datetime]] = defaultdict(dict)
    for user_id, number, merged_at, _private in found:
        if number in private:
            continue
        known = seen[user_id].get(number)
        seen[user_id][number] = merged_at if known is None else min(known, merged_at)
    return dict(seen)


async def people_for(session: AsyncSession, guild_id: int, repo: str, *, leave_out: int | None = None) -> RepoPeople:
    """Return who in the server merged in `repo` (owner/name, any case): the mentors named, the rest counted.

    `leave_out`: a member not to name or count (the one asking for help with their own goal).
    """
    repo = repo.lower()
    merges = await _merges_by_member(session, guild_id, repo)
    if leave_out is not None:
        merges.pop(leave_out, None)
    notes = {
        user_id: note
        for user_id, note in (
            await session.execute(
                select(Member.user_id, Member.mentor_note).where(
                    Member.guild_id == guild_id, Member.user_id.in_(merges), Member.mentor.is_(True)
                )
            )
        ).all()
    }
    mentors = sorted(
        (
            Mentor(user_id, len(prs), max(prs.values()), notes[user_id])
            for user_id, prs in merges.items()
            if user_id in notes
        ),
        key=lambda m: (-m.merges, -m.last_merged_at.timestamp(), m.user_id),
    )
    return RepoPeople(repo, mentors, len(merges) - len(mentors))


async def who_knows(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, repo: str) -> RepoPeople:
    """Return who in the server merged in `repo`: opted-in mentors by name, most merges first; others counted."""
    async with reading(sessionmaker) as session:
        return await people_for(session, guild_id, repo)


async def helpers_for(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, repo: str, user_id: int, limit: int = 3
) -> list[Mentor]:
    """Return the opted-in mentors (most merges first, at most `limit`) in the repository of a member's new goal.

    The member is never named to themselves.
    """
    async with reading(sessionmaker) as session:
        return (await people_for(session, guild_id, repo, leave_out=user_id)).mentors[:limit]


async def merged_repos(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, typed: str, limit: int = AUTOCOMPLETE_LIMIT
) -> list[str]:
    """Return the public repositories (lower case) members merged in that contain `typed`, busiest first."""
    needle = typed.strip().lower()
    left_out = _left_out(guild_id)
    counts: dict[str, int] = defaultdict(int)
    private: set[str] = set()
    server = (
        select(MergedPullRequest.repo, MergedPullRequest.private, func.count())
        .where(MergedPullRequest.guild_id == guild_id, MergedPullRequest.user_id.not_in(left_out))
        .group_by(MergedPullRequest.repo, MergedPullRequest.private)
    )
    history = (
        select(GitHubMerge.repo, GitHubMerge.private, func.count())
        .join(GitHubAccount, GitHubMerge.github_id == GitHubAccount.github_id)
        .where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id.not_in(left_out))
        .group_by(GitHubMerge.repo, GitHubMerge.private)
    )
    if needle:
        server = server.where(MergedPullRequest.repo.contains(needle, autoescape=True))
        history = history.where(GitHubMerge.repo.contains(needle, autoescape=True))
    async with reading(sessionmaker) as session:
        for query in (server, history):
            for repo, is_private, count in (await session.execute(query)).all():
                if is_private:
                    private.add(repo)
                else:
                    counts[repo] = max(counts[repo], count)
    ranked = sorted((repo for repo in counts if repo not in private), key=lambda r: (-counts[r], r))
    return ranked[:limit]
