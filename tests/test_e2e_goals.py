"""Goals, driven through the real discord.py client as a member would."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta

import pytest
from sqlalchemy import select

from bot.db.models import Goal, Guild, Member
from bot.db.session import transaction
from tests.harness import World, world

EPHEMERAL = 64


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def stored_goals(w: World) -> list[tuple]:
    async with transaction(w.sessionmaker) as session:
        rows = (await session.scalars(select(Goal).order_by(Goal.number))).all()
        return [(g.number, g.user_id, g.text, g.due, g.link, g.status) for g in rows]


async def test_commands_are_synced_to_the_dev_guild(w: World) -> None:
    names = {c["name"] for c in w.fake.commands(w.guild)}
    assert {"goal", "me", "settings", "github", "gfi"} <= names
    goal = next(c for c in w.fake.commands(w.guild) if c["name"] == "goal")
    assert {o["name"] for o in goal["options"]} == {"add", "list", "done", "edit", "drop"}


async def test_add_goal_replies_privately_and_announces_publicly(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    res = await w.invoke(
        w.alice,
        "goal add",
        text="First merged PR in httpx @everyone",
        due="friday",
        link="https://github.com/encode/httpx/issues/3000",
    )
    assert res.ephemeral
    assert "#1" in res.content
    assert "due in 4 days" in res.content  # Monday 23 Nov -> Friday 27 Nov
    (post,) = await w.wait_for_posts(w.goals, 1)
    assert f"<@{w.alice.id}>" in post["content"]
    assert post["allowed_mentions"]["parse"] == []
    assert post["mentions"] == []  # shown, but nobody pinged: not alice, not @everyone
    assert "First merged PR in httpx" in post["embeds"][0]["description"]
    assert await stored_goals(w) == [
        (
            1,
            w.alice.id,
            "First merged PR in httpx @everyone",
            date(2026, 11, 27),
            "encode/httpx#3000",
            "open",
        )
    ]


async def test_add_without_goals_channel_posts_nothing(w: World) -> None:
    res = await w.invoke(w.alice, "goal add", text="quiet goal")
    assert res.ephemeral and "#1" in res.content
    assert w.fake.messages_in(w.goals, include_interactions=False) == []


async def test_list_shows_open_then_finished_with_relative_due_dates(w: World) -> None:
    await w.invoke(w.alice, "goal add", text="soon", due="in 3 days")
    await w.invoke(w.alice, "goal add", text="finished one")
    await w.invoke(w.alice, "goal done", goal=2)
    w.clock.advance(timedelta(days=5))
    res = await w.invoke(w.bob, "goal list", member=w.alice)
    assert not res.ephemeral
    embed = res.embeds[0]
    assert embed["title"] == "alice's goals"
    assert "`#1` soon · overdue by 2 days" in embed["description"]
    assert embed["fields"][0]["name"] == "Recently finished"
    assert "`#2` finished one" in embed["fields"][0]["value"]


async def test_list_for_someone_without_goals(w: World) -> None:
    res = await w.invoke(w.alice, "goal list")
    assert res.ephemeral
    assert "no goals yet" in res.content


async def test_done_celebrates_in_goals_channel_and_autocomplete_offers_own_goals(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    await w.invoke(w.alice, "goal add", text="write the docs")
    await w.invoke(w.bob, "goal add", text="bob's own")
    await w.invoke(w.alice, "goal add", text="fix the tests")
    choices = await w.autocomplete(w.alice, "goal done", "goal", "")
    assert [(c["name"], c["value"]) for c in choices] == [("#3 · fix the tests", 3), ("#1 · write the docs", 1)]
    assert [c["value"] for c in await w.autocomplete(w.alice, "goal done", "goal", "docs")] == [1]
    res = await w.invoke(w.alice, "goal done", goal=1)
    assert res.ephemeral and "done" in res.content
    posts = await w.wait_for_posts(w.goals, 4)
    assert "Goal #1 done" in posts[-1]["embeds"][0]["title"]
    assert (await stored_goals(w))[0][-1] == "done"


async def test_edit_and_drop(w: World) -> None:
    await w.invoke(w.alice, "goal add", text="draft", due="tomorrow")
    res = await w.invoke(w.alice, "goal edit", goal=1, text="final wording", due="none", link="encode/httpx#12")
    assert res.ephemeral and "final wording" in res.content
    res = await w.invoke(w.alice, "goal drop", goal=1)
    assert res.ephemeral and "dropped" in res.content
    assert await stored_goals(w) == [(1, w.alice.id, "final wording", None, "encode/httpx#12", "dropped")]


@pytest.mark.parametrize(
    ("command", "options", "expected"),
    [
        ("goal add", {"text": "x", "due": "someday"}, "couldn't read"),
        ("goal add", {"text": "x", "due": "2026-02-30"}, "February 30"),
        ("goal add", {"text": "x", "due": "2001-01-01"}, "past"),
        ("goal add", {"text": "x", "link": "https://example.com/a/b/pull/1"}, "isn't a GitHub issue"),
        ("goal done", {"goal": 1}, "belongs to someone else"),
        ("goal drop", {"goal": 1}, "belongs to someone else"),
        ("goal edit", {"goal": 1, "text": "mine now"}, "belongs to someone else"),
        ("goal done", {"goal": 42}, "no goal #42"),
        ("goal edit", {"goal": 1}, None),  # someone else's goal, and nothing to change
        ("me timezone", {"tz": "Mars/Olympus"}, "isn't a time zone"),
        ("settings channel", {"purpose": "goals"}, "Manage Server"),
        ("settings show", {}, "Manage Server"),
    ],
)
async def test_bad_input_gets_a_private_polite_answer_and_changes_nothing(
    w: World, command: str, options: dict, expected: str | None
) -> None:
    await w.invoke(w.alice, "goal add", text="alice's goal")
    w.fake.allow_everyone(w.guild, "settings")  # an admin opened /settings to all: the bot must still refuse
    before = await stored_goals(w)
    res = await w.invoke(w.bob, command, **options)
    assert res.ephemeral
    if expected:
        assert expected in res.content
    assert "went wrong" not in res.content
    assert await stored_goals(w) == before
    async with transaction(w.sessionmaker) as session:
        assert (await session.get(Guild, w.guild.id)).goals_channel_id is None
        assert await session.get(Member, (w.guild.id, w.bob.id)) is None


async def test_timezone_with_autocomplete_changes_due_dates(w: World) -> None:
    choices = await w.autocomplete(w.alice, "me timezone", "tz", "tokyo")
    assert choices[0]["value"] == "Asia/Tokyo"
    res = await w.invoke(w.alice, "me timezone", tz="Asia/Tokyo")
    assert res.ephemeral and "Asia/Tokyo" in res.content and "21:0" in res.content
    await w.invoke(w.alice, "goal add", text="x", due="tomorrow")
    # 12:00 UTC on Monday is 21:00 Monday in Tokyo: tomorrow is Tuesday the 24th.
    assert (await stored_goals(w))[0][3] == date(2026, 11, 24)


async def test_settings_for_admins(w: World) -> None:
    res = await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
    assert res.ephemeral and f"<#{w.celebrations.id}>" in res.content
    await w.invoke(w.admin, "settings schedule", weekday="friday", time="17:30", timezone="Europe/Berlin")
    res = await w.invoke(w.admin, "settings show")
    fields = {f["name"]: f["value"] for f in res.embeds[0]["fields"]}
    assert f"**celebrations**: <#{w.celebrations.id}>" in fields["Channels"]
    assert "**goals**: not set" in fields["Channels"]
    # Everything /settings changes is shown here too, as /about shows it.
    assert fields["Weekly ping and digest"].startswith("Fridays at 17:30 (Europe/Berlin)")
    assert {"Streaks", "GitHub"} <= fields.keys()


async def test_unexpected_error_gives_a_reference(w: World, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    from bot.services import goals

    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("database exploded")

    monkeypatch.setattr(goals, "list_goals", boom)
    res = await w.invoke(w.alice, "goal list")
    assert res.ephemeral
    assert "Something went wrong" in res.content
    ref = res.content.split("(ref ")[1].split(")")[0]
    assert any(ref in r.getMessage() and r.exc_info for r in caplog.records)


@pytest.mark.parametrize(
    "link",
    [
        "https://github.com/a/b/pull/1#[Verify](https://evil.example)",
        "https://github.com/a/b/pull/1?x=<script>",
        "http://github.com/a/b/pull/1",
        "https://github.com/a/b/pull/1` [Verify](https://evil.example) `",
    ],
)
async def test_a_goal_link_is_checked_as_strictly_as_a_checkin_link(w: World, link: str) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    for command, options in (("goal add", {"text": "ship it"}), ("goal edit", {"goal": 1})):
        res = await w.invoke(w.alice, command, link=link, **options)
        assert res.ephemeral and "isn't a GitHub issue" in res.content
        assert res.content.count("`") == 2  # the link is shown in one code span it cannot leave
        if command == "goal add":
            assert await stored_goals(w) == []
            await w.invoke(w.alice, "goal add", text="ship it")
    assert await stored_goals(w) == [(1, w.alice.id, "ship it", None, None, "open")]


async def test_a_finished_goal_offers_its_owner_a_post_that_fits(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    long_goal = "land the async connection pool rewrite " * 6  # 234 characters: too long for X as it is
    await w.invoke(w.alice, "goal add", text=long_goal, link="encode/httpx#12")
    await w.invoke(w.alice, "goal done", goal=1)
    posts = await w.wait_for_posts(w.goals, 2)
    done = posts[-1]
    (button,) = done["components"][0]["components"]
    assert button["custom_id"] == "shiplog:share-goal:1" and "Share" in button["label"]

    mine = await w.fake.click(w.guild, w.alice, done, button["custom_id"])
    assert mine.ephemeral
    assert [e["title"].split(" · ")[0] for e in mine.embeds] == ["X", "Bluesky", "Mastodon", "LinkedIn"]
    x = mine.embeds[0]["description"]
    assert "✅ Goal done" in x and "…" in x and "https://github.com/encode/httpx/issues/12" in x
    assert long_goal.strip() in mine.embeds[3]["description"]  # LinkedIn has room for all of it

    theirs = await w.fake.click(w.guild, w.bob, done, button["custom_id"])
    assert theirs.ephemeral and "to share" in theirs.content and not theirs.embeds
