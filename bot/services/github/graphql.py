"""GitHub's GraphQL API, for the radar with a token: the queries, one call, and what an answer means.

Every query the radar sends is one of `QUERIES`, fixed text with variables (so the set is finite, and
`tests/test_graphql.py` validates each against GitHub's schema, `tests/fixtures/github_graphql/`).

- `MERGES`: up to `USER_BATCH` (100) users by node id, each with their `PRS_PER_USER` merged PRs
  updated last (`pullRequests(states: MERGED, orderBy: UPDATED_AT DESC)`). GitHub counts one
  connection per user, so 100 users cost 1 point. A merge updates a PR, so every PR merged since
  the radar's cursor is among those updated since it. Asking by node id follows renames: each
  answer says the user's login now.
- `MORE`: the next page of one user's list, when all of a page was updated since the cursor.
- `DETAILS`: up to 100 PRs by node id, with what a celebration needs (title, body, labels, the
  repository and whether it is private). Labels are a connection per PR, so they are asked for only
  for the few PRs updated since the cursor, not in `MERGES` (where 100 users' 10 PRs' labels would
  cost 11 points instead of 1).

GitHub answers errors with HTTP 200 and an `errors` list. A user that no longer exists is a null in
`nodes` and a `NOT_FOUND` error: the rest of the batch stands (`Merges.missing`). `RATE_LIMITED` is
`GitHubRateLimited` (nothing more is sent before the reset, ratelimits.py); a query GitHub finds
too big (`MAX_NODE_LIMIT_EXCEEDED`, a complexity or resource limit) is `GraphQLTooBig`, and a
502/504 or a timeout `GraphQLTimeout`: the radar splits the batch when it can.
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx

from bot.services.github.api import _REPO, MAX_NUMBER, GitHubAPI, SearchItem, is_login, parse_time
from bot.services.github.errors import GitHubError, GitHubRateLimited, GitHubUnavailable
from bot.services.github.ratelimits import SECONDARY_WAIT, wait_text
from bot.services.github.urls import pull_url, safe_url

log = logging.getLogger(__name__)

USER_BATCH = 100  # `nodes(ids:)` takes up to 100 ids
PR_BATCH = 100
PRS_PER_USER = 10  # merged PRs a user's first page holds (updated last first)
MORE_PER_PAGE = 100
LABELS = 10  # labels read per PR: enough to see spam or invalid

_RATE = "rateLimit { cost remaining resetAt limit }"
_MERGED = "pullRequests(states: MERGED, orderBy: {field: UPDATED_AT, direction: DESC}, first: $first"
_REF = "pageInfo { hasNextPage endCursor } nodes { id mergedAt updatedAt }"

MERGES = (
    "query RadarMerges($ids: [ID!]!, $first: Int!) {\n"
    "  nodes(ids: $ids) {\n"
    f"    id ... on User {{ databaseId login {_MERGED}) {{ {_REF} }} }}\n"
    "  }\n"
    f"  {_RATE}\n"
    "}"
)
MORE = (
    "query RadarMoreMerges($id: ID!, $first: Int!, $after: String!) {\n"
    "  node(id: $id) {\n"
    f"    ... on User {{ id databaseId login {_MERGED}, after: $after) {{ {_REF} }} }}\n"
    "  }\n"
    f"  {_RATE}\n"
    "}"
)
DETAILS = (
    "query RadarMergeDetails($ids: [ID!]!, $labels: Int!) {\n"
    "  nodes(ids: $ids) {\n"
    "    ... on PullRequest {\n"
    "      id number title url body createdAt closedAt mergedAt\n"
    "      repository { nameWithOwner isPrivate }\n"
    "      author { __typename login ... on User { databaseId } ... on Bot { databaseId } }\n"
    "      labels(first: $labels) { nodes { name } }\n"
    "    }\n"
    "  }\n"
    f"  {_RATE}\n"
    "}"
)
# Every query the radar can send, with variables of the right types (the schema test runs them all).
QUERIES: dict[str, tuple[str, dict[str, Any]]] = {
    "merges": (MERGES, {"ids": ["U_1"], "first": PRS_PER_USER}),
    "more": (MORE, {"id": "U_1", "first": MORE_PER_PAGE, "after": "Y3Vyc29yOjEw"}),
    "details": (DETAILS, {"ids": ["PR_1"], "labels": LABELS}),
}

TOO_BIG = frozenset({"MAX_NODE_LIMIT_EXCEEDED", "RESOURCE_LIMITS_EXCEEDED", "EXCESSIVE_PAGINATION"})


class GraphQLTooBig(GitHubUnavailable):
    """GitHub refused a query as too big or too complex: a smaller batch may pass."""


class GraphQLTimeout(GitHubUnavailable):
    """GitHub timed out on a query (a 502 or 504, or no answer in time): a smaller batch may pass."""


def legacy_user_id(github_id: int) -> str:
    """Return a user's node id in GitHub's legacy form (`04:User<id>`, base64), which GitHub still accepts.

    Used until GitHub has told the radar the user's node id (REST `node_id`, or an answer's `id`).
    """
    return base64.b64encode(f"04:User{int(github_id)}".encode()).decode()


@dataclass(frozen=True, slots=True)
class MergedRef:
    """One of a user's merged PRs, as `MERGES` lists it: which, when it merged and was last updated."""

    node_id: str
    merged_at: datetime | None
    updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class UserMerges:
    """A user as `MERGES` or `MORE` found them: who they are now and their merged PRs updated last.

    `login` is empty when the node is no `User` (a bot account linked by an admin): nothing to celebrate.
    """

    node_id: str
    database_id: int | None
    login: str
    prs: list[MergedRef]
    after: str | None  # the cursor of the next page, when there is one


