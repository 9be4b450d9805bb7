"""A small client for the GitHub REST API: users, gists, repositories and issue search.

It wraps an `httpx.AsyncClient` that the caller owns (built once in `bot/cli.py`), and turns
every failure into a `GitHubError`, whose message is safe to show a member.

Rate limits are a contract. Every answer's `x-ratelimit-*` headers, and the `retry-after` of a
403 or 429, are kept per resource ("core", "search") in one `RateLimits` that every caller shares:
once GitHub says stop, nothing of that resource is sent before the reset. Members' commands go
first: background work (the radar) waits for its turn, keeps a reserve for commands and is paced
to use only part of the budget.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from bot.errors import UserError

log = logging.getLogger(__name__)

BASE_URL = "https://api.github.com"
RESOURCES = ("core", "search")
# The radar uses at most this share of a resource's budget, and leaves this many requests to commands.
BACKGROUND_SHARE = 0.8
BACKGROUND_RESERVE = {"core": 10, "search": 2}
# Search allows 10 requests a minute without a token and 30 with one; core 60 and 5,000 an hour.
SEARCH_WINDOW = 60.0
DEFAULT_SEARCH_LIMIT = {False: 10, True: 30}
CORE_WINDOW = 3600.0
DEFAULT_CORE_LIMIT = {False: 60, True: 5000}
CORE_BACKGROUND_SHARE = 0.5
# GitHub asks to wait at least a minute after a secondary rate limit that names no time.
SECONDARY_WAIT = timedelta(seconds=60)
MIN_WAIT = timedelta(seconds=5)
API_VERSION = "2022-11-28"

GISTS_LISTED = 30  # gists whose description and file names are checked for a code
GISTS_READ = 10  # of those, the newest ones whose small files are read as well
GIST_FILES_READ = 3  # a gist with more files than this is not read
GIST_FILE_BYTES = 10 * 1024  # files of this size or more are not read
RAW_HOSTS = frozenset({"gist.githubusercontent.com"})
MAX_ISSUES = 50
MAX_CACHED_SEARCHES = 256
DEFAULT_LABEL = "good first issue"

_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}")
_REPO = re.compile(rf"(?P<owner>{_LOGIN.pattern})/(?P<name>[A-Za-z0-9._-]{{1,100}})")
_LANGUAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 +#._-]{0,39}")
_UNSAFE_IN_QUERY = re.compile(r'["\\\r\n\t\x00-\x1f\x7f]')
_SEARCH_TERM_CHARS = 50


class GitHubError(UserError):
    """GitHub could not give an answer; the message says why, politely."""


class GitHubNotFound(GitHubError):
    """The user or repository does not exist (or is private)."""


class GitHubRateLimited(GitHubError):
    """GitHub's rate limit is reached; `reset_at` (aware, UTC) is when to try again, if GitHub said."""

    def __init__(self, message: str, reset_at: datetime | None = None) -> None:
        super().__init__(message)
        self.reset_at = reset_at


class GitHubUnprocessable(GitHubError):
    """GitHub could not run a search (HTTP 422), such as one naming a user who no longer exists."""


class GitHubUnavailable(GitHubError):
    """GitHub is down, slow or unreachable."""

    def __init__(self, message: str = "GitHub isn't answering right now; try again in a few minutes.") -> None:
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class GitHubUser:
    """A GitHub account (a person or an organization)."""

    id: int
    login: str
    type: str
    bio: str | None
    html_url: str


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
class SearchPage:
    """One page of an issue search: GitHub's total count, and the raw items of this page."""

    total_count: int
    incomplete: bool
    items: list[dict[str, Any]]


