"""Every gatherer of what is published outside Discord asks bot/services/audience.py, and none is missed.

Each publisher (`audience.PUBLISHERS`: the public page and its pictures, the share drafts, the recap)
is walked with a member who has a merge in a public repository and one in a private repository:
only the public one may come out. Then the member leaves, or Shiplog is removed from the server:
nothing comes out at all. A publisher added without a walk here, a draft builder in share.py
that no publisher feeds, or a call to a draft builder outside a publisher fails the tests.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import bot.services
from bot.db.models import (
    Activity,
    GitHubAccount,
    GitHubMerge,
    GitHubProfile,
    Goal,
    Guild,
    Member,
    MemberPage,
    MergedPullRequest,
)
from bot.db.session import reading, transaction
from bot.errors import NotFoundError, UserError
from bot.playground.fake_github import FakeGitHub
from bot.services import audience
from bot.services.github import events
from bot.services.github.api import GitHubAPI, parse_search_item
from bot.services.github.radar import Radar
from bot.services.sharing import community, pages, posts, recap, share
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parent.parent
GUILD, ALICE = 1, 11
SERVER_SLUG, MEMBER_SLUG = "S" * 16, "M" * 16
PUBLIC_DAY, PRIVATE_DAY = (NOW - timedelta(days=1)).date(), (NOW - timedelta(days=2)).date()
SECRET = "stealth"  # in the private merge's repository and title, and nowhere else


def _import_every_service() -> None:
    for module in pkgutil.walk_packages(bot.services.__path__, "bot.services."):
        importlib.import_module(module.name)


@dataclass
class Stored:
    public_id: int
    private_id: int


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> Stored:
    """Alice, with a public page, a merge in a public and in a private repository, and a goal that
    the private merge finished (linked to an issue of the private repository)."""
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=GUILD, pages_enabled=True, page_slug=SERVER_SLUG, page_name="Builders"))
        await session.flush()
        session.add(MemberPage(guild_id=GUILD, user_id=ALICE, slug=MEMBER_SLUG, display_name="alice"))
        public = MergedPullRequest(
            guild_id=GUILD, user_id=ALICE, repo="octo-org/engine", number=1, title="Fix the pool",
            url="https://github.com/octo-org/engine/pull/1", merged_at=NOW - timedelta(days=1), private=False,
        )  # fmt: skip
        private = MergedPullRequest(
            guild_id=GUILD, user_id=ALICE, repo=f"octo-org/{SECRET}-engine", number=2, title=f"The {SECRET} launch",
            url=f"https://github.com/octo-org/{SECRET}-engine/pull/2", merged_at=NOW - timedelta(days=2), private=True,
        )  # fmt: skip
        session.add_all([public, private])
        for ref, day in (("octo-org/engine#1", PUBLIC_DAY), (f"octo-org/{SECRET}-engine#2", PRIVATE_DAY)):
            session.add(Activity(guild_id=GUILD, user_id=ALICE, kind="pr", ref=ref, local_date=day, created_at=NOW))
        session.add(
            Goal(
                guild_id=GUILD, number=1, user_id=ALICE, text="ship the launch", status="done",
                link_repo=f"octo-org/{SECRET}-engine", link_number=5, created_at=NOW - timedelta(days=5),
                updated_at=NOW - timedelta(days=2), closed_at=NOW - timedelta(days=2),
            )
        )  # fmt: skip
        await session.flush()
        return Stored(public.id, private.id)


Walk = Callable[[async_sessionmaker[AsyncSession], Stored], Awaitable[str | None]]


# Each walk returns what the publisher lets out, as text (None: nothing at all), after checking that
# what is public does come out; the test then checks the private merge is nowhere in it.
async def _load_page(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    page = await pages.load_page(sm, SERVER_SLUG, MEMBER_SLUG, now=NOW)
    if page is None:
        return None
    assert page.prs_merged == 1 and [repo.repo for repo in page.repos] == ["octo-org/engine"]
    return repr(page)


async def _load_streak(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    drawn = await pages.load_streak(sm, SERVER_SLUG, MEMBER_SLUG, now=NOW)
    if drawn is None:
        return None
    assert drawn.picture.days == {PUBLIC_DAY: 1}  # the private merge's day is not drawn
    return repr(drawn)


async def _public_streak_picture(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    picture = await posts.public_streak_picture(sm, guild_id=GUILD, user_id=ALICE, now=NOW)
    if not picture.days:
        return None
    assert picture.days == {PUBLIC_DAY: 1}
    return repr(picture)


async def _goal_post(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    try:
        post = await posts.goal_post(sm, guild_id=GUILD, number=1)
    except NotFoundError:
        return None
    assert all("ship the launch" in draft for draft in post.drafts.values())  # the link is what could leak
    return " ".join(post.drafts.values())


async def _streak_post(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    try:
        post = await posts.streak_post(sm, guild_id=GUILD, user_id=ALICE, length=4, cadence="weekly")
    except NotFoundError:
        return None
    assert all("4 weeks in a row" in draft for draft in post.drafts.values())
    return " ".join(post.drafts.values())


async def _share_post(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    with pytest.raises(audience.PrivateMergeError, match="private repository"):
        await events.share_post(sm, guild_id=GUILD, merged_id=stored.private_id)
    try:
        post = await events.share_post(sm, guild_id=GUILD, merged_id=stored.public_id)
    except NotFoundError:
        return None
    assert all("octo-org/engine" in draft for draft in post.drafts.values())
    return " ".join(post.drafts.values())


async def _recap_build(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    async with reading(sm) as session:
        week = await recap.build(
            session, guild_id=GUILD, user_id=ALICE, start=NOW - timedelta(days=7), end=NOW, now=NOW
        )
    # The recap goes to the member alone (a DM or an ephemeral reply; departed members get no DM,
    # see recap.recap_members): only what they may post is checked here.
    assert week.prs == [("octo-org/engine", 1)]
    return repr(week)


async def _load_community(sm: async_sessionmaker[AsyncSession], stored: Stored) -> str | None:
    async with transaction(sm) as session:
        guild = await session.get(Guild, GUILD)
        guild.community_enabled, guild.community_slug = True, "builders"
    page = await community.load_community(sm, "builders", now=NOW)
    if page is None or page.in_all == 0:  # no page, or one where nothing of alice's is counted
        return None
    assert page.in_all == 1 and page.top_repos == [("octo-org/engine", 1)]
    return repr(page)


WALKS: dict[str, Walk] = {
    "bot.services.sharing.community.load_community": _load_community,
    "bot.services.sharing.pages.load_page": _load_page,
    "bot.services.sharing.pages.load_streak": _load_streak,
    "bot.services.sharing.posts.public_streak_picture": _public_streak_picture,
    "bot.services.sharing.posts.goal_post": _goal_post,
    "bot.services.sharing.posts.streak_post": _streak_post,
    "bot.services.github.events.share_post": _share_post,
    "bot.services.sharing.recap.build": _recap_build,
}
# Publishers whose output goes only to the member it is about, so a departure is handled upstream.
TO_THE_MEMBER_ONLY = {"bot.services.sharing.recap.build"}


def test_every_publisher_is_walked() -> None:
    _import_every_service()
    assert set(audience.PUBLISHERS) == set(WALKS)


def test_every_draft_builder_is_fed_by_a_publisher() -> None:
    builders = {
        name
        for name in share.__all__
        if inspect.isfunction(getattr(share, name))
        and getattr(share, name).__annotations__.get("return") == "dict[str, str]"
    }
    assert builders == {"merged_pr", "goal_done", "streak_milestone", "weekly_recap"}
    _import_every_service()
    assert builders <= {built for builds in audience.PUBLISHERS.values() for built in builds}
    loaders = {name for name, f in inspect.getmembers(pages, inspect.iscoroutinefunction) if name.startswith("load_")}
    assert {f"{pages.__name__}.{name}" for name in loaders} <= set(audience.PUBLISHERS)


def _functions_calling(tree: ast.AST, names: set[str]) -> list[tuple[str, str]]:
    """(enclosing function, builder) for every call of `share.<builder>(...)` in a module."""
    found = []

    def visit(node: ast.AST, scope: list[str]) -> None:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = [*scope, child.name]
            if (
                isinstance(child, ast.Call)
                and isinstance(child.func, ast.Attribute)
                and isinstance(child.func.value, ast.Name)
                and child.func.value.id == "share"
                and child.func.attr in names
            ):
                found.append((".".join(scope), child.func.attr))
            visit(child, inner)

    visit(tree, [])
    return found


@pytest.mark.slow
def test_no_draft_is_built_outside_a_publisher() -> None:
    _import_every_service()
    builders = {built for builds in audience.PUBLISHERS.values() for built in builds}
    calls = []
    for path in [*(ROOT / "bot").rglob("*.py"), *(ROOT / "cogs").rglob("*.py")]:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        for scope, builder in _functions_calling(ast.parse(path.read_text()), builders):
            calls.append((f"{module}.{scope}", builder))
    assert calls  # the walk finds the calls it is about
    for where, builder in calls:
        assert builder in audience.PUBLISHERS.get(where, ()), f"{where} builds {builder} drafts without audience"


@pytest.mark.parametrize("publisher", sorted(WALKS))
async def test_a_private_merge_never_comes_out(sessionmaker: async_sessionmaker[AsyncSession], publisher: str) -> None:
    stored = await seed(sessionmaker)
    text = await WALKS[publisher](sessionmaker, stored)
    assert text is not None
    assert SECRET not in text.lower()


@pytest.mark.parametrize("publisher", sorted(set(WALKS) - TO_THE_MEMBER_ONLY))
@pytest.mark.parametrize("gone", ["member left", "Shiplog removed"])
async def test_a_member_who_may_not_be_published_never_comes_out(
    sessionmaker: async_sessionmaker[AsyncSession], publisher: str, gone: str
) -> None:
    stored = await seed(sessionmaker)
    async with transaction(sessionmaker) as session:
        if gone == "member left":  # the page row stays: only audience.py stands in the way
            session.add(Member(guild_id=GUILD, user_id=ALICE, left_at=NOW))
        else:
            (await session.get(Guild, GUILD)).left_at = NOW
    assert await WALKS[publisher](sessionmaker, stored) is None


async def test_the_refusal_of_a_private_share_is_polite(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    stored = await seed(sessionmaker)
    with pytest.raises(UserError) as refused:
        await events.share_post(sessionmaker, guild_id=GUILD, merged_id=stored.private_id)
    assert "celebrated here" in str(refused.value)


@pytest.mark.parametrize(
    ("extra", "authenticated", "private"),
    [
        ({"repository": {"private": True}}, False, True),
        ({"repository": {"private": False}}, True, False),
        ({}, False, False),  # anonymous: public only
        ({}, True, True),  # not known to be public
    ],
)
def test_which_search_results_may_be_private(extra: dict[str, Any], authenticated: bool, private: bool) -> None:
    raw = {"number": 1, "repository_url": "https://api.github.com/repos/a/b", **extra}
    item = parse_search_item(raw)
    assert item is not None
    assert audience.search_item_private(item, authenticated=authenticated) is private


@pytest.mark.parametrize(
    ("payload", "private"),
    [
        ({"repository": {"private": False}}, False),
        ({"repository": {"private": True}}, True),
        ({"repository": {"full_name": "a/b"}}, True),  # not said to be public
        ({}, True),
    ],
)
def test_which_webhook_merges_are_private(payload: dict[str, Any], private: bool) -> None:
    assert audience.merge_is_private(payload) is private


class _VirtualTime:
    """The GitHub client's clock: a sleep (its pacing between background requests) passes at once."""

    def __init__(self) -> None:
        self.current = NOW

    def now(self) -> datetime:
        return self.current

    async def sleep(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)
        await asyncio.sleep(0)