@dataclass(frozen=True, slots=True)
class Answer:
    """A GraphQL answer: its data, its errors and what the query cost."""

    data: Mapping[str, Any]
    errors: Sequence[Mapping[str, Any]]
    cost: int | None
    remaining: int | None
    reset_at: datetime | None


async def ask(api: GitHubAPI, query: str, variables: Mapping[str, Any]) -> Answer:
    """Send one query as background work; raise what GitHub's answer means when it is not data."""
    try:
        response = await api.post_graphql({"query": query, "variables": dict(variables)})
    except httpx.TimeoutException as exc:
        raise GraphQLTimeout() from exc
    if response.status_code in (502, 504):
        raise GraphQLTimeout()
    if response.status_code != 200:
        raise api.http_error(response, "GraphQL")
    try:
        body = response.json()
    except ValueError:
        raise GitHubUnavailable() from None
    if not isinstance(body, dict):
        raise GitHubUnavailable()
    errors = [e for e in body.get("errors") or [] if isinstance(e, dict)]
    data = _obj(body, "data")
    rate = _obj(data, "rateLimit")
    cost, remaining = _count(rate.get("cost")), _count(rate.get("remaining"))
    reset_at = parse_time(rate.get("resetAt"))
    api.limits.spent_graphql(cost, remaining, reset_at, _count(rate.get("limit")))
    kinds = {str(e.get("type") or "") for e in errors}
    if "RATE_LIMITED" in kinds:
        now = api.now()
        until = reset_at if reset_at is not None and reset_at > now else now + SECONDARY_WAIT
        api.limits.block("graphql", until, now)
        when = wait_text((until - now).total_seconds())
        raise GitHubRateLimited(f"GitHub's rate limit is reached; try again in {when}.", until)
    messages = " ".join(str(e.get("message") or "") for e in errors).lower()
    if kinds & TOO_BIG or "complexity" in messages or "timeout" in messages:
        log.info("GitHub found a GraphQL query too big: %.300s", messages)
        raise GraphQLTooBig()
    if not data and errors:
        log.warning("GitHub refused a GraphQL query: %.300s", messages)
        raise GitHubError("GitHub couldn't run the radar's query.")
    return Answer(data, errors, cost, remaining, reset_at)


def missing_indexes(answer: Answer, field: str = "nodes") -> set[int]:
    """Return the positions in `nodes` GitHub answered NOT_FOUND (a user or PR that no longer exists)."""
    out = set()
    for error in answer.errors:
        path = error.get("path")
        if error.get("type") == "NOT_FOUND" and isinstance(path, list) and len(path) >= 2 and path[0] == field:
            index = path[1]
            if isinstance(index, int) and not isinstance(index, bool):
                out.add(index)
    return out


def _obj(raw: Mapping[str, Any], key: str) -> dict[str, Any]:
    """Return `raw[key]` when it is an object, else an empty one."""
    value = raw.get(key)
    return value if isinstance(value, dict) else {}


