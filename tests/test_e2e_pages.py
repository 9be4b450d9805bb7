"""Public pages, driven as members would: /settings pages, /me page, then the page over real HTTP."""

from __future__ import annotations

import io
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import aiohttp
import pytest
from PIL import Image

from bot.db.models import MemberPage
from tests.conftest import NOW
from tests.harness import World, world
from tests.test_e2e_github import count, link_alice
from tests.test_e2e_recap import merge

PAGE_URL = re.compile(r"https?://[^\s)]+/u/[A-Za-z0-9_-]{16}/[A-Za-z0-9_-]{16}")
SCRIPT_GOAL = "<script>alert(1)</script> ship the parser"


def free_port() -> int:
    """Return a port free on loopback now, so PUBLIC_URL can name the bot's web server before it starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def page_world(db_url: str, *, public: bool = True, now: datetime = NOW) -> AsyncIterator[World]:
    """The usual server, with the bot's web server at a known port that PUBLIC_URL names."""
    async with world(db_url, start=False, now=now) as w:
        port = free_port()
        await w.start_bot(http_port=port, public_url=f"http://127.0.0.1:{port}" if public else None)
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        yield w


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with page_world(db_url) as w:
        yield w


async def fill_alice(w: World) -> None:
    """Give alice goals (one finished), two merged PRs, a check-in and a kudos from bob."""
    await link_alice(w)
    await w.invoke(w.alice, "goal add", text=SCRIPT_GOAL)
    await w.invoke(w.alice, "goal add", text=f"pair with <@{w.bob.id}> on the docs")
    await w.invoke(w.alice, "goal add", text="write the release notes")
    await w.invoke(w.alice, "goal done", goal=3)
    await merge(w, 7, "Fix <b>bold</b> & escape the pool")
    await merge(w, 8, "Add the retry loop")
    await w.wait_for_posts(w.celebrations, 2, timeout=10)
    await w.invoke(w.alice, "checkin", note="Reviewed the pool rewrite")
    await w.invoke(w.bob, "kudos", member=w.alice, reason="great reviews")


