"""Check-ins, streaks, kudos, the leaderboard and a member's own data, through the real client."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import Activity, CheckIn, Goal, Kudos, Member, OutboxMessage
from bot.db.session import transaction
from tests.harness import World, world

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url) as w:
        yield w


async def rows(w: World, model: type) -> int:
    async with transaction(w.sessionmaker) as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_checkin_shows_the_streak_and_posts_in_accountability(w: World) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    res = await w.invoke(w.alice, "checkin", note="Opened my first PR @everyone", link="https://github.com/a/b/pull/1")
    assert res.ephemeral and "1 week streak" in res.content
    (post,) = await w.wait_for_posts(accountability, 1)
    assert post["mentions"] == [] and post["allowed_mentions"]["parse"] == []
    assert "Opened my first PR" in post["embeds"][0]["description"]
    w.clock.advance(timedelta(days=7))
    res = await w.invoke(w.alice, "checkin", note="Reviewed a PR")
    assert "2 weeks streak" in res.content


async def test_a_month_with_a_rest_week_keeps_the_streak(w: World) -> None:
    for week in range(4):
        if week == 2:
            res = await w.invoke(w.alice, "me rest", weeks=1)
            assert res.ephemeral and "rest" in res.content
        else:
            await w.invoke(w.alice, "checkin", note=f"week {week}")
        w.clock.advance(timedelta(days=7))
    res = await w.invoke(w.alice, "checkin", note="back")
    assert "4 weeks streak" in res.content  # weeks 0, 1, 3 and now; the rest week froze it


@pytest.mark.parametrize(("note", "link", "expected"), [("   ", None, "empty"), ("ok", "ftp://x", "https://")])
async def test_bad_checkins_are_refused(w: World, note: str, link: str | None, expected: str) -> None:
    options = {"note": note} | ({"link": link} if link else {})
    res = await w.invoke(w.alice, "checkin", **options)
    assert res.ephemeral and expected in res.content
    assert await rows(w, CheckIn) == 0


async def test_streak_shows_numbers_and_a_picture(w: World) -> None:
    await w.invoke(w.alice, "checkin", note="one")
    res = await w.invoke(w.bob, "streak", member=w.alice)
    embed = res.embeds[0]
    assert embed["title"] == "alice's streak"
    assert {f["name"]: f["value"] for f in embed["fields"]}["Current"] == "1 week"
    assert embed["image"]["url"] == "attachment://streak.png"
    (png,) = res.files
    assert png.filename == "streak.png" and png.data.startswith(PNG)


async def test_kudos_rules_and_the_leaderboard(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
    res = await w.invoke(w.alice, "kudos", member=w.bob, reason="reviewed my PR @here")
    assert res.ephemeral
    (post,) = await w.wait_for_posts(w.celebrations, 1)
    assert [m["id"] for m in post["mentions"]] == [str(w.bob.id)]
    assert (await w.invoke(w.alice, "kudos", member=w.alice, reason="me")).content.startswith("Kudos are for")
    shiplog = w.guild.members[w.fake.bot_user.id]
    assert (await w.invoke(w.alice, "kudos", member=shiplog, reason="thanks bot")).content.startswith("Bots don't")
    for _ in range(4):
        await w.invoke(w.alice, "kudos", member=w.bob, reason="again")
    res = await w.invoke(w.alice, "kudos", member=w.bob, reason="one too many")
    assert res.ephemeral and "daily limit" in res.content
    assert await rows(w, Kudos) == 5
    board = await w.invoke(w.bob, "leaderboard", board="kudos")
    assert f"<@{w.bob.id}> · **5**" in board.embeds[0]["description"]
    assert board.embeds[0]["footer"]["text"] == "You: #1 with 5"
    board = await w.invoke(w.alice, "leaderboard", board="kudos")
    assert board.embeds[0]["footer"]["text"] == "You're not on this board yet."


async def test_goals_board_counts_finished_goals(w: World) -> None:
    await w.invoke(w.alice, "goal add", text="a")
    await w.invoke(w.alice, "goal done", goal=1)
    res = await w.invoke(w.bob, "leaderboard", board="goals")
    assert f"<@{w.alice.id}> · **1**" in res.embeds[0]["description"]
    res = await w.invoke(w.alice, "leaderboard", board="streaks")  # a finished goal counts for the week
    assert f"<@{w.alice.id}> · **1**" in res.embeds[0]["description"]


async def test_export_and_forget(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=w.goals)
    await w.invoke(w.alice, "goal add", text="my goal")
    await w.invoke(w.alice, "checkin", note="my note")
    await w.invoke(w.bob, "goal add", text="bob's goal")
    res = await w.invoke(w.alice, "me export")
    assert res.ephemeral
    exported = json.loads(res.files[0].data)
    assert [g["text"] for g in exported["goals"]] == ["my goal"]
    assert [c["note"] for c in exported["checkins"]] == ["my note"]

    res = await w.invoke(w.alice, "me forget")
    assert res.ephemeral and "Are you sure" in res.content
    cancel = await w.fake.click(w.guild, w.alice, res, "shiplog:forget:no")
    assert "Nothing was deleted" in cancel.content
    assert await rows(w, Goal) == 2

    res = await w.invoke(w.alice, "me forget")
    done = await w.fake.click(w.guild, w.alice, res, "shiplog:forget:yes")
    assert "deleted everything" in done.content
    async with transaction(w.sessionmaker) as session:
        left = (await session.scalars(select(Goal.text))).all()
        assert left == ["bob's goal"]
        assert await session.scalar(select(func.count()).select_from(CheckIn)) == 0
        assert await session.scalar(select(func.count()).select_from(Activity)) == 0
        assert await session.get(Member, (w.guild.id, w.alice.id)) is None
        texts = [m.data.get("note") or m.data.get("text") for m in await session.scalars(select(OutboxMessage))]
        assert "my note" not in texts and "my goal" not in texts


async def test_reminder_and_dm_preferences(w: World) -> None:
    res = await w.invoke(w.alice, "me reminders", enabled=False)
    assert res.ephemeral and "won't be mentioned" in res.content
    res = await w.invoke(w.alice, "me streak-dms", enabled=True)
    assert res.ephemeral and "DM you" in res.content
    async with transaction(w.sessionmaker) as session:
        member = await session.get(Member, (w.guild.id, w.alice.id))
        assert (member.reminders, member.streak_dms) == (False, True)


async def test_a_weekly_streak_survives_a_month_with_a_rest_week_and_a_dst_change(db_url: str) -> None:
    from datetime import UTC, datetime

    # Berlin: the clocks go back on Sunday 25 October 2026 (CEST, UTC+2 -> CET, UTC+1).
    start = datetime(2026, 10, 11, 19, 30, tzinfo=UTC)  # Sunday 11 Oct, 21:30 CEST (ISO week 41)
    async with world(db_url, now=start) as w:
        await w.invoke(w.alice, "me timezone", tz="Europe/Berlin")
        assert "1 week streak" in (await w.invoke(w.alice, "checkin", note="week 41")).content
        w.clock.advance(timedelta(days=7))  # Sunday 18 Oct, 21:30 CEST (week 42)
        assert "2 weeks streak" in (await w.invoke(w.alice, "checkin", note="week 42")).content
        w.clock.advance(timedelta(hours=12))  # Monday 19 Oct, 09:30 CEST: a week off (week 43, with the switch)
        res = await w.invoke(w.alice, "me rest", weeks=1)
        assert "Mon 19 Oct" in res.content and "Sun 25 Oct" in res.content
        w.clock.advance(timedelta(days=13, hours=13))  # Sunday 1 Nov, 21:30 CET = 20:30 UTC (week 44)
        res = await w.invoke(w.alice, "checkin", note="week 44, late on Sunday")
        assert "3 weeks streak" in res.content  # the rest week froze it
        w.clock.advance(timedelta(hours=3))  # Monday 2 Nov, 00:30 CET: week 45 in Berlin, still Sunday in UTC
        res = await w.invoke(w.alice, "checkin", note="week 45, just after midnight")
        assert "4 weeks streak" in res.content
        fields = {f["name"]: f["value"] for f in (await w.invoke(w.alice, "streak")).embeds[0]["fields"]}
        assert (fields["Current"], fields["Best"]) == ("4 weeks", "4 weeks")
