"""The radar, end to end: linked members' merges anywhere on GitHub, found through a mocked GitHub search.

GitHub here is `FakeGitHub`: the users API and an issue search over the pull requests a test adds,
answering the radar's queries as GitHub would (OR'ed authors, `merged:>=`, paging, 422 for a login
nobody holds). It is served through respx to the bot's real GitHub client; nothing reaches the network.

The client paces background searches (2.5 to 7.5 s apart) and waits for rate-limit resets. Spending
that time for real would make each test a minute long, so the client's clock and sleep are replaced
by `GitHubTime`: a sleep moves its clock forward at once. The waits still happen, in its time, and
every request is stamped with it, so a test can check that nothing was sent before a reset.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bot.db.models import (
    Activity,
    GitHubAccount,
    GitHubMerge,
    GitHubProfile,
    Goal,
    Guild,
    MergedPullRequest,
    OutboxMessage,
    WebhookDelivery,
)
from bot.db.session import reading, transaction
from bot.playground.samples import merged_pr_payload
from bot.services.github import links as github_links
from bot.services.github.radar import MAX_RATE_LIMITED, Radar
from cogs.github import WITHDRAWN_TEXT
from tests.harness import World, eventually, world
from tests.test_e2e_github import post_delivery

OCTO_ID = 21031067  # Codertocat, the author of the webhook fixtures


# --- GitHub, faked ---------------------------------------------------------------------------------


class GitHubTime:
    """The GitHub client's clock in these tests: real time, plus every wait it slept (at once).

    `hold()` makes the next sleeps block until `release()`, so a test can act while the radar waits.
    """

    def __init__(self) -> None:
        self.skipped = 0.0
        self.slept: list[float] = []
        self.sleeping = asyncio.Event()
        self._gate: asyncio.Event | None = None

    def now(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.skipped)

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self._gate is not None:
            self.sleeping.set()
            await self._gate.wait()
        self.skipped += seconds
        await asyncio.sleep(0)

    def hold(self) -> None:
        self._gate = asyncio.Event()
        self.sleeping.clear()

    def release(self) -> None:
        assert self._gate is not None
        self._gate.set()
        self._gate = None


@dataclass
class Account:
    """A GitHub user."""

    id: int
    login: str
    type: str = "User"
    bio: str = ""


@dataclass
class PR:
    """A pull request on fake GitHub."""

    author_id: int
    repo: str  # as GitHub spells it, "encode/httpx"
    number: int
    title: str
    created_at: datetime
    merged_at: datetime | None = None  # None: still open
    body: str | None = None
    reviewed: bool = False
    draft: bool = False
    labels: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Search:
    """One request to /search/issues, as the fake received it."""

    q: str
    params: dict[str, str]
    at: datetime  # GitHubTime

    @property
    def authors(self) -> list[str]:
        return re.findall(r"author:([A-Za-z0-9-]+)", self.q)

    @property
    def page(self) -> int:
        return int(self.params.get("page", 1))

    @property
    def is_merge_search(self) -> bool:
        """A radar merge search (the history import and the self-check have no `merged:>=`)."""
        return "is:merged" in self.q and "merged:>=" in self.q


def iso(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"


class FakeGitHub:
    """Users and an issue search over the PRs a test adds, served to the bot through respx.

    The search reads `is:merged`, `is:open`, `review:none`, `draft:false`, `merged:>=` and `author:`
    terms. Authors joined by OR match any of them; with `and_semantics` (GitHub's newer syntax
    misread) a query naming several authors finds nothing. A login nobody holds answers 422, as
    GitHub does. What GitHub sometimes does besides, a test switches on: `unsearchable` logins (known
    to the users API, refused by the search), `refuse_batches` (a 422 for any query naming several
    authors) and `timing_out` (merge searches answer `incomplete_results: true`, without those PRs).
    """

    RESULT_CAP = 1000  # GitHub returns at most this many results of a search

    def __init__(self, w: World) -> None:
        assert w.bot is not None and w.github is not None
        self.time = GitHubTime()
        api = w.bot.github
        api._now, api._sleep = self.time.now, self.time.sleep  # see the module docstring
        self.accounts: dict[int, Account] = {}
        self.prs: list[PR] = []
        self.searches: list[Search] = []
        self.and_semantics = False
        self.unsearchable: set[str] = set()  # lowercase logins the search refuses (422)
        self.refuse_batches = False
        self.timing_out: list[PR] = []  # while not empty, merge searches time out before reaching these
        self.remaining = 25  # what the x-ratelimit-remaining header says
        self.failures: list[Callable[[], httpx.Response]] = []  # the next searches' answers
        self.before_answer: Callable[[Search], Awaitable[None]] | None = None
        self.strays: list[Any] = []  # raw items every search also answers with (odd ones GitHub might send)
        self._numbers: dict[str, int] = {}
        w.github.get("/search/issues").mock(side_effect=self._search)
        w.github.get(path__regex=r"^/user/(?P<github_id>\d+)$").mock(side_effect=self._user_by_id)
        w.github.get(path__regex=r"^/users/[^/]+/gists$").respond(json=[])
        w.github.get(path__regex=r"^/users/(?P<login>[^/]+)$").mock(side_effect=self._user_by_login)

    # What a test sets up.

    def user(self, login: str, github_id: int, *, kind: str = "User") -> Account:
        account = Account(github_id, login, kind)
        self.accounts[github_id] = account
        return account

    def merge(
        self,
        account: Account,
        repo: str,
        number: int | None = None,
        *,
        merged_at: datetime,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] = (),
    ) -> PR:
        """Add a merged PR (numbered after the repo's others when no number is given)."""
        number = number if number is not None else self._next_number(repo)
        pr = PR(
            account.id,
            repo,
            number,
            title or f"Improve {repo} ({number})",
            created_at=merged_at - timedelta(days=1),
            merged_at=merged_at,
            body=body,
            labels=list(labels),
        )
        self.prs.append(pr)
        return pr

    def history(self, account: Account, per_repo: dict[str, int], *, start: datetime | None = None) -> None:
        """Add old merged PRs, a few hours apart: `per_repo` maps repositories to how many."""
        when = start or datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
        for repo, n in per_repo.items():
            for _ in range(n):
                self.merge(account, repo, merged_at=when)
                when += timedelta(hours=5)

    def open_pr(
        self,
        account: Account,
        repo: str,
        number: int,
        *,
        opened_at: datetime,
        reviewed: bool = False,
        draft: bool = False,
    ) -> PR:
        pr = PR(account.id, repo, number, f"Open work on {repo}", created_at=opened_at, reviewed=reviewed, draft=draft)
        self.prs.append(pr)
        return pr

    def rename(self, account: Account, login: str) -> None:
        account.login = login

    def delete(self, account: Account) -> None:
        del self.accounts[account.id]

    def fail_next_search(self, status: int, headers: dict[str, str], message: str, *, then_hold: bool = False) -> None:
        """Answer the next search with an error; `then_hold`: the client's next sleep then blocks."""

        def answer() -> httpx.Response:
            if then_hold:
                self.time.hold()
            return httpx.Response(status, headers=headers, json={"message": message})

        self.failures.append(answer)

    # What the bot asked.

    def merge_searches(self) -> list[Search]:
        return [s for s in self.searches if s.is_merge_search]

    def searches_for(self, text: str) -> list[Search]:
        return [s for s in self.searches if text in s.q]

    # The routes.

    def _headers(self) -> dict[str, str]:
        reset = int(self.time.now().timestamp()) + 60
        return {
            "x-ratelimit-limit": "30",
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-reset": str(reset),
            "x-ratelimit-resource": "search",
        }

    def _by_login(self, login: str) -> Account | None:
        return next((a for a in self.accounts.values() if a.login.lower() == login.lower()), None)

    def _user_json(self, account: Account) -> dict[str, Any]:
        return {
            "id": account.id,
            "login": account.login,
            "type": account.type,
            "bio": account.bio,
            "html_url": f"https://github.com/{account.login}",
        }

    def _user_by_login(self, request: httpx.Request, login: str) -> httpx.Response:
        account = self._by_login(login)
        if account is None:
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=self._user_json(account))

    def _user_by_id(self, request: httpx.Request, github_id: str) -> httpx.Response:
        account = self.accounts.get(int(github_id))
        if account is None:
            return httpx.Response(404, json={"message": "Not Found"})
        return httpx.Response(200, json=self._user_json(account))

    async def _search(self, request: httpx.Request) -> httpx.Response:
        search = Search(request.url.params["q"], dict(request.url.params), self.time.now())
        self.searches.append(search)
        if self.before_answer is not None:
            await self.before_answer(search)
        if self.failures:
            return self.failures.pop(0)()
        authors = [self._by_login(login) for login in search.authors]
        if None in authors or any(login.lower() in self.unsearchable for login in search.authors):
            return self._refused(
                "The listed users cannot be searched either because the users do not exist "
                "or you do not have permission to view the users."
            )
        if self.refuse_batches and len(authors) > 1:
            return self._refused("More than five AND / OR / NOT operators were used.")
        ids = {a.id for a in authors if a is not None}
        if self.and_semantics and len(ids) > 1:
            ids = set()  # nobody is every one of them
        matches = [pr for pr in self.prs if pr.author_id in ids and self._qualifies(pr, search.q)]
        incomplete = bool(self.timing_out) and search.is_merge_search
        if incomplete:
            matches = [pr for pr in matches if pr not in self.timing_out]
        oldest_first = search.params.get("sort") == "created" and search.params.get("order") == "asc"
        matches.sort(key=lambda pr: pr.created_at, reverse=not oldest_first)
        per_page, page = int(search.params.get("per_page", 30)), search.page
        reachable = matches[: self.RESULT_CAP]
        items = [self._item(pr) for pr in reachable[(page - 1) * per_page : page * per_page]]
        if page == 1:
            items = [*self.strays, *items]
        return httpx.Response(
            200,
            headers=self._headers(),
            json={"total_count": len(matches) + len(self.strays), "incomplete_results": incomplete, "items": items},
        )

    @staticmethod
    def _refused(message: str) -> httpx.Response:
        """GitHub's 422 for a search it won't run."""
        return httpx.Response(
            422,
            json={
                "message": "Validation Failed",
                "errors": [{"message": message, "resource": "Search", "field": "q", "code": "invalid"}],
            },
        )

    @staticmethod
    def _qualifies(pr: PR, q: str) -> bool:
        if "is:merged" in q and pr.merged_at is None:
            return False
        if "is:open" in q and pr.merged_at is not None:
            return False
        if "review:none" in q and pr.reviewed:
            return False
        if "draft:false" in q and pr.draft:
            return False
        if since := re.search(r"merged:>=(\S+)", q):
            cutoff = datetime.fromisoformat(since[1].replace("Z", "+00:00"))
            return pr.merged_at is not None and pr.merged_at >= cutoff
        return True

    def _item(self, pr: PR) -> dict[str, Any]:
        author = self.accounts[pr.author_id]
        url = f"https://github.com/{pr.repo}/pull/{pr.number}"
        return {
            "number": pr.number,
            "title": pr.title,
            "html_url": url,
            "body": pr.body,
            "state": "open" if pr.merged_at is None else "closed",
            "user": {"login": author.login, "id": author.id, "type": author.type},
            "repository_url": f"https://api.github.com/repos/{pr.repo}",
            "created_at": iso(pr.created_at),
            "closed_at": iso(pr.merged_at) if pr.merged_at else None,
            "pull_request": {"merged_at": iso(pr.merged_at) if pr.merged_at else None, "html_url": url},
            "labels": [{"name": name} for name in pr.labels],
        }

    def _next_number(self, repo: str) -> int:
        self._numbers[repo] = self._numbers.get(repo, 1000) + 1
        return self._numbers[repo]


