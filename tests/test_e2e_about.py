"""/about, driven as a member: the version, the source, and the server's settings as an admin set them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from importlib.metadata import version

import pytest
from sqlalchemy import func, select

import bot
from bot.db.models import Guild
from bot.db.session import transaction
from tests.harness import World, world


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


def fields(embed: dict) -> dict[str, str]:
    return {f["name"]: f["value"] for f in embed["fields"]}


async def test_about_shows_the_version_the_source_and_the_defaults(w: World) -> None:
    res = await w.invoke(w.alice, "about")
    assert res.ephemeral
    (embed,) = res.embeds
    assert embed["title"] == f"Shiplog {version('shiplog')}" == f"Shiplog {bot.__version__}"
    assert embed["url"] == bot.SOURCE_URL and bot.SOURCE_URL.startswith("https://github.com/")
    shown = fields(embed)
    assert shown["Channels"].startswith("goals not set · celebrations not set")
    assert shown["Weekly ping and digest"] == "Mondays at 09:00 (UTC); mentions members with open goals"
    assert shown["Streaks"] == "weekly, in each member's time zone"
    assert shown["GitHub"].startswith("radar on; review nudges after 7 days; 0 linked members")
    async with transaction(w.sessionmaker) as session:  # looking stores nothing
        assert await session.scalar(select(func.count()).select_from(Guild)) == 0


async def test_about_follows_the_settings(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    await w.invoke(w.admin, "settings schedule", weekday="friday", time="17:30", timezone="Europe/Berlin")
    await w.invoke(w.admin, "settings radar", enabled=False, own_repos=True, review_wait_days=1)
    await w.invoke(w.admin, "github-admin link-member", member=w.alice, username="octocat")
    await w.invoke(w.admin, "settings ping", who="quiet", cap=50)
    await w.invoke(w.admin, "settings cadence", cadence="daily")
    res = await w.invoke(w.bob, "about")
    shown = fields(res.embeds[0])
    assert shown["Channels"].startswith(f"goals <#{w.goals.id}> · celebrations not set")
    assert (
        shown["Weekly ping and digest"]
        == "Fridays at 17:30 (Europe/Berlin); mentions quiet members with open goals, at most 50"
    )
    assert shown["Streaks"] == "daily, in each member's time zone"
    assert shown["GitHub"] == (
        "radar off, own repositories celebrated; review nudges after 1 day; 1 linked member; 0 relayed repositories"
    )
