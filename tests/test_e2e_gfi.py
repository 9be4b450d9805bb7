"""/gfi the way members use it: for a linked member, their repositories first, then their languages."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db.models import (
    GitHubMerge,
    MergedPullRequest,
    OutboxMessage,
    WebhookDelivery,
)
from bot.db.session import reading, transaction
from bot.playground.samples import merged_pr_payload
from tests.conftest import NOW
from tests.harness import World, eventually, world
from tests.test_e2e_github import OCTO_ID, post_delivery
from tests.test_e2e_mentors import link  # members linked with imported history, as there

ALICE_GH = 583231


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def alice_merged_in_two_repositories(w: World) -> None:
    """Alice: 4 merges in pallets/flask from her history and 1 the radar saw in the server (5: on the path),
    3 in encode/httpx (two of them also in the server's `merged_prs`: counted once), 2 in a private repository."""
    await link(w, w.alice, ALICE_GH, "alice-gh", {"pallets/flask": 4, "encode/httpx": 3})
    await link(w, w.bob, 7, "bobcat", {"psf/requests": 9})  # bob's merges are not alice's
    async with transaction(w.sessionmaker) as session:
        for repo, number in [("pallets/flask", 900), ("encode/httpx", 101), ("encode/httpx", 102)]:
            session.add(
                MergedPullRequest(
                    guild_id=w.guild.id,
                    user_id=w.alice.id,
                    github_id=ALICE_GH,
                    repo=repo,
                    number=number,
                    title="A fix",
                    url=f"https://github.com/{repo}/pull/{number}",
                    merged_at=NOW - timedelta(days=2),
                )
            )
        for number in (1, 2):
            session.add(
                GitHubMerge(
                    github_id=ALICE_GH,
                    repo="alice/stealth",
                    number=number,
                    merged_at=NOW - timedelta(days=number),
                    source="radar",
                    private=True,
                )
            )


def issue(repo: str, number: int, title: str, comments: int = 0) -> dict[str, Any]:
    return {
        "number": number,
        "title": title,
        "html_url": f"https://github.com/{repo}/issues/{number}",
        "repository_url": f"https://api.github.com/repos/{repo}",
        "labels": [{"name": "good first issue"}],
        "comments": comments,
        "created_at": "2026-11-01T00:00:00Z",
    }


class FakeSearch:
    """GitHub's issue search for these tests: answers by the repositories or languages a query names."""

    def __init__(self, by_term: dict[str, list[dict[str, Any]]]) -> None:
        self.by_term = by_term
        self.queries: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        query = request.url.params["q"]
        self.queries.append(query)
        items = [item for term, found in self.by_term.items() if term in query for item in found]
        return httpx.Response(200, json={"total_count": len(items), "incomplete_results": False, "items": items})


SEARCH = {
    "repo:pallets/flask": [
        issue("pallets/flask", 5001, "Document blueprints", 2),
        issue("pallets/flask", 5002, "Typo"),
    ],
    "repo:encode/httpx": [issue("encode/httpx", 77, "Improve <@&1> docs @everyone")],
    "language:Python": [
        issue("encode/httpx", 77, "Improve <@&1> docs @everyone"),  # already shown under httpx
        issue("django/django", 12, "Translate a string"),
    ],
    "language:Rust": [issue("rust-lang/rustlings", 3, "Explain an exercise")],
}


def mock_repos(gh: Any, languages: dict[str, str | None]) -> dict[str, Any]:
    routes = {}
    for repo, language in languages.items():
        routes[repo] = gh.get(f"/repos/{repo}").respond(
            json={"full_name": repo, "private": False, "language": language}
        )
    return routes


def no_pings(res: Any) -> None:
    assert res.ephemeral
    assert res.allowed_mentions["parse"] == []
    assert not res.allowed_mentions.get("users") and not res.allowed_mentions.get("roles")
    assert res.message["mentions"] == [] and res.message.get("mention_roles", []) == []
    assert not res.message.get("mention_everyone")


async def test_a_linked_member_sees_their_repositories_first_then_their_languages(w: World) -> None:
    await alice_merged_in_two_repositories(w)
    search = FakeSearch(SEARCH)
    with w.mock_github() as gh:
        searches = gh.get("/search/issues").mock(side_effect=search)
        repos = mock_repos(gh, {"pallets/flask": "Python", "encode/httpx": "Python"})
        res = await w.invoke(w.alice, "gfi")
        no_pings(res)
        assert res.embed["title"] == "Good first issues for you"
        assert res.embed["description"].split("\n") == [
            "**pallets/flask**: you have 5 merged PRs here: you're on the path to maintainer",
            "[pallets/flask#5001](https://github.com/pallets/flask/issues/5001) Document blueprints · 💬 2",
            "[pallets/flask#5002](https://github.com/pallets/flask/issues/5002) Typo",
            "",
            "**encode/httpx**: you have 3 merged PRs here: 2 more to the path to maintainer",
            "[encode/httpx#77](https://github.com/encode/httpx/issues/77) Improve <@&1> docs @\u200beveryone",
            "",
            "**In `Python`**",
            "[django/django#12](https://github.com/django/django/issues/12) Translate a string",
        ]
        # Two searches: the repositories (most merges first; the private one never named), then the language.
        assert search.queries == [
            'is:issue is:open no:assignee archived:false label:"good first issue" '
            "(repo:pallets/flask OR repo:encode/httpx)",
            'is:issue is:open no:assignee archived:false label:"good first issue" language:Python',
        ]
        assert all(searches.calls[i].request.url.params["advanced_search"] == "true" for i in range(2))
        assert repos["pallets/flask"].call_count == 1 and repos["encode/httpx"].call_count == 1

        # Asked again, everything comes from the cache: GitHub hears nothing more.
        again = await w.invoke(w.alice, "gfi")
        assert again.embed["description"] == res.embed["description"]
        assert searches.call_count == 2
        assert repos["pallets/flask"].call_count == 1 and repos["encode/httpx"].call_count == 1


async def test_languages_come_from_every_repository_weighed_by_merges(w: World) -> None:
    await link(w, w.alice, ALICE_GH, "alice-gh", {"encode/httpx": 1, "rust-lang/rust": 2, "octo/empty": 1})
    search = FakeSearch(SEARCH)
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=search)
        mock_repos(gh, {"encode/httpx": "Python", "rust-lang/rust": "Rust", "octo/empty": None})
        res = await w.invoke(w.alice, "gfi")
    no_pings(res)
    lines = res.embed["description"].split("\n")
    assert lines[0] == "**encode/httpx**: you have 1 merged PR here: 4 more to the path to maintainer"
    assert "Nothing open right now in **rust-lang/rust**, **octo/empty**." in lines
    assert lines[lines.index("**In `Rust`, `Python`**") + 1 :] == [
        "[django/django#12](https://github.com/django/django/issues/12) Translate a string",
        "[rust-lang/rustlings#3](https://github.com/rust-lang/rustlings/issues/3) Explain an exercise",
    ]  # as GitHub ordered them (here: as the fake search found them)
    assert search.queries[-1].endswith("(language:Rust OR language:Python)")


