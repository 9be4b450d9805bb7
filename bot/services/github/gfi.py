"""Good first issues for you: `/gfi` for a linked member, from the repositories and languages of their merged work.

A member's merged work is every merged pull request Shiplog knows of theirs, from every source,
each once: the history imported on linking and every merge since (`github_merges`, through their
linked account), and the merges recorded in the server by the radar and webhooks (`merged_prs`).
As in mentors.py, a repository any of those merges was private in is left out entirely
(audience.py: a private repository never leaves the server, not even as a search sent to GitHub),
a pull request labelled spam or invalid is not there to count (merges.discounted), and an account
that is a bot has no merged work (bots never count).

The issues come from two searches, which go through the API client's shared rate limits and its
cache like any `/gfi`: one in the repositories where the member merged most, then one in the
languages of those repositories (each repository's main language, from a lookup the client caches
for a day). Path to maintainer: `PATH_TO_MAINTAINER` merged PRs in one project.

Reads only; no Discord imports here.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, MergedPullRequest
from bot.db.session import reading
from bot.services.github.api import MAX_QUERY_CHARS, GitHubAPI, Issue, gfi_query
from bot.services.github.errors import GitHubError, GitHubRateLimited
from bot.services.github.merges import is_bot_login

__all__ = [
    "PATH_TO_MAINTAINER",
    "ForYou",
    "MergedRepo",
    "RepoIssues",
    "find_for_you",
    "merged_work",
]

PATH_TO_MAINTAINER = 5  # merged PRs in one project: the start of the path to maintainer
REPOS_SEARCHED = 6  # the repositories with most merges, in one search (five OR operators)
LANGUAGES_SEARCHED = 3
PER_REPO = 3  # issues shown at most for each repository
SHOWN = 10  # issues shown in all, as /gfi shows
REPO_SEARCH_SIZE = 30  # one search serves every repository: take enough to give each a few


@dataclass(frozen=True, slots=True)
class MergedRepo:
    """A public repository where the member has merged PRs, and how many."""

    repo: str  # owner/name in lower case
    merges: int


@dataclass(frozen=True, slots=True)
class RepoIssues:
    """Open good first issues in a repository where the member has merged."""

    repo: str
    merges: int
    issues: list[Issue]

    @property
    def to_maintainer(self) -> int:
        """How many more merged PRs here to the path to maintainer (0: on it)."""
        return max(0, PATH_TO_MAINTAINER - self.merges)


@dataclass(frozen=True, slots=True)
class ForYou:
    """What `/gfi` shows a member with merged work: their repositories first, then their languages."""

    repos: list[RepoIssues]  # the repositories searched, most merges first (some may have no issue open)
    languages: list[str]  # the languages searched, most merged work first
    by_language: list[Issue]  # issues in those languages, none from a repository listed above
    cut_short: str | None = None  # GitHub's rate limit stopped the search by language: what to tell the member

    @property
    def any(self) -> bool:
        return bool(self.by_language) or any(r.issues for r in self.repos)


async def merged_work(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int
) -> list[MergedRepo] | None:
    """Return the public repositories the member merged in, most merges first; None when they have not linked."""
    async with reading(sessionmaker) as session:
        account = await session.scalar(
            select(GitHubAccount).where(GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id)
        )
        if account is None:
            return None
        if is_bot_login(account.login):
            return []  # bots never count
        return await _repos(session, guild_id, user_id, account.github_id)


async def _repos(session: AsyncSession, guild_id: int, user_id: int, github_id: int | None) -> list[MergedRepo]:
    rows = await session.execute(
        select(MergedPullRequest.repo, MergedPullRequest.number, MergedPullRequest.private).where(
            MergedPullRequest.guild_id == guild_id, MergedPullRequest.user_id == user_id
        )
    )
    found: list[tuple[str, int, bool]] = [(repo, number, is_private) for repo, number, is_private in rows]
    if github_id is not None:
        rows = await session.execute(
            select(GitHubMerge.repo, GitHubMerge.number, GitHubMerge.private).where(GitHubMerge.github_id == github_id)
        )
        found += [(repo, number, is_private) for repo, number, is_private in rows]
    private = {repo for repo, _number, is_private in found if is_private}
    counts = Counter(repo for repo, _number in {(repo, number) for repo, number, _ in found} if repo not in private)
    return [MergedRepo(repo, n) for repo, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


async def find_for_you(
    api: GitHubAPI, work: list[MergedRepo], *, language: str | None = None, label: str | None = None
) -> ForYou:
    """Search the member's repositories, then the languages of their merged work (or `language`, when given).

    `language` narrows the first search too. GitHub's errors are raised as they come, except a rate
    limit reached after the member's repositories gave some issues: those are shown (`cut_short`).
    """
    chosen = [language] if language is not None else []
    searched = _fitting(work, chosen, label)
    found = (
        await api.good_first_issues_among(
            repos=[r.repo for r in searched], languages=chosen, label=label, limit=REPO_SEARCH_SIZE
        )
        if searched
        else []
    )
    by_repo: dict[str, list[Issue]] = {r.repo: [] for r in searched}
    for issue in found:
        shown = by_repo.get(issue.repo.lower())
        if shown is not None and len(shown) < PER_REPO:
            shown.append(issue)
    repos = [RepoIssues(r.repo, r.merges, by_repo[r.repo]) for r in searched]
    try:
        languages, by_language = await _by_language(api, repos, chosen, label)
    except GitHubRateLimited as limited:
        if not any(r.issues for r in repos):
            raise
        # The member's repositories are answered already: show them, and say why the rest waits.
        return ForYou(repos, chosen, [], cut_short=str(limited))
    return ForYou(repos, languages, by_language)


async def _by_language(
    api: GitHubAPI, repos: list[RepoIssues], chosen: list[str], label: str | None
) -> tuple[list[str], list[Issue]]:
    """Return the languages searched and their issues, leaving out the repositories already listed."""
    languages = chosen or await _languages(api, repos)
    room = SHOWN - sum(len(r.issues) for r in repos)
    if not languages or room <= 0:
        return languages, []
    listed = {r.repo for r in repos}
    candidates = await api.good_first_issues_among(languages=languages, label=label, limit=SHOWN * 2)
    return languages, [i for i in candidates if i.repo.lower() not in listed][:room]


def _fitting(work: list[MergedRepo], languages: list[str], label: str | None) -> list[MergedRepo]:
    """Return the repositories with most merges whose one search stays within GitHub's limits."""
    gfi_query(languages=languages, label=label)  # a label or language GitHub would refuse is the member's to fix
    searched: list[MergedRepo] = []
    for r in work[:REPOS_SEARCHED]:
        repos = [s.repo for s in (*searched, r)]
        try:
            fits = len(gfi_query(repos=repos, languages=languages, label=label)) <= MAX_QUERY_CHARS
        except GitHubError:  # a name GitHub's search would refuse: leave it out, search the others
            fits = False
        if fits:
            searched.append(r)
    return searched


async def _languages(api: GitHubAPI, repos: list[RepoIssues]) -> list[str]:
    """Return the main languages of these repositories, weighed by the member's merges there."""
    weight: Counter[str] = Counter()
    spelled: dict[str, str] = {}
    for r in repos:
        language = await api.repo_language(r.repo)
        if language is not None:
            weight[language.lower()] += r.merges
            spelled.setdefault(language.lower(), language)
    ranked = sorted(weight, key=lambda lang: (-weight[lang], lang))
    return [spelled[lang] for lang in ranked[:LANGUAGES_SEARCHED]]
