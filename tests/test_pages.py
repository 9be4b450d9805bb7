"""Public pages without Discord: the domain's rules, and the app `shiplog web` builds serving them."""

from __future__ import annotations

import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.session import create_engine
from bot.errors import UserError
from bot.services import goals
from bot.services.sharing import pages
from bot.web import build_app
from tests.conftest import NOW

GUILD, ALICE = 1_200_000_000_000_000_001, 1_200_000_000_000_000_002
PUBLIC = "https://shiplog.example.com"


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("thanks <@123456789012345678> and <@!123456789012345678>", "thanks @someone and @someone"),
        ("ping <@&987654321098765432> in <#111111111111111111>", "ping @role in #channel"),
        ("ship it <:party:222222222222222222> <a:spin:333333333333333333>", "ship it :party: :spin:"),
        ("by <t:1767225600:R>, run </goal add:444444444444444444>", "by (a date), run /goal add"),
        ("plain text, 1234567890 stays", "plain text, 1234567890 stays"),
    ],
)
def test_discord_markup_that_carries_ids_is_rewritten(text: str, shown: str) -> None:
    assert pages.public_text(text) == shown


def test_slugs_are_random_and_anything_else_is_never_looked_up() -> None:
    slugs = {pages.new_slug() for _ in range(1000)}
    assert len(slugs) == 1000 and all(pages.valid_slug(s) for s in slugs)
    for bad in ("", "a" * 15, "a" * 17, "a" * 5000, "a" * 15 + "/", "../../etc/passw", "a" * 15 + "\x00"):
        assert not pages.valid_slug(bad)


async def opened(sessionmaker: async_sessionmaker[AsyncSession]) -> str:
    await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=True, server_name="  Builders \n Club ")
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="learn <@42> asyncio", now=NOW)
    link = await pages.open_page(sessionmaker, guild_id=GUILD, user_id=ALICE, display_name="alice", public_url=PUBLIC)
    assert link.created and link.url.startswith(f"{PUBLIC}/u/")
    return link.url


async def test_pages_need_a_public_url_and_the_servers_consent(sessionmaker) -> None:
    with pytest.raises(UserError, match="PUBLIC_URL"):
        await pages.open_page(sessionmaker, guild_id=GUILD, user_id=ALICE, display_name="alice", public_url=None)
    with pytest.raises(UserError, match="haven't turned on"):
        await pages.open_page(sessionmaker, guild_id=GUILD, user_id=ALICE, display_name="alice", public_url=PUBLIC)
    url = await opened(sessionmaker)
    server, member = url.rsplit("/", 2)[1:]
    page = await pages.load_page(sessionmaker, server, member, now=NOW)
    assert page is not None and page.server_name == "Builders Club" and page.display_name == "alice"
    assert [g.text for g in page.open_goals] == ["learn @someone asyncio"]
    again = await pages.open_page(sessionmaker, guild_id=GUILD, user_id=ALICE, display_name="Al", public_url=PUBLIC)
    assert again.url == url and not again.created
    assert (await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=False, server_name="x")).removed == 1
    assert await pages.load_page(sessionmaker, server, member, now=NOW) is None


async def test_the_web_process_app_serves_pages_from_its_engine_alone(engine, sessionmaker) -> None:
    url = await opened(sessionmaker)
    path = url.removeprefix(PUBLIC)
    # As `shiplog web` builds it: an engine and the settings, no bot, no clock of the bot's.
    async with TestClient(TestServer(build_app(engine, public_url=PUBLIC))) as client:
        response = await client.get(path)
        assert response.status == 200 and "learn @someone asyncio" in await response.text()
        assert (await client.head(f"{path}/card.png")).status == 200  # link previewers often ask HEAD first
    async with TestClient(TestServer(build_app(engine))) as client:  # no PUBLIC_URL: no pages at all
        assert (await client.get(path)).status == 404


async def test_a_database_that_does_not_answer_is_a_503_never_a_500(unreachable_db_url: str) -> None:
    engine = create_engine(unreachable_db_url, create_folder=False)  # as `shiplog web` builds it
    try:
        async with TestClient(TestServer(build_app(engine, public_url=PUBLIC))) as client:
            for suffix in ("", "/streak.png", "/card.png"):
                response = await client.get(f"/u/{'A' * 16}/{'B' * 16}{suffix}")
                assert response.status == 503 and response.headers["Retry-After"]
                assert "try again" in await response.text()
    finally:
        await engine.dispose()


async def test_a_merged_pr_link_that_is_not_an_https_github_one_is_shown_without_it(sessionmaker) -> None:
    from bot.db.models import MergedPullRequest
    from bot.db.session import transaction
    from bot.public_page import render_page

    url = await opened(sessionmaker)
    server, member = url.rsplit("/", 2)[1:]
    stored = {  # as rows stored before links were checked may hold them
        1: "javascript:alert(document.cookie)",
        2: "http://evil.example/o/r/pull/2",
        3: "https://evil.example/o/r/pull/3",
        4: "https://github.com/o/r/pull/4",
    }
    async with transaction(sessionmaker) as session:
        for number, link in stored.items():
            session.add(
                MergedPullRequest(
                    guild_id=GUILD,
                    user_id=ALICE,
                    github_id=7,
                    repo="o/r",
                    number=number,
                    title=f"PR {number}",
                    url=link,
                    merged_at=NOW,
                    recorded_at=NOW,
                )
            )
    page = await pages.load_page(sessionmaker, server, member, now=NOW)
    assert page is not None
    shown = {pr.number: pr.url for repo in page.repos for pr in repo.prs}
    assert shown == {1: None, 2: None, 3: None, 4: "https://github.com/o/r/pull/4"}
    html = render_page(page, url=url, streak_src=member)
    assert "javascript" not in html and "evil.example" not in html
    assert 'href="https://github.com/o/r/pull/4"' in html
