"""The community page, driven as an admin and members would: /settings pages community:true, then the
page and its card over the bot's real web server, /about and /settings show, and community:false."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from bot.db.models import Guild
from bot.playground.samples import merged_pr_payload
from tests.harness import World
from tests.test_e2e_github import count, link_alice, post_delivery
from tests.test_e2e_mentors import no_pings
from tests.test_e2e_pages import discord_ids, get, meta, open_page, page_world
from tests.test_e2e_recap import merge

COMMUNITY_URL = re.compile(r"https?://[^\s)]+/c/[a-z0-9-]+")


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with page_world(db_url) as w:
        yield w


async def publish(w: World) -> str:
    res = await w.invoke(w.admin, "settings pages", community=True)
    assert res.ephemeral and "community page is **on**" in res.content, res.content
    no_pings(res)
    match = COMMUNITY_URL.search(res.content)
    assert match is not None, res.content
    return match.group(0)


async def test_an_admin_publishes_the_community_page_and_takes_it_down(w: World) -> None:
    # Alice merges two PRs (her first ever: her history had none), bob checks in. Before them, a bot's
    # merge on her linked account and a merge labelled spam, which count for nothing.
    await link_alice(w)
    bot = merged_pr_payload(number=3, user_type="Bot", repo="octo-org/bot-only")
    spam = merged_pr_payload(number=4, labels=("spam",), repo="octo-org/spam-only")
    for body in (bot, spam):
        assert (await post_delivery(w, body))[0] == 202
    await merge(w, 7, "Fix <b>bold</b> & escape the pool")
    await merge(w, 8, "Add the retry loop")
    await w.wait_for_posts(w.celebrations, 2, timeout=10)
    await w.invoke(w.bob, "checkin", note="Reviewed the pool rewrite")

    # A member who is not an admin, and an admin who says nothing: polite, private, nothing stored.
    w.fake.allow_everyone(w.guild, "settings")
    refused = await w.invoke(w.bob, "settings pages", community=True)
    assert refused.ephemeral and "Manage Server" in refused.content
    empty = await w.invoke(w.admin, "settings pages")
    assert empty.ephemeral and "Nothing was changed" in empty.content
    assert await count(w, Guild, Guild.community_slug.is_not(None)) == 0

    url = await publish(w)
    assert url == f"http://127.0.0.1:{w.bot.web.port}/c/builders"
    status, kind, body, headers = await get(url)
    html = body.decode()
    assert (status, kind) == (200, "text/html")
    assert "default-src 'none'" in headers["Content-Security-Policy"] and "<script" not in html
    assert headers["Cache-Control"] == "no-store"
    assert "<title>Builders · our community ships</title>" in html
    assert "<b>2</b><span>merged this month</span>" in html and "<b>1</b><span>repository</span>" in html
    assert 'role="img" aria-labelledby="chart-title chart-desc"' in html and "<table>" in html
    assert "octo-org/hello-world" in html.lower() and "2 PRs" in html
    # Nobody has a public page: alice's first PR and both streaks are numbers, nobody is named.
    assert "1 member merged their first pull request" in html and "hello-world#" not in html
    assert "2 members have a streak going" in html
    assert "bot-only" not in html and "spam-only" not in html
    for name in ("alice", "bob", "ada", "Codertocat"):
        assert name not in html
    for discord_id in discord_ids(w):
        assert discord_id not in html
    assert meta(html, "og:url") == url and meta(html, "twitter:card") == "summary_large_image"
    assert meta(html, "og:image") == meta(html, "twitter:image") == f"{url}/card.png"
    status, kind, card, headers = await get(f"{url}/card.png")
    assert (status, kind) == (200, "image/png") and headers["Cache-Control"] == "no-cache"
    assert Image.open(io.BytesIO(card)).size == (1200, 630)

    # Once alice has a public page of her own, the community page names her and links to it.
    await w.invoke(w.admin, "settings pages", enabled=True)
    alice_page = await open_page(w, w.alice)
    html = (await get(url))[2].decode()
    assert f'<a href="{alice_page}">alice</a> · octo-org/hello-world#7' in html and "bob" not in html

    # /about and /settings show give the address.
    about = await w.invoke(w.bob, "about")
    assert url in str(about.embeds[0]) and about.ephemeral
    shown = await w.invoke(w.admin, "settings show")
    assert url in str(shown.embeds[0])

    # Taken down: the page and its card are 404 at once; published again, the same address.
    off = await w.invoke(w.admin, "settings pages", community=False)
    assert off.ephemeral and "community page is **off**" in off.content
    for address in (url, f"{url}/card.png"):
        status, kind, body, _ = await get(address)
        assert (status, kind) == (404, "text/html") and b"isn't here" in body
    assert "off (`/settings pages community:true`" in str((await w.invoke(w.bob, "about")).embeds[0])
    assert await publish(w) == url
    assert (await get(url))[0] == 200


async def test_without_public_url_the_community_page_is_refused(db_url: str) -> None:
    async with page_world(db_url, public=False) as w:
        res = await w.invoke(w.admin, "settings pages", community=True, enabled=True)
        assert res.ephemeral and "PUBLIC_URL" in res.content and "Nothing was changed" in res.content
        no_pings(res)
        assert await count(w, Guild, Guild.community_enabled.is_(True)) == 0
        assert await count(w, Guild, Guild.pages_enabled.is_(True)) == 0
