"""A member's public page and a server's community page in real headless Chromium: on a desktop and on a
phone, with their preview cards."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestServer
from PIL import Image

from bot.services.sharing import pages
from bot.web import build_app
from tests.browser import DESKTOP, PHONE, chromium, screenshot_path, severe_violations, skip_without_chromium
from tests.conftest import NOW
from tests.harness import World
from tests.test_e2e_community import COMMUNITY_URL
from tests.test_e2e_github import link_alice
from tests.test_e2e_pages import SCRIPT_GOAL, merge, open_page, page_world

pytestmark = skip_without_chromium()

WEEKS = 12
LONG_TITLE = "Refactor_" + "the_connection_pool_" * 8  # one word far wider than a phone


async def a_few_busy_weeks(w: World) -> None:
    """Alice's last WEEKS weeks as a member would live them: goals, check-ins, merges and a kudos."""
    await link_alice(w)
    await w.invoke(w.alice, "goal add", text=SCRIPT_GOAL)
    await w.invoke(w.alice, "goal add", text="get a PR merged in a project I use at work")
    await w.invoke(w.alice, "goal add", text="write the release notes for 2.0")
    await w.invoke(w.alice, "goal add", text="pair on the docs site with the team")
    number = 10
    repos = ("octo-org/Hello-World", "aio-libs/aiohttp", "pallets/click")
    for day in range(0, WEEKS * 7, 3):
        if day:
            w.clock.advance(timedelta(days=3))
        await w.invoke(w.alice, "checkin", note=f"Day {day}: kept going")
        if day % 9 == 0:
            number += 1
            title = LONG_TITLE if number == 12 else f"Fix the flaky retry test ({number})"
            await merge(w, number, title, repo=repos[number % len(repos)])
        if day == 30:
            await w.invoke(w.alice, "goal done", goal=3)
        if day == 60:
            await w.invoke(w.alice, "goal done", goal=4)
    await w.invoke(w.bob, "kudos", member=w.alice, reason="great reviews")
    await w.invoke(w.admin, "kudos", member=w.alice, reason="shipped the docs")


async def look_at(browser: Any, url: str, viewport: dict[str, int], screenshot: Path) -> None:
    """Open the page at `viewport` as a visitor would, check what they see, and take its screenshot."""
    context = await browser.new_context(viewport=viewport, device_scale_factor=1)
    try:
        page = await context.new_page()
        dialogs: list[str] = []
        page.on("dialog", lambda dialog: dialogs.append(dialog.message))
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert await page.title() == "alice · building in public"
        assert await page.locator("h1").inner_text() == "alice"
        open_goals = page.locator("#open-goals li")
        assert await open_goals.count() == 2
        assert SCRIPT_GOAL in await open_goals.first.inner_text()  # shown as text, never run
        assert await page.locator("#finished-goals li").count() == 2
        assert await page.locator("#prs .repo").count() == 3
        assert "2 thank-yous" in await page.locator("#kudos").inner_text()
        # The streak graph loads (the page's own CSP allows it): 26 weeks on a desktop, 13 on a phone,
        # drawn at its own size or, on the phone, scaled by no more than a tenth.
        graph = await page.evaluate(
            "() => { const i = document.querySelector('.streak img');"
            " return [i.complete, i.naturalWidth, i.getBoundingClientRect().width]; }"
        )
        natural = 360 if viewport["width"] <= 600 else 574
        assert graph[0] and graph[1] == natural and natural * 0.9 <= graph[2] <= natural, graph
        width = await page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1], f"the page is wider than a {viewport['width']} px screen: {width}"
        assert dialogs == [] and errors == []  # no script ran, nothing failed to load (not even an icon)
        assert await severe_violations(page) == []  # axe-core: nothing serious or critical
        await page.screenshot(path=str(screenshot), full_page=True)

        # The preview card that X, LinkedIn and Bluesky fetch from the og:image tag.
        card_url = await page.locator('meta[property="og:image"]').get_attribute("content")
        assert card_url == f"{url}/card.png"
        card = await page.request.get(card_url)
        assert card.status == 200 and card.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(await card.body()))
        assert picture.format == "PNG" and picture.size == (1200, 630)
    finally:
        await context.close()


async def test_the_page_renders_on_desktop_and_phone_with_its_preview_card(db_url: str, tmp_path: Path) -> None:
    async with page_world(db_url, now=NOW - timedelta(weeks=WEEKS)) as w:
        await a_few_busy_weeks(w)
        await w.invoke(w.admin, "settings pages", enabled=True)
        url = await open_page(w, w.alice)
        async with chromium() as browser:
            # In a temporary folder: `python -m tests.browser screenshots` renews the docs' pictures.
            await look_at(browser, url, DESKTOP, screenshot_path("public-page.png", tmp_path))
            await look_at(browser, url, PHONE, screenshot_path("public-page-phone.png", tmp_path))


