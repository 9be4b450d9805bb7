"""A small client for the GitHub REST API: users, gists, repositories and issue search.

It wraps an `httpx.AsyncClient` that the caller owns (built once in `bot/cli.py`), and turns
every failure into a `GitHubError`, whose message is safe to show a member.

Rate limits are a contract. Every answer's `x-ratelimit-*` headers, and the `retry-after` of a
403 or 429, are kept per resource ("core", "search") in one `RateLimits` (ratelimits.py) that every
caller shares: once GitHub says stop, nothing of that resource is sent before the reset. Members' commands go
first: background work (the radar) waits for its turn, keeps a reserve for commands and is paced
to use only part of the budget.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from bot.services.github.errors import (
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnavailable,
    GitHubUnprocessable,
)
from bot.services.github.ratelimits import RESOURCES, RateLimits, rate_limit_error, wait_text

log = logging.getLogger(__name__)

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

BASE_URL = "https://api.github.com"
API_VERSION = "2022-11-28"

GISTS_LISTED = 30  # gists whose description and file names are checked for a code
GISTS_READ = 10  # of those, the newest ones whose small files are read as well
GIST_FILES_READ = 3  # a gist with more files than this is not read
GIST_FILE_BYTES = 10 * 1024  # files of this size or more are not read
RAW_HOSTS = frozenset({"gist.githubusercontent.com"})
MAX_ISSUES = 50
MAX_CACHED_SEARCHES = 256
MAX_CACHED_LANGUAGES = 1024
MAX_QUERY_CHARS = 256  # GitHub refuses a longer search
LANGUAGE_TTL = 24 * 3600.0  # a repository's main language seldom changes
DEFAULT_LABEL = "good first issue"

_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_REPO = re.compile(rf"(?P<owner>{_LOGIN.pattern})/(?P<name>[A-Za-z0-9._-]{{1,100}})")
_LANGUAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 +#._-]{0,39}")
_UNSAFE_IN_QUERY = re.compile(r'["\\\r\n\t\x00-\x1f\x7f]')
_SEARCH_TERM_CHARS = 50


@dataclass(frozen=True, slots=True)
class GitHubUser:
    """A GitHub account (a person or an organization)."""

    id: int
    login: str
    type: str
    bio: str | None
    html_url: str
    node_id: str | None = None  # its GraphQL id (the radar asks GraphQL by it)


@dataclass(frozen=True, slots=True)
class Issue:
    """An open issue from a search; `language` is the language searched for, if any."""

    repo: str
    number: int
    title: str
    url: str
    labels: list[str]
    comments: int
    created_at: datetime
    language: str | None


@dataclass(frozen=True, slots=True)
class SearchItem:
    """One issue or pull request of a search, read and checked (`parse_search_item`): all Shiplog uses of it."""

    repo: str  # owner/name, as GitHub spells it
    number: int
    title: str
    url: str | None  # a safe link to it on GitHub (see urls.safe_url)
    author_id: int | None
    author_login: str
    author_type: str
    body: str | None
    labels: tuple[str, ...]
    comments: int
    created_at: datetime | None
    closed_at: datetime | None
    merged_at: datetime | None  # a pull request's `pull_request.merged_at`
    # Whether its repository is private, when the item says (`repository.private`; search items
    # seldom carry it): audience.search_item_private decides what an item that does not say means.
    repo_private: bool | None = None

    @property
    def author(self) -> dict[str, Any] | None:
        """The author as GitHub's payloads show a user (None when the item named none)."""
        if self.author_id is None:
            return None
        return {"id": self.author_id, "login": self.author_login, "type": self.author_type}


@dataclass(frozen=True, slots=True)
class SearchPage:
    """One page of an issue search: GitHub's total count, the items read, and how many items GitHub sent.

    `sent` counts the malformed items that were skipped too: paging goes by it.
    """

    total_count: int
    incomplete: bool
    items: list[SearchItem]
    sent: int


def _resource(path: str) -> str:
    return "search" if path.startswith("/search/") else "core"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _shown(value: str, limit: int = 40) -> str:
    """Return member input fit to quote inside backticks."""
    value = value.replace("`", "'").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 3] + "..."