@dataclass(slots=True)
class Bucket:
    """What GitHub last said of one resource's rate limit (times are aware UTC)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    blocked_until: datetime | None = None  # after a 403 or 429: nothing is sent before
    last_background: datetime | None = None  # when background work last sent a request

    def wait(self, now: datetime, *, reserve: int = 0) -> float:
        """Return how many seconds to wait before a request may go out (0: now)."""
        if self.blocked_until is not None and now < self.blocked_until:
            return (self.blocked_until - now).total_seconds()
        exhausted = self.remaining is not None and self.remaining <= reserve
        if exhausted and self.reset_at is not None and now < self.reset_at:
            return (self.reset_at - now).total_seconds()
        return 0.0


class RateLimits:
    """GitHub's rate limits as its answers report them, per resource, shared by every caller."""

    def __init__(self, *, has_token: bool) -> None:
        self.has_token = has_token
        self.buckets = {resource: Bucket() for resource in RESOURCES}
        self.limited = 0  # how many 403/429 rate-limit answers were received

    def observe(self, resource: str, response: httpx.Response, now: datetime) -> GitHubRateLimited | None:
        """Read a response's rate-limit headers; return the error when it says the limit is reached."""
        headers = response.headers
        bucket = self.buckets.setdefault(headers.get("x-ratelimit-resource") or resource, Bucket())
        for name, attr in (("x-ratelimit-limit", "limit"), ("x-ratelimit-remaining", "remaining")):
            if (value := headers.get(name, "").strip()).isdigit():
                setattr(bucket, attr, int(value))
        if (reset := headers.get("x-ratelimit-reset", "").strip()).isdigit():
            bucket.reset_at = datetime.fromtimestamp(int(reset), UTC)
        limited = _rate_limit(response, now)
        if limited is not None:
            self.limited += 1
            # A reset already past (a skewed clock, "retry-after: 0") still waits a moment: asking again at
            # once would only earn another refusal.
            bucket.blocked_until = max(limited.reset_at or now + SECONDARY_WAIT, now + MIN_WAIT)
            if bucket.remaining == 0 and bucket.reset_at is None:
                bucket.reset_at = bucket.blocked_until
        return limited

    def background_interval(self, resource: str) -> float:
        """Return the seconds between two background requests, so they use only part of the budget."""
        bucket = self.buckets[resource]
        if resource == "search":
            limit = bucket.limit or DEFAULT_SEARCH_LIMIT[self.has_token]
            return SEARCH_WINDOW / (limit * BACKGROUND_SHARE)
        # Core is what /github verify needs: the radar's lookups (renames, logins) take half of it at most.
        limit = bucket.limit or DEFAULT_CORE_LIMIT[self.has_token]
        return CORE_WINDOW / (limit * CORE_BACKGROUND_SHARE)

    def background_wait(self, resource: str, now: datetime) -> float:
        """Return how long background work must wait before its next request of `resource`."""
        bucket = self.buckets[resource]
        wait = bucket.wait(now, reserve=BACKGROUND_RESERVE.get(resource, 0))
        if bucket.last_background is not None:
            paced = bucket.last_background + timedelta(seconds=self.background_interval(resource))
            wait = max(wait, (paced - now).total_seconds())
        return max(wait, 0.0)


def _resource(path: str) -> str:
    return "search" if path.startswith("/search/") else "core"


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _shown(value: str, limit: int = 40) -> str:
    """Return member input fit to quote inside backticks."""
    value = value.replace("`", "'").replace("\n", " ")
    return value if len(value) <= limit else value[: limit - 3] + "..."


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


def _wait_text(seconds: float) -> str:
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "about a minute"
    if minutes < 120:
        return f"about {minutes} minutes"
    return f"about {round(minutes / 60)} hours"


def _retry_after(value: str, now: datetime) -> datetime | None:
    try:
        return now + timedelta(seconds=max(0, int(value.strip())))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.astimezone(UTC) if when.tzinfo else None


