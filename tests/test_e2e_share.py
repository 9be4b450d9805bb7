"""The share drafts a member is offered fit each network by that network's own count."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.services.sharing import counting
from tests.harness import World, world

# What X and Mastodon count for themselves (checked against their official counters in test_share.py).
OWN_COUNT = {"X": (280, counting.x_length), "Mastodon": (500, counting.mastodon_length)}


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def test_a_goal_in_cjk_with_a_local_link_is_offered_drafts_that_fit(w: World) -> None:
    # X takes `http://localhost:3000/...` for text (no top-level domain), not a 23-character link, and
    # counts 🧑‍💻 as 5 and CJK as 2 each: the X draft of this goal was 381 of 280 by X's own count.
    goal = ("修好 http://localhost:3000/dashboard?tab=goals 的登录 🧑‍💻 \ufffe " * 5)[:300]
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    await w.invoke(w.alice, "goal add", text=goal, link="encode/httpx#12")
    await w.invoke(w.alice, "goal done", goal=1)
    done = (await w.wait_for_posts(w.goals, 2))[-1]
    (button,) = done["components"][0]["components"]

    mine = await w.fake.click(w.guild, w.alice, done, button["custom_id"])
    assert mine.ephemeral
    for embed in mine.embeds:
        network, shown = embed["title"].split(" · ")
        text = embed["description"].removeprefix("```\n").removesuffix("\n```")
        assert "\ufffe" not in text  # X refuses a post with a noncharacter
        assert "https://github.com/encode/httpx/issues/12" in text and text.endswith("#BuildInPublic #opensource")
        if network in OWN_COUNT:
            limit, count = OWN_COUNT[network]
            assert shown == f"{count(text)}/{limit}"  # the count shown is the network's own
            assert count(text) <= limit
    x = mine.embeds[0]["description"]
    assert "修好 http://localhost:3000/dashboard?tab=goals" in x and "…" in x
