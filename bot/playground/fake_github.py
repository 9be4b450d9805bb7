"""A fake GitHub REST API on ``127.0.0.1``: issue search, with its query language and rate limits, and users.

It is an aiohttp server that answers what the radar and the history import ask
(``GET /search/issues``), who a user is (``GET /users/{login}``, ``GET /user/{id}``) and whether a
repository exists (``GET /repos/{owner}/{name}``, for ``add_repo``), from users
and pull requests the caller adds; ``gh.device`` is GitHub's OAuth device flow (``fake_device.py``),
its web endpoints on the same address. Typical use::

    async with FakeGitHub(now=clock.now) as gh:
        ada = gh.add_user("ada-lovelace")
        gh.add_pr(ada, "octo-org/engine", created_at=t0, merged_at=t1)
        api = GitHubAPI(client, token="t", base_url=gh.url, now=clock.now, sleep=clock.sleep)

What it does like GitHub:

- **Search syntax** (the advanced syntax, ``advanced_search=true``): qualifiers joined by spaces
  are AND; ``OR``, ``AND``, ``NOT`` and parentheses; at most five operators and 256 characters, else
  422. Qualifiers: ``is:pr``/``is:issue``, ``is:open``/``is:closed``/``is:merged``/``is:unmerged``,
  ``state:``, ``author:``, ``repo:``, ``user:``/``org:``, ``archived:``, ``draft:``, ``review:none`` (and
  ``review:approved``/``reviewed-by:`` as "has a review"), ``created:``/``merged:``/``closed:``
  with ``>=``, ``>``, ``<=``, ``<``, a date or a range ``a..b``. An unknown qualifier is a 422, never
  a silent wrong answer; so is an ``author:`` that names no user (GitHub's answer for a deleted or
  renamed login).
- **Results**: ``total_count``, ``incomplete_results``, items shaped like GitHub's (number, title,
  html_url, body, user, repository_url, state, created_at, closed_at, pull_request.merged_at...),
  ``per_page`` capped at 100, ``page``, and only the first 1,000 results reachable (a page past them
  is a 422). The default order is newest first; ``sort=created|updated`` and ``order`` are honoured.
- **Time**: every state is read at ``now()`` (injectable, so a test can run in virtual time). A PR
  merged at a future instant is open until then, and the index can lag (``index_lag`` seconds: the
  search sees each PR as it was that long ago). Each answer can take ``latency`` seconds, spent in
  the injectable ``sleep``.
- **Rate limits**: search allows 10 requests a minute without a token and 30 with one, core 60 and
  5,000 an hour, counted per token (or for all anonymous callers together). A window opens at the
  first request after the previous one ended, on a whole second, and lasts 60 s (core: an hour).
  Every answer carries ``x-ratelimit-limit``, ``-remaining``, ``-used``, ``-reset`` (epoch seconds)
  and ``-resource``; a request past the limit gets ``limited_status`` (403 by default, or 429) with
  ``remaining: 0`` and ``{"message": "API rate limit exceeded ..."}``, and does not count.

Everything is recorded: ``gh.searches`` (one ``SearchRecord`` per search request, answered or
refused), ``gh.limited`` (403/429 answers sent) and ``gh.unprocessable`` (422s). ``POST /graphql``
is `fake_graphql.py`'s, over the same users and PRs (``gh.graphql``: its records and switches).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import math
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from bot.playground.fake_device import FakeDeviceFlow

HOST = "127.0.0.1"
SEARCH_LIMITS = {False: 10, True: 30}  # a minute: without a token, with one
CORE_LIMITS = {False: 60, True: 5000}  # an hour
WINDOW_SECONDS = {"search": 60, "core": 3600}
MAX_QUERY_CHARS = 256
MAX_OPERATORS = 5
RESULT_CAP = 1000
MAX_PER_PAGE = 100
DOCS = "https://docs.github.com/rest/overview/resources-in-the-rest-api#rate-limiting"

_TOKEN = re.compile(r'\(|\)|-?[\w.-]+:"[^"]*"|"[^"]*"|[^\s()]+')
_RANGE = re.compile(r"(?P<op>>=|<=|>|<)?(?P<value>.+)")


def _utcnow() -> datetime:
    return datetime.now(UTC)


def iso(when: datetime | None) -> str | None:
    """Return GitHub's form of an instant ("2026-11-30T10:00:00Z")."""
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _whole_second(when: datetime) -> datetime:
    return when.astimezone(UTC).replace(microsecond=0)


