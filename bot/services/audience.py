"""Who Shiplog may talk to and about: the one place that answers it.

A member may not be DMed, pinged, celebrated or named when:

- Shiplog was removed from the server (`guilds.left_at`): nothing of the server is posted;
- they left the server (`members.left_at`): no DM, no ping, no celebration; the digest's history
  (their PRs and goals of the week) still names them;
- they were forgotten (`/me forget`): Shiplog stores no row about them at all, so nothing names them;
- they turned that kind of message off (the opt-ins on their `members` row: reminders, streak DMs,
  recap DMs, review-nudge DMs).

The outbox sender asks `refusals` about every message's subjects (bot/services/messages/) right
before it draws or acts, so no path that queues a message can bypass these rules. The services
also ask it when they choose whom to queue for (`reachable`, `unreachable`, `departed`), which
saves queueing what would only be settled unsent.

The publish side (public pages and their pictures, the #BuildInPublic share drafts, the weekly
recap) asks here too, in the functions after the member rules:

- **A private repository stays private.** A merge from a repository GitHub marks private (an
  organisation-wide webhook sends these, and a search made with a token may find them) may be
  celebrated inside the server that heard of it, but never appears on a public page, in a share
  draft or in anything else meant to leave Discord. Such merges are stored with `private` set
  (`merged_prs`, `github_merges`); `merge_is_private` (webhooks), `search_item_private` and
  `search_results_private` (the radar's searches) decide it, and `public_merges` is the filter
  every published query adds.
- **A member is published only while they may be.** Not when Shiplog was removed from the server,
  not once they left it (`members.left_at`), and not after they opted out or asked to be
  forgotten (their page row, and everything else, is gone then): `may_publish_member`.

Every function that gathers something to publish is marked with `@publisher`: `PUBLISHERS` lists
them, and tests/test_audience.py walks each one to show that a private merge and a departed member
never get through, and fails when a new one is added without being walked.

No Discord imports here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import (
    Activity,
    CheckIn,
    GitHubAccount,
    GitHubMerge,
    Goal,
    Guild,
    Kudos,
    Member,
    MemberPage,
    MemberStreak,
    MergedPullRequest,
    RestPeriod,
)
from bot.db.session import reading
from bot.errors import UserError
from bot.services.messages import OptIn, Role, Subject

if TYPE_CHECKING:
    from bot.services.github.api import GitHubAPI, SearchItem

__all__ = [
    "DEPARTED_ERROR",
    "FORGOTTEN_ERROR",
    "GONE_ERROR",
    "OPTED_OUT_ERROR",
    "PUBLISHERS",
    "PrivateMergeError",
    "departed",
    "gone_guilds",
    "guild_present",
    "has_left",
    "is_gone",
    "may_publish_member",
    "merge_is_private",
    "private_repos",
    "public_merges",
    "publisher",
    "reachable",
    "refusals",
    "require_public_merge",
    "search_item_private",
    "search_results_private",
    "unreachable",
]

F = TypeVar("F", bound=Callable[..., Any])

# Why a message was settled unsent (the outbox row's last_error, which /settings show lists).
GONE_ERROR = "Shiplog was removed from the server before this message could be sent"
DEPARTED_ERROR = "not sent: the member it is about left the server"
FORGOTTEN_ERROR = "not sent: the member it is about asked Shiplog to forget them"
OPTED_OUT_ERROR = "not sent: the member turned these messages off"

# Every opt-in: the condition on a `members` row, and its answer for a member with no row yet (the
# column's default).
_OPT_INS: dict[OptIn, tuple[Any, bool]] = {
    OptIn.REMINDERS: (Member.reminders.is_(True), True),
    OptIn.STREAK_DMS: (Member.streak_dms.is_(True), False),
    OptIn.RECAP_DMS: (Member.recap_dms.is_(True), False),
    OptIn.REVIEW_NUDGE_DMS: (Member.review_nudges == "dm", False),
}


def _opted_in(member: Member | None, opt_in: OptIn) -> bool:
    if member is None:
        return _OPT_INS[opt_in][1]
    if opt_in is OptIn.REMINDERS:
        return bool(member.reminders)
    if opt_in is OptIn.STREAK_DMS:
        return bool(member.streak_dms)
    if opt_in is OptIn.RECAP_DMS:
        return bool(member.recap_dms)
    return member.review_nudges == "dm"


# Where a member's rows live: a member with none of them was forgotten (or never known).
_TRACES = (
    Goal.user_id,
    CheckIn.user_id,
    Activity.user_id,
    MemberStreak.user_id,
    GitHubAccount.user_id,
    MergedPullRequest.user_id,
    Kudos.to_user_id,
    Kudos.from_user_id,
    RestPeriod.user_id,
    MemberPage.user_id,
)


# --- the server -------------------------------------------------------------------------------------


def guild_present() -> ColumnElement[bool]:
    """SQL: the `guilds` row is of a server Shiplog is still in."""
    return Guild.left_at.is_(None)


async def gone_guilds(session: AsyncSession, guild_ids: Collection[int]) -> set[int]:
    """The servers among `guild_ids` that Shiplog was removed from (and not invited back to)."""
    if not guild_ids:
        return set()
    return set(await session.scalars(select(Guild.id).where(Guild.id.in_(guild_ids), Guild.left_at.is_not(None))))


async def is_gone(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int) -> bool:
    """Whether Shiplog was removed from the server (and not invited back)."""
    async with reading(sessionmaker) as session:
        return bool(await gone_guilds(session, [guild_id]))


# --- members ----------------------------------------------------------------------------------------


def reachable(opt_in: OptIn | None = None) -> ColumnElement[bool]:
    """SQL over `members`: the member is still in the server (and, with `opt_in`, chose these messages)."""
    still_here = Member.left_at.is_(None)
    return still_here if opt_in is None else and_(still_here, _OPT_INS[opt_in][0])


async def unreachable(session: AsyncSession, guild_id: int, opt_in: OptIn | None = None) -> set[int]:
    """The members of the server with a row saying they may not be addressed: departed, or (with
    `opt_in`) opted out. Members with no row are reachable when the opt-in's default says so."""
    refused: ColumnElement[bool] = Member.left_at.is_not(None)
    if opt_in is not None:
        refused = or_(refused, ~_OPT_INS[opt_in][0])
    return set(await session.scalars(select(Member.user_id).where(Member.guild_id == guild_id, refused)))