async def test_a_language_given_narrows_both_searches(w: World) -> None:
    await alice_merged_in_two_repositories(w)
    search = FakeSearch(SEARCH)
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=search)
        repos = mock_repos(gh, {"pallets/flask": "Python", "encode/httpx": "Python"})
        res = await w.invoke(w.alice, "gfi", language="Rust", label="help wanted")
    no_pings(res)
    assert search.queries == [
        'is:issue is:open no:assignee archived:false label:"help wanted" '
        "(repo:pallets/flask OR repo:encode/httpx) language:Rust",
        'is:issue is:open no:assignee archived:false label:"help wanted" language:Rust',
    ]
    assert all(route.call_count == 0 for route in repos.values())  # the language was given: no lookup


async def test_nothing_open_anywhere_is_said_kindly_and_privately(w: World) -> None:
    await link(w, w.alice, ALICE_GH, "alice-gh", {"encode/httpx": 2})
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=FakeSearch({}))
        mock_repos(gh, {"encode/httpx": "Python"})
        res = await w.invoke(w.alice, "gfi")
    no_pings(res)
    assert res.content == (
        "No open, unassigned issues labelled **good first issue** in **encode/httpx** or `Python` right now. "
        "Try `/gfi language:...` or another label!"
    )


async def test_an_unlinked_member_gets_todays_gfi(w: World) -> None:
    await alice_merged_in_two_repositories(w)  # bob is linked too: unlink him by using ada, who is not
    search = FakeSearch({"language:python": [issue("django/django", 12, "Translate a string")]})
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=search)
        res = await w.invoke(w.admin, "gfi", language="python")
    assert not res.ephemeral
    assert res.embed["title"] == "Good first issues in `python`"
    assert (
        res.embed["description"] == "[django/django#12](https://github.com/django/django/issues/12) Translate a string"
    )
    assert search.queries == ['is:issue is:open no:assignee archived:false label:"good first issue" language:python']
    assert res.allowed_mentions["parse"] == [] and res.message["mentions"] == []


