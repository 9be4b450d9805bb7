"""Public pages without Discord: the domain's rules, and the app `shiplog web` builds serving them."""

from __future__ import annotations

import asyncio
import io
import threading
from html.parser import HTMLParser

import pytest
from aiohttp.test_utils import TestClient, TestServer
from multidict import CIMultiDict
from PIL import Image, ImageChops, features
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import MergedPullRequest
from bot.db.session import create_engine, transaction
from bot.errors import UserError
from bot.images.streak import render_streak_png
from bot.services import goals
from bot.services.sharing import community, pages
from bot.web import build_app
from bot.web import pages as public_page
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


# --- What every answer carries: one place sets it, for every route.


async def test_every_answer_of_the_web_server_carries_the_privacy_headers(engine, sessionmaker) -> None:
    """Every route, found or not, page or picture or webhook: no Referer leaves, nothing sniffed or stored.

    The routes are read from the app's router, so a route added later is checked too. Pictures
    are the one exception to `no-store`: `no-cache` with an ETag, asked again at every use.
    """
    url = await opened(sessionmaker)
    server, member = url.rsplit("/", 2)[1:]
    published = await community.set_community(
        sessionmaker, guild_id=GUILD, enabled=True, server_name="Builders", public_url=PUBLIC
    )
    assert published.url == f"{PUBLIC}/c/builders"
    app = build_app(engine, public_url=PUBLIC, webhook_secret="s3cret")
    async with TestClient(TestServer(app)) as client:
        answers = []
        for route in app.router.routes():
            if route.method == "HEAD":
                continue
            canonical = route.resource.canonical
            for slugs in (
                {"server": server, "member": member, "slug": "builders"},
                {"server": "A" * 16, "member": "B" * 16, "slug": "nobody-here"},
            ):
                path = canonical.format(**slugs)
                answers.append((path, await client.request(route.method, path)))
        answers.append(("/nowhere", await client.get("/nowhere")))
        statuses = {(path.rsplit("/", 1)[-1][-8:], r.status) for path, r in answers}
        assert {("card.png", 200), ("card.png", 404), ("healthz", 200), ("webhook", 415), ("nowhere", 404)} <= statuses
        for path, response in answers:
            picture = path.endswith(".png") and response.status == 200
            assert response.headers["Referrer-Policy"] == "no-referrer", path
            assert response.headers["X-Content-Type-Options"] == "nosniff", path
            assert response.headers["Cache-Control"] == ("no-cache" if picture else "no-store"), path
            if response.content_type == "text/html":
                assert "default-src 'none'" in response.headers["Content-Security-Policy"], path
        page = await client.get(url.removeprefix(PUBLIC))
        html = await page.text()
        assert '<meta name="referrer" content="no-referrer">' in html


# --- Bidirectional text: a name cannot turn the rest of the page around.

RLO, PDF, PDI = "\u202e", "\u202c", "\u2069"


def leaks(text: str) -> bool:
    """Return whether `text` changes the direction of what follows it (the Unicode bidi algorithm's stack)."""
    stack: list[str] = []
    for char in text:
        if char in "\u202a\u202b\u202d\u202e":
            stack.append("embedding")
        elif char == PDF and stack and stack[-1] == "embedding":
            stack.pop()
        elif char in "\u2066\u2067\u2068":
            stack.append("isolate")
        elif char == PDI:
            if "isolate" not in stack:
                return True  # it would close an isolate opened before this text
            while stack.pop() != "isolate":
                pass
    return bool(stack)


class Texts(HTMLParser):
    """Every text node and attribute value of a page, as a browser reads them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.texts += [value for _, value in attrs if value]

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


async def test_names_and_titles_with_bidi_controls_cannot_turn_the_page_around(engine, sessionmaker) -> None:
    """U+202E in a name reversed the page's footer; every text a member or GitHub wrote is isolated now."""
    await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=True, server_name=f"Club{RLO} b")
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text=f"ship {RLO}it", now=NOW)
    async with transaction(sessionmaker) as session:
        session.add(
            MergedPullRequest(
                guild_id=GUILD, user_id=ALICE, repo="octo/ship", number=7, title=f"Fix {PDI}{RLO} the pool",
                url="https://github.com/octo/ship/pull/7", merged_at=NOW,
            )
        )  # fmt: skip
    link = await pages.open_page(
        sessionmaker, guild_id=GUILD, user_id=ALICE, display_name=f"alice{PDI}{RLO} evil", public_url=PUBLIC
    )
    async with TestClient(TestServer(build_app(engine, public_url=PUBLIC))) as client:
        html = await (await client.get(link.url.removeprefix(PUBLIC))).text()
    parser = Texts()
    parser.feed(html)
    with_controls = [text for text in parser.texts if RLO in text]
    # The name (title, h1, meta tags, alt, footer), the server, the goal and the PR title are all there...
    assert len(with_controls) >= 10 and any(text.startswith("This page shows what") for text in with_controls)
    # ...and none turns what follows it around.
    assert [text for text in with_controls if leaks(text)] == []
    # A name without controls is shown exactly as before: no invisible characters around it.
    assert "<title>" + public_page.bidi.isolate("alice") == "<title>alice"


