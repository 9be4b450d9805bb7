"""A fake of GitHub's GraphQL API (`POST /graphql`) for the part the radar asks, answered with graphql-core.

It parses, validates and executes each query against the part of GitHub's public schema kept in
`tests/fixtures/github_graphql/schema.graphql`, with resolvers over users and pull requests the
caller provides (`Store`): `nodes(ids:)`, `node(id:)`, `User.pullRequests(states:, orderBy:, first:,
after:)`, a pull request's fields and labels, and `rateLimit`. Like GitHub:

- **Errors come with HTTP 200**: a query that does not validate gets `errors` and no data; an id
  nobody has is a null in `nodes` with a `NOT_FOUND` error naming its path, beside the others' data.
- **Cost**: the connections a query asks for (each `first:` counted once per parent, `nodes(ids:)`
  multiplying by its ids) divided by 100, at least 1 point; over 500,000 nodes is refused
  (`MAX_NODE_LIMIT_EXCEEDED`). `rateLimit { cost remaining resetAt limit used nodeCount }` says it.
- **Rate limits**: 5,000 points an hour per token (a window opens at the first query); past them,
  `RATE_LIMITED` with HTTP 200. More than 2,000 points in a minute is a secondary limit: HTTP 403
  with `retry-after`. Without a token, 401. Every answer has `x-ratelimit-*` headers (resource graphql).
- **What a test switches on**: `failures` (the next answers, made by a function, recorded with
  status 0), `max_users` (a
  query naming more users is refused as too complex, as GitHub refuses a heavy one).

Everything is recorded in `records` (one `GraphQLRecord` per query).
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Protocol

from graphql import (
    FieldNode,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    build_schema,
    execute_sync,
    parse,
    validate,
    value_from_ast_untyped,
)
from graphql.error import GraphQLError

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "github_graphql" / "schema.graphql"
POINTS_AN_HOUR = 5000
POINTS_A_MINUTE = 2000  # GitHub's secondary limit
MAX_NODES = 500_000
MAX_IDS = 100


@cache
def schema() -> GraphQLSchema:
    """GitHub's schema, the part the radar uses (built once per process)."""
    return build_schema(SCHEMA_PATH.read_text(encoding="utf-8"))


def iso(when: datetime | None) -> str | None:
    return None if when is None else when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class GUser:
    """A GitHub account as GraphQL shows it."""

    id: int
    login: str
    type: str = "User"  # or "Bot"

    @property
    def node_id(self) -> str:
        return f"U_{self.id}"


@dataclass(frozen=True, slots=True)
class GPR:
    """A pull request as GraphQL shows it at one instant."""

    node_id: str
    repo: str
    number: int
    title: str
    body: str | None
    author: GUser
    created_at: datetime
    merged_at: datetime | None  # None: not merged (yet)
    closed_at: datetime | None
    updated_at: datetime
    labels: tuple[str, ...] = ()
    private: bool = False


class Store(Protocol):
    """What the fake reads: users by numeric id, a user's merged PRs, a PR by node id (all at `now`)."""

    def user(self, github_id: int) -> GUser | None: ...
    def merged_prs(self, github_id: int, now: datetime) -> list[GPR]: ...
    def pr(self, node_id: str, now: datetime) -> GPR | None: ...


@dataclass(frozen=True, slots=True)
class GraphQLRecord:
    """One query as the fake received it."""

    at: datetime
    operation: str | None
    user_ids: tuple[int, ...]  # the users a `nodes(ids:)` or `node(id:)` named (known ones)
    cost: int
    status: int
    errors: tuple[str, ...]  # the error types answered


Answer = tuple[int, dict[str, Any], dict[str, str]]  # status, JSON body, headers