# --- What the fake knows --------------------------------------------------------------------------


@dataclass(slots=True)
class FakeUser:
    """A GitHub account."""

    id: int
    login: str
    type: str = "User"
    bio: str | None = None  # what the profile says; a member puts their /github link code here
    gists: list[dict[str, Any]] = field(default_factory=list)  # public gists, as GET /users/{login}/gists lists them

    def json(self) -> dict[str, Any]:
        return {
            "login": self.login,
            "id": self.id,
            "node_id": f"U_{self.id}",
            "avatar_url": f"https://avatars.githubusercontent.com/u/{self.id}?v=4",
            "html_url": f"https://github.com/{self.login}",
            "type": self.type,
            "site_admin": False,
        }


@dataclass(slots=True)
class FakePR:
    """A pull request; its state at any instant follows from its times (a future merge is still open)."""

    id: int
    repo: str
    number: int
    author: FakeUser
    title: str
    body: str | None
    created_at: datetime
    merged_at: datetime | None = None
    closed_at: datetime | None = None  # closed without a merge (a merge closes it at merged_at)
    reviewed: bool = False
    archived: bool = False
    draft: bool = False

    def state_at(self, when: datetime) -> str | None:
        """Return "open", "merged" or "closed" at `when` (None: not created yet)."""
        if when < self.created_at:
            return None
        if self.merged_at is not None and when >= self.merged_at:
            return "merged"
        if self.closed_at is not None and when >= self.closed_at:
            return "closed"
        return "open"

    def json(self, base_url: str, when: datetime) -> dict[str, Any]:
        """Return the search item GitHub would show at `when`."""
        state = self.state_at(when)
        closed = self.merged_at if state == "merged" else self.closed_at if state == "closed" else None
        merged = self.merged_at if state == "merged" else None
        api = f"{base_url}/repos/{self.repo}"
        html = f"https://github.com/{self.repo}/pull/{self.number}"
        return {
            "url": f"{api}/issues/{self.number}",
            "repository_url": api,
            "labels_url": f"{api}/issues/{self.number}/labels{{/name}}",
            "comments_url": f"{api}/issues/{self.number}/comments",
            "html_url": html,
            "id": self.id,
            "node_id": f"PR_{self.id}",
            "number": self.number,
            "title": self.title,
            "user": self.author.json(),
            "labels": [],
            "state": "open" if state == "open" else "closed",
            "locked": False,
            "assignee": None,
            "assignees": [],
            "milestone": None,
            "comments": 0,
            "created_at": iso(self.created_at),
            "updated_at": iso(closed or self.created_at),
            "closed_at": iso(closed),
            "author_association": "CONTRIBUTOR",
            "draft": self.draft,
            "pull_request": {
                "url": f"{api}/pulls/{self.number}",
                "html_url": html,
                "diff_url": f"{html}.diff",
                "patch_url": f"{html}.patch",
                "merged_at": iso(merged),
            },
            "body": self.body,
            "reactions": {"total_count": 0},
            "state_reason": None,
            "score": 1.0,
        }


@dataclass(frozen=True, slots=True)
class SearchRecord:
    """One search request as the fake saw it."""

    at: datetime
    status: int  # 200, 403/429 (rate limited), 422 (refused)
    query: str
    page: int
    per_page: int
    token: bool
    authors: tuple[str, ...]  # the logins named by author: qualifiers, lower case, in order
    terms: tuple[str, ...]  # every other qualifier, as written ("is:pr", "merged:>=2026-...")
    total_count: int | None = None
    returned: int = 0


class Unprocessable(Exception):
    """A search GitHub would refuse with 422."""


# --- The query language ---------------------------------------------------------------------------