def is_login(value: object) -> bool:
    """Tell whether `value` can be a GitHub login (what GitHub sends is checked before it is stored)."""
    return isinstance(value, str) and _LOGIN.fullmatch(value) is not None


def validate_login(login: str) -> str:
    """Return a GitHub login without surrounding spaces or a leading @, or raise GitHubError."""
    value = login.strip().removeprefix("@")
    if not _LOGIN.fullmatch(value):
        raise GitHubError(
            f"`{_shown(value)}` isn't a valid GitHub username: it has 1 to 39 letters, digits or single hyphens, "
            "and doesn't start or end with a hyphen."
        )
    return value


def validate_repo(repo: str) -> str:
    """Return `owner/name` without surrounding spaces or a `.git` suffix, or raise GitHubError."""
    value = repo.strip().removesuffix(".git")
    match = _REPO.fullmatch(value)
    if match is None or match["name"] in (".", ".."):
        raise GitHubError(
            f"`{_shown(value)}` isn't a GitHub repository; write it as `owner/name`, like `encode/httpx`."
        )
    return value


def _search_term(value: str, what: str, pattern: re.Pattern[str] | None = None) -> str:
    value = value.strip()
    if not value or len(value) > _SEARCH_TERM_CHARS or _UNSAFE_IN_QUERY.search(value):
        raise GitHubError(
            f"That {what} isn't one I can search for: keep it under {_SEARCH_TERM_CHARS} characters, "
            "without quotes or line breaks."
        )
    if pattern is not None and not pattern.fullmatch(value):
        raise GitHubError(f"`{_shown(value)}` doesn't look like a programming language, like `python` or `c++`.")
    return value