async def departed(session: AsyncSession, guild_id: int) -> set[int]:
    """The members marked as gone from the server (bot/services/departures.py)."""
    return set(
        await session.scalars(select(Member.user_id).where(Member.guild_id == guild_id, Member.left_at.is_not(None)))
    )


async def has_left(sessionmaker: async_sessionmaker[AsyncSession], guild_id: int, user_id: int) -> bool:
    """Whether the member is marked as gone from the server."""
    async with reading(sessionmaker) as session:
        return user_id in await departed_among(session, guild_id, [user_id])


async def departed_among(session: AsyncSession, guild_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among `user_ids` marked as gone from the server."""
    if not user_ids:
        return set()
    return set(
        await session.scalars(
            select(Member.user_id).where(
                Member.guild_id == guild_id, Member.user_id.in_(user_ids), Member.left_at.is_not(None)
            )
        )
    )


async def _forgotten(session: AsyncSession, guild_id: int, user_ids: Collection[int]) -> set[int]:
    """The members among `user_ids` of whom Shiplog stores no row at all in the server."""
    missing = set(user_ids)
    for column in _TRACES:
        if not missing:
            break
        table = column.class_
        found = await session.scalars(select(column).where(table.guild_id == guild_id, column.in_(missing)).distinct())
        missing -= set(found)
    return missing


async def refusals(session: AsyncSession, guild_id: int | None, subjects: Iterable[Subject]) -> dict[Subject, str]:
    """Why each of `subjects` may not be addressed in the server (those that may are left out).

    A message with no server (none today) has nobody to ask about: nothing is refused.
    """
    subjects = set(subjects)
    if guild_id is None or not subjects:
        return {}
    user_ids = {subject.user_id for subject in subjects}
    members = {
        member.user_id: member
        for member in await session.scalars(
            select(Member).where(Member.guild_id == guild_id, Member.user_id.in_(user_ids))
        )
    }
    # A member with a `members` row is known; the others may have been forgotten.
    forgotten = await _forgotten(session, guild_id, user_ids - members.keys())
    refused: dict[Subject, str] = {}
    for subject in subjects:
        member = members.get(subject.user_id)
        if subject.user_id in forgotten:
            refused[subject] = FORGOTTEN_ERROR
        elif subject.role is Role.NAME:
            continue  # history: a departed member's merged PR is still the server's week
        elif member is not None and member.left_at is not None:
            refused[subject] = DEPARTED_ERROR
        elif subject.opt_in is not None and not _opted_in(member, subject.opt_in):
            refused[subject] = OPTED_OUT_ERROR
    return refused


# --- publishing outside Discord ----------------------------------------------------------------------

# "module.function" of every gatherer of published content -> the share.py draft builders it feeds.
PUBLISHERS: dict[str, tuple[str, ...]] = {}


def publisher(*builds: str) -> Callable[[F], F]:
    """Mark a function that gathers what is published outside Discord (and the draft builders it feeds)."""

    def mark(function: F) -> F:
        PUBLISHERS[f"{function.__module__}.{function.__qualname__}"] = builds
        return function

    return mark


# --- private repositories ------------------------------------------------------------------------


def merge_is_private(payload: Mapping[str, Any]) -> bool:
    """Whether a webhook's merge comes from a private repository (`repository.private`).

    Only an explicit `false` is public: a repository object without the field (never sent by
    GitHub for a pull request event) is not known to be public, so it stays private.
    """
    repository = payload.get("repository")
    if not isinstance(repository, Mapping):
        return True
    return repository.get("private") is not False


def search_item_private(item: SearchItem, *, authenticated: bool) -> bool:
    """Whether a search result (radar, history import) may come from a private repository.

    An item that carries its repository says so (`repository.private`). Otherwise: a search made
    without a token sees public repositories only; one made with a token may see private ones the
    token can read, and GitHub's issue search items do not say which, so such an item is not
    known to be public and is treated as private (`search_results_private` asks GitHub instead).
    """
    if item.repo_private is not None:
        return item.repo_private
    return authenticated


async def search_results_private(
    items: Sequence[SearchItem], *, api: GitHubAPI, known: dict[str, bool]
) -> dict[str, bool]:
    """Return, for each repository (owner/name in lower case) of some search results, whether it is private.

    What `search_item_private` can tell from an item is believed. A result of a search made with a
    token that does not say is asked of GitHub, once per repository (`GET /repos/{repo}` with the
    same token; `known` remembers the answers): public only when GitHub shows it as not private. A
    repository GitHub does not find counts as private; GitHub not answering raises its GitHubError
    (the radar then stops its pass and asks again at the next one).
    """
    authenticated = api.limits.has_token
    out: dict[str, bool] = {}
    for item in items:
        repo = item.repo.lower()
        if repo in out:
            continue
        private = search_item_private(item, authenticated=authenticated)
        if private and item.repo_private is None:
            if repo not in known:
                known[repo] = await api.repo_private(repo, background=True)
            private = known[repo]
        out[repo] = private
    return out


def public_merges(model: type[MergedPullRequest] | type[GitHubMerge] = MergedPullRequest) -> ColumnElement[bool]:
    """The condition every published query of merges adds: public repositories only."""
    return model.private.is_(False)


async def private_repos(session: AsyncSession, guild_id: int, user_id: int) -> set[str]:
    """Return the repositories (lower case) of the member's merges in this server that are private."""
    return set(
        await session.scalars(
            select(MergedPullRequest.repo).where(
                MergedPullRequest.guild_id == guild_id,
                MergedPullRequest.user_id == user_id,
                MergedPullRequest.private.is_(True),
            )
        )
    )


class PrivateMergeError(UserError):
    """A share was asked for a merge in a private repository."""


def require_public_merge(merged: MergedPullRequest) -> None:
    """Refuse (politely) to draft a public post about a merge in a private repository."""
    if merged.private:
        raise PrivateMergeError(
            "That pull request is in a private repository, so there's no public post for it: "
            "it's celebrated here, in the server, only."
        )


# --- members ---------------------------------------------------------------------------------------


async def may_publish_member(session: AsyncSession, guild_id: int, user_id: int) -> bool:
    """Whether anything about the member in this server may be published outside Discord now.

    No once Shiplog was removed from the server (`guilds.left_at`), or once the member left it
    (`members.left_at`, heard live, found at start, or told by an admin). Opting out and `/me
    forget` delete what would be published (the page row, the merges), so nothing is left to ask about.
    """
    guild_left, known = (
        await session.execute(select(Guild.left_at, Guild.id).where(Guild.id == guild_id))
    ).one_or_none() or (None, None)
    if known is None or guild_left is not None:
        return False
    member_left = await session.scalar(
        select(Member.left_at).where(Member.guild_id == guild_id, Member.user_id == user_id)
    )
    return member_left is None
