"""The radar's parts without Discord: query batches, the shared rate limits, and history counts."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
import respx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Guild
from bot.db.session import transaction
from bot.services.github import history
from bot.services.github.api import GitHubAPI, GitHubRateLimited
from bot.services.github.radar import (
    MAX_AUTHORS,
    MAX_QUERY_CHARS,
    author_terms,
    batches,
    query,
    since_term,
)
from bot.services.github.ratelimits import Bucket, RateLimits

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
MERGED_BASE = f"is:pr is:merged {since_term(NOW)}"


# --- queries ---------------------------------------------------------------------------------------


def test_author_terms_one_author_bare_several_or_in_parentheses() -> None:
    assert author_terms(["ada"]) == "author:ada"
    assert author_terms(["ada", "bob", "cy"]) == "(author:ada OR author:bob OR author:cy)"
    assert query("is:pr is:merged", ["ada", "bob"]) == "is:pr is:merged (author:ada OR author:bob)"


def test_since_term_is_an_utc_instant() -> None:
    assert since_term(NOW) == "merged:>=2026-11-23T12:00:00Z"


def test_batches_hold_at_most_six_authors_in_the_order_given() -> None:
    logins = [f"user{n}" for n in range(14)]
    found = batches(logins, MERGED_BASE)
    assert [len(b) for b in found] == [6, 6, 2]
    assert [login for b in found for login in b] == logins
    assert MAX_AUTHORS == 6  # five OR operators, GitHub's limit


def test_batches_stay_within_256_characters_and_are_filled() -> None:
    logins = [f"{n:02d}" + "x" * 37 for n in range(10)]  # 39 characters, the longest a login can be
    found = batches(logins, MERGED_BASE)
    assert [login for b in found for login in b] == logins
    assert all(len(query(MERGED_BASE, b)) <= MAX_QUERY_CHARS for b in found)
    assert max(len(b) for b in found) < MAX_AUTHORS  # the length, not the count, cut them
    # Each batch took every login that fit: one more would have been too long.
    for batch, following in itertools.pairwise(found):
        assert len(query(MERGED_BASE, [*batch, following[0]])) > MAX_QUERY_CHARS


def test_batches_of_one_in_single_mode_and_none_for_nobody() -> None:
    assert batches(["ada", "bob"], MERGED_BASE, size=1) == [["ada"], ["bob"]]
    assert batches([], MERGED_BASE) == []


# --- rate limits -----------------------------------------------------------------------------------


def test_bucket_waits_for_a_block_then_not() -> None:
    bucket = Bucket(blocked_until=NOW + timedelta(seconds=30))
    assert bucket.wait(NOW) == 30
    assert bucket.wait(NOW + timedelta(seconds=30)) == 0


def test_bucket_keeps_a_reserve_until_the_reset() -> None:
    bucket = Bucket(limit=30, remaining=2, reset_at=NOW + timedelta(seconds=45))
    assert bucket.wait(NOW) == 0  # a command may use the last requests
    assert bucket.wait(NOW, reserve=2) == 45  # background work leaves them
    assert bucket.wait(NOW, reserve=1) == 0
    assert bucket.wait(NOW + timedelta(seconds=45), reserve=2) == 0  # a new window
    assert Bucket(remaining=0, reset_at=NOW + timedelta(seconds=5)).wait(NOW) == 5
    assert Bucket().wait(NOW, reserve=2) == 0  # nothing known yet: no wait


def response(status: int = 200, **headers: str) -> httpx.Response:
    return httpx.Response(status, headers=headers, json={"message": "API rate limit exceeded"})


def test_rate_limits_read_the_headers_into_the_named_resource() -> None:
    limits = RateLimits(has_token=True)
    reset = int((NOW + timedelta(seconds=50)).timestamp())
    found = limits.observe(
        "search",
        response(
            200,
            **{
                "x-ratelimit-limit": "30",
                "x-ratelimit-remaining": "17",
                "x-ratelimit-reset": str(reset),
                "x-ratelimit-resource": "search",
            },
        ),
        NOW,
    )
    assert found is None and limits.limited == 0
    search = limits.buckets["search"]
    assert (search.limit, search.remaining, search.reset_at, search.blocked_until) == (
        30,
        17,
        NOW + timedelta(seconds=50),
        None,
    )
    assert limits.buckets["core"].remaining is None  # the other resource is untouched


def test_a_403_with_no_requests_left_blocks_until_its_reset() -> None:
    limits = RateLimits(has_token=True)
    reset = NOW + timedelta(seconds=40)
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))}
    limited = limits.observe("search", response(403, **headers), NOW)
    assert isinstance(limited, GitHubRateLimited) and limited.reset_at == reset
    assert "rate limit" in str(limited)
    assert limits.buckets["search"].blocked_until == reset and limits.limited == 1
    assert limits.buckets["search"].wait(NOW + timedelta(seconds=39)) == 1
    assert limits.buckets["core"].wait(NOW) == 0


def test_a_429_blocks_for_its_retry_after_and_an_unexplained_limit_for_a_minute() -> None:
    limits = RateLimits(has_token=True)
    limited = limits.observe("search", response(429, **{"retry-after": "30", "x-ratelimit-remaining": "12"}), NOW)
    assert limited is not None and limited.reset_at == NOW + timedelta(seconds=30)
    assert limits.buckets["search"].blocked_until == NOW + timedelta(seconds=30)

    limits.observe("core", response(403), NOW)  # "secondary rate limit" in the text, no time given
    assert limits.buckets["core"].blocked_until == NOW + timedelta(seconds=60)


def test_a_403_that_is_not_a_rate_limit_blocks_nothing() -> None:
    limits = RateLimits(has_token=True)
    refused = httpx.Response(403, json={"message": "Resource not accessible by integration"})
    assert limits.observe("core", refused, NOW) is None
    assert limits.buckets["core"].blocked_until is None and limits.limited == 0


def test_background_searches_use_four_fifths_of_the_budget() -> None:
    assert RateLimits(has_token=False).background_interval("search") == pytest.approx(60 / 8)
    assert RateLimits(has_token=True).background_interval("search") == pytest.approx(60 / 24)
    limits = RateLimits(has_token=False)
    limits.buckets["search"].limit = 30  # what GitHub said counts, not the guess
    assert limits.background_interval("search") == pytest.approx(2.5)
    # Core (what /github verify needs): the radar's lookups take at most half of the hourly budget.
    assert limits.background_interval("core") == pytest.approx(3600 / 30)
    assert RateLimits(has_token=True).background_interval("core") == pytest.approx(3600 / 2500)


def test_background_wait_paces_and_keeps_the_reserve() -> None:
    limits = RateLimits(has_token=True)
    search = limits.buckets["search"]
    assert limits.background_wait("search", NOW) == 0
    search.last_background = NOW
    assert limits.background_wait("search", NOW + timedelta(seconds=1)) == pytest.approx(1.5)
    assert limits.background_wait("search", NOW + timedelta(seconds=3)) == 0
    search.remaining, search.reset_at = 2, NOW + timedelta(seconds=40)
    assert limits.background_wait("search", NOW + timedelta(seconds=10)) == pytest.approx(30)


# --- the client in virtual time --------------------------------------------------------------------


class VirtualTime:
    """`now` for the client, moved only by its own `sleep`."""

    def __init__(self) -> None:
        self.current = NOW
        self.slept: list[float] = []

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@pytest.fixture
def virtual() -> VirtualTime:
    return VirtualTime()


@pytest.fixture
async def api(virtual: VirtualTime) -> AsyncIterator[GitHubAPI]:
    async with httpx.AsyncClient() as client:
        yield GitHubAPI(client, token="ghp_test", now=virtual.now, sleep=virtual.sleep)


@pytest.fixture
def gh() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(base_url="https://api.github.com", assert_all_called=False) as router:
        yield router


def page(total: int = 0, **headers: str) -> httpx.Response:
    return httpx.Response(200, headers=headers, json={"total_count": total, "incomplete_results": False, "items": []})


async def test_after_a_rate_limit_commands_fail_fast_and_background_waits_for_the_reset(
    api: GitHubAPI, gh: respx.MockRouter, virtual: VirtualTime
) -> None:
    sent: list[datetime] = []
    reset = NOW + timedelta(seconds=40)
    answers = iter(
        [
            httpx.Response(
                403,
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset.timestamp()))},
                json={"message": "API rate limit exceeded"},
            ),
            page(3),
        ]
    )

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(virtual.now())
        return next(answers)

    gh.get("/search/issues").mock(side_effect=answer)
    with pytest.raises(GitHubRateLimited):
        await api.search_issues("is:pr author:ada", background=True)

    virtual.current += timedelta(seconds=10)
    with pytest.raises(GitHubRateLimited) as refused:
        await api.search_issues("is:pr author:ada")  # a command
    assert refused.value.reset_at == reset
    assert "try again in about a minute" in str(refused.value)
    assert len(sent) == 1  # refused without asking GitHub

    found = await api.search_issues("is:pr author:ada", background=True)
    assert found.total_count == 3
    assert sent[1] >= reset
    assert sum(virtual.slept) == pytest.approx(30)


async def test_background_searches_are_paced_and_commands_are_not(
    api: GitHubAPI, gh: respx.MockRouter, virtual: VirtualTime
) -> None:
    sent: list[tuple[str, datetime]] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append((request.url.params["q"], virtual.now()))
        return page(0, **{"x-ratelimit-limit": "30", "x-ratelimit-remaining": "20"})

    gh.get("/search/issues").mock(side_effect=answer)
    await api.search_issues("radar 1", background=True)
    await api.search_issues("command")
    await api.search_issues("radar 2", background=True)
    times = dict(sent)
    assert times["command"] == NOW  # not delayed by the radar's pacing
    assert (times["radar 2"] - times["radar 1"]).total_seconds() == pytest.approx(2.5)


async def test_background_leaves_the_last_searches_to_commands(
    api: GitHubAPI, gh: respx.MockRouter, virtual: VirtualTime
) -> None:
    reset = NOW + timedelta(seconds=50)
    headers = {
        "x-ratelimit-limit": "30",
        "x-ratelimit-remaining": "2",
        "x-ratelimit-reset": str(int(reset.timestamp())),
    }
    sent: list[datetime] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(virtual.now())
        return page(0, **headers)

    gh.get("/search/issues").mock(side_effect=answer)
    await api.search_issues("command 1")
    await api.search_issues("command 2")  # two left: a command may use them
    assert sent == [NOW, NOW]
    await api.search_issues("radar", background=True)
    assert sent[-1] >= reset


async def test_searches_ask_for_the_advanced_syntax(api: GitHubAPI, gh: respx.MockRouter) -> None:
    route = gh.get("/search/issues").mock(return_value=page(0))
    await api.search_issues("is:pr (author:a OR author:b)", page=2, per_page=100, sort="created", order="asc")
    params = route.calls.last.request.url.params
    assert params["q"] == "is:pr (author:a OR author:b)"
    assert (params["advanced_search"], params["page"], params["per_page"]) == ("true", "2", "100")
    assert (params["sort"], params["order"]) == ("created", "asc")


# --- history counts --------------------------------------------------------------------------------


async def add_history(
    sessionmaker: async_sessionmaker[AsyncSession], *, total: int, read: int, merges: list[tuple[str, datetime]]
) -> None:
    """A profile watched by a radar-on server, with its history imported and these merges, in this order."""
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=1))
        session.add(GitHubProfile(id=1001, login="ada", history_status="done", history_total=total, history_read=read))
        await session.flush()
        session.add(GitHubAccount(guild_id=1, user_id=2, github_id=1001, login="ada", login_lower="ada"))
        for number, (repo, merged_at) in enumerate(merges, start=1):
            session.add(GitHubMerge(github_id=1001, repo=repo, number=number, merged_at=merged_at, source="history"))
            await session.flush()  # row ids in this order: the order Shiplog learned of them


def merges_by_day(repos: list[str]) -> list[tuple[str, datetime]]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    return [(repo, start + timedelta(days=n)) for n, repo in enumerate(repos)]


async def counts_of(sessionmaker: async_sessionmaker[AsyncSession], repo: str, number: int) -> history.Counts:
    async with transaction(sessionmaker) as session:
        return await history.counts(session, github_id=1001, guild_id=1, user_id=2, repo=repo, number=number)


async def test_counts_of_a_capped_history_are_a_lower_bound(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    # GitHub counted 1,500 merged PRs; the import read the oldest 5 (a small stand-in for 500).
    await add_history(sessionmaker, total=1500, read=5, merges=merges_by_day(["a/x", "a/x", "b/y", "a/x", "b/y"]))
    counted = await counts_of(sessionmaker, "a/x", 4)
    assert counted == history.Counts(total=1499, in_repo=3, known=True, exact=False)
    # Even at its oldest merge, a capped history never says "first".
    first = await counts_of(sessionmaker, "a/x", 1)
    assert first.total > 1 and not first.exact


async def test_counts_of_a_complete_history_follow_the_order_merges_were_learned(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await add_history(sessionmaker, total=5, read=5, merges=merges_by_day(["a/x", "a/x", "b/y", "a/x", "b/y"]))
    assert await counts_of(sessionmaker, "b/y", 3) == history.Counts(total=3, in_repo=1, known=True, exact=True)
    assert (await counts_of(sessionmaker, "a/x", 1)).total == 1
    # A merge found late (merged before #5, learned after it) is the 6th: never a second "3rd".
    async with transaction(sessionmaker) as session:
        session.add(
            GitHubMerge(
                github_id=1001, repo="b/y", number=6, merged_at=datetime(2025, 3, 2, tzinfo=UTC), source="radar"
            )
        )
    assert await counts_of(sessionmaker, "b/y", 6) == history.Counts(total=6, in_repo=3, known=True, exact=True)


async def test_counts_are_not_known_without_an_imported_history_or_a_radar_watching(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessionmaker) as session:
        session.add(GitHubProfile(id=1001, login="ada"))  # history still pending
    counted = await counts_of(sessionmaker, "a/x", 1)
    assert not counted.known and not counted.exact


async def test_counts_are_not_known_when_no_server_with_the_radar_on_links_the_member(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    # Imported once, but nobody watches it since: a "first" could be false, so no ordinal is claimed.
    await add_history(sessionmaker, total=0, read=0, merges=[("a/x", datetime(2025, 3, 1, tzinfo=UTC))])
    async with transaction(sessionmaker) as session:
        (await session.get(Guild, 1)).radar_enabled = False
    assert not (await counts_of(sessionmaker, "a/x", 1)).known