class GitHubAPI:
    """Read-only calls to the GitHub REST API over a client the caller owns."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token: str | None = None,
        base_url: str = BASE_URL,
        graphql_url: str | None = None,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.graphql_url = graphql_url or graphql_url_for(self.base_url)
        self.limits = RateLimits(has_token=bool(token))
        self._sleep = sleep
        # One queue per resource: the radar's GraphQL queries never wait behind the open-PR sweep's searches.
        self._background_turn = {resource: asyncio.Lock() for resource in RESOURCES}
        self._headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._now = now
        self._searches: dict[tuple[str, int], tuple[float, list[Issue]]] = {}
        self._languages: dict[str, tuple[float, str | None]] = {}

    def now(self) -> datetime:
        """Return the time by GitHub's clock: the one its rate-limit resets are in (real time, not the bot's)."""
        return self._now()

    async def get_user(self, login: str, *, background: bool = False) -> GitHubUser:
        """Return the GitHub account with this login."""
        login = validate_login(login)
        data = await self._get_json(
            f"/users/{login}", not_found=f"There's no GitHub user called `{login}`.", background=background
        )
        return parse_user(data)

    async def get_user_by_id(self, github_id: int, *, background: bool = False) -> GitHubUser:
        """Return the GitHub account with this numeric id (it survives a renamed login)."""
        data = await self._get_json(
            f"/user/{int(github_id)}", not_found="GitHub no longer knows that account.", background=background
        )
        return parse_user(data)

    async def search_issues(
        self,
        query: str,
        *,
        page: int = 1,
        per_page: int = 100,
        sort: str | None = None,
        order: str = "desc",
        background: bool = False,
    ) -> SearchPage:
        """Run one page of an issue search, as given (the caller builds and checks the query)."""
        params: dict[str, str | int] = {"q": query, "per_page": per_page, "page": page, "advanced_search": "true"}
        if sort is not None:
            params |= {"sort": sort, "order": order}
        data = await self._get_json(
            "/search/issues",
            params=params,
            unprocessable=GitHubUnprocessable("GitHub couldn't run that search."),
            background=background,
        )
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise GitHubUnavailable()
        parsed = [item for raw in items if (item := parse_search_item(raw, self.base_url)) is not None]
        total = data.get("total_count")
        total = total if isinstance(total, int) and not isinstance(total, bool) and total >= 0 else len(items)
        total = min(total, MAX_NUMBER)  # it is stored (history_total): an Integer column
        return SearchPage(total, data.get("incomplete_results") is True, parsed, len(items))

    async def user_shows_code(self, login: str, code: str) -> bool:
        """Return whether `code` is in the user's bio or in one of their newest public gists."""
        if not code:
            raise ValueError("an empty code would match anything")
        user = await self.get_user(login)
        if code in (user.bio or ""):
            return True
        gists = await self._get_json(
            f"/users/{user.login}/gists",
            params={"per_page": GISTS_LISTED},
            not_found=f"There's no GitHub user called `{user.login}`.",
        )
        if not isinstance(gists, list):
            raise GitHubUnavailable()
        for gist in gists:
            files: Mapping[str, Any] = gist.get("files") or {}
            if code in (gist.get("description") or "") or any(code in name for name in files):
                return True
        for gist in gists[:GISTS_READ]:
            files = gist.get("files") or {}
            if len(files) > GIST_FILES_READ:
                continue
            for file in files.values():
                size, url = file.get("size"), file.get("raw_url")
                if isinstance(size, int) and size < GIST_FILE_BYTES and url and await self._raw_contains(url, code):
                    return True
        return False

    async def repo_exists(self, repo: str) -> str:
        """Return the canonical `owner/name` of a public repository (following renames)."""
        repo = validate_repo(repo)
        data = await self._get_json(f"/repos/{repo}", not_found=_repo_not_found(repo))
        full_name = data.get("full_name") if isinstance(data, dict) else None
        if not isinstance(full_name, str) or _REPO.fullmatch(full_name) is None:
            log.warning("GitHub named repository %s oddly: %.100r", repo, full_name)
            raise GitHubUnavailable()
        return full_name

    async def repo_private(self, repo: str, *, background: bool = False) -> bool:
        """Whether a repository is private as this client sees it; one it cannot find counts as private."""
        try:
            data = await self._get_json(f"/repos/{validate_repo(repo)}", background=background)
        except GitHubNotFound:
            return True
        return not (isinstance(data, dict) and data.get("private") is False)

    async def good_first_issues(
        self, *, language: str | None = None, label: str | None = None, repo: str | None = None, limit: int = 10
    ) -> list[Issue]:
        """Return open, unassigned issues with the label (newest first), cached for a while."""
        language = _search_term(language, "language", _LANGUAGE) if language is not None else None
        repo = validate_repo(repo) if repo is not None else None
        terms = _gfi_terms(label)
        if language is not None:
            terms.append(_language_term(language))
        if repo is not None:
            terms.append(f"repo:{repo}")
        # GitHub answers 422 when a repo: qualifier names a repository it can't see.
        unprocessable = (
            GitHubNotFound(_repo_not_found(repo))
            if repo
            else GitHubError("GitHub couldn't run that search; try another language or label.")
        )
        return await self._issue_search(" ".join(terms), limit, unprocessable, language=language)

    async def good_first_issues_among(
        self,
        *,
        repos: Sequence[str] = (),
        languages: Sequence[str] = (),
        label: str | None = None,
        limit: int = 10,
    ) -> list[Issue]:
        """Return open, unassigned issues with the label in any of these repositories and languages, in one search.

        Each list is one `(a OR b ...)` group of the advanced syntax (the radar's): together at most
        five operators and 256 characters, so a caller passes a few of each (`gfi.py` does).
        """
        query = gfi_query(repos=repos, languages=languages, label=label)
        # One language searched is the one each issue is in; for several, GitHub's item does not say.
        language = languages[0] if len(languages) == 1 else None
        return await self._issue_search(
            query,
            limit,
            GitHubError("GitHub couldn't run that search; try another language or label."),
            language=language,
            advanced=True,
        )

    async def repo_language(self, repo: str) -> str | None:
        """Return a public repository's main language as GitHub names it (None: none, or not public), cached a day."""
        repo = validate_repo(repo)
        key = repo.lower()
        cached = self._languages.get(key)
        if cached is not None and cached[0] > self._clock():
            return cached[1]
        try:
            data = await self._get_json(f"/repos/{repo}")
        except GitHubNotFound:
            data = None
        found = data.get("language") if isinstance(data, dict) and data.get("private") is False else None
        language = found if isinstance(found, str) and _LANGUAGE.fullmatch(found) else None
        now = self._clock()
        _remember(self._languages, key, (now + LANGUAGE_TTL, language), now, MAX_CACHED_LANGUAGES)
        return language

    async def _issue_search(
        self, query: str, limit: int, unprocessable: GitHubError, *, language: str | None, advanced: bool = False
    ) -> list[Issue]:
        """Run one issue search for members (newest first), answered from the cache while it is fresh."""
        if not 1 <= limit <= MAX_ISSUES:
            raise GitHubError(f"I can show between 1 and {MAX_ISSUES} issues at a time.")
        key = (query, limit)
        cached = self._searches.get(key)
        if cached is not None and cached[0] > self._clock():
            return list(cached[1])
        params: dict[str, str | int] = {"q": query, "sort": "created", "order": "desc", "per_page": limit}
        if advanced:
            params["advanced_search"] = "true"
        data = await self._get_json("/search/issues", params=params, unprocessable=unprocessable)
        raw = data.get("items") if isinstance(data, dict) else None
        if not isinstance(raw, list):
            raise GitHubUnavailable()
        items = [item for r in raw if (item := parse_search_item(r, self.base_url)) is not None]
        issues = [_issue(item, language) for item in items[:limit]]
        now = self._clock()
        _remember(self._searches, key, (now + self._cache_ttl, issues), now, MAX_CACHED_SEARCHES)
        return list(issues)

    async def _get_json(
        self,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        not_found: str = "GitHub couldn't find that.",
        unprocessable: GitHubError | None = None,
        background: bool = False,
    ) -> Any:
        response = await self._get(path, params, background=background)
        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError:
                log.warning("GitHub sent unreadable JSON for %s", path)
                raise GitHubUnavailable() from None
        if status == 404:
            raise GitHubNotFound(not_found)
        if status == 422 and unprocessable is not None:
            raise unprocessable
        raise self.http_error(response, path)

    def http_error(self, response: httpx.Response, path: str) -> GitHubError:
        """Return the error an answer that is no success means (rate limited, down, a refused token...)."""
        status = response.status_code
        if (limited := rate_limit_error(response, self._now(), quiet=True)) is not None:  # `observe` logged it
            return limited
        if status >= 500:
            log.warning("GitHub answered HTTP %s for %s", status, path)
            return GitHubUnavailable()
        if status == 401:
            log.error("GitHub refused the token (HTTP 401)")
            return GitHubError("GitHub refused Shiplog's access token; please let a server admin know.")
        log.warning("GitHub answered HTTP %s for %s: %.200s", status, path, response.text)
        return GitHubError(f"GitHub turned that request down (HTTP {status}).")

    async def post_graphql(self, payload: Mapping[str, Any]) -> httpx.Response:
        """POST a GraphQL query as background work (graphql.py reads the answer); paced by the points it costs."""
        await self._wait_background_turn("graphql")
        headers = self._headers | {"X-Github-Next-Global-ID": "1"}  # node ids in GitHub's current form
        try:
            response = await self._client.post(self.graphql_url, json=payload, headers=headers)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError as exc:
            log.warning("GitHub's GraphQL request failed: %r", exc)
            raise GitHubUnavailable() from exc
        self.limits.observe("graphql", response, self._now())
        return response

    async def _get(
        self, path: str, params: Mapping[str, str | int] | None, *, background: bool = False
    ) -> httpx.Response:
        """GET a path, retrying once, straight away, on a gateway error (GitHub's are usually brief)."""
        response = await self._send(path, params, background=background)
        if response.status_code in (502, 503, 504):
            log.info("GitHub answered HTTP %s for %s; retrying once", response.status_code, path)
            response = await self._send(path, params, background=background)
        return response

    async def _send(
        self, path: str, params: Mapping[str, str | int] | None, *, background: bool = False
    ) -> httpx.Response:
        resource = _resource(path)
        if background:
            await self._wait_background_turn(resource)
        else:
            bucket = self.limits.buckets[resource]
            if (wait := bucket.wait(self._now())) > 0:
                # GitHub said stop: nothing goes out before the reset, and the member hears when.
                raise GitHubRateLimited(
                    f"GitHub's rate limit is reached; try again in {wait_text(wait)}.",
                    bucket.blocked_until or bucket.reset_at,
                )
        try:
            response = await self._client.get(
                self.base_url + path, params=params, headers=self._headers, follow_redirects=True
            )
        except httpx.TransportError as exc:  # connection failures and timeouts
            log.warning("GitHub request %s failed: %r", path, exc)
            raise GitHubUnavailable() from exc
        self.limits.observe(resource, response, self._now())
        return response

    async def _wait_background_turn(self, resource: str) -> None:
        """Wait until background work may send a request: after the reset, paced, leaving a reserve."""
        async with self._background_turn[resource]:
            while (wait := self.limits.background_wait(resource, self._now())) > 0:
                await self._sleep(min(wait, 60.0))
            self.limits.buckets[resource].last_background = self._now()

    async def _raw_contains(self, url: str, code: str) -> bool:
        """Return whether the gist file at `url` contains `code`, reading at most GIST_FILE_BYTES."""
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in RAW_HOSTS:
            log.warning("Skipping a gist file at an unexpected address: %s", url)
            return False
        needle, data = code.encode(), b""
        try:
            # No token here: raw files of public gists need none, and it should not travel further than the API.
            async with self._client.stream("GET", url, follow_redirects=True) as response:
                if response.status_code != 200:
                    if (limited := rate_limit_error(response, self._now())) is not None:
                        raise limited
                    if response.status_code >= 500:
                        raise GitHubUnavailable()
                    return False  # deleted since it was listed, say: look at the other files
                async for chunk in response.aiter_bytes():
                    data += chunk
                    if needle in data:
                        return True
                    if len(data) >= GIST_FILE_BYTES:
                        break
        except httpx.TransportError as exc:
            log.warning("Reading gist file %s failed: %r", url, exc)
            raise GitHubUnavailable() from exc
        return False