# --- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        yield w


@pytest.fixture
def gh(w: World) -> FakeGitHub:
    return FakeGitHub(w)


def radar(w: World) -> Radar:
    assert w.bot is not None and w.bot.radar is not None
    return w.bot.radar


async def link(w: World, member: Any, account: Account) -> None:
    """Link a member as an admin would, then let the radar import their history."""
    res = await w.invoke(w.admin, "github-admin link-member", member=member, username=account.login)
    assert res.ephemeral and "is linked to" in res.content, res.content
    await radar_idle(w)
    assert await profile(w, account.id) is not None


async def radar_idle(w: World) -> None:
    """Let the pass a link woke start, then wait for it and make one more: the radar is then idle."""
    await eventually(lambda: not radar(w).wakeup.is_set())  # the loop clears it as its pass begins
    await radar(w).run_pass()  # waits for that pass (they never overlap)


async def profile(w: World, github_id: int) -> GitHubProfile | None:
    async with reading(w.sessionmaker) as session:
        return await session.get(GitHubProfile, github_id)


async def count(w: World, model: type, *where: Any) -> int:
    async with reading(w.sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def posts(w: World) -> list[dict[str, Any]]:
    return w.fake.messages_in(w.celebrations, include_interactions=False)


def description(post: dict[str, Any]) -> str:
    return post["embeds"][0]["description"]


async def settle(seconds: float = 0.5) -> None:
    """Give the bot time to do anything more it would (wrongly) do."""
    await asyncio.sleep(seconds)


async def one_more_post(w: World, before: int) -> dict[str, Any]:
    """Wait for exactly one new celebration and return it."""
    await w.wait_for_posts(w.celebrations, before + 1)
    await settle(0.3)
    found = posts(w)
    assert len(found) == before + 1, [description(p) for p in found[before:]]
    return found[-1]


def webhook_merge(*, merged_at: datetime, **changes: Any) -> bytes:
    """Return a merged `pull_request` delivery; it closed when it merged, as on GitHub."""
    payload = json.loads(merged_pr_payload(merged_at=iso(merged_at), **changes))
    payload["pull_request"]["closed_at"] = iso(merged_at)
    return json.dumps(payload).encode()


def just_merged(w: World, minutes: float = 0) -> datetime:
    """A merge now (or `minutes` ago), on the bot's clock."""
    return w.clock() - timedelta(minutes=minutes)


# --- the tests -------------------------------------------------------------------------------------


async def test_verify_imports_the_history_quietly_and_the_radar_counts_on_from_it(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 7, "encode/httpx": 4})
    gh.merge(alice, "encode/httpx", 999, merged_at=just_merged(w, 10))  # just before linking
    res = await w.invoke(w.alice, "github link", username="alice-gh")
    code = res.content.split("```\n")[1].split("\n")[0]
    alice.bio = f"building things {code}"
    res = await w.invoke(w.alice, "github verify")
    assert res.ephemeral and "Linked to" in res.content
    assert "public" in res.content and "/github unlink" in res.content  # members know they are watched

    # /github verify woke the radar: its pass imports the history without anyone calling it.
    assert await eventually(lambda: _history_done(w, alice.id)), "no history import after /github verify"
    await radar_idle(w)
    # Searches reach back before the cursor, so the radar found #999 again: it was counted, not new.
    assert radar(w).state.last_pass["merges"] == 1 and radar(w).state.last_pass["celebrations"] == 0
    (history_search,) = gh.searches_for("is:pr is:merged author:alice-gh")
    assert history_search.params["sort"] == "created" and history_search.params["order"] == "asc"
    assert history_search.params["advanced_search"] == "true"

    res = await w.invoke(w.alice, "github prs")
    assert res.ephemeral
    (embed,) = res.embeds
    assert embed["description"].startswith("**12** merged pull requests, the first <t:")
    repos = next(f["value"] for f in embed["fields"] if f["name"] == "Repositories")
    assert repos.splitlines() == ["psf/requests: **7**", "encode/httpx: **5**"]
    await settle(0.3)
    assert posts(w) == []  # importing the past celebrates nothing

    # A merge in a repository where nobody added a webhook: the radar finds it.
    gh.merge(alice, "psf/requests", 4242, merged_at=just_merged(w), title="Fix the retry backoff")
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 1
    post = await one_more_post(w, 0)
    assert post["content"] == f"🎉 Congratulations <@{w.alice.id}>!"
    assert "psf/requests#4242" in description(post)
    assert "Their **13th** merged PR (8th in psf/requests)." in description(post)

    # The next pass searches a little before its cursor again (search lags): no second celebration.
    await radar(w).run_pass()
    await settle()
    assert len(posts(w)) == 1
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**13** merged pull requests")


async def _history_done(w: World, github_id: int) -> bool:
    found = await profile(w, github_id)
    return found is not None and found.history_status == "done"


@pytest.mark.parametrize("first", ["radar", "webhook"])
async def test_a_merge_both_the_radar_and_a_webhook_report_is_celebrated_once(
    w: World, gh: FakeGitHub, first: str
) -> None:
    octo = gh.user("Codertocat", OCTO_ID)
    gh.history(octo, {"octo-org/Hello-World": 1})
    await link(w, w.alice, octo)
    merged_at = just_merged(w)
    gh.merge(octo, "octo-org/Hello-World", 2, merged_at=merged_at)
    delivery = webhook_merge(number=2, merged_at=merged_at)

    async def by_radar() -> None:
        await radar(w).run_pass()

    async def by_webhook() -> None:
        status, _ = await post_delivery(w, delivery)
        assert status == 202
        await eventually(lambda: count(w, WebhookDelivery, WebhookDelivery.status == "done"))

    reports = [by_radar, by_webhook] if first == "radar" else [by_webhook, by_radar]
    await reports[0]()
    post = await one_more_post(w, 0)
    assert "octo-org/hello-world#2" in description(post).lower()
    assert "2nd" in description(post)
    await reports[1]()
    await settle()
    assert len(posts(w)) == 1
    assert await count(w, MergedPullRequest) == 1
    assert await count(w, GitHubMerge, GitHubMerge.number == 2) == 1