def user_id_of(node_id: Any) -> int | None:
    """Return the numeric id in a user's node id: `U_<id>`, or the legacy base64 of `04:User<id>`."""
    if not isinstance(node_id, str):
        return None
    if node_id.startswith("U_") and node_id[2:].isdigit():
        return int(node_id[2:])
    try:
        decoded = base64.b64decode(node_id, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    return int(decoded[7:]) if decoded.startswith("04:User") and decoded[7:].isdigit() else None


@dataclass
class FakeGraphQL:
    """GitHub's GraphQL endpoint over a `Store`; `answer()` takes a request body and gives the response."""

    store: Store
    now: Callable[[], datetime]
    points_an_hour: int = POINTS_AN_HOUR
    max_users: int = MAX_IDS
    failures: list[Callable[[], Answer]] = field(default_factory=list)
    records: list[GraphQLRecord] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._windows: dict[str, tuple[float, int]] = {}  # token -> (reset epoch, points used)
        self._minute: dict[str, list[tuple[float, int]]] = {}  # token -> (when, cost) in the last minute

    def answer(self, token: str | None, body: Any) -> Answer:
        now = self.now()
        if not token:
            return 401, {"message": "This endpoint requires you to be authenticated."}, {}
        query = body.get("query") if isinstance(body, dict) else None
        variables = body.get("variables") if isinstance(body, dict) else None
        variables = variables if isinstance(variables, dict) else {}
        try:
            document = parse(query if isinstance(query, str) else "")
        except GraphQLError as exc:
            return self._errors(now, None, [exc.formatted], ())
        operation = next((d for d in document.definitions if isinstance(d, OperationDefinitionNode)), None)
        name = operation.name.value if operation is not None and operation.name else None
        problems = validate(schema(), document)
        if problems or operation is None:
            return self._errors(now, name, [p.formatted for p in problems] or [{"message": "no operation"}], ())
        requests, nodes, ids = _cost(operation.selection_set, variables)
        user_ids = tuple(i for i in (user_id_of(x) for x in ids) if i is not None)
        if self.failures:  # recorded first: a failure may raise (a timeout, through respx)
            self.records.append(GraphQLRecord(now, name, user_ids, 0, 0, ("failure",)))
            return self.failures.pop(0)()
        if nodes > MAX_NODES or len(ids) > self.max_users:
            error = {"type": "MAX_NODE_LIMIT_EXCEEDED", "message": f"This query requests up to {nodes:,} nodes."}
            return self._errors(now, name, [error], user_ids)
        cost = max(1, math.ceil(requests / 100))
        reset, used = self._window(token, now)
        headers = _headers(self.points_an_hour, used, reset)
        minute = [(t, c) for t, c in self._minute.get(token, []) if t > now.timestamp() - 60]
        if sum(c for _, c in minute) + cost > POINTS_A_MINUTE:
            self.records.append(GraphQLRecord(now, name, user_ids, 0, 403, ("secondary",)))
            message = "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
            return 403, {"message": message}, headers | {"retry-after": "60"}
        if used + cost > self.points_an_hour:
            error = {"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1."}
            self.records.append(GraphQLRecord(now, name, user_ids, 0, 200, ("RATE_LIMITED",)))
            return 200, {"errors": [error]}, headers
        used += cost
        self._windows[token] = (reset, used)
        self._minute[token] = [*minute, (now.timestamp(), cost)]
        missing: list[dict[str, Any]] = []
        rate = {
            "cost": cost,
            "remaining": self.points_an_hour - used,
            "resetAt": iso(datetime.fromtimestamp(reset, UTC)),
            "limit": self.points_an_hour,
            "used": used,
            "nodeCount": nodes,
        }
        root: dict[str, Callable[..., Any]] = {
            "nodes": lambda info, ids: [self._node(x, now, ["nodes", i], missing) for i, x in enumerate(ids)],
            "node": lambda info, id: self._node(id, now, ["node"], missing),
            "rateLimit": lambda info, **_: rate,
        }
        result = execute_sync(schema(), document, root_value=root, variable_values=variables)
        errors = [e.formatted for e in result.errors or []] + missing
        out: dict[str, Any] = {"data": result.data}
        if errors:
            out["errors"] = errors
        self.records.append(GraphQLRecord(now, name, user_ids, cost, 200, _types(out)))
        return 200, out, _headers(self.points_an_hour, used, reset)

    def _errors(self, now: datetime, name: str | None, errors: list[Any], user_ids: tuple[int, ...]) -> Answer:
        self.records.append(GraphQLRecord(now, name, user_ids, 0, 200, _types({"errors": errors})))
        return 200, {"errors": errors}, {}

    def _window(self, token: str, now: datetime) -> tuple[float, int]:
        reset, used = self._windows.get(token, (0.0, 0))
        if now.timestamp() >= reset:
            reset, used = math.floor(now.timestamp()) + 3600.0, 0
            self._windows[token] = (reset, used)
        return reset, used

    def _node(self, node_id: Any, now: datetime, path: list[Any], missing: list[dict[str, Any]]) -> Any:
        found: Any = None
        github_id = user_id_of(node_id)
        if github_id is not None:
            user = self.store.user(github_id)
            found = self._user(user, now) if user is not None else None
        elif isinstance(node_id, str):
            pr = self.store.pr(node_id, now)
            found = _pr(pr) if pr is not None else None
        if found is None:
            message = f"Could not resolve to a node with the global id of '{node_id}'"
            missing.append({"type": "NOT_FOUND", "path": path, "message": message})
        return found

    def _user(self, user: GUser, now: datetime) -> dict[str, Any]:
        def pull_requests(info: Any, **args: Any) -> dict[str, Any]:
            prs = self.store.merged_prs(user.id, now) if args.get("states") == ["MERGED"] else []
            order = args.get("orderBy") or {}
            key = "updated_at" if order.get("field") == "UPDATED_AT" else "created_at"
            prs.sort(key=lambda pr: (getattr(pr, key), pr.node_id), reverse=order.get("direction") == "DESC")
            start = _offset(args.get("after"))
            first = args.get("first") or 100
            page = prs[start : start + first]
            return {
                "nodes": [_pr(pr) for pr in page],
                "totalCount": len(prs),
                "pageInfo": {"hasNextPage": start + first < len(prs), "endCursor": _cursor(start + len(page))},
            }

        typename = "Bot" if user.type == "Bot" else "User"
        node: dict[str, Any] = {"__typename": typename, "id": user.node_id, "databaseId": user.id, "login": user.login}
        if typename == "User":
            node["pullRequests"] = pull_requests
        return node


def _pr(pr: GPR) -> dict[str, Any]:
    return {
        "__typename": "PullRequest",
        "id": pr.node_id,
        "number": pr.number,
        "title": pr.title,
        "url": f"https://github.com/{pr.repo}/pull/{pr.number}",
        "body": pr.body or "",
        "createdAt": iso(pr.created_at),
        "closedAt": iso(pr.merged_at or pr.closed_at),
        "mergedAt": iso(pr.merged_at),
        "updatedAt": iso(pr.updated_at),
        "repository": {"__typename": "Repository", "nameWithOwner": pr.repo, "isPrivate": pr.private},
        "author": {
            "__typename": "Bot" if pr.author.type == "Bot" else "User",
            "login": pr.author.login,
            "databaseId": pr.author.id,
        },
        "labels": lambda info, first=None, **_: {
            "nodes": [{"name": name} for name in pr.labels[: first or 100]],
            "totalCount": len(pr.labels),
        },
    }


def _offset(cursor: Any) -> int:
    try:
        text = base64.b64decode(str(cursor)).decode() if cursor else "cursor:0"
        return max(0, int(text.removeprefix("cursor:")))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return 0


def _cursor(offset: int) -> str:
    return base64.b64encode(f"cursor:{offset}".encode()).decode()


def _types(answer: dict[str, Any]) -> tuple[str, ...]:
    return tuple(str(e.get("type") or "invalid") for e in answer.get("errors") or [] if isinstance(e, dict))


def _headers(limit: int, used: int, reset: float) -> dict[str, str]:
    return {
        "x-ratelimit-limit": str(limit),
        "x-ratelimit-remaining": str(max(0, limit - used)),
        "x-ratelimit-used": str(used),
        "x-ratelimit-reset": str(int(reset)),
        "x-ratelimit-resource": "graphql",
    }


def _cost(selections: SelectionSetNode | None, variables: dict[str, Any]) -> tuple[int, int, list[Any]]:
    """Return the connections a query asks for (GitHub's "requests"), the nodes it may return, and the ids it names."""
    requests = nodes = 0
    ids: list[Any] = []

    def walk(selection_set: SelectionSetNode | None, parents: int) -> None:
        nonlocal requests, nodes
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, InlineFragmentNode):
                walk(selection.selection_set, parents)
                continue
            if not isinstance(selection, FieldNode):
                continue
            args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in selection.arguments or ()}
            children = parents
            if "ids" in args and isinstance(args["ids"], Sequence):
                ids.extend(args["ids"])
                children = parents * len(args["ids"])
            elif "id" in args:
                ids.append(args["id"])
            elif isinstance(size := args.get("first") or args.get("last"), int):
                requests += parents
                children = parents * size
                nodes += children
            walk(selection.selection_set, children)

    walk(selections, 1)
    return requests, nodes, ids