def _count(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _user(raw: Any) -> UserMerges | None:
    """Read a user of `MERGES` or `MORE`; None for a null (gone). A node that is no `User` (a bot) has no login."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    if "login" not in raw:
        return UserMerges(raw["id"], None, "", [], None)  # a Bot, say: it has no pull requests to celebrate
    if not is_login(raw["login"]):
        return None
    connection = _obj(raw, "pullRequests")
    page = _obj(connection, "pageInfo")
    prs = [
        MergedRef(pr["id"], parse_time(pr.get("mergedAt")), parse_time(pr.get("updatedAt")))
        for pr in connection.get("nodes") or []
        if isinstance(pr, dict) and isinstance(pr.get("id"), str)
    ]
    after = page.get("endCursor") if page.get("hasNextPage") is True else None
    return UserMerges(
        raw["id"], _count(raw.get("databaseId")), raw["login"], prs, after if isinstance(after, str) else None
    )


async def user_merges(api: GitHubAPI, node_ids: Sequence[str]) -> tuple[list[UserMerges | None], Answer]:
    """Return each user's merged PRs updated last (None: GitHub knows no such user now), in the order asked."""
    if not 0 < len(node_ids) <= USER_BATCH:
        raise ValueError(f"between 1 and {USER_BATCH} users a query")
    answer = await ask(api, MERGES, {"ids": list(node_ids), "first": PRS_PER_USER})
    nodes = answer.data.get("nodes")
    if not isinstance(nodes, list) or len(nodes) != len(node_ids):
        raise GitHubUnavailable()
    return [_user(raw) for raw in nodes], answer


async def more_merges(api: GitHubAPI, node_id: str, after: str) -> tuple[UserMerges | None, Answer]:
    """Return the next page of one user's merged PRs."""
    answer = await ask(api, MORE, {"id": node_id, "first": MORE_PER_PAGE, "after": after})
    return _user(answer.data.get("node")), answer


async def details(api: GitHubAPI, pr_ids: Sequence[str]) -> tuple[dict[str, SearchItem], Answer]:
    """Return what a celebration needs of these merged PRs, by node id (a PR gone since is left out)."""
    if not 0 < len(pr_ids) <= PR_BATCH:
        raise ValueError(f"between 1 and {PR_BATCH} pull requests a query")
    answer = await ask(api, DETAILS, {"ids": list(pr_ids), "labels": LABELS})
    nodes = answer.data.get("nodes")
    if not isinstance(nodes, list):
        raise GitHubUnavailable()
    out = {}
    for raw in nodes:
        item = _item(raw)
        if item is not None:
            out[raw["id"]] = item
    return out, answer


def _item(raw: Any) -> SearchItem | None:
    """Read a PR of `DETAILS` into the value the REST search gives (so both paths celebrate alike)."""
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        return None
    number = _count(raw.get("number"))
    repository = _obj(raw, "repository")
    repo = repository.get("nameWithOwner")
    if number is None or not 0 < number <= MAX_NUMBER or not isinstance(repo, str) or not _REPO.fullmatch(repo):
        log.warning("skipping a malformed pull request from GraphQL: %.200r", raw)
        return None
    author = _obj(raw, "author")
    author_id = _count(author.get("databaseId"))
    labels = _obj(raw, "labels")
    body = raw.get("body")
    private = repository.get("isPrivate")
    return SearchItem(
        repo=repo,
        number=number,
        title=raw["title"] if isinstance(raw.get("title"), str) else "",
        url=safe_url(raw.get("url"), fallback=pull_url(repo, number)),
        author_id=author_id or None,
        author_login=author["login"] if isinstance(author.get("login"), str) else "",
        author_type="Bot" if author.get("__typename") == "Bot" else "User",
        body=body if isinstance(body, str) else None,
        labels=tuple(
            label["name"]
            for label in labels.get("nodes") or []
            if isinstance(label, dict) and isinstance(label.get("name"), str)
        ),
        comments=0,
        created_at=parse_time(raw.get("createdAt")),
        closed_at=parse_time(raw.get("closedAt")),
        merged_at=parse_time(raw.get("mergedAt")),
        repo_private=private if isinstance(private, bool) else None,
    )