async def test_goals_linked_to_an_upstream_pr_or_the_issue_it_fixes_finish_on_a_radar_merge(
    w: World, gh: FakeGitHub
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 2})
    await link(w, w.alice, alice)
    await w.invoke(w.alice, "goal add", text="land the HTTP/2 fix", link="https://github.com/encode/httpx/pull/77")
    await w.invoke(w.alice, "goal add", text="close the docs issue", link="https://github.com/encode/httpx/issues/12")
    await w.invoke(w.alice, "goal add", text="an unrelated goal", link="https://github.com/encode/httpx/issues/13")

    w.clock.advance(timedelta(minutes=10))  # later that morning
    gh.merge(alice, "encode/httpx", 77, merged_at=just_merged(w, 3), title="HTTP/2 fix")
    gh.merge(alice, "encode/httpx", 80, merged_at=just_merged(w, 2), title="Docs", body="Docs rewrite.\n\nFixes #12")
    await radar(w).run_pass()
    await w.wait_for_posts(w.celebrations, 2)
    await settle(0.3)
    by_number = {re.search(r"encode/httpx#(\d+)", description(p))[1]: description(p) for p in posts(w)}
    assert set(by_number) == {"77", "80"}
    assert "✅ Goal finished: `#1` land the HTTP/2 fix" in by_number["77"]  # one line, no stray break
    assert "Goal finished" in by_number["80"] and "`#2` close the docs issue" in by_number["80"]
    async with reading(w.sessionmaker) as session:
        status = dict((await session.execute(select(Goal.number, Goal.status))).all())
    assert status == {1: "done", 2: "done", 3: "open"}


async def test_history_import_and_merge_searches_read_every_page(db_url: str) -> None:
    # No celebrations channel: 150 merges are recorded without 150 posts to wait for.
    async with world(db_url) as w:
        gh = FakeGitHub(w)
        alice = gh.user("alice-gh", 1001)
        gh.history(alice, {"psf/requests": 150, "encode/httpx": 100})
        await link(w, w.alice, alice)
        history_pages = gh.searches_for("is:pr is:merged author:alice-gh")
        assert [s.page for s in history_pages] == [1, 2, 3]
        assert {s.params["per_page"] for s in history_pages} == {"100"}
        found = await profile(w, alice.id)
        assert (found.history_total, found.history_read) == (250, 250)
        assert await count(w, GitHubMerge, GitHubMerge.source == "history") == 250
        res = await w.invoke(w.alice, "github prs")
        assert res.embeds[0]["description"].startswith("**250** merged pull requests")

        w.clock.advance(timedelta(hours=1))
        start = just_merged(w, 20)
        for n in range(150):  # a busy release
            gh.merge(alice, "pola-rs/polars", 20000 + n, merged_at=start + timedelta(seconds=5 * n))
        before = len(gh.searches)
        report = await radar(w).run_pass()
        pages = [s.page for s in gh.searches[before:] if s.is_merge_search]
        assert pages == [1, 2]
        assert report.merges == 150
        assert await count(w, GitHubMerge, GitHubMerge.source == "radar") == 150
        assert await count(w, MergedPullRequest) == 150


async def test_a_renamed_login_is_followed_and_its_merge_celebrated(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-old", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)

    gh.rename(alice, "alice-new")
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    gh.merge(bob, "encode/httpx", 301, merged_at=just_merged(w))
    before = len(gh.searches)
    await radar(w).run_pass()
    await w.wait_for_posts(w.celebrations, 2)
    await settle(0.3)
    texts = sorted(description(p) for p in posts(w))
    assert len(texts) == 2
    assert any(f"<@{w.alice.id}>" in t and "encode/httpx#300" in t for t in texts)
    assert any(f"<@{w.bob.id}>" in t and "encode/httpx#301" in t for t in texts)
    # The batch with the old login was refused, GitHub was asked by id, and the batch tried again.
    merge_searches = [s for s in gh.searches[before:] if s.is_merge_search]
    assert merge_searches[0].authors == ["alice-old", "bob-gh"]
    assert sorted(merge_searches[-1].authors) == ["alice-new", "bob-gh"]
    assert [r.request.url.path for r in w.github.calls if r.request.url.path.startswith("/user/")] == [
        "/user/1001",
        "/user/1002",
    ]
    async with reading(w.sessionmaker) as session:
        account = await session.scalar(select(GitHubAccount).where(GitHubAccount.user_id == w.alice.id))
    assert (account.login, account.login_lower) == ("alice-new", "alice-new")
    assert (await profile(w, alice.id)).login == "alice-new"
    res = await w.invoke(w.bob, "github whois", member=w.alice)
    assert "alice-new" in res.content


async def test_a_login_taken_over_by_someone_else_is_not_theirs(w: World, gh: FakeGitHub) -> None:
    """Alice renamed herself and someone else took her old login: only the numeric id says who is who."""
    alice = gh.user("alice-old", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    gh.rename(alice, "alice-new")
    mallory = gh.user("alice-old", 6666)
    gh.merge(mallory, "encode/httpx", 400, merged_at=just_merged(w), title="Not alice's")
    gh.merge(alice, "encode/httpx", 401, merged_at=just_merged(w), title="Alice's")

    await radar(w).run_pass()  # finds mallory's PR under the old login, ignores it and asks who 1001 is
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "encode/httpx#401" in description(post) and f"<@{w.alice.id}>" in post["content"]
    async with reading(w.sessionmaker) as session:
        assert list(await session.scalars(select(MergedPullRequest.number))) == [401]
        assert 400 not in set(await session.scalars(select(GitHubMerge.number)))
    assert (await profile(w, alice.id)).login == "alice-new"


@pytest.mark.parametrize("change", ["alice renamed", "bob deleted"])
async def test_a_login_gone_stale_before_the_daily_self_check_does_not_stop_the_radar(
    w: World, gh: FakeGitHub, change: str
) -> None:
    alice = gh.user("alice-old", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    assert radar(w).state.mode_checked_at is not None  # checked today, both in the sample

    if change == "alice renamed":
        gh.rename(alice, "alice-new")
    else:
        gh.delete(bob)
    w.clock.advance(timedelta(days=1, minutes=1))  # the self-check is due again
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    first = await radar(w).run_pass()
    second = await radar(w).run_pass()
    assert first.complete or second.complete, (first.stopped_because, second.stopped_because)
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)


async def test_a_member_unlinked_during_a_pass_is_not_celebrated(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    gh.merge(bob, "encode/httpx", 301, merged_at=just_merged(w))

    async def alice_unlinks(search: Search) -> None:
        # The search has been sent; alice runs /github unlink before its answer arrives.
        if search.is_merge_search and "alice-gh" in search.authors:
            gh.before_answer = None
            await github_links.unlink(w.sessionmaker, guild_id=w.guild.id, user_id=w.alice.id)

    gh.before_answer = alice_unlinks
    report = await radar(w).run_pass()
    assert gh.before_answer is None, "the merge search never ran"
    assert report.celebrations == 1
    post = await one_more_post(w, 0)
    assert f"<@{w.bob.id}>" in post["content"] and "encode/httpx#301" in description(post)
    assert await count(w, MergedPullRequest, MergedPullRequest.user_id == w.alice.id) == 0
    assert await count(w, GitHubMerge, GitHubMerge.github_id == alice.id) == 0  # forgotten with the link
    assert await profile(w, alice.id) is None
    # And the radar stops watching her.
    before = len(gh.searches)
    await radar(w).run_pass()
    assert all("alice-gh" not in s.authors for s in gh.searches[before:])


RATE_LIMITS = {
    "403 remaining 0": (403, {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "30"}, 40),
    "429 retry-after": (429, {"retry-after": "30", "x-ratelimit-remaining": "12"}, 30),
}


def rate_limited(gh: FakeGitHub, answer: str, *, times: int = 1, then_hold: bool = False) -> datetime:
    """Make the next searches answer a rate limit; return when it resets (in the client's time)."""
    status, headers, wait = RATE_LIMITS[answer]
    reset = gh.time.now() + timedelta(seconds=wait)
    if status == 403:
        headers = {**headers, "x-ratelimit-reset": str(int(reset.timestamp())), "x-ratelimit-resource": "search"}
    for _ in range(times):
        gh.fail_next_search(status, headers, "API rate limit exceeded for 203.0.113.9.", then_hold=then_hold)
    return reset


@pytest.mark.parametrize("answer", RATE_LIMITS)
async def test_nothing_is_sent_to_github_search_before_a_rate_limit_resets(
    w: World, gh: FakeGitHub, answer: str
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))

    reset = rate_limited(gh, answer, then_hold=True)
    running = asyncio.create_task(radar(w).run_pass())
    await asyncio.wait_for(gh.time.sleeping.wait(), 5)  # the radar got the limit and waits for the reset
    limited = len(gh.searches)

    # Meanwhile a member's command is answered at once, politely and privately, without asking GitHub.
    res = await w.invoke(w.alice, "gfi", language="python")
    assert res.ephemeral and "rate limit" in res.content
    assert not running.done()  # answered while the radar still waits for the reset
    assert len(gh.searches) == limited

    # The radar asks again only after the reset (in the client's time), and finds the merge.
    gh.time.release()
    report = await asyncio.wait_for(running, 5)
    assert report.complete and report.celebrations == 1
    later = gh.searches[limited:]
    assert later, "the radar never searched again"
    assert all(s.at >= reset - timedelta(seconds=1) for s in later), [(s.at - reset).total_seconds() for s in later]
    assert sum(gh.time.slept) >= (reset - gh.searches[limited - 1].at).total_seconds() - 1
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)


async def test_a_pass_cut_short_by_rate_limits_loses_nothing(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))

    reset = rate_limited(gh, "403 remaining 0", times=10)  # GitHub keeps saying no
    before = len(gh.searches)
    report = await radar(w).run_pass()
    assert not report.complete and "rate limit" in (report.stopped_because or "")
    await settle()
    assert posts(w) == []
    res = await w.invoke(w.admin, "github-admin status")
    assert "Stopped early" in res.embeds[0]["description"]
    retries = gh.searches[before + 1 :]
    assert len(retries) == MAX_RATE_LIMITED  # asked again after each reset, then the pass gave up
    assert all(s.at >= reset - timedelta(seconds=1) for s in retries)

    gh.failures.clear()  # GitHub answers again: the next pass finds what the cut pass missed
    report = await radar(w).run_pass()
    assert report.complete
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)