@pytest.mark.parametrize("graphql", [False, True], ids=["search", "graphql"])
async def test_the_radar_asks_github_which_repositories_a_tokens_results_are_in(
    sessionmaker: async_sessionmaker[AsyncSession], graphql: bool
) -> None:
    # A search made with a token may return merges in private repositories, and its items don't say
    # so: the radar asks GitHub about each repository (once) and records the merge as it answers.
    # GraphQL says so of each PR (`repository.isPrivate`): nothing needs asking.
    time = _VirtualTime()
    async with FakeGitHub(now=time.now, search_limits={False: 600, True: 600}) as gh, httpx.AsyncClient() as client:
        ada = gh.add_user("ada-builds")
        gh.add_repo("octo-org/stealth-engine", private=True)
        for repo in ("octo-org/engine", "octo-org/stealth-engine", "octo-org/engine"):
            gh.add_pr(ada, repo, created_at=NOW - timedelta(minutes=50), merged_at=NOW - timedelta(minutes=40))
        async with transaction(sessionmaker) as session:
            session.add(Guild(id=GUILD, celebrations_channel_id=5))
            await session.flush()
            session.add(
                GitHubProfile(
                    id=ada.id, login=ada.login, history_status="done", checked_through=NOW - timedelta(hours=1)
                )
            )
            session.add(
                GitHubAccount(
                    guild_id=GUILD, user_id=ALICE, github_id=ada.id, login=ada.login, login_lower=ada.login.lower(),
                    linked_at=NOW - timedelta(hours=2),
                )
            )  # fmt: skip
        api = GitHubAPI(client, token="t", base_url=gh.url, now=time.now, sleep=time.sleep)
        radar = Radar(sessionmaker, api, now=time.now, graphql=graphql)
        report = await radar.run_pass()
        assert report.celebrations == 3, report
        assert report.mode == ("graphql" if graphql else "search")
        asked = {"octo-org/engine": False, "octo-org/stealth-engine": True}
        assert radar._repo_private == ({} if graphql else asked)

    async with reading(sessionmaker) as session:
        rows = (await session.execute(select(MergedPullRequest.repo, MergedPullRequest.private))).all()
        history = set((await session.execute(select(GitHubMerge.repo, GitHubMerge.private))).all())
    assert sorted(rows) == [("octo-org/engine", False), ("octo-org/engine", False), ("octo-org/stealth-engine", True)]
    assert history == {("octo-org/engine", False), ("octo-org/stealth-engine", True)}