# A parsed query is a tree of tuples: ("and", [nodes]), ("or", [nodes]), ("not", node), ("term", key, value)
# where key is None for free text.
Node = tuple[Any, ...]


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.at = 0
        self.operators = 0

    def peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.at]
        self.at += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise Unprocessable("The search query is empty.")
        node = self.either()
        if self.peek() is not None:
            raise Unprocessable(f"Unexpected {self.peek()!r} in the search query.")
        return node

    def either(self) -> Node:
        nodes = [self.both()]
        while self.peek() == "OR":
            self.take()
            self.operators += 1
            nodes.append(self.both())
        return nodes[0] if len(nodes) == 1 else ("or", nodes)

    def both(self) -> Node:
        nodes = [self.unary()]
        while (token := self.peek()) is not None and token not in ("OR", ")"):
            if token == "AND":
                self.take()
                self.operators += 1
            nodes.append(self.unary())
        return nodes[0] if len(nodes) == 1 else ("and", nodes)

    def unary(self) -> Node:
        token = self.peek()
        if token is None or token in ("OR", "AND", ")"):
            raise Unprocessable("The search query is incomplete.")
        if token == "NOT":
            self.take()
            self.operators += 1
            return ("not", self.unary())
        if token == "(":
            self.take()
            node = self.either()
            if self.peek() != ")":
                raise Unprocessable("Unbalanced parentheses in the search query.")
            self.take()
            return node
        self.take()
        negated = token.startswith("-") and ":" in token
        token = token.removeprefix("-") if negated else token
        key, colon, value = token.partition(":")
        term: Node = ("term", key.lower(), value.strip('"')) if colon else ("term", None, token.strip('"'))
        return ("not", term) if negated else term


def parse_query(text: str) -> tuple[Node, int]:
    """Return the tree of a query and how many AND/OR/NOT operators it uses."""
    parser = _Parser(text)
    return parser.parse(), parser.operators


def _authors_of(node: Node) -> set[str] | None:
    """Return the logins (lower case) a query can match at most, or None when any author can match."""
    kind = node[0]
    if kind == "term":
        return {node[2].lower()} if node[1] == "author" else None
    if kind == "not":
        return None
    found = [_authors_of(child) for child in node[1]]
    known = [f for f in found if f is not None]
    if kind == "and":
        return set.intersection(*known) if known else None
    # An OR matches any author as soon as one of its branches does.
    return None if len(known) < len(found) else set[str]().union(*known)


def _walk_terms(node: Node) -> list[Node]:
    if node[0] == "term":
        return [node]
    if node[0] == "not":
        return _walk_terms(node[1])
    return [term for child in node[1] for term in _walk_terms(child)]


def _parse_instant(value: str, *, end: bool = False) -> datetime:
    """Read a date or an ISO 8601 instant; a bare date is its first second (or, with `end`, its last)."""
    try:
        if len(value) == 10:
            day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return day + timedelta(days=1, seconds=-1) if end else day
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise Unprocessable(f"{value!r} isn't a date GitHub understands.") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _in_range(when: datetime | None, spec: str) -> bool:
    if when is None:
        return False
    if ".." in spec:
        low, _, high = spec.partition("..")
        return (low in ("", "*") or when >= _parse_instant(low)) and (
            high in ("", "*") or when <= _parse_instant(high, end=True)
        )
    match = _RANGE.fullmatch(spec)
    if match is None:
        raise Unprocessable(f"{spec!r} isn't a date range GitHub understands.")
    op, value = match["op"], match["value"]
    if op == ">=":
        return when >= _parse_instant(value)
    if op == ">":
        return when > _parse_instant(value, end=True)
    if op == "<=":
        return when <= _parse_instant(value, end=True)
    if op == "<":
        return when < _parse_instant(value)
    return _parse_instant(value) <= when <= _parse_instant(value, end=True)