def _rate_limit(response: httpx.Response, now: datetime, *, quiet: bool = False) -> GitHubRateLimited | None:
    """Return the error for a rate-limited response, or None when the response is not one."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    primary = headers.get("x-ratelimit-remaining") == "0"
    retry_after = headers.get("retry-after")
    secondary = retry_after is not None or "rate limit" in response.text.lower()
    if not (response.status_code == 429 or primary or secondary):
        return None
    reset_at: datetime | None = None
    if retry_after is not None:
        reset_at = _retry_after(retry_after, now)
    if reset_at is None and primary and (reset := headers.get("x-ratelimit-reset", "")).strip().isdigit():
        reset_at = datetime.fromtimestamp(int(reset), UTC)
    if not quiet:
        log.warning("GitHub rate limit reached (HTTP %s), reset at %s", response.status_code, reset_at)
    when = _wait_text((reset_at - now).total_seconds()) if reset_at is not None else "a few minutes"
    return GitHubRateLimited(f"GitHub's rate limit is reached; try again in {when}.", reset_at)


class GitHubAPI:
    """Read-only calls to the GitHub REST API over a client the caller owns."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        token: str | None = None,
        base_url: str = BASE_URL,
        cache_ttl: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = _utcnow,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self._client = client
        self.base_url = base_url.rstrip("/")
        self.limits = RateLimits(has_token=bool(token))
        self._sleep = sleep
        self._background_turn = asyncio.Lock()
        self._headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._cache_ttl = cache_ttl
        self._clock = clock
        self._now = now
        self._searches: dict[tuple[str | None, str, str | None, int], tuple[float, list[Issue]]] = {}

    def now(self) -> datetime:
        """Return the time by GitHub's clock: the one its rate-limit resets are in (real time, not the bot's)."""
        return self._now()

    async def get_user(self, login: str, *, background: bool = False) -> GitHubUser:
        """Return the GitHub account with this login."""
        login = validate_login(login)
        data = await self._get_json(
            f"/users/{login}", not_found=f"There's no GitHub user called `{login}`.", background=background
        )
        return _user(data)

    async def get_user_by_id(self, github_id: int, *, background: bool = False) -> GitHubUser:
        """Return the GitHub account with this numeric id (it survives a renamed login)."""
        data = await self._get_json(
            f"/user/{int(github_id)}", not_found="GitHub no longer knows that account.", background=background
        )
        return _user(data)

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
        return SearchPage(int(data.get("total_count") or 0), bool(data.get("incomplete_results")), items)

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
        return data["full_name"]

    async def good_first_issues(
        self, *, language: str | None = None, label: str | None = None, repo: str | None = None, limit: int = 10
    ) -> list[Issue]:
        """Return open, unassigned issues with the label (newest first), cached for a while."""
        language = _search_term(language, "language", _LANGUAGE) if language is not None else None
        label = _search_term(label, "label") if label is not None else DEFAULT_LABEL
        repo = validate_repo(repo) if repo is not None else None
        if not 1 <= limit <= MAX_ISSUES:
            raise GitHubError(f"I can show between 1 and {MAX_ISSUES} issues at a time.")

        key = (language, label, repo, limit)
        cached = self._searches.get(key)
        if cached is not None and cached[0] > self._clock():
            return list(cached[1])

        terms = ["is:issue", "is:open", "no:assignee", "archived:false", f'label:"{label}"']
        if language is not None:
            terms.append(f'language:"{language}"' if " " in language else f"language:{language}")
        if repo is not None:
            terms.append(f"repo:{repo}")
        # GitHub answers 422 when a repo: qualifier names a repository it can't see.
        unprocessable = (
            GitHubNotFound(_repo_not_found(repo))
            if repo
            else GitHubError("GitHub couldn't run that search; try another language or label.")
        )
        data = await self._get_json(
            "/search/issues",
            params={"q": " ".join(terms), "sort": "created", "order": "desc", "per_page": limit},
            unprocessable=unprocessable,
        )
        issues = [_issue(item, language, self.base_url) for item in data.get("items", [])[:limit]]
        self._store(key, issues)
        return list(issues)

    def _store(self, key: tuple[str | None, str, str | None, int], issues: list[Issue]) -> None:
        now = self._clock()
        for stale in [k for k, (expires, _) in self._searches.items() if expires <= now]:
            del self._searches[stale]
        if len(self._searches) >= MAX_CACHED_SEARCHES:
            del self._searches[next(iter(self._searches))]
        self._searches[key] = (now + self._cache_ttl, issues)

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
        if (limited := _rate_limit(response, self._now(), quiet=True)) is not None:  # `observe` logged it
            raise limited
        if status >= 500:
            log.warning("GitHub answered HTTP %s for %s", status, path)
            raise GitHubUnavailable()
        if status == 401:
            log.error("GitHub refused the token (HTTP 401)")
            raise GitHubError("GitHub refused Shiplog's access token; please let a server admin know.")
        log.warning("GitHub answered HTTP %s for %s: %.200s", status, path, response.text)
        raise GitHubError(f"GitHub turned that request down (HTTP {status}).")

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
                    f"GitHub's rate limit is reached; try again in {_wait_text(wait)}.",
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
        async with self._background_turn:
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
                    if (limited := _rate_limit(response, self._now())) is not None:
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


def _repo_not_found(repo: str) -> str:
    return f"I can't find the repository `{repo}` on GitHub (is it private?)"


def _user(data: Mapping[str, Any]) -> GitHubUser:
    return GitHubUser(
        id=int(data["id"]),
        login=data["login"],
        type=data.get("type") or "User",
        bio=data.get("bio"),
        html_url=data.get("html_url") or f"https://github.com/{data['login']}",
    )


def repo_of(item: Mapping[str, Any], base_url: str = BASE_URL) -> str:
    """Return the `owner/name` of a search item, from its `repository_url` (GitHub.com or Enterprise)."""
    url = str(item.get("repository_url", ""))
    prefix = f"{base_url.rstrip('/')}/repos/"
    if url.startswith(prefix):
        return url.removeprefix(prefix)
    return "/".join(urlsplit(url).path.rstrip("/").split("/")[-2:])


def _issue(item: Mapping[str, Any], language: str | None, base_url: str = BASE_URL) -> Issue:
    repo = repo_of(item, base_url)
    return Issue(
        repo=repo,
        number=int(item["number"]),
        title=item["title"],
        url=item["html_url"],
        labels=[label["name"] for label in item.get("labels", []) if isinstance(label, dict) and "name" in label],
        comments=int(item.get("comments", 0)),
        created_at=datetime.fromisoformat(item["created_at"]).astimezone(UTC),
        language=language,
    )