async def test_a_failed_self_check_makes_the_radar_search_one_member_at_a_time(w: World, gh: FakeGitHub) -> None:
    gh.and_semantics = True  # GitHub reads space-joined authors as AND: batches find nothing
    accounts = [gh.user("alice-gh", 1001), gh.user("bob-gh", 1002), gh.user("ada-gh", 1003)]
    for n, (member, account) in enumerate(zip([w.alice, w.bob, w.admin], accounts, strict=True)):
        gh.history(account, {"psf/requests": 3 + n})
        await link(w, member, account)
    state = radar(w).state
    assert state.mode == "single", state.mode_detail
    # Checked as soon as two members had a history: alice's 3 PRs and bob's 4.
    assert state.mode_detail.startswith("a batch of 2 found 0 PRs but the single searches 7")
    res = await w.invoke(w.admin, "github-admin status")
    assert "one member per search" in res.embeds[0]["description"]
    # The mode is stored: a restarted radar keeps it.
    assert (await Radar(w.sessionmaker, w.bot.github, now=w.clock).load_state()).mode == "single"

    gh.merge(accounts[1], "encode/httpx", 300, merged_at=just_merged(w))
    before = len(gh.searches)
    await radar(w).run_pass()
    merge_searches = [s for s in gh.searches[before:] if s.is_merge_search]
    assert sorted(login for s in merge_searches for login in s.authors) == ["ada-gh", "alice-gh", "bob-gh"]
    assert all(len(s.authors) == 1 for s in merge_searches)
    assert all(len(s.authors) == 1 for s in gh.searches[before:] if "is:open" in s.q)
    post = await one_more_post(w, 0)
    assert f"<@{w.bob.id}>" in post["content"]


async def test_a_passed_self_check_keeps_batches(w: World, gh: FakeGitHub) -> None:
    accounts = [gh.user("alice-gh", 1001), gh.user("bob-gh", 1002)]
    for member, account in zip([w.alice, w.bob], accounts, strict=True):
        gh.history(account, {"psf/requests": 3})
        await link(w, member, account)
    assert radar(w).state.mode == "batched"
    before = len(gh.searches)
    await radar(w).run_pass()
    (merge_search,) = [s for s in gh.searches[before:] if s.is_merge_search]
    assert "(author:alice-gh OR author:bob-gh)" in merge_search.q