def graphql_url_for(base_url: str) -> str:
    """Return the GraphQL endpoint beside a REST API: GitHub.com's, GHES's `/api/graphql`, else `<base>/graphql`."""
    base = base_url.rstrip("/")
    if base == BASE_URL:
        return f"{BASE_URL}/graphql"
    return base.removesuffix("/v3") + "/graphql" if base.endswith("/api/v3") else f"{base}/graphql"


def _remember(cache: dict[K, tuple[float, V]], key: K, entry: tuple[float, V], now: float, size: int) -> None:
    """Keep `entry` (expiry, value) under `key`, dropping what expired and, when full, the oldest."""
    for stale in [k for k, (expires, _) in cache.items() if expires <= now]:
        del cache[stale]
    if len(cache) >= size:
        del cache[next(iter(cache))]
    cache[key] = entry


def gfi_query(*, repos: Sequence[str] = (), languages: Sequence[str] = (), label: str | None = None) -> str:
    """Return the search for open good first issues in any of these repositories and any of these languages."""
    groups = [
        _any_of([f"repo:{validate_repo(repo)}" for repo in repos]),
        _any_of([_language_term(_search_term(lang, "language", _LANGUAGE)) for lang in languages]),
    ]
    return " ".join([*_gfi_terms(label), *(group for group in groups if group)])


