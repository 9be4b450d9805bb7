"""The radar on GitHub's GraphQL API (with a token), end to end through the real bot.

GitHub is the REST fake of `tests/test_e2e_radar.py` (history import, users by id, the open-PR
sweep's searches) with `POST /graphql` answered by `bot/playground/fake_graphql.py` over the same
users and PRs: graphql-core validates and runs each query against GitHub's schema, counts its cost,
and answers errors as GitHub does. Both are served through respx; nothing reaches the network.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import httpx
import pytest
from sqlalchemy import select

from bot.db.models import GitHubAccount, GitHubMerge, MergedPullRequest, WebhookDelivery
from bot.db.session import reading
from bot.playground.fake_graphql import GPR, Answer, FakeGraphQL, GraphQLRecord, GUser
from bot.services.github.radar_graphql import MAX_RATE_LIMITED, TIMEOUT_BACKOFF
from tests.harness import World, eventually, world
from tests.test_e2e_github import post_delivery
from tests.test_e2e_radar import (
    OCTO_ID,
    PR,
    FakeGitHub,
    count,
    description,
    just_merged,
    link,
    one_more_post,
    posts,
    profile,
    radar,
    settle,
    webhook_merge,
)


class GraphQLGitHub(FakeGitHub):
    """The REST fake, with GitHub's GraphQL API over the same accounts and PRs."""

    def __init__(self, w: World) -> None:
        super().__init__(w)
        self.graphql = FakeGraphQL(_Store(self), now=self.time.now)
        w.github.post("/graphql").mock(side_effect=self._graphql)

    def _graphql(self, request: httpx.Request) -> httpx.Response:
        status, body, headers = self.graphql.answer(request.headers.get("Authorization"), json.loads(request.content))
        return httpx.Response(status, json=body, headers=headers)

    def merge_queries(self) -> list[GraphQLRecord]:
        return [r for r in self.graphql.records if r.operation == "RadarMerges"]


class _Store:
    """The REST fake's accounts and PRs, as fake_graphql reads them (a PR's node id is its place in the list)."""

    def __init__(self, gh: FakeGitHub) -> None:
        self.gh = gh

    def user(self, github_id: int) -> GUser | None:
        account = self.gh.accounts.get(github_id)
        return None if account is None else GUser(account.id, account.login, account.type)

    def merged_prs(self, github_id: int, now: datetime) -> list[GPR]:
        return [self._gpr(i, pr) for i, pr in enumerate(self.gh.prs) if pr.author_id == github_id and pr.merged_at]

    def pr(self, node_id: str, now: datetime) -> GPR | None:
        index = node_id.removeprefix("PR_")
        found = self.gh.prs[int(index)] if index.isdigit() and int(index) < len(self.gh.prs) else None
        return None if found is None or found.author_id not in self.gh.accounts else self._gpr(int(index), found)

    def _gpr(self, index: int, pr: PR) -> GPR:
        author = self.gh.accounts[pr.author_id]
        return GPR(
            node_id=f"PR_{index}",
            repo=pr.repo,
            number=pr.number,
            title=pr.title,
            body=pr.body,
            author=GUser(author.id, author.login, author.type),
            created_at=pr.created_at,
            merged_at=pr.merged_at,
            closed_at=pr.merged_at,
            updated_at=getattr(pr, "updated_at", None) or pr.merged_at or pr.created_at,
            labels=tuple(pr.labels),
        )


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url, start=False) as w:
        await w.start_bot(github_token="ghp_test")
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        yield w


@pytest.fixture
def gh(w: World) -> GraphQLGitHub:
    return GraphQLGitHub(w)


def rate_limited() -> Answer:
    """GitHub's answer past the hourly points: HTTP 200, no data, a RATE_LIMITED error."""
    error = {"type": "RATE_LIMITED", "message": "API rate limit already exceeded for user ID 1."}
    return 200, {"errors": [error]}, {}


@pytest.mark.parametrize("first", ["radar", "webhook"])
async def test_a_merge_graphql_finds_is_celebrated_once_whichever_path_sees_it_first(
    w: World, gh: GraphQLGitHub, first: str
) -> None:
    octo = gh.user("Codertocat", OCTO_ID)
    gh.history(octo, {"octo-org/Hello-World": 1})
    await link(w, w.alice, octo)
    merged_at = just_merged(w)
    gh.merge(octo, "octo-org/Hello-World", 2, merged_at=merged_at)

    async def by_radar() -> None:
        report = await radar(w).run_pass()
        assert report.mode == "graphql" and report.complete
        assert report.queries >= 2 and report.points == report.queries  # 1 point each: users, then details

    async def by_webhook() -> None:
        status, _ = await post_delivery(w, webhook_merge(number=2, merged_at=merged_at))
        assert status == 202
        await eventually(lambda: count(w, WebhookDelivery, WebhookDelivery.status == "done"))

    steps = [by_radar, by_webhook] if first == "radar" else [by_webhook, by_radar]
    await steps[0]()
    post = await one_more_post(w, 0)
    assert "octo-org/hello-world#2" in description(post).lower()
    assert "2nd" in description(post)  # the history import counted the first: true ordinals
    await steps[1]()
    await settle()
    assert len(posts(w)) == 1
    assert await count(w, MergedPullRequest) == 1
    assert await count(w, GitHubMerge, GitHubMerge.number == 2) == 1
    # Merges were read from GraphQL, by node id: no merge search was sent.
    assert gh.merge_searches() == []
    assert gh.merge_queries() and all(r.user_ids == (OCTO_ID,) for r in gh.merge_queries())


