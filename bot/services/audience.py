"""Who and what Shiplog may talk about: the one module that answers it.

Every path that publishes outside Discord asks here (the publish side: public pages and their
pictures, the #BuildInPublic share drafts, the weekly recap):

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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.db.models import GitHubMerge, Guild, Member, MergedPullRequest
from bot.errors import UserError
from bot.services.github.api import repo_of

if TYPE_CHECKING:
    from bot.services.github.api import GitHubAPI

__all__ = [
    "PUBLISHERS",
    "PrivateMergeError",
    "may_publish_member",
    "merge_is_private",
    "private_repos",
    "public_merges",
    "publisher",
    "require_public_merge",
    "search_item_private",
    "search_results_private",
]

F = TypeVar("F", bound=Callable[..., Any])

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


def search_item_private(item: Mapping[str, Any], *, authenticated: bool) -> bool:
    """Whether a search result (radar, history import) may come from a private repository.

    An item that carries its repository says so (`repository.private`). Otherwise: a search made
    without a token sees public repositories only; one made with a token may see private ones the
    token can read, and GitHub's issue search items do not say which, so such an item is not
    known to be public and is treated as private (`search_results_private` asks GitHub instead).
    """
    repository = item.get("repository")
    if isinstance(repository, Mapping) and isinstance(repository.get("private"), bool):
        return bool(repository["private"])
    return authenticated


async def search_results_private(
    items: Sequence[Mapping[str, Any]], *, api: GitHubAPI, known: dict[str, bool]
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
        repo = repo_of(item, api.base_url).lower()
        if repo in out:
            continue
        private = search_item_private(item, authenticated=authenticated)
        repository = item.get("repository")
        said = isinstance(repository, Mapping) and isinstance(repository.get("private"), bool)
        if private and not said:
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
