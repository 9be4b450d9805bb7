"""The community page's data (bot/services/sharing/community.py): what it counts, and whom it names.

Counts: merged PRs this month, by month over 12 and in all, repositories, top repositories,
first-ever merged PRs and streaks going. Never counted: private repositories, members who left,
merges withdrawn as spam or invalid. Named: only members with a public page.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Guild, Member, MergedPullRequest
from bot.db.session import transaction
from bot.errors import UserError
from bot.services.github.events import withdraw_merge
from bot.services.github.merges import Discounted
from bot.services.rhythm import activity
from bot.services.sharing import community, pages
from bot.web import build_app
from tests.conftest import NOW
from tests.test_pages import PDI, RLO, Texts, leaks

GUILD, OTHER = 1, 2
ALICE, BOB, CAROL, DAN = 11, 12, 13, 14  # alice has a public page; dan leaves
PUBLIC = "https://ship.example"


def test_a_slug_is_made_from_the_servers_name() -> None:
    assert community.make_slug("  Builders Club! ") == "builders-club"
    assert community.make_slug("Café Ünïcode") == "cafe-unicode"
    assert community.make_slug("🚢🚢") == "community"
    assert len(community.make_slug("x" * 100)) == community.SLUG_LIMIT
    assert community.valid_slug("builders-club") and not community.valid_slug("../etc") and not community.valid_slug("")


def test_the_months_are_the_last_twelve_the_current_one_last() -> None:
    starts = community.month_starts(datetime(2026, 1, 31, 23, 59, tzinfo=UTC))
    assert starts[0] == datetime(2025, 2, 1, tzinfo=UTC) and starts[-1] == datetime(2026, 1, 1, tzinfo=UTC)
    assert len(starts) == 12


async def test_publishing_needs_a_public_url_and_keeps_one_address(sessionmaker) -> None:
    with pytest.raises(UserError, match="PUBLIC_URL"):
        await community.set_community(sessionmaker, guild_id=GUILD, enabled=True, server_name="B", public_url=None)
    assert await community.load_community(sessionmaker, "b", now=NOW) is None
    on = await community.set_community(
        sessionmaker, guild_id=GUILD, enabled=True, server_name="Builders", public_url=PUBLIC
    )
    assert on.url == f"{PUBLIC}/c/builders"
    # Another server with the same name gets the next free address.
    other = await community.set_community(
        sessionmaker, guild_id=OTHER, enabled=True, server_name="builders", public_url=PUBLIC
    )
    assert other.url == f"{PUBLIC}/c/builders-2"
    off = await community.set_community(sessionmaker, guild_id=GUILD, enabled=False, server_name="x", public_url=PUBLIC)
    assert off.url is None
    assert await community.load_community(sessionmaker, "builders", now=NOW) is None
    # Renamed and published again: the address once shared still works.
    again = await community.set_community(
        sessionmaker, guild_id=GUILD, enabled=True, server_name="Renamed", public_url=PUBLIC
    )
    assert again.url == f"{PUBLIC}/c/builders"
    page = await community.load_community(sessionmaker, "builders", now=NOW)
    assert page is not None and page.server_name == "Renamed"


def _pr(user_id: int, repo: str, number: int, merged_at: datetime, *, private: bool = False) -> MergedPullRequest:
    return MergedPullRequest(
        guild_id=GUILD, user_id=user_id, repo=repo, number=number, title=f"PR {number}",
        url=f"https://github.com/{repo}/pull/{number}", merged_at=merged_at, private=private,
    )  # fmt: skip


async def seed(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """A server with four members: alice (a public page), bob and carol (none) and dan (who left)."""
    this_month = NOW.replace(day=2)
    await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=True, server_name="Builders")
    await pages.open_page(sessionmaker, guild_id=GUILD, user_id=ALICE, display_name="alice", public_url=PUBLIC)
    async with transaction(sessionmaker) as session:
        session.add_all(
            [
                _pr(ALICE, "octo/engine", 1, this_month),
                _pr(ALICE, "octo/engine", 2, NOW - timedelta(days=40)),
                _pr(BOB, "octo/engine", 3, this_month),
                _pr(BOB, "psf/httpx", 4, NOW - timedelta(days=100)),
                _pr(CAROL, "psf/httpx", 5, NOW - timedelta(days=500)),  # before the chart: counted in all
                _pr(CAROL, "octo/stealth", 6, this_month, private=True),
                _pr(DAN, "dan/own", 7, this_month),
                _pr(BOB, "spam/repo", 8, this_month),  # labelled spam below
            ]
        )
        session.add(Member(guild_id=GUILD, user_id=DAN, left_at=NOW - timedelta(days=1)))
        # First-ever merges, over each member's whole GitHub history: alice's and bob's are this
        # year, carol's long ago, and dan's (this month) is not shown: he left.
        for github_id, user_id, repo, number, at, private in (
            (101, ALICE, "octo/engine", 2, NOW - timedelta(days=40), False),
            (101, ALICE, "octo/engine", 1, this_month, False),
            (102, BOB, "psf/httpx", 4, NOW - timedelta(days=100), False),
            (103, CAROL, "psf/httpx", 5, NOW - timedelta(days=500), False),
            (104, DAN, "dan/own", 7, this_month, False),
        ):
            if await session.get(GitHubProfile, github_id) is None:
                session.add(GitHubProfile(id=github_id, login=f"gh{github_id}", history_status="done"))
                await session.flush()
                session.add(
                    GitHubAccount(
                        guild_id=GUILD, user_id=user_id, github_id=github_id, login=f"gh{github_id}",
                        login_lower=f"gh{github_id}", linked_at=NOW - timedelta(days=600),
                    )
                )  # fmt: skip
            session.add(GitHubMerge(github_id=github_id, repo=repo, number=number, merged_at=at, source="history",
                                    private=private))  # fmt: skip
        await session.flush()
        # Streaks going: alice and bob checked in this week; dan too, but he left.
        for user_id in (ALICE, BOB, DAN):
            await activity.record(session, guild_id=GUILD, user_id=user_id, kind="checkin", ref="c", now=NOW)
    async with transaction(sessionmaker) as session:
        await withdraw_merge(session, Discounted("spam/repo", 8), now=NOW)
    await community.set_community(sessionmaker, guild_id=GUILD, enabled=True, server_name="Builders", public_url=PUBLIC)


async def test_the_page_counts_public_merges_of_members_still_here(sessionmaker) -> None:
    await seed(sessionmaker)
    page = await community.load_community(sessionmaker, "builders", now=NOW)
    assert page is not None
    # Not counted: carol's private merge, dan's (he left), bob's spam.
    assert page.this_month == 2
    assert page.in_all == 5
    assert page.repositories == 2
    assert page.top_repos == [("octo/engine", 3), ("psf/httpx", 2)]
    assert [n for _, n in page.months] == [0] * 8 + [1, 0, 1, 2]
    assert page.months[-1][0] == NOW.date().replace(day=1)
    # First-ever merged PRs of the last 12 months: alice's is listed (she has a page), bob's only
    # counted (his PR beside "a member" would say who he is on GitHub); carol's was long ago.
    assert [(f.name, f.repo, f.number) for f in page.firsts] == [("alice", "octo/engine", 2)]
    assert page.firsts[0].path.startswith("/u/")
    assert page.firsts_count == 2 and page.more_firsts == 1
    assert "psf/httpx', number=4" not in repr(page)
    # Streaks: alice named; bob counted; dan left.
    assert page.streaks_count == 2
    assert [(s.name, s.value) for s in page.streaks] == [("alice", 1)]
    assert page.more_streaks == 1
    assert "stealth" not in repr(page) and "dan/own" not in repr(page)


async def test_members_pages_turned_off_leave_everyone_a_number(sessionmaker) -> None:
    await seed(sessionmaker)
    await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=False, server_name="Builders")
    page = await community.load_community(sessionmaker, "builders", now=NOW)
    assert page is not None
    assert page.firsts == [] and page.more_firsts == 2
    assert page.streaks == [] and page.more_streaks == 2
    assert "alice" not in repr(page)


async def test_shiplog_removed_from_the_server_takes_the_page_down(sessionmaker) -> None:
    await seed(sessionmaker)
    async with transaction(sessionmaker) as session:
        (await session.get(Guild, GUILD)).left_at = NOW
    assert await community.load_community(sessionmaker, "builders", now=NOW) is None


async def test_a_server_name_with_bidi_controls_cannot_turn_the_page_around(engine, sessionmaker) -> None:
    """The server's name is in the title, the meta tags, the heading, the chart and the footer: each isolated."""
    await seed(sessionmaker)
    await community.set_community(
        sessionmaker, guild_id=GUILD, enabled=True, server_name=f"Club{PDI}{RLO} b", public_url=PUBLIC
    )
    async with TestClient(TestServer(build_app(engine, public_url=PUBLIC, now=lambda: NOW))) as client:
        response = await client.get("/c/builders")
        assert response.status == 200
        html = await response.text()
    parser = Texts()
    parser.feed(html)
    with_controls = [text for text in parser.texts if RLO in text]
    assert len(with_controls) >= 8
    assert not [text for text in with_controls if leaks(text)]


async def test_three_servers_with_one_long_name_each_get_an_address(sessionmaker) -> None:
    """A long name's `-2`, `-3` slugs are cut short to fit: each is still found taken (a review found a third
    server failing on the unique constraint)."""
    name = "The Extremely Long Open Source Builders Club Of Everywhere"
    urls = [
        (
            await community.set_community(
                sessionmaker, guild_id=guild_id, enabled=True, server_name=name, public_url=PUBLIC
            )
        ).url
        for guild_id in (GUILD, OTHER, 3, 4)
    ]
    assert len(set(urls)) == 4
    assert all(url is not None and len(url.rsplit("/", 1)[1]) <= community.SLUG_LIMIT for url in urls)