async def test_a_renamed_user_is_followed_by_node_id(w: World, gh: GraphQLGitHub) -> None:
    alice = gh.user("alice-old", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    assert (await profile(w, alice.id)).node_id == "U_1001"  # learned from GraphQL's answer

    gh.rename(alice, "alice-new")
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    gh.merge(bob, "encode/httpx", 301, merged_at=just_merged(w))
    before = len(w.github.calls)
    await radar(w).run_pass()
    await w.wait_for_posts(w.celebrations, 2)
    await settle(0.3)
    texts = sorted(description(p) for p in posts(w))
    assert any(f"<@{w.alice.id}>" in t and "encode/httpx#300" in t for t in texts)
    assert any(f"<@{w.bob.id}>" in t and "encode/httpx#301" in t for t in texts)
    # Asking by node id needed no lookup by login or id: one query found both, under the new login.
    assert not [c for c in list(w.github.calls)[before:] if c.request.url.path.startswith(("/user", "/search"))]
    async with reading(w.sessionmaker) as session:
        account = await session.scalar(select(GitHubAccount).where(GitHubAccount.user_id == w.alice.id))
    assert (account.login, account.login_lower) == ("alice-new", "alice-new")
    assert (await profile(w, alice.id)).login == "alice-new"


async def test_a_user_gone_is_a_null_beside_the_others_data_and_does_not_fail_the_batch(
    w: World, gh: GraphQLGitHub
) -> None:
    alice = gh.user("alice-gh", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)

    gh.delete(bob)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    asked = len(gh.merge_queries())
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 1 and report.checked == 1
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)
    (query,) = gh.merge_queries()[asked:]
    assert query.errors == ("NOT_FOUND",) and query.status == 200
    # Bob alone was asked about over REST: GitHub no longer knows him, and the radar leaves him alone.
    assert (await profile(w, bob.id)).gone_at is not None
    res = await w.invoke(w.admin, "github-admin status")
    assert f"**GitHub no longer knows (or won't search)**: <@{w.bob.id}> (bob-gh)" in res.embeds[0]["description"]
    asked = len(gh.merge_queries())
    await radar(w).run_pass()
    assert [r.user_ids for r in gh.merge_queries()[asked:]] == [(alice.id,)]