def _matches(node: Node, pr: FakePR, state: str) -> bool:
    kind = node[0]
    if kind == "and":
        return all(_matches(child, pr, state) for child in node[1])
    if kind == "or":
        return any(_matches(child, pr, state) for child in node[1])
    if kind == "not":
        return not _matches(node[1], pr, state)
    _, key, value = node
    value_l = value.lower()
    if key is None:
        return value_l in pr.title.lower() or value_l in (pr.body or "").lower()
    if key in ("is", "type"):
        if value_l in ("pr", "pull-request"):
            return True
        if value_l == "issue":
            return False
        key = "state"
    if key == "state":
        if value_l == "open":
            return state == "open"
        if value_l == "closed":
            return state in ("merged", "closed")
        if value_l == "merged":
            return state == "merged"
        if value_l == "unmerged":
            return state == "closed"
        raise Unprocessable(f"is:{value} isn't something this fake can search for.")
    if key == "author":
        return pr.author.login.lower() == value_l
    if key == "repo":
        return pr.repo.lower() == value_l
    if key in ("user", "org"):
        return pr.repo.lower().partition("/")[0] == value_l
    if key == "archived":
        return pr.archived == (value_l == "true")
    if key == "draft":
        return pr.draft == (value_l == "true")
    if key == "review":
        return (not pr.reviewed) if value_l == "none" else pr.reviewed
    if key == "reviewed-by":
        return pr.reviewed
    if key == "created":
        return _in_range(pr.created_at, value)
    if key == "merged":
        return state == "merged" and _in_range(pr.merged_at, value)
    if key == "closed":
        closed = pr.merged_at if state == "merged" else pr.closed_at if state == "closed" else None
        return _in_range(closed, value)
    raise Unprocessable(f"The qualifier {key}: isn't one this fake knows.")


# --- The server -----------------------------------------------------------------------------------


@dataclass(slots=True)
class _Window:
    limit: int
    reset: int  # epoch seconds
    used: int = 0