async def test_own_repositories_and_the_radar_switch(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("Alice-GH", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)

    gh.merge(alice, "Alice-GH/dotfiles", 1, merged_at=just_merged(w))
    report = await radar(w).run_pass()
    assert report.merges == 1 and report.celebrations == 0
    await settle()
    assert posts(w) == []
    assert await count(w, MergedPullRequest) == 1  # it counts, without a celebration

    res = await w.invoke(w.admin, "settings radar", own_repos=True)
    assert "celebrated too" in res.content
    gh.merge(alice, "Alice-GH/dotfiles", 2, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "alice-gh/dotfiles#2" in description(post).lower()

    res = await w.invoke(w.admin, "settings radar", enabled=False)
    assert "off" in res.content
    gh.merge(alice, "encode/httpx", 3, merged_at=just_merged(w))
    before = len(gh.searches)
    await radar(w).run_pass()
    await settle()
    assert len(posts(w)) == 1
    assert gh.searches[before:] == []  # nobody is watched here any more


async def test_the_radar_switch_is_per_server(db_url: str) -> None:
    """Alice is in two servers; one turned the radar off: only the other celebrates."""
    async with world(db_url, start=False) as w:
        quiet = w.fake.add_guild(name="Quiet")
        quiet_channel = w.fake.add_text_channel(quiet, "celebrations")
        alice_there = w.fake.add_member(quiet, "alice")
        await w.start_bot()
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        gh = FakeGitHub(w)
        alice = gh.user("alice-gh", 1001)
        gh.history(alice, {"psf/requests": 3})
        await link(w, w.alice, alice)
        async with transaction(w.sessionmaker) as session:
            session.add(Guild(id=quiet.id, celebrations_channel_id=quiet_channel.id, radar_enabled=False))
            await session.flush()
            session.add(
                GitHubAccount(
                    guild_id=quiet.id,
                    user_id=alice_there.id,
                    github_id=alice.id,
                    login="alice-gh",
                    login_lower="alice-gh",
                )
            )

        gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
        await radar(w).run_pass()
        post = await one_more_post(w, 0)
        assert "encode/httpx#300" in description(post)
        assert w.fake.messages_in(quiet_channel, include_interactions=False) == []
        assert await count(w, MergedPullRequest, MergedPullRequest.guild_id == quiet.id) == 0

        # A webhook delivery still reaches both servers.
        status, _ = await post_delivery(
            w, webhook_merge(number=9, user_login="alice-gh", user_id=alice.id, merged_at=just_merged(w))
        )
        assert status == 202
        await eventually(lambda: w.fake.messages_in(quiet_channel, include_interactions=False))


async def test_bot_authors_are_never_celebrated(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    robot = gh.user("release-robot", 4040, kind="Bot")
    gh.history(alice, {"psf/requests": 3})
    gh.history(robot, {"psf/requests": 30})
    await link(w, w.alice, alice)
    await link(w, w.bob, robot)  # an admin linked a bot account to a member

    gh.merge(robot, "encode/httpx", 500, merged_at=just_merged(w), title="Release 1.0")
    gh.merge(alice, "encode/httpx", 501, merged_at=just_merged(w), title="A human's fix")
    report = await radar(w).run_pass()
    assert report.celebrations == 1
    post = await one_more_post(w, 0)
    assert "encode/httpx#501" in description(post)
    assert await count(w, MergedPullRequest, MergedPullRequest.user_id == w.bob.id) == 0
    # Nor does a bot's history count: nothing of it is stored, and its total is none.
    assert await count(w, GitHubMerge, GitHubMerge.github_id == robot.id) == 0
    found = await profile(w, robot.id)
    assert found is not None and found.history_total == 0


async def test_prs_labelled_spam_or_invalid_count_for_nothing_and_are_never_celebrated(
    w: World, gh: FakeGitHub
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    gh.merge(alice, "psf/requests", merged_at=datetime(2025, 3, 1, tzinfo=UTC), labels=("Spam",))
    await link(w, w.alice, alice)
    found = await profile(w, alice.id)
    assert found is not None and (found.history_total, found.history_read) == (3, 3)  # not 4

    gh.merge(alice, "encode/httpx", 600, merged_at=just_merged(w), labels=("hacktoberfest", "INVALID"))
    gh.merge(alice, "encode/httpx", 601, merged_at=just_merged(w), title="A real fix")
    report = await radar(w).run_pass()
    assert report.celebrations == 1
    post = await one_more_post(w, 0)
    assert "encode/httpx#601" in description(post)
    assert "their 4th merged PR overall" in description(post)  # neither labelled PR is counted
    assert await count(w, GitHubMerge, GitHubMerge.number == 600) == 0
    assert await count(w, MergedPullRequest, MergedPullRequest.number == 600) == 0
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**4** merged pull requests")


async def test_a_label_the_radar_sees_after_the_celebration_takes_the_merge_out_of_the_counts(
    w: World, gh: FakeGitHub
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 2})
    await link(w, w.alice, alice)
    pr = gh.merge(alice, "encode/httpx", 700, merged_at=just_merged(w), title="Typo")
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "their 3rd merged PR overall" in description(post)
    assert await count(w, Activity, Activity.kind == "pr") == 1

    pr.labels.append("Invalid")  # a maintainer labels it after it merged; no webhook tells Shiplog
    await radar(w).run_pass()

    async def redrawn() -> dict[str, Any] | None:
        now = w.fake.get_message(int(post["id"]))
        return now if now is not None and now["content"] == WITHDRAWN_TEXT else None

    edited = await eventually(redrawn, timeout=10)
    assert edited["embeds"] == [] and edited["components"] == []
    assert len(posts(w)) == 1
    assert await count(w, MergedPullRequest) == 0
    assert await count(w, GitHubMerge, GitHubMerge.number == 700) == 0
    assert await count(w, Activity, Activity.kind == "pr") == 0
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**2** merged pull requests")
    await radar(w).run_pass()  # seen again on the next pass: nothing more to do
    await settle()
    assert await count(w, OutboxMessage, OutboxMessage.kind == "discord.edit") == 1


async def test_a_capped_history_is_counted_as_a_lower_bound_never_as_first(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 900, "encode/httpx": 600})
    await link(w, w.alice, alice)
    history_pages = gh.searches_for("is:pr is:merged author:alice-gh")
    assert [s.page for s in history_pages] == [1, 2, 3, 4, 5]  # 500 read, no more
    found = await profile(w, alice.id)
    assert (found.history_total, found.history_read) == (1500, 500)
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**1500+** merged pull requests")

    gh.merge(alice, "a-new/project", 1, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    text = description(post)
    assert "One more for their **1501+** merged PRs." in text
    assert "first" not in text.lower()


async def test_github_status_for_admins_only(w: World, gh: FakeGitHub) -> None:
    w.fake.allow_everyone(w.guild, "github-admin")  # opened to all by an admin: the bot still checks
    alice = gh.user("alice-gh", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    await radar(w).run_pass()

    res = await w.invoke(w.admin, "github-admin status")
    assert res.ephemeral
    (embed,) = res.embeds
    assert embed["title"] == "GitHub radar"
    text = embed["description"]
    assert "**Radar**: on in this server" in text
    assert "**Linked members**: 2" in text
    assert "**Query**: batched searches" in text
    assert "**Last pass** (all servers): just now" in text and "checked 2 of 2 members" in text
    assert "**GitHub search budget**: 25 of 30 left" in text
    assert "no longer knows" not in text

    res = await w.invoke(w.bob, "github-admin status")
    assert res.ephemeral and "Manage Server" in res.content and not res.embeds

    # Bob deletes his GitHub account: the radar notices, and the admins are told.
    gh.delete(bob)
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    await radar(w).run_pass()
    await one_more_post(w, 0)  # alice's merge still found, in the retried batch
    res = await w.invoke(w.admin, "github-admin status")
    assert f"**GitHub no longer knows (or won't search)**: <@{w.bob.id}> (bob-gh)" in res.embeds[0]["description"]
    assert (await profile(w, bob.id)).gone_at is not None
    assert "left, resets <t:" in res.embeds[0]["description"]
    # An hour past the reset (by GitHub's clock, which its resets are in), with no call since, the
    # budget shown is the last one seen: it says so.
    gh.time.skipped += (w.bot.github.limits.buckets["search"].reset_at - gh.time.now()).total_seconds() + 3600
    res = await w.invoke(w.admin, "github-admin status")
    assert "left, as of the last call (reset <t:" in res.embeds[0]["description"]


async def test_review_nudge_dm_once_a_week(w: World, gh: FakeGitHub) -> None:
    alice = gh.user("alice-gh", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 3})
    now = w.clock()
    gh.open_pr(alice, "encode/httpx", 90, opened_at=now - timedelta(days=10))  # waiting
    gh.open_pr(alice, "encode/httpx", 91, opened_at=now - timedelta(days=10), reviewed=True)
    gh.open_pr(alice, "encode/httpx", 92, opened_at=now - timedelta(days=2))  # too young to nudge
    gh.open_pr(bob, "encode/httpx", 93, opened_at=now - timedelta(days=10))  # bob chose no nudges
    res = await w.invoke(w.alice, "me review-nudges", mode="dm")
    assert res.ephemeral and "DM" in res.content
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)

    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice))
    text = dm["content"]
    assert "waiting for a first review" in text and "from **Builders**" in text
    assert "encode/httpx#90" in text and "open 10 days" in text
    assert "Friendly ping on this PR: it's been open for 10 days" in text
    assert "#91" not in text and "#92" not in text
    assert w.fake.dms_to(w.bob) == []

    res = await w.invoke(w.alice, "github prs")
    opened = next(f["value"] for f in res.embeds[0]["fields"] if f["name"] == "Open pull requests")
    lines = opened.splitlines()
    assert len(lines) == 3
    assert "encode/httpx#90" in lines[0] and "10 days" in lines[0] and "no review yet" in lines[0]
    assert "no review yet" not in next(line for line in lines if "#91" in line)

    # Two days on, the open PRs are checked again: #90 still waits, but it was nudged this week.
    w.clock.advance(timedelta(days=2))
    before = len(gh.searches_for("is:open"))
    await radar(w).run_pass()
    assert len(gh.searches_for("is:open")) > before
    await settle()
    assert len(w.fake.dms_to(w.alice)) == 1
    assert await count(w, OutboxMessage, OutboxMessage.kind == "dm.review_nudge") == 1

    # A week after the nudge it comes again.
    w.clock.advance(timedelta(days=5, minutes=1))
    await radar(w).run_pass()
    dms = await eventually(lambda: len(w.fake.dms_to(w.alice)) == 2 and w.fake.dms_to(w.alice))
    assert dms and "open 17 days" in dms[-1]["content"]


# --- what the review fixed -------------------------------------------------------------------------


async def deliver_merge(w: World, account: Account, repo: str, number: int, *, merged_at: datetime) -> None:
    """Deliver a webhook for a merge of `account` and wait until it is processed."""
    before = await count(w, WebhookDelivery, WebhookDelivery.status == "done")
    body = webhook_merge(repo=repo, number=number, user_login=account.login, user_id=account.id, merged_at=merged_at)
    status, _ = await post_delivery(w, body)
    assert status == 202
    assert await eventually(lambda: _deliveries_done(w, before + 1)), "the delivery was not processed"


async def _deliveries_done(w: World, n: int) -> bool:
    return await count(w, WebhookDelivery, WebhookDelivery.status == "done") >= n


async def test_a_merge_the_radar_finds_late_is_not_a_second_first(w: World, gh: FakeGitHub) -> None:
    """Ordinals follow the order Shiplog learned of merges, not the order they merged.

    Alice had merged nothing. A webhook delivers her merge B: her first. Then the radar finds A, which
    merged minutes before B but reached GitHub's search later: A is her 2nd, not a second "first".
    """
    alice = gh.user("alice-gh", 1001)
    await link(w, w.alice, alice)
    assert (await profile(w, alice.id)).history_total == 0

    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w, 5))  # A
    b = gh.merge(alice, "octo-org/Hello-World", 9, merged_at=just_merged(w))
    await deliver_merge(w, alice, "octo-org/Hello-World", 9, merged_at=b.merged_at)
    post = await one_more_post(w, 0)
    assert "octo-org/hello-world#9" in description(post).lower()
    assert "🥇 Their **first merged pull request**!" in description(post)

    await radar(w).run_pass()  # finds A (and B again)
    post = await one_more_post(w, 1)
    text = description(post)
    assert "encode/httpx#300" in text
    assert "first merged pull request" not in text
    assert "their 2nd merged PR overall" in text
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**2** merged pull requests")