async def test_rate_limited_waits_for_the_reset_and_loses_nothing(w: World, gh: GraphQLGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    gh.graphql.failures.append(rate_limited)
    asked = len(gh.graphql.records)
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 1
    await one_more_post(w, 0)
    refused, *after = gh.graphql.records[asked:]
    assert refused.errors == ("failure",)
    # Nothing was sent before the reset (a minute, as the answer names none).
    assert after and all(r.at >= refused.at + timedelta(seconds=60) for r in after)
    assert w.bot is not None and w.bot.github.limits.limited == 1


@pytest.mark.parametrize("failure", ["502", "timeout"])
async def test_a_502_or_a_timeout_is_asked_again_after_a_pause_then_split(
    w: World, gh: GraphQLGitHub, failure: str
) -> None:
    accounts = [gh.user(f"member-{i}", 2000 + i) for i in range(2)]
    for account, member in zip(accounts, (w.alice, w.bob), strict=True):
        gh.history(account, {"psf/requests": 2})
        await link(w, member, account)
    for account in accounts:
        gh.merge(account, "encode/httpx", merged_at=just_merged(w))

    def fail() -> Answer:
        if failure == "timeout":
            raise httpx.ReadTimeout("GitHub took too long")
        return 502, {"message": "Server Error"}, {}

    gh.graphql.failures += [fail, fail]  # twice: asked again once, then the batch is split in two
    asked = len(gh.graphql.records)
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 2
    await w.wait_for_posts(w.celebrations, 2)
    merges = [r for r in gh.graphql.records[asked:] if r.operation == "RadarMerges"]
    assert [len(r.user_ids) for r in merges] == [2, 2, 1, 1]
    assert merges[1].at - merges[0].at >= TIMEOUT_BACKOFF


async def test_a_query_refused_as_too_big_is_split_until_it_passes(w: World, gh: GraphQLGitHub) -> None:
    accounts = [gh.user(f"member-{i}", 3000 + i) for i in range(3)]
    members = [w.alice, w.bob, w.admin]
    for account, member in zip(accounts, members, strict=True):
        gh.history(account, {"psf/requests": 2})
        await link(w, member, account)
    for account in accounts:
        gh.merge(account, "encode/httpx", merged_at=just_merged(w))
    gh.graphql.max_users = 1  # GitHub refuses a query naming more users (MAX_NODE_LIMIT_EXCEEDED)
    asked = len(gh.graphql.records)
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 3 and report.checked == 3
    await w.wait_for_posts(w.celebrations, 3)
    merges = [r for r in gh.graphql.records[asked:] if r.operation == "RadarMerges"]
    assert [(len(r.user_ids), r.errors) for r in merges] == [
        (3, ("MAX_NODE_LIMIT_EXCEEDED",)),
        (1, ()),
        (2, ("MAX_NODE_LIMIT_EXCEEDED",)),
        (1, ()),
        (1, ()),
    ]
    # A refused query costs nothing; the others 1 point each.
    assert report.points == report.queries


async def test_bots_and_spam_are_never_celebrated_and_status_shows_the_mode(w: World, gh: GraphQLGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    robot = gh.user("release-robot", 4040, kind="Bot")
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    await link(w, w.bob, robot)  # an admin linked a bot account to a member
    gh.merge(robot, "encode/httpx", 500, merged_at=just_merged(w), title="Release 1.0")
    gh.merge(alice, "encode/httpx", 501, merged_at=just_merged(w), labels=("spam",))
    gh.merge(alice, "encode/httpx", 502, merged_at=just_merged(w), title="A human's fix")
    report = await radar(w).run_pass()
    assert report.celebrations == 1 and report.complete
    post = await one_more_post(w, 0)
    assert "encode/httpx#502" in description(post)
    assert await count(w, MergedPullRequest, MergedPullRequest.user_id == w.bob.id) == 0
    assert await count(w, GitHubMerge, GitHubMerge.number == 501) == 0

    res = await w.invoke(w.admin, "github-admin status")
    text = res.embeds[0]["description"]
    assert "**Mode**: GitHub's GraphQL API" in text
    assert f"GraphQL: {report.queries} queries, {report.points} points, " in text
    remaining = w.bot.github.limits.buckets["graphql"].remaining
    assert f"{remaining} left this hour." in text
    assert f"**GitHub graphql budget**: {remaining} of 5000 left" in text


async def test_a_pass_cut_short_by_rate_limits_loses_nothing(w: World, gh: GraphQLGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    gh.graphql.failures += [rate_limited] * (MAX_RATE_LIMITED + 1)  # past the radar's patience
    before = await profile(w, alice.id)
    report = await radar(w).run_pass()
    assert not report.complete and "rate limit" in (report.stopped_because or "")
    assert report.celebrations == 0
    after = await profile(w, alice.id)
    assert after.checked_through == before.checked_through  # the cursor stayed
    # The next pass (after the reset) finds the merge, once.
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 1
    await one_more_post(w, 0)
    await radar(w).run_pass()
    await settle()
    assert len(posts(w)) == 1


async def test_a_merged_pr_github_could_not_describe_is_asked_for_again_and_celebrated(
    w: World, gh: GraphQLGitHub
) -> None:
    """A PR's details come back null (an error on that node): the member's cursor stays, so the next pass,
    well past the slack, still celebrates it. (A review found the cursor moved and the merge lost.)"""
    octo = gh.user("Codertocat", 1001)
    gh.history(octo, {"psf/requests": 2})
    await link(w, w.alice, octo)
    gh.merge(octo, "encode/httpx", 300, merged_at=just_merged(w))
    w.clock.advance(timedelta(minutes=30))  # the merge is now well before any slack of the next pass
    store = gh.graphql.store
    described = store.pr
    refused: list[str] = []

    def once_null(node_id: str, now: datetime) -> GPR | None:
        if not refused:
            refused.append(node_id)
            return None
        return described(node_id, now)

    store.pr = once_null  # type: ignore[method-assign]
    first = await radar(w).run_pass()
    assert refused and first.celebrations == 0
    second = await radar(w).run_pass()
    assert second.celebrations == 1
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)


async def test_github_timing_out_for_one_user_stops_the_pass_instead_of_asking_for_everyone(
    w: World, gh: GraphQLGitHub
) -> None:
    """Split down to one user and still a timeout: GitHub is down. The pass stops there (the next resumes
    with these members) rather than splitting every batch down to single users."""
    accounts = [gh.user(f"member-{i}", 4000 + i) for i in range(2)]
    for account, member in zip(accounts, (w.alice, w.bob), strict=True):
        gh.history(account, {"psf/requests": 2})
        await link(w, member, account)

    def fail() -> Answer:
        raise httpx.ReadTimeout("GitHub took too long")

    gh.graphql.failures += [fail] * 50
    asked = len(gh.graphql.records)
    report = await radar(w).run_pass()
    assert not report.complete
    # The batch of 2 (asked again once), then its first half (asked again once): then the pass stops.
    assert len(gh.graphql.records) - asked == 4
    gh.graphql.failures.clear()
    assert (await radar(w).run_pass()).complete