@pytest.mark.skipif(not features.check_feature("raqm"), reason="Pillow without Raqm draws no bidirectional text")
def test_a_name_with_an_override_does_not_turn_the_rest_of_the_picture_around() -> None:
    """The streak picture's header ("<name> · last 26 weeks"): the name's override cannot turn the label around."""
    today = NOW.date()

    def header(name: str) -> Image.Image:
        return Image.open(io.BytesIO(render_streak_png({}, today=today, name=name))).crop((0, 0, 330, 36))

    leaky = header(f"alice{RLO}ab")
    closed = header(f"alice{RLO}ab{PDF}")  # the same name with its override closed by its writer
    assert ImageChops.difference(leaky.convert("RGB"), closed.convert("RGB")).getbbox() is None


# --- The preview card: drawn once per content, off the event loop, revalidated by ETag.


async def test_cards_are_drawn_once_off_the_loop_revalidated_by_etag_and_gone_with_the_page(
    engine, sessionmaker, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Thirty link previewers at once: one drawing, in a thread, while the loop answers /healthz.

    The drawing is held (a threading.Event) until /healthz has answered: drawn on the loop, the
    loop could not answer until the drawing gave up waiting, and the order checked below fails.
    """
    url = await opened(sessionmaker)
    card = f"{url.removeprefix(PUBLIC)}/card.png"
    loop = asyncio.get_running_loop()
    started, release = asyncio.Event(), threading.Event()
    threads: list[threading.Thread] = []
    finished: list[bool] = []
    draw = public_page.render_card

    def held_drawing(*args, **kwargs) -> bytes:
        threads.append(threading.current_thread())
        loop.call_soon_threadsafe(started.set)
        release.wait(10)
        finished.append(True)
        return draw(*args, **kwargs)

    monkeypatch.setattr(public_page, "render_card", held_drawing)
    app = build_app(engine, public_url=PUBLIC)
    async with TestClient(TestServer(app)) as client:

        async def fetch(path: str, **headers: str) -> tuple[int, bytes, CIMultiDict[str]]:
            response = await client.get(path, headers=headers)
            return response.status, await response.read(), response.headers.copy()

        previewers = [asyncio.create_task(fetch(card)) for _ in range(30)]
        await started.wait()
        assert (await client.get("/healthz")).status == 200
        assert finished == []  # /healthz answered while the card was being drawn
        release.set()
        answers = await asyncio.gather(*previewers)
        assert {(status, body) for status, body, _ in answers} == {(200, answers[0][1])}
        assert len(threads) == 1 and threads[0] is not threading.main_thread()
        assert app[public_page.SITE_KEY].pictures.drawn == 1

        etag = answers[0][2]["ETag"]
        status, body, headers = await fetch(card, **{"If-None-Match": etag})
        assert (status, body, headers["ETag"], headers["Cache-Control"]) == (304, b"", etag, "no-cache")
        assert (await fetch(card))[0] == 200 and len(threads) == 1  # from the cache: not drawn again

        # What the card shows changes: a new picture, under a new ETag.
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="another", now=NOW)
        number = (await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="done", now=NOW)).goal.number
        await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=number, now=NOW)
        status, _, headers = await fetch(card, **{"If-None-Match": etag})
        assert status == 200 and headers["ETag"] != etag and len(threads) == 2

        # Closed: a 404 at once, whatever the asker or the cache holds.
        await pages.close_page(sessionmaker, guild_id=GUILD, user_id=ALICE)
        for asked in ({}, {"If-None-Match": etag}, {"If-None-Match": headers["ETag"]}):
            assert (await fetch(card, **asked))[0] == 404


async def test_a_merged_pr_link_that_is_not_an_https_github_one_is_shown_without_it(sessionmaker) -> None:
    from bot.db.models import MergedPullRequest
    from bot.db.session import transaction
    from bot.web.pages import render_page

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