# --- served by the loopback fake GitHub (bot/playground/fake_github.py) -------------------------------


class _FakeGitHubStore:
    """The users and pull requests of a `FakeGitHub`, as GraphQL shows them."""

    def __init__(self, fake: Any) -> None:
        self.fake = fake

    def user(self, github_id: int) -> GUser | None:
        user = self.fake.users_by_id.get(github_id)
        return None if user is None else GUser(user.id, user.login, user.type)

    def merged_prs(self, github_id: int, now: datetime) -> list[GPR]:
        return [self._pr(pr, now) for pr in self.fake.prs_by_author.get(github_id, ()) if pr.state_at(now) == "merged"]

    def pr(self, node_id: str, now: datetime) -> GPR | None:
        number = node_id.removeprefix("PR_")
        pr = self.fake.prs_by_id.get(int(number)) if number.isdigit() else None
        return None if pr is None or pr.state_at(now) is None else self._pr(pr, now)

    def _pr(self, pr: Any, now: datetime) -> GPR:
        state = pr.state_at(now)
        merged = pr.merged_at if state == "merged" else None
        closed = pr.closed_at if state == "closed" else None
        author = GUser(pr.author.id, pr.author.login, pr.author.type)
        return GPR(
            node_id=f"PR_{pr.id}",
            repo=pr.repo,
            number=pr.number,
            title=pr.title,
            body=pr.body,
            author=author,
            created_at=pr.created_at,
            merged_at=merged,
            closed_at=closed,
            updated_at=max(t for t in (pr.created_at, merged, closed) if t is not None),
            private=pr.repo.lower() in self.fake.private_repos,
        )


def mount(fake: Any, app: Any) -> FakeGraphQL:
    """Serve `POST /graphql` on a `FakeGitHub`'s aiohttp app, over its users and PRs; return the GraphQL fake."""
    from aiohttp import web

    endpoint = FakeGraphQL(_FakeGitHubStore(fake), now=lambda: fake.now())

    async def graphql(request: web.Request) -> web.Response:
        fake.requests += 1
        try:
            body = await request.json()
        except ValueError:
            body = None
        status, answer, headers = endpoint.answer(request.headers.get("Authorization"), body)
        if fake.latency:
            await fake.sleep(fake.latency)  # GitHub answers what it saw when the request came in
        return web.json_response(answer, status=status, headers=headers)

    app.router.add_post("/graphql", graphql)
    return endpoint