@dataclass
class FakeGitHub:
    """The fake; use it as an async context manager (it listens on a free port of 127.0.0.1)."""

    now: Callable[[], datetime] = _utcnow
    index_lag: float = 0.0
    latency: float = 0.0  # seconds each answer takes, spent in `sleep` (give it a virtual clock's)
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    limited_status: int = 403
    search_limits: dict[bool, int] = field(default_factory=lambda: dict(SEARCH_LIMITS))
    core_limits: dict[bool, int] = field(default_factory=lambda: dict(CORE_LIMITS))

    def __post_init__(self) -> None:
        self.users: dict[str, FakeUser] = {}  # by lower-case login
        self.users_by_id: dict[int, FakeUser] = {}
        self.repos: dict[str, str] = {}  # public repositories, full name by lower-case full name
        self.private_repos: set[str] = set()  # lower-case full names of the private ones among them
        self.prs_by_author: defaultdict[int, list[FakePR]] = defaultdict(list)
        self.prs_by_id: dict[int, FakePR] = {}
        self.graphql: Any = None  # the GraphQL endpoint (fake_graphql.py), once started with graphql-core
        self.searches: list[SearchRecord] = []
        self.limited = 0
        self.unprocessable = 0
        self.requests = 0
        self._windows: dict[tuple[str, str], _Window] = {}
        self._ids = itertools.count(1_000_000_001)
        self._numbers: defaultdict[str, int] = defaultdict(int)
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.device = FakeDeviceFlow(lambda: self.now())  # the OAuth device flow (fake_device.py)

    # --- setting up -------------------------------------------------------------------------------

    def add_user(self, login: str, github_id: int | None = None, *, type: str = "User") -> FakeUser:
        """Add an account (its id is made up unless given)."""
        user = FakeUser(github_id if github_id is not None else next(self._ids), login, type)
        self.users[login.lower()] = user
        self.users_by_id[user.id] = user
        return user

    def add_repo(self, full_name: str, *, private: bool = False) -> str:
        """Add a repository, public unless said (what `GET /repos/{owner}/{name}` finds); a pull
        request's repository is added, public, with it."""
        self.repos[full_name.lower()] = full_name
        if private:
            self.private_repos.add(full_name.lower())
        return full_name

    def add_pr(
        self,
        author: FakeUser,
        repo: str,
        *,
        created_at: datetime,
        merged_at: datetime | None = None,
        closed_at: datetime | None = None,
        number: int | None = None,
        title: str | None = None,
        body: str | None = None,
        reviewed: bool = False,
        archived: bool = False,
    ) -> FakePR:
        """Add a pull request (times are cut to whole seconds, like GitHub's); numbers go up per repository."""
        if number is None:
            self._numbers[repo] += 1
            number = self._numbers[repo]
        else:
            self._numbers[repo] = max(self._numbers[repo], number)
        pr = FakePR(
            id=next(self._ids),
            repo=repo,
            number=number,
            author=author,
            title=title or f"Change {number} to {repo}",
            body=body,
            created_at=_whole_second(created_at),
            merged_at=None if merged_at is None else _whole_second(merged_at),
            closed_at=None if closed_at is None else _whole_second(closed_at),
            reviewed=reviewed,
            archived=archived,
        )
        self.prs_by_author[author.id].append(pr)
        self.prs_by_id[pr.id] = pr
        self.repos.setdefault(repo.lower(), repo)
        return pr

    # --- running ----------------------------------------------------------------------------------

    async def __aenter__(self) -> FakeGitHub:
        app = web.Application()
        app.router.add_get("/search/issues", self._search)
        app.router.add_get("/users/{login}", self._user_by_login)
        app.router.add_get("/users/{login}/gists", self._gists)
        app.router.add_get("/user/{id}", self._user_by_id)
        app.router.add_get("/repos/{owner}/{name}", self._repo)
        self.device.add_routes(app)
        with contextlib.suppress(ImportError):  # POST /graphql needs graphql-core, a dev dependency
            from bot.playground.fake_graphql import mount

            self.graphql = mount(self, app)
        app.router.add_route("*", "/{tail:.*}", self._not_found)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, HOST, 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # --- rate limits ------------------------------------------------------------------------------

    def _take(self, request: web.Request, resource: str) -> tuple[bool, dict[str, str]]:
        """Count one request against its window; return whether it may be answered, and the headers."""
        auth = request.headers.get("Authorization")
        has_token = bool(auth)
        identity = auth or "anonymous"
        limit = (self.search_limits if resource == "search" else self.core_limits)[has_token]
        now = self.now().timestamp()
        window = self._windows.get((resource, identity))
        if window is None or now >= window.reset:
            window = _Window(limit, math.floor(now) + WINDOW_SECONDS[resource])
            self._windows[(resource, identity)] = window
        allowed = window.used < window.limit
        window.used += allowed
        headers = {
            "x-ratelimit-limit": str(window.limit),
            "x-ratelimit-remaining": str(window.limit - window.used),
            "x-ratelimit-used": str(window.used),
            "x-ratelimit-reset": str(window.reset),
            "x-ratelimit-resource": resource,
            "x-github-api-version-selected": "2022-11-28",
        }
        return allowed, headers

    def _refuse(self, headers: dict[str, str]) -> web.Response:
        self.limited += 1
        return web.json_response(
            {"message": "API rate limit exceeded for 127.0.0.1.", "documentation_url": DOCS},
            status=self.limited_status,
            headers=headers,
        )

    # --- handlers ---------------------------------------------------------------------------------

    async def _search(self, request: web.Request) -> web.Response:
        self.requests += 1
        at = self.now()
        if self.latency:
            await self.sleep(self.latency)  # GitHub answers what it saw when the request came in
        text = request.query.get("q", "")
        token = bool(request.headers.get("Authorization"))
        allowed, headers = self._take(request, "search")
        authors: tuple[str, ...] = ()
        terms: tuple[str, ...] = ()
        page = per_page = 0
        try:
            try:
                page = max(1, int(request.query.get("page", "1")))
                per_page = min(MAX_PER_PAGE, max(1, int(request.query.get("per_page", "30"))))
            except ValueError:
                raise Unprocessable("page and per_page must be numbers.") from None
            tree, operators = parse_query(text)
            for _, key, value in _walk_terms(tree):
                if key == "author":
                    authors += (value.lower(),)
                else:
                    terms += (f"{key}:{value}" if key else value,)
            if not allowed:
                found = None
            else:
                self._validate(text, operators, page, per_page, authors)
                found = self._find(tree, at - timedelta(seconds=self.index_lag), request.query)
        except Unprocessable as exc:
            if not allowed:  # the rate limit is checked first
                self.searches.append(SearchRecord(at, self.limited_status, text, page, per_page, token, authors, terms))
                return self._refuse(headers)
            self.unprocessable += 1
            self.searches.append(SearchRecord(at, 422, text, page, per_page, token, authors, terms))
            return web.json_response(
                {
                    "message": "Validation Failed",
                    "errors": [{"message": str(exc), "resource": "Search", "field": "q", "code": "invalid"}],
                    "documentation_url": "https://docs.github.com/v3/search/",
                    "status": "422",
                },
                status=422,
                headers=headers,
            )
        if found is None:
            self.searches.append(SearchRecord(at, self.limited_status, text, page, per_page, token, authors, terms))
            return self._refuse(headers)
        chunk = found[(page - 1) * per_page : page * per_page]
        self.searches.append(SearchRecord(at, 200, text, page, per_page, token, authors, terms, len(found), len(chunk)))
        seen_at = at - timedelta(seconds=self.index_lag)
        return web.json_response(
            {
                "total_count": len(found),
                "incomplete_results": False,
                "items": [pr.json(self.url, seen_at) for pr in chunk],
            },
            headers=headers,
        )

    def _validate(self, text: str, operators: int, page: int, per_page: int, authors: tuple[str, ...]) -> None:
        if len(text) > MAX_QUERY_CHARS:
            raise Unprocessable("The search is longer than 256 characters.")
        if operators > MAX_OPERATORS:
            raise Unprocessable("The search contains more than 5 AND / OR / NOT operators.")
        if page * per_page > RESULT_CAP:
            raise Unprocessable("Cannot access beyond the first 1000 results, or the page size is too large.")
        if any(login not in self.users for login in authors):
            raise Unprocessable(
                "The listed users cannot be searched either because the users do not exist "
                "or you do not have permission to view the users."
            )

    def _find(self, tree: Node, when: datetime, params: Any) -> list[FakePR]:
        authors = _authors_of(tree)
        if authors is None:
            candidates = [pr for prs in self.prs_by_author.values() for pr in prs]
        else:
            candidates = [pr for login in authors for pr in self.prs_by_author.get(self.users[login].id, [])]
        found = []
        for pr in candidates:
            state = pr.state_at(when)
            if state is not None and _matches(tree, pr, state):
                found.append(pr)
        sort, descending = params.get("sort"), params.get("order", "desc") != "asc"
        if sort == "updated":
            found.sort(key=lambda p: (p.merged_at or p.closed_at or p.created_at, p.id), reverse=descending)
        else:  # created, and GitHub's "best match": newest first here
            found.sort(key=lambda p: (p.created_at, p.id), reverse=descending if sort else True)
        return found

    async def _user(self, request: web.Request, user: FakeUser | None) -> web.Response:
        self.requests += 1
        if self.latency:
            await self.sleep(self.latency)
        allowed, headers = self._take(request, "core")
        if not allowed:
            return self._refuse(headers)
        if user is None:
            return web.json_response(
                {"message": "Not Found", "documentation_url": "https://docs.github.com/rest/users/users"},
                status=404,
                headers=headers,
            )
        return web.json_response(user.json() | {"bio": user.bio, "public_repos": 0}, headers=headers)

    async def _user_by_login(self, request: web.Request) -> web.Response:
        return await self._user(request, self.users.get(request.match_info["login"].lower()))

    async def _gists(self, request: web.Request) -> web.Response:
        """A user's public gists, newest first (only the first page: the fake's users have few)."""
        self.requests += 1
        allowed, headers = self._take(request, "core")
        if not allowed:
            return self._refuse(headers)
        user = self.users.get(request.match_info["login"].lower())
        if user is None:
            return web.json_response({"message": "Not Found"}, status=404, headers=headers)
        return web.json_response(user.gists, headers=headers)

    async def _user_by_id(self, request: web.Request) -> web.Response:
        try:
            user = self.users_by_id.get(int(request.match_info["id"]))
        except ValueError:
            user = None
        return await self._user(request, user)

    async def _repo(self, request: web.Request) -> web.Response:
        self.requests += 1
        allowed, headers = self._take(request, "core")
        if not allowed:
            return self._refuse(headers)
        full_name = self.repos.get(f"{request.match_info['owner']}/{request.match_info['name']}".lower())
        if full_name is None:
            return web.json_response({"message": "Not Found"}, status=404, headers=headers)
        owner, _, name = full_name.partition("/")
        private = full_name.lower() in self.private_repos
        return web.json_response(
            {"full_name": full_name, "name": name, "owner": {"login": owner}, "private": private}, headers=headers
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        self.requests += 1
        return web.json_response({"message": "Not Found"}, status=404)