async def test_merges_learned_out_of_order_reach_each_milestone_once(w: World, gh: FakeGitHub) -> None:
    """Two merges learned out of order never share an ordinal, so no milestone is skipped or doubled.

    Alice has 3 merged PRs. A webhook delivers B (her 4th); the radar then finds A, merged before B:
    A is her 5th, and the `prs:5` role is granted, once. Counted by merge time, A would have been a
    second "4th", and the 5th milestone never reached.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    role = await w.fake.create_role(w.guild, "Five merged PRs")
    res = await w.invoke(w.admin, "github-admin milestone-role", milestone="prs:5", role=role)
    assert res.ephemeral and f"<@&{role.id}>" in res.content

    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w, 5))  # A
    b = gh.merge(alice, "octo-org/Hello-World", 9, merged_at=just_merged(w))
    await deliver_merge(w, alice, "octo-org/Hello-World", 9, merged_at=b.merged_at)
    post = await one_more_post(w, 0)
    assert "their 4th merged PR overall" in description(post)

    await radar(w).run_pass()
    post = await one_more_post(w, 1)
    assert "encode/httpx#300" in description(post)
    assert "their 5th merged PR overall" in description(post)
    assert "🏆 Milestone: 5 merged PRs!" in description(post)

    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 301, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 2)
    assert "Their **6th** merged PR (2nd in encode/httpx)." in description(post)
    assert "Milestone" not in description(post)

    grant = rf"/guilds/{w.guild.id}/members/{w.alice.id}/roles/{role.id}"
    assert await eventually(lambda: w.fake.requests_to("PUT", grant)), "the prs:5 role was never granted"
    await settle()
    assert len(w.fake.requests_to("PUT", grant)) == 1
    assert await count(w, OutboxMessage, OutboxMessage.kind == "role.grant") == 1


async def test_a_server_a_member_joins_later_does_not_celebrate_their_earlier_merges(db_url: str) -> None:
    """Alice's merge was celebrated in the server she had linked in. Then she links in a second one:
    the radar's next search reaches 30 minutes back and finds that merge again, but it is from
    before she linked there, so the second server posts nothing. Her next merge reaches both.
    """
    async with world(db_url, start=False) as w:
        makers = w.fake.add_guild(name="Makers")
        grace = w.fake.add_member(makers, "grace", manage_guild=True)
        alice_there = w.fake.add_member(makers, user=w.alice.user)
        makers_celebrations = w.fake.add_text_channel(makers, "celebrations")
        await w.start_bot(dev_guild_id=None)  # commands synced for every server, not one dev server
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        res = await w.fake.invoke(
            makers, grace, "settings channel", purpose="celebrations", channel=makers_celebrations
        )
        assert res.ephemeral, res.content
        gh = FakeGitHub(w)
        alice = gh.user("alice-gh", 1001)
        gh.history(alice, {"psf/requests": 3})
        await link(w, w.alice, alice)

        w.clock.advance(timedelta(minutes=10))
        gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
        await radar(w).run_pass()
        post = await one_more_post(w, 0)
        assert "encode/httpx#300" in description(post)

        w.clock.advance(timedelta(minutes=5))
        res = await w.fake.invoke(makers, grace, "github-admin link-member", member=alice_there, username="alice-gh")
        assert res.ephemeral and "is linked to" in res.content, res.content
        before = len(gh.searches)
        await radar_idle(w)
        assert any(s.is_merge_search for s in gh.searches[before:])
        assert radar(w).state.last_pass["merges"] == 1  # #300, found again
        await settle()
        assert w.fake.messages_in(makers_celebrations, include_interactions=False) == []
        assert await count(w, MergedPullRequest, MergedPullRequest.guild_id == makers.id) == 0
        assert len(posts(w)) == 1

        w.clock.advance(timedelta(minutes=5))
        gh.merge(alice, "encode/httpx", 301, merged_at=just_merged(w))
        await radar(w).run_pass()
        post = await one_more_post(w, 1)
        assert "encode/httpx#301" in description(post)
        (there,) = await w.wait_for_posts(makers_celebrations, 1)
        assert "encode/httpx#301" in description(there)


async def test_a_merge_between_linking_and_the_history_import_is_celebrated(w: World, gh: FakeGitHub) -> None:
    """History is what merged before the member linked. Alice merges two minutes after linking, before
    the import's search is answered: GitHub's answer holds that merge, yet the import leaves it to the
    radar, which celebrates it once as her 4th, and counts it once.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})

    async def alice_merges_meanwhile(search: Search) -> None:
        if search.q == "is:pr is:merged author:alice-gh":  # the history import's search
            gh.before_answer = None
            w.clock.advance(timedelta(minutes=2))  # the import waited for its turn at GitHub
            gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))

    gh.before_answer = alice_merges_meanwhile
    await link(w, w.alice, alice)
    assert gh.before_answer is None, "the history import never searched"
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)
    assert "Their first PR in **encode/httpx**, and their 4th merged PR overall." in description(post)

    found = await profile(w, alice.id)
    assert (found.history_total, found.history_read) == (3, 3)  # GitHub counted 4; one is not history
    assert await count(w, GitHubMerge, GitHubMerge.github_id == alice.id) == 4
    assert await count(w, GitHubMerge, GitHubMerge.source == "radar") == 1
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**4** merged pull requests")
    await radar(w).run_pass()
    await settle()
    assert len(posts(w)) == 1


async def test_a_self_check_on_small_histories_still_catches_and_semantics(w: World, gh: FakeGitHub) -> None:
    """Two members with one merged PR each: a batch read as AND finds 0 where the singles find 2.

    A difference of two is within the allowance for merges made between the searches, yet a batch
    that finds fewer than one member alone is wrong: the radar must search one member at a time,
    or bob's merge is never found.
    """
    gh.and_semantics = True
    alice, bob = gh.user("alice-gh", 1001), gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 1})
    gh.history(bob, {"psf/requests": 1})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    state = radar(w).state
    assert state.mode == "single", state.mode_detail
    assert state.mode_detail.startswith("a batch of 2 found 0 PRs but the single searches 2")

    w.clock.advance(timedelta(minutes=10))
    gh.merge(bob, "encode/httpx", 300, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert f"<@{w.bob.id}>" in post["content"] and "encode/httpx#300" in description(post)


async def test_a_self_check_whose_batch_github_refuses_searches_one_member_at_a_time(w: World, gh: FakeGitHub) -> None:
    """GitHub answers every single-author search but refuses the batch (422): batches can't be used.

    The radar must not take the refusal for a stale login and keep batching (every pass would then
    spend its searches on refused batches): it searches one member at a time, and says so.
    """
    gh.refuse_batches = True
    alice, bob = gh.user("alice-gh", 1001), gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    assert radar(w).state.mode == "single", radar(w).state.mode_detail
    res = await w.invoke(w.admin, "github-admin status")
    assert "one member per search" in res.embeds[0]["description"]

    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    before = len(gh.searches)
    report = await radar(w).run_pass()
    assert report.complete and report.celebrations == 1
    assert all(len(s.authors) == 1 for s in gh.searches[before:])  # no batch asked, none refused
    post = await one_more_post(w, 0)
    assert "encode/httpx#300" in description(post)


async def test_a_login_github_refuses_to_search_does_not_hide_its_batch_mates(w: World, gh: FakeGitHub) -> None:
    """GitHub still knows bob (by id, under the same login) but refuses to search his PRs (422), as it
    does for some flagged accounts. Asking who he is changes nothing, so the batch is split until the
    refused login is alone: alice's merge is celebrated, and admins see bob left out.
    """
    alice, bob = gh.user("alice-gh", 1001), gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 3})
    gh.history(bob, {"psf/requests": 4})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    assert radar(w).state.mode == "batched"

    gh.unsearchable.add("bob-gh")
    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w))
    report = await radar(w).run_pass()
    if not report.celebrations:
        await radar(w).run_pass()  # within that pass or the next
    post = await one_more_post(w, 0)
    assert f"<@{w.alice.id}>" in post["content"] and "encode/httpx#300" in description(post)

    assert (await profile(w, bob.id)).gone_at is not None
    assert (await profile(w, alice.id)).gone_at is None
    res = await w.invoke(w.admin, "github-admin status")
    text = res.embeds[0]["description"]
    assert f"**GitHub no longer knows (or won't search)**: <@{w.bob.id}> (bob-gh)" in text
    assert "alice-gh" not in text.split("won't search)**")[1]
    # From then on bob is left out: his login no longer costs every pass a refused search.
    before = len(gh.searches)
    await radar(w).run_pass()
    assert gh.searches[before:] and all("bob-gh" not in s.authors for s in gh.searches[before:])


async def test_incomplete_search_results_do_not_move_the_cursor(w: World, gh: FakeGitHub) -> None:
    """GitHub's search timed out and said so (`incomplete_results`): what it returned is celebrated,
    but the cursor stays, so the merge it missed, an hour older than the search, is found later: once.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    cursor = (await profile(w, alice.id)).checked_through
    assert cursor is not None

    w.clock.advance(timedelta(hours=2))
    missed = gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w, 60))
    gh.merge(alice, "encode/httpx", 301, merged_at=just_merged(w))
    gh.timing_out = [missed]
    before = len(gh.searches)
    await radar(w).run_pass()
    assert any(s.is_merge_search for s in gh.searches[before:])
    post = await one_more_post(w, 0)
    assert "encode/httpx#301" in description(post)
    assert (await profile(w, alice.id)).checked_through == cursor

    gh.timing_out = []  # GitHub answers in full again
    w.clock.advance(timedelta(minutes=30))
    await radar(w).run_pass()
    post = await one_more_post(w, 1)
    assert "encode/httpx#300" in description(post)
    assert (await profile(w, alice.id)).checked_through > cursor
    await radar(w).run_pass()
    await settle()
    assert sorted(re.search(r"#(\d+)", description(p))[1] for p in posts(w)) == ["300", "301"]


async def test_review_nudges_wait_while_the_radar_is_off(w: World, gh: FakeGitHub) -> None:
    """A server that turned the radar off nudges nobody, even about an open PR seen moments ago
    (members there chose to hear nothing from the radar); turned back on, the same PR is nudged.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    gh.open_pr(alice, "encode/httpx", 90, opened_at=w.clock() - timedelta(days=10))
    await link(w, w.alice, alice)  # nudges are off by default: the sweep stores #90, nothing is sent
    res = await w.invoke(w.admin, "settings radar", enabled=False)
    assert "off" in res.content
    res = await w.invoke(w.alice, "me review-nudges", mode="dm")
    assert res.ephemeral and "DM" in res.content

    await radar(w).run_pass()  # every pass ends by queueing the nudges due
    await settle()
    assert w.fake.dms_to(w.alice) == []
    assert await count(w, OutboxMessage, OutboxMessage.kind == "dm.review_nudge") == 0

    await w.invoke(w.admin, "settings radar", enabled=True)
    await radar(w).run_pass()
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice))
    assert "encode/httpx#90" in dm["content"]

    # Off again: a week and a day later, when #90 would be nudged again, it is not.
    await w.invoke(w.admin, "settings radar", enabled=False)
    w.clock.advance(timedelta(days=8))
    await radar(w).run_pass()
    await settle()
    assert len(w.fake.dms_to(w.alice)) == 1