async def get(url: str) -> tuple[int, str, bytes, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, response.content_type, await response.read(), dict(response.headers)


def meta(html: str, key: str) -> str:
    match = re.search(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', html)
    assert match is not None, key
    return match.group(1)


def discord_ids(w: World) -> list[str]:
    return [str(x.id) for x in (w.guild, w.admin, w.alice, w.bob, w.goals, w.celebrations)]


async def open_page(w: World, member: Any) -> str:
    res = await w.invoke(member, "me page", enabled=True)
    assert res.ephemeral, res.content
    match = PAGE_URL.search(res.content)
    assert match is not None, res.content
    return match.group(0)


async def test_an_opted_in_members_page_shows_what_they_show_in_the_server(w: World) -> None:
    await fill_alice(w)
    refused = await w.invoke(w.alice, "me page", enabled=True)
    assert refused.ephemeral and "haven't turned on public pages" in refused.content
    assert await count(w, MemberPage) == 0
    w.fake.allow_everyone(w.guild, "settings")  # an admin opened /settings to all: the bot must still refuse
    not_admin = await w.invoke(w.bob, "settings pages", enabled=True)
    assert not_admin.ephemeral and "Manage Server" in not_admin.content

    on = await w.invoke(w.admin, "settings pages", enabled=True)
    assert on.ephemeral and "Public pages are **on**" in on.content and "PUBLIC_URL" not in on.content
    url = await open_page(w, w.alice)
    assert url.startswith(f"http://127.0.0.1:{w.bot.web.port}/u/")

    status, kind, body, headers = await get(url)
    html = body.decode()
    assert (status, kind) == (200, "text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"]  # no script could run
    assert "<title>alice · building in public</title>" in html
    assert "with Builders on Shiplog" in html
    # Goals, open and finished, escaped; a mention in a goal prints no id.
    assert "&lt;script&gt;alert(1)&lt;/script&gt; ship the parser" in html and "<script" not in html
    assert "pair with @someone on the docs" in html
    assert re.search(r'id="finished-goals"><li class="done">write the release notes', html)
    # Merged PRs by repository, with GitHub's text escaped and a link to each.
    assert "octo-org/hello-world" in html and "2 PRs" in html
    assert "Fix &lt;b&gt;bold&lt;/b&gt; &amp; escape the pool" in html
    assert 'href="https://github.com/octo-org/Hello-World/pull/7"' in html
    assert "<b>1</b><span>kudos</span>" in html
    for discord_id in discord_ids(w):
        assert discord_id not in html

    assert meta(html, "og:url") == url
    assert meta(html, "og:title") == "alice · building in public"
    assert meta(html, "og:description").startswith("2 merged PRs in 1 repository · 1 goal finished · 2 in progress")
    assert meta(html, "twitter:card") == "summary_large_image"
    assert meta(html, "og:image") == meta(html, "twitter:image") == f"{url}/card.png"
    status, kind, card, _ = await get(meta(html, "og:image"))
    assert (status, kind) == (200, "image/png")
    assert Image.open(io.BytesIO(card)).size == (1200, 630)
    status, kind, graph, _ = await get(f"{url}/streak.png")
    assert (status, kind) == (200, "image/png") and graph.startswith(b"\x89PNG")
    assert 'src="' + url.rsplit("/", 1)[1] + '/streak.png"' in html
    assert 'srcset="' + url.rsplit("/", 1)[1] + '/streak-phone.png"' in html
    status, kind, narrow, _ = await get(f"{url}/streak-phone.png")
    assert (status, kind) == (200, "image/png") and Image.open(io.BytesIO(narrow)).width == 360

    # Running it again keeps the address and refreshes the name.
    w.alice.nick = "Alice <the builder>"
    again = await w.invoke(w.alice, "me page", enabled=True)
    assert url in again.content and "refreshed" in again.content
    html = (await get(url))[2].decode()
    assert "<h1>Alice &lt;the builder&gt;</h1>" in html

    # Opting out: the page, its card and its graph are gone at once.
    off = await w.invoke(w.alice, "me page", enabled=False)
    assert off.ephemeral and "gone" in off.content
    for address in (url, f"{url}/card.png", f"{url}/streak.png", f"{url}/streak-phone.png"):
        status, kind, body, _ = await get(address)
        assert (status, kind) == (404, "text/html") and b"isn't here" in body
    nothing = await w.invoke(w.alice, "me page", enabled=False)
    assert "nothing to remove" in nothing.content

    # Opting in again gives a new address; the old one stays dead.
    new = await open_page(w, w.alice)
    assert new != url and (await get(new))[0] == 200 and (await get(url))[0] == 404


async def test_forget_and_the_admin_turning_pages_off_remove_pages_at_once(w: World) -> None:
    await w.invoke(w.admin, "settings pages", enabled=True)
    await w.invoke(w.alice, "goal add", text="learn asyncio")
    alice, bob = await open_page(w, w.alice), await open_page(w, w.bob)
    assert (await get(alice))[0] == (await get(bob))[0] == 200

    res = await w.invoke(w.alice, "me forget")
    assert "public page" in res.content
    await w.fake.click(w.guild, w.alice, res, "shiplog:forget:yes")
    assert (await get(alice))[0] == 404 and (await get(bob))[0] == 200

    off = await w.invoke(w.admin, "settings pages", enabled=False)
    assert "**off**" in off.content and "removed 1 member page" in off.content
    assert (await get(bob))[0] == 404
    refused = await w.invoke(w.bob, "me page", enabled=True)
    assert "haven't turned on public pages" in refused.content and await count(w, MemberPage) == 0

    # Back on: the server keeps its part of the address, but bob's old link stays dead.
    await w.invoke(w.admin, "settings pages", enabled=True)
    assert (await get(bob))[0] == 404
    again = await open_page(w, w.bob)
    assert again != bob and again.rsplit("/", 2)[1] == bob.rsplit("/", 2)[1] and (await get(again))[0] == 200


async def test_bad_and_unknown_addresses_are_a_friendly_404(w: World) -> None:
    await w.invoke(w.admin, "settings pages", enabled=True)
    url = await open_page(w, w.alice)
    base = f"http://127.0.0.1:{w.bot.web.port}/u"
    server, member = url.rsplit("/", 2)[1:]
    for address in (
        f"{base}/{'x' * 5000}/{member}",
        f"{base}/{server}/{'y' * 5000}",
        f"{base}/{server}/{'A' * 16}",
        f"{base}/{'A' * 16}/{member}",
        f"{base}/{member}/{server}",
        f"{base}/{server}/{member[:-1]}%00",
        f"{base}/{server}/{'A' * 16}/card.png",
        f"{base}/{server}/..%2F..%2Fhealthz",
    ):
        status, kind, body, _ = await get(address)
        assert (status, kind) == (404, "text/html"), address
        assert b"This page isn't here" in body
    assert (await get(url))[0] == 200


async def test_without_public_url_pages_cannot_be_made(db_url: str) -> None:
    async with page_world(db_url, public=False) as w:
        on = await w.invoke(w.admin, "settings pages", enabled=True)
        assert "Public pages are **on**" in on.content and "no `PUBLIC_URL`" in on.content
        res = await w.invoke(w.alice, "me page", enabled=True)
        assert res.ephemeral and "PUBLIC_URL" in res.content and "Nothing was changed" in res.content
        assert await count(w, MemberPage) == 0