def _gfi_terms(label: str | None) -> list[str]:
    """Return the qualifiers of every good-first-issue search: open, unassigned, not archived, with the label."""
    label = _search_term(label, "label") if label is not None else DEFAULT_LABEL
    return ["is:issue", "is:open", "no:assignee", "archived:false", f'label:"{label}"']


def _language_term(language: str) -> str:
    return f'language:"{language}"' if " " in language else f"language:{language}"


def _any_of(terms: list[str]) -> str:
    """Return nothing, the one term, or `(a OR b ...)`."""
    return "" if not terms else terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def _repo_not_found(repo: str) -> str:
    return f"I can't find the repository `{repo}` on GitHub (is it private?)"


def parse_user(data: Any) -> GitHubUser:
    """Read a user as GitHub's users API shows one; an answer without a sound id and login is unavailable."""
    from bot.services.github.urls import safe_url

    github_id = _whole(data.get("id")) if isinstance(data, dict) else None
    login = data.get("login") if isinstance(data, dict) else None
    if github_id is None or github_id <= 0 or not isinstance(login, str) or not is_login(login):
        log.warning("GitHub sent a user without a sound id and login: %.200r", data)
        raise GitHubUnavailable()
    bio, node_id = data.get("bio"), data.get("node_id")
    return GitHubUser(
        id=github_id,
        login=login,
        type=_text(data.get("type")) or "User",
        bio=bio if isinstance(bio, str) else None,
        html_url=safe_url(data.get("html_url"), fallback=f"https://github.com/{login}") or "",
        node_id=node_id if isinstance(node_id, str) and 0 < len(node_id) <= 100 else None,
    )