async def test_no_review_nudge_about_an_open_pr_the_radar_has_not_seen_for_a_day(w: World, gh: FakeGitHub) -> None:
    """For a day GitHub rate-limited the radar and its passes stopped before the open-PR sweep: #90
    may have been merged or closed since, so nobody is nudged about it. Once a sweep sees it again,
    it is.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    gh.open_pr(alice, "encode/httpx", 90, opened_at=w.clock() - timedelta(days=10))
    await link(w, w.alice, alice)  # the sweep saw #90; nudges are still off
    w.clock.advance(timedelta(hours=25))
    await w.invoke(w.alice, "me review-nudges", mode="dm")

    before = len(gh.searches_for("is:open"))
    rate_limited(gh, "403 remaining 0", times=10)
    report = await radar(w).run_pass()
    assert not report.complete
    assert len(gh.searches_for("is:open")) == before  # no sweep: #90 was last seen 25 hours ago
    await settle()
    assert w.fake.dms_to(w.alice) == []

    gh.failures.clear()
    await radar(w).run_pass()
    assert len(gh.searches_for("is:open")) > before
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice))
    assert "encode/httpx#90" in dm["content"] and "open 11 days" in dm["content"]


@pytest.mark.parametrize("merged_before_on", [60, 5], ids=["an hour before", "minutes before"])
async def test_turning_the_radar_back_on_does_not_celebrate_merges_from_while_it_was_off(
    w: World, gh: FakeGitHub, merged_before_on: int
) -> None:
    """The radar was off when alice merged #300; turned on again, it celebrates what merges from then
    on (#301), not what it missed while off, however recent. (Searches reach 30 minutes before their
    cursor, so restarting the cursor alone does not cover a merge minutes before the switch.)
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    await link(w, w.alice, alice)
    await w.invoke(w.admin, "settings radar", enabled=False)

    w.clock.advance(timedelta(hours=2))
    gh.merge(alice, "encode/httpx", 300, merged_at=just_merged(w, merged_before_on))
    res = await w.invoke(w.admin, "settings radar", enabled=True)
    assert "on:" in res.content
    report = await radar(w).run_pass()
    assert report.complete and report.checked == 1
    await settle()
    assert posts(w) == []
    assert await count(w, MergedPullRequest) == 0

    w.clock.advance(timedelta(minutes=10))
    gh.merge(alice, "encode/httpx", 301, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "encode/httpx#301" in description(post)


async def test_the_open_pr_sweep_is_spread_over_passes_oldest_first(w: World, gh: FakeGitHub) -> None:
    """With 40 members watched, a pass sweeps the open PRs of at most max(6, ceil(40/36)) = 6 (one
    batch: two searches), those swept longest ago first; the next pass takes the next six.
    """
    now = w.clock()
    swept_at = {}
    async with transaction(w.sessionmaker) as session:
        for k in range(40):
            login = f"dev{k:02d}"
            gh.user(login, 5000 + k)
            # Swept 6 to 7 hours ago (all due again), in an order unlike the ids'.
            swept_at[login] = now - timedelta(hours=6, minutes=1 + (k * 17) % 40)
            session.add(
                GitHubProfile(
                    id=5000 + k,
                    login=login,
                    history_status="done",
                    checked_through=now,
                    last_checked_at=now,
                    open_checked_at=swept_at[login],
                )
            )
            await session.flush()
            session.add(
                GitHubAccount(
                    guild_id=w.guild.id, user_id=900000 + k, github_id=5000 + k, login=login, login_lower=login
                )
            )
    oldest_first = sorted(swept_at, key=swept_at.get)

    swept: list[list[str]] = []
    for _ in range(7):
        before = len(gh.searches)
        report = await radar(w).run_pass()
        assert report.complete and report.members == 40
        sweeps = [s for s in gh.searches[before:] if "is:open" in s.q]
        assert len(sweeps) <= 2, [s.authors for s in sweeps]
        swept.append(sorted({login for s in sweeps for login in s.authors}))
    assert [len(logins) for logins in swept] == [6, 6, 6, 6, 6, 6, 4]
    assert swept[0] == sorted(oldest_first[:6])
    assert swept[1] == sorted(oldest_first[6:12])
    assert sorted(login for logins in swept for login in logins) == sorted(swept_at)  # each once


async def test_draft_prs_are_not_nudged(w: World, gh: FakeGitHub) -> None:
    """A draft isn't waiting for a review: the search for unreviewed PRs leaves drafts out."""
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    opened = w.clock() - timedelta(days=10)
    gh.open_pr(alice, "encode/httpx", 90, opened_at=opened)
    gh.open_pr(alice, "encode/httpx", 91, opened_at=opened, draft=True)
    await w.invoke(w.alice, "me review-nudges", mode="dm")
    await link(w, w.alice, alice)

    (unreviewed,) = gh.searches_for("review:none")
    assert "draft:false" in unreviewed.q.split()
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice))
    assert "encode/httpx#90" in dm["content"] and "#91" not in dm["content"]
    res = await w.invoke(w.alice, "github prs")
    opened_lines = next(f["value"] for f in res.embeds[0]["fields"] if f["name"] == "Open pull requests")
    draft_line = next(line for line in opened_lines.splitlines() if "#91" in line)  # still listed
    assert "no review yet" not in draft_line


async def test_github_prs_offers_a_polite_follow_up_for_an_unreviewed_pr(w: World, gh: FakeGitHub) -> None:
    """A member's own /github prs gives a ready-to-copy follow-up for their oldest PR waiting for a
    first review; someone else looking at their PRs doesn't get it.
    """
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    gh.open_pr(alice, "encode/httpx", 90, opened_at=w.clock() - timedelta(days=10))
    gh.open_pr(alice, "encode/httpx", 91, opened_at=w.clock() - timedelta(days=12), reviewed=True)
    await link(w, w.alice, alice)

    res = await w.invoke(w.alice, "github prs")
    assert res.ephemeral
    fields = {f["name"]: f["value"] for f in res.embeds[0]["fields"]}
    follow_up = fields["A polite follow-up for encode/httpx#90"]
    assert follow_up.startswith("```\n") and follow_up.endswith("\n```")
    assert "Friendly ping on this PR: it's been open for 10 days." in follow_up

    res = await w.invoke(w.bob, "github prs", member=w.alice)
    assert not any(f["name"].startswith("A polite follow-up") for f in res.embeds[0]["fields"])


# --- identity is the numeric id ------------------------------------------------------------------------


async def test_two_members_who_swap_logins_are_both_followed_and_celebrated(w: World, gh: FakeGitHub) -> None:
    """Bob renames `beta` to `gamma`, then Alice renames `alpha` to `beta`: both are followed and cheered.

    Alice's webhook arrives first, naming her `beta` while Shiplog still has Bob as `beta`; then a radar
    pass finds Bob's merge under `gamma`. Neither member's stale login blocks the other.
    """
    alice = gh.user("alpha", 1001)
    bob = gh.user("beta", 1002)
    gh.history(alice, {"psf/requests": 2})
    gh.history(bob, {"psf/requests": 3})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)

    gh.rename(bob, "gamma")
    gh.rename(alice, "beta")
    a1 = gh.merge(alice, "encode/httpx", 500, merged_at=just_merged(w))
    await deliver_merge(w, alice, "encode/httpx", 500, merged_at=a1.merged_at)
    post = await one_more_post(w, 0)
    assert post["content"] == f"🎉 Congratulations <@{w.alice.id}>!"
    assert "encode/httpx#500" in description(post) and "their 3rd merged PR overall" in description(post)

    gh.merge(bob, "encode/httpx", 501, merged_at=just_merged(w))
    report = await radar(w).run_pass()
    report = report if report.complete else await radar(w).run_pass()
    assert report.complete, report.stopped_because
    post = await one_more_post(w, 1)
    assert post["content"] == f"🎉 Congratulations <@{w.bob.id}>!"
    assert "encode/httpx#501" in description(post) and "their 4th merged PR overall" in description(post)

    # Each member's next merge, one by the radar and one by a webhook, has the right ordinal.
    w.clock.advance(timedelta(minutes=5))
    gh.merge(alice, "encode/httpx", 502, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 2)
    assert f"<@{w.alice.id}>" in post["content"] and "Their **4th** merged PR (2nd in encode/httpx)." in description(
        post
    )
    b2 = gh.merge(bob, "encode/httpx", 503, merged_at=just_merged(w))
    await deliver_merge(w, bob, "encode/httpx", 503, merged_at=b2.merged_at)
    post = await one_more_post(w, 3)
    assert f"<@{w.bob.id}>" in post["content"] and "Their **5th** merged PR (2nd in encode/httpx)." in description(post)

    async with reading(w.sessionmaker) as session:
        shown = dict((await session.execute(select(GitHubAccount.user_id, GitHubAccount.login))).all())
        assert await session.scalar(select(func.count()).where(WebhookDelivery.status != "done")) == 0
    assert shown == {w.alice.id: "beta", w.bob.id: "gamma"}
    assert (await profile(w, alice.id)).login == "beta" and (await profile(w, bob.id)).login == "gamma"