async def look_at_community(browser: Any, url: str, viewport: dict[str, int], screenshot: Path) -> None:
    """Open the community page at `viewport` as a visitor would, check what they see, and take its screenshot."""
    context = await browser.new_context(viewport=viewport, device_scale_factor=1)
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        response = await page.goto(url)
        assert response is not None and response.status == 200
        assert await page.title() == "Builders · our community ships"
        assert await page.locator("h1").inner_text() == "Builders"
        # The chart: 12 bars with a name a screen reader reads, and the same numbers as a table.
        assert await page.locator("svg.chart rect").count() == 12
        assert await page.locator("svg.chart").get_attribute("role") == "img"
        assert await page.locator("#months table tbody tr").count() == 12
        assert await page.locator("#repos li").count() == 3
        assert await page.locator("#streaks a").inner_text() == "alice"  # named: she has a page; bob is a number
        assert "2 members have a streak going" in await page.locator("#streaks").inner_text()
        width = await page.evaluate("() => [document.scrollingElement.scrollWidth, innerWidth]")
        assert width[0] <= width[1], f"the page is wider than a {viewport['width']} px screen: {width}"
        assert errors == []
        assert await severe_violations(page) == []  # axe-core: nothing serious or critical
        await page.screenshot(path=str(screenshot), full_page=True)
        card_url = await page.locator('meta[property="og:image"]').get_attribute("content")
        assert card_url == f"{url}/card.png"
        card = await page.request.get(card_url)
        assert card.status == 200 and card.headers["content-type"] == "image/png"
        picture = Image.open(io.BytesIO(await card.body()))
        assert picture.format == "PNG" and picture.size == (1200, 630)
    finally:
        await context.close()


async def test_the_community_page_renders_on_desktop_and_phone_with_its_card(db_url: str, tmp_path: Path) -> None:
    async with page_world(db_url, now=NOW - timedelta(weeks=WEEKS)) as w:
        await a_few_busy_weeks(w)
        await w.invoke(w.bob, "checkin", note="Read the contributing guide")
        await w.invoke(w.admin, "settings pages", enabled=True)
        await open_page(w, w.alice)
        url = COMMUNITY_URL.search((await w.invoke(w.admin, "settings pages", community=True)).content)
        assert url is not None
        async with chromium() as browser:
            await look_at_community(browser, url.group(0), DESKTOP, screenshot_path("community-page.png", tmp_path))
            await look_at_community(browser, url.group(0), PHONE, screenshot_path("community-page-phone.png", tmp_path))
        # Taken down: a browser gets the 404 page at once.
        await w.invoke(w.admin, "settings pages", community=False)
        async with chromium() as browser:
            tab = await browser.new_page(viewport=PHONE)
            response = await tab.goto(url.group(0))
            assert response is not None and response.status == 404


async def test_a_name_with_a_right_to_left_override_does_not_reverse_the_rest_of_the_page(engine, sessionmaker) -> None:
    """U+202E in a display name reversed the footer after it; as a visitor sees it, only the name is turned."""
    guild, alice = 1_300_000_000_000_000_001, 1_300_000_000_000_000_002
    await pages.set_server_pages(sessionmaker, guild_id=guild, enabled=True, server_name="Builders")
    server = TestServer(build_app(engine, public_url="http://127.0.0.1"))
    await server.start_server()
    try:
        public = f"http://127.0.0.1:{server.port}"
        link = await pages.open_page(
            sessionmaker, guild_id=guild, user_id=alice, display_name="alice\u202e evil", public_url=public
        )
        async with chromium() as browser:
            page = await browser.new_page(viewport=DESKTOP)
            response = await page.goto(link.url)
            assert response is not None and response.status == 200
            # Where Chromium draws the first and last letters of words after the name: left to right.
            order = await page.evaluate(
                """() => {
                  const x = (node, at) => { const r = document.createRange(); r.setStart(node, at);
                    r.setEnd(node, at + 1); return r.getBoundingClientRect().left; };
                  const footer = document.querySelector('footer').firstChild;
                  const words = ['shares', 'Shiplog'].map(w => footer.data.indexOf(w));
                  return words.map(at => [x(footer, at), x(footer, at + 5)]);
                }"""
            )
            assert all(first < last for first, last in order), order
    finally:
        await server.close()