async def test_a_repo_option_or_a_bot_account_or_only_private_work_gets_todays_gfi(w: World) -> None:
    await link(w, w.alice, ALICE_GH, "alice-gh", {"encode/httpx": 3})
    await link(w, w.bob, 49699333, "dependabot[bot]", {"encode/httpx": 40})
    await link(w, w.admin, 8, "ada-gh", {"ada/secret": 3}, private=True)
    search = FakeSearch({"repo:psf/requests": [issue("psf/requests", 1, "Docs")], "": []})
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=search)
        res = await w.invoke(w.alice, "gfi", repo="psf/requests")
        assert res.embed["title"] == "Good first issues in psf/requests" and not res.ephemeral
        for member in (w.bob, w.admin):
            res = await w.invoke(member, "gfi")
            assert res.content.startswith("No open, unassigned issues labelled **good first issue** right now")
    assert search.queries == [
        'is:issue is:open no:assignee archived:false label:"good first issue" repo:psf/requests',
        'is:issue is:open no:assignee archived:false label:"good first issue"',
    ]  # bob's and ada's searches were the same one: the second came from the cache


async def test_a_rate_limited_search_gets_a_polite_private_line_and_changes_nothing(w: World) -> None:
    await alice_merged_in_two_repositories(w)

    async def stored() -> tuple[int, int]:
        async with reading(w.sessionmaker) as session:
            merges = await session.scalar(select(func.count()).select_from(GitHubMerge))
            outbox = await session.scalar(select(func.count()).select_from(OutboxMessage))
        return merges or 0, outbox or 0

    before = await stored()
    with w.mock_github() as gh:
        searches = gh.get("/search/issues").respond(
            403,
            headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 60)},
            json={"message": "API rate limit exceeded"},
        )
        res = await w.invoke(w.alice, "gfi")
        no_pings(res)
        assert res.content.startswith("GitHub's rate limit is reached; try again in")
        # Until the reset, nothing more is sent: asking again hears the same at once.
        res = await w.invoke(w.alice, "gfi", language="go")
        assert res.ephemeral and res.content.startswith("GitHub's rate limit is reached")
        assert searches.call_count == 1
    assert await stored() == before


async def test_a_limit_reached_after_the_repositories_still_shows_them_and_says_why_the_rest_waits(w: World) -> None:
    await alice_merged_in_two_repositories(w)
    search = FakeSearch(SEARCH)

    def answer(request: httpx.Request) -> httpx.Response:
        if "language:" in request.url.params["q"]:
            search.queries.append(request.url.params["q"])
            return httpx.Response(
                403,
                headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(time.time()) + 90)},
                json={"message": "API rate limit exceeded"},
            )
        return search(request)

    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=answer)
        mock_repos(gh, {"pallets/flask": "Python", "encode/httpx": "Python"})
        res = await w.invoke(w.alice, "gfi")
    no_pings(res)
    lines = res.embed["description"].split("\n")
    assert lines[0].startswith("**pallets/flask**: you have 5 merged PRs here")
    assert "[encode/httpx#77](https://github.com/encode/httpx/issues/77) Improve <@&1> docs @\u200beveryone" in lines
    assert lines[-1].startswith("Issues in your languages must wait: GitHub's rate limit is reached; try again in")
    assert not any("django" in line for line in lines)
    assert len(search.queries) == 2


async def test_merges_from_webhooks_count_and_a_spam_or_invalid_one_does_not(w: World) -> None:
    await link(w, w.alice, OCTO_ID, "Codertocat", {"encode/httpx": 1})
    assert (await post_delivery(w, merged_pr_payload(number=2)))[0] == 202  # octo-org/Hello-World
    spam = merged_pr_payload(number=3, repo="octo-org/elsewhere", labels=("invalid",))
    assert (await post_delivery(w, spam))[0] == 202

    async def processed() -> bool:
        async with reading(w.sessionmaker) as session:
            pending = await session.scalar(
                select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status != "done")
            )
            total = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        return total == 2 and pending == 0

    assert await eventually(processed, timeout=10)
    search = FakeSearch(SEARCH)
    with w.mock_github() as gh:
        gh.get("/search/issues").mock(side_effect=search)
        mock_repos(gh, {"encode/httpx": "Python", "octo-org/hello-world": None})
        res = await w.invoke(w.alice, "gfi")
    no_pings(res)
    assert search.queries[0].endswith("(repo:encode/httpx OR repo:octo-org/hello-world)")
    assert "elsewhere" not in " ".join(search.queries) + res.embed["description"]
    assert "Nothing open right now in **octo-org/hello-world**." in res.embed["description"]