def repo_of(item: Mapping[str, Any], base_url: str = BASE_URL) -> str:
    """Return the `owner/name` of a search item, from its `repository_url` (GitHub.com or Enterprise)."""
    url = str(item.get("repository_url", ""))
    prefix = f"{base_url.rstrip('/')}/repos/"
    if url.startswith(prefix):
        return url.removeprefix(prefix)
    return "/".join(urlsplit(url).path.rstrip("/").split("/")[-2:])


MAX_NUMBER = 2**31 - 1  # what an Integer column holds


def parse_time(value: Any) -> datetime | None:
    """Read GitHub's ISO 8601 time ("2026-11-30T10:00:00Z") as aware UTC, or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        # At the edges of the calendar ("0001-01-01T00:00:00+05:00") the move to UTC overflows.
        return when.astimezone(UTC) if when.tzinfo is not None else None
    except (ValueError, OverflowError):
        return None


def _whole(value: Any) -> int | None:
    # GitHub's numbers are JSON integers; a bool is not one, nor is "12" or 1.5.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def parse_search_item(raw: Any, base_url: str = BASE_URL) -> SearchItem | None:
    """Read one item of a search result: the one place its shape is checked.

    A malformed item (not an object, a number that is no positive whole number, no repository) is
    logged and skipped, None: the good items beside it still count. Text fields of the wrong type
    are read as empty, and the link is kept only when it is safe to show.
    """
    from bot.services.github.urls import issue_url, pull_url, safe_url

    if not isinstance(raw, dict):
        log.warning("skipping a GitHub search item that is not an object: %.100r", raw)
        return None
    number = _whole(raw.get("number"))
    repo = repo_of(raw, base_url)
    if number is None or not 0 < number <= MAX_NUMBER or _REPO.fullmatch(repo) is None:
        log.warning(
            "skipping a malformed GitHub search item: number %.40r, repository %.100r",
            raw.get("number"),
            raw.get("repository_url"),
        )
        return None
    user: dict[str, Any] = raw["user"] if isinstance(raw.get("user"), dict) else {}
    author_id = _whole(user.get("id"))
    pull: dict[str, Any] | None = raw["pull_request"] if isinstance(raw.get("pull_request"), dict) else None
    built = pull_url(repo, number) if pull is not None else issue_url(repo, number)
    labels: list[Any] = raw["labels"] if isinstance(raw.get("labels"), list) else []
    comments = _whole(raw.get("comments"))
    return SearchItem(
        repo=repo,
        number=number,
        title=_text(raw.get("title")),
        url=safe_url(raw.get("html_url"), fallback=built),
        author_id=author_id if author_id is not None and author_id > 0 else None,
        author_login=_text(user.get("login")),
        author_type=_text(user.get("type")) or "User",
        body=raw.get("body") if isinstance(raw.get("body"), str) else None,
        labels=tuple(
            label["name"] for label in labels if isinstance(label, dict) and isinstance(label.get("name"), str)
        ),
        comments=max(0, comments) if comments is not None else 0,
        created_at=parse_time(raw.get("created_at")),
        closed_at=parse_time(raw.get("closed_at")),
        merged_at=parse_time(pull.get("merged_at")) if pull is not None else None,
        repo_private=_said_private(raw.get("repository")),
    )


def _said_private(repository: Any) -> bool | None:
    """A repository object's `private` flag, when it has one (a search item seldom carries its repository)."""
    if isinstance(repository, dict) and isinstance(repository.get("private"), bool):
        return bool(repository["private"])
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _issue(item: SearchItem, language: str | None) -> Issue:
    return Issue(
        repo=item.repo,
        number=item.number,
        title=item.title,
        url=item.url or "",
        labels=list(item.labels),
        comments=item.comments,
        created_at=item.created_at or datetime.min.replace(tzinfo=UTC),
        language=language,
    )