# --- what comes from GitHub is bounded -------------------------------------------------------------------


def search_item(author: dict[str, Any], repo: str, number: Any, **changes: Any) -> dict[str, Any]:
    """A search item as GitHub shapes it (for what the fake would not make by itself)."""
    url = f"https://github.com/{repo}/pull/{number}"
    merged = iso(datetime.now(UTC) - timedelta(days=400))
    return {
        "number": number,
        "title": f"Stray {number}",
        "html_url": url,
        "user": author,
        "repository_url": f"https://api.github.com/repos/{repo}",
        "created_at": merged,
        "closed_at": merged,
        "pull_request": {"merged_at": merged, "html_url": url},
    } | changes


async def test_a_history_item_of_another_account_does_not_count_toward_the_members_total(
    w: World, gh: FakeGitHub
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 3})
    # The search for author:alice-gh also returns a PR of another account (its index lagging a rename, say).
    gh.strays = [search_item({"id": 7777, "login": "someone-else", "type": "User"}, "psf/requests", 90)]
    await link(w, w.alice, alice)
    gh.strays = []
    found = await profile(w, alice.id)
    assert (found.history_total, found.history_read) == (3, 3)
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**3** merged pull requests")

    gh.merge(alice, "psf/requests", 4242, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "Their **4th** merged PR (4th in psf/requests)." in description(post)


async def test_a_malformed_search_item_is_skipped_and_logged_and_the_good_ones_are_recorded(
    w: World, gh: FakeGitHub, caplog: pytest.LogCaptureFixture
) -> None:
    alice = gh.user("alice-gh", 1001)
    gh.history(alice, {"psf/requests": 2})
    await link(w, w.alice, alice)
    me = {"id": alice.id, "login": alice.login, "type": "User"}
    gh.strays = [
        "not an object",
        search_item(me, "psf/requests", "not-a-number"),
        search_item(me, "psf/requests", True),
        search_item(me, "psf/requests", 2**40),
        search_item(me, "psf/requests", 12, repository_url=None),
        search_item(me | {"id": str(alice.id)}, "psf/requests", 13),  # whose it is can't be told: not counted
    ]
    gh.merge(alice, "psf/requests", 4242, merged_at=just_merged(w), title="Fix the retry backoff")
    through = (await profile(w, alice.id)).checked_through
    report = await radar(w).run_pass()
    assert report.complete, report.stopped_because
    post = await one_more_post(w, 0)
    assert "psf/requests#4242" in description(post) and "Their **3rd** merged PR" in description(post)
    assert (await profile(w, alice.id)).checked_through > through  # her cursor moved past it
    skipped = [r for r in caplog.records if "skipping" in r.getMessage() and "search item" in r.getMessage()]
    assert len(skipped) >= 5
    res = await w.invoke(w.alice, "github prs")
    assert res.embeds[0]["description"].startswith("**3** merged pull requests")


async def test_a_login_a_stale_link_still_shows_can_be_linked_by_its_new_holder(w: World, gh: FakeGitHub) -> None:
    """Bob renamed `beta` to `gamma` and Alice took `beta` before the radar noticed: Alice can link it."""
    bob = gh.user("beta", 1002)
    gh.history(bob, {"psf/requests": 3})
    await link(w, w.bob, bob)
    gh.rename(bob, "gamma")
    alice = gh.user("beta", 1001)
    gh.history(alice, {"psf/requests": 1})

    await link(w, w.alice, alice)  # the admin's /github-admin link-member; GitHub says `beta` is 1001
    res = await w.invoke(w.bob, "github whois", member=w.alice)
    assert "[beta](<https://github.com/beta>)" in res.content

    gh.merge(bob, "encode/httpx", 700, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert f"<@{w.bob.id}>" in post["content"] and "their 4th merged PR overall" in description(post)
    res = await w.invoke(w.alice, "github whois", member=w.bob)
    assert "[gamma](<https://github.com/gamma>)" in res.content


async def test_a_login_github_sends_that_is_no_login_is_not_stored(w: World, gh: FakeGitHub) -> None:
    octo = gh.user("Codertocat", OCTO_ID)
    gh.history(octo, {"octo-org/Hello-World": 1})
    await link(w, w.alice, octo)
    merged_at = just_merged(w)
    gh.merge(octo, "octo-org/Hello-World", 2, merged_at=merged_at)
    body = webhook_merge(number=2, merged_at=merged_at, user_login="x](javascript:alert(1))")
    assert (await post_delivery(w, body))[0] == 202
    post = await one_more_post(w, 0)
    assert f"<@{w.alice.id}>" in post["content"]  # her merge, known by its id, is celebrated
    res = await w.invoke(w.bob, "github whois", member=w.alice)
    assert "[Codertocat](<https://github.com/Codertocat>)" in res.content
    assert (await profile(w, OCTO_ID)).login == "Codertocat"


async def test_one_members_trouble_in_a_radar_batch_does_not_hold_back_the_others(
    w: World, gh: FakeGitHub, db_url: str
) -> None:
    if not db_url.startswith("sqlite"):
        pytest.skip("the fault is played by an SQLite trigger")
    from sqlalchemy import text

    alice = gh.user("alice-gh", 1001)
    bob = gh.user("bob-gh", 1002)
    gh.history(alice, {"psf/requests": 2})
    gh.history(bob, {"psf/requests": 3})
    await link(w, w.alice, alice)
    await link(w, w.bob, bob)
    bob_through = (await profile(w, bob.id)).checked_through
    # Bob's state is bad: recording any merge of his fails in the database.
    async with transaction(w.sessionmaker) as session:
        await session.execute(
            text(
                "CREATE TRIGGER bobs_bad_state BEFORE INSERT ON github_merges WHEN NEW.github_id = 1002 "
                "BEGIN SELECT RAISE(ABORT, 'bob''s state is bad'); END"
            )
        )
    gh.merge(alice, "encode/httpx", 800, merged_at=just_merged(w))
    gh.merge(bob, "encode/httpx", 801, merged_at=just_merged(w))
    report = await radar(w).run_pass()
    assert report.searches and not report.complete and "1002" in (report.stopped_because or "")
    post = await one_more_post(w, 0)  # alice, in the same batch, is celebrated
    assert f"<@{w.alice.id}>" in post["content"] and "their 3rd merged PR overall" in description(post)
    assert (await profile(w, bob.id)).checked_through == bob_through  # bob's cursor waits for him

    async with transaction(w.sessionmaker) as session:
        await session.execute(text("DROP TRIGGER bobs_bad_state"))
    w.clock.advance(timedelta(minutes=5))
    report = await radar(w).run_pass()
    assert report.complete, report.stopped_because
    post = await one_more_post(w, 1)
    assert f"<@{w.bob.id}>" in post["content"] and "their 4th merged PR overall" in description(post)


async def test_a_login_taken_over_before_the_history_import_is_followed_never_a_false_first(
    w: World, gh: FakeGitHub
) -> None:
    """Between linking and the import, Alice renamed herself and Mallory took her old login."""
    alice = gh.user("alice-old", 1001)
    gh.history(alice, {"psf/requests": 3})

    async def takeover(search: Search) -> None:
        if search.q == "is:pr is:merged author:alice-old" and alice.login == "alice-old":
            gh.rename(alice, "alice-new")
            mallory = gh.user("alice-old", 6666)
            gh.history(mallory, {"encode/httpx": 2})

    gh.before_answer = takeover
    await link(w, w.alice, alice)
    await radar_idle(w)
    found = await profile(w, alice.id)
    assert (found.login, found.history_status, found.history_total) == ("alice-new", "done", 3)
    gh.merge(alice, "psf/requests", 4242, merged_at=just_merged(w))
    await radar(w).run_pass()
    post = await one_more_post(w, 0)
    assert "Their **4th** merged PR (4th in psf/requests)." in description(post)
