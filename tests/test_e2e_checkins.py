"""Check-ins, streaks, kudos, the leaderboard and a member's own data, through the real client."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bot.db.models import Activity, CheckIn, Goal, Kudos, LimitMark, Member, OutboxMessage
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
    assert res.ephemeral and "1-week streak" in res.content
    (post,) = await w.wait_for_posts(accountability, 1)
    assert post["mentions"] == [] and post["allowed_mentions"]["parse"] == []
    assert "Opened my first PR" in post["embeds"][0]["description"]
    w.clock.advance(timedelta(days=7))
    res = await w.invoke(w.alice, "checkin", note="Reviewed a PR")
    assert "2-week streak" in res.content


async def test_a_month_with_a_rest_week_keeps_the_streak(w: World) -> None:
    for week in range(4):
        if week == 2:
            res = await w.invoke(w.alice, "me rest", weeks=1)
            assert res.ephemeral and "rest" in res.content
        else:
            await w.invoke(w.alice, "checkin", note=f"week {week}")
        w.clock.advance(timedelta(days=7))
    res = await w.invoke(w.alice, "checkin", note="back")
    assert "4-week streak" in res.content  # weeks 0, 1, 3 and now; the rest week froze it


async def test_resting_with_no_streak_yet_says_so_plainly(w: World) -> None:
    await w.invoke(w.bob, "me rest", weeks=2)
    res = await w.invoke(w.bob, "streak")
    # /streak is public: its line names bob for everyone who reads it, instead of saying "your".
    assert not res.ephemeral
    assert res.embeds[0]["description"] == "🌴 bob is resting: nothing to lose; their next check-in starts a streak."
    assert "0-week" not in res.embeds[0]["description"]


async def test_a_public_streak_line_speaks_of_the_member_not_to_them(w: World) -> None:
    res = await w.invoke(w.alice, "streak")
    assert res.embeds[0]["description"] == "alice's streak starts with their next check-in."
    await w.invoke(w.alice, "checkin", note="one")
    res = await w.invoke(w.alice, "streak")
    assert not res.ephemeral and "your" not in res.embeds[0]["description"].lower(), res.embeds[0]


@pytest.mark.parametrize(
    ("note", "link", "expected"),
    [("   ", None, "empty"), ("ok", "ftp://x", "https://"), ("ship\x00it", None, "control character")],
)
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
    fields = {f["name"]: f["value"] for f in embed["fields"]}
    assert (fields["Current"], fields["Total"]) == ("1 week", "1 active week")
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
    # The board is public: it reads right for everyone, naming who asked, with a unit on every number.
    assert not board.ephemeral
    assert f"<@{w.bob.id}> · **5** kudos" in board.embeds[0]["description"]
    assert board.embeds[0]["footer"]["text"] == "bob: #1 with 5 kudos"
    board = await w.invoke(w.alice, "leaderboard", board="kudos")
    assert board.embeds[0]["footer"]["text"] == "alice isn't on this board yet."


async def test_goals_board_counts_finished_goals(w: World) -> None:
    await w.invoke(w.alice, "goal add", text="a")
    await w.invoke(w.alice, "goal done", goal=1)
    res = await w.invoke(w.bob, "leaderboard", board="goals")
    assert f"<@{w.alice.id}> · **1** finished goal" in res.embeds[0]["description"]
    res = await w.invoke(w.alice, "leaderboard", board="streaks")  # a finished goal counts for the week
    assert f"<@{w.alice.id}> · **1** week in a row" in res.embeds[0]["description"]
    assert res.embeds[0]["footer"]["text"] == "alice: #1 with 1 week in a row"


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
        assert "1-week streak" in (await w.invoke(w.alice, "checkin", note="week 41")).content
        w.clock.advance(timedelta(days=7))  # Sunday 18 Oct, 21:30 CEST (week 42)
        assert "2-week streak" in (await w.invoke(w.alice, "checkin", note="week 42")).content
        w.clock.advance(timedelta(hours=12))  # Monday 19 Oct, 09:30 CEST: a week off (week 43, with the switch)
        res = await w.invoke(w.alice, "me rest", weeks=1)
        assert "Mon 19 Oct" in res.content and "Sun 25 Oct" in res.content
        w.clock.advance(timedelta(days=13, hours=13))  # Sunday 1 Nov, 21:30 CET = 20:30 UTC (week 44)
        res = await w.invoke(w.alice, "checkin", note="week 44, late on Sunday")
        assert "3-week streak" in res.content  # the rest week froze it
        w.clock.advance(timedelta(hours=3))  # Monday 2 Nov, 00:30 CET: week 45 in Berlin, still Sunday in UTC
        res = await w.invoke(w.alice, "checkin", note="week 45, just after midnight")
        assert "4-week streak" in res.content
        fields = {f["name"]: f["value"] for f in (await w.invoke(w.alice, "streak")).embeds[0]["fields"]}
        assert (fields["Current"], fields["Best"]) == ("4 weeks", "4 weeks")


# --- Member text that reaches a public post: links are checked strictly, text is escaped. ---

MASKED = "[Verify your account](https://evil.example)"
# A masked link Discord would render: an opening bracket that no backslash escapes, then "](".
UNESCAPED_MASKED_LINK = re.compile(r"(?<!\\)(?:\\\\)*\[[^\]]*\]\(")


@pytest.mark.parametrize(
    "link",
    [
        f"https://github.com/<>{MASKED}",
        "https://github.com/<>[Verify\u200byour\u200baccount](https://evil.example)",
        "https://github.com/<>[Verify_your_account](https://evil.example)",
        "https://github.com/a/b/pull/1#[Verify](https://evil.example)",
        f"https://github.com/a/b/pull/1{MASKED}",
        "https://github.com/a/b/pull/1)",
        "https://github.com/a/(b)",
        "https://github.com/a/b <https://evil.example>",
        "https://github.com/a/b\n[x](https://evil.example)",
        "https://github.com/a/b*bold*",
        "https://github.com/a/b`code`",
        "https://github.com/a/b||spoiler||",
        "https://github.com/a/b\\",
        "http://github.com/a/b/pull/1",
        "javascript:alert(1)",
        "https://evil.example@github.com/a/b",
        "https://github.com:8443/a/b",
        "https://127.0.0.1/a",
        "https://localhost/a",
        "https://gіthub.com/a/b",  # a Cyrillic i
        "https://github.com/a/b%zz",
        "https:///a/b",
        "https://github..com/a",
    ],
)
async def test_a_checkin_link_that_could_carry_markdown_is_refused(w: World, link: str) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    res = await w.invoke(w.alice, "checkin", note="shipped it", link=link)
    assert res.ephemeral and "link" in res.content and "https://" in res.content
    assert await rows(w, CheckIn) == 0 and await rows(w, OutboxMessage) == 0
    assert await w.wait_for_posts(accountability, 1, timeout=0.3) == []


@pytest.mark.parametrize(
    "link",
    [
        "https://github.com/a/b/pull/1",
        "https://github.com/encode/httpx/pull/3120/files#diff-0a1b_c2",
        "https://www.github.com/a/b.js/commit/0123abc?w=1",
        "https://dev.to/alice/my-first-pr-1a2b",
        "https://example.com/search?q=a+b&page=2%20x~y",
    ],
)
async def test_a_plain_web_link_is_shown_as_it_is(w: World, link: str) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    res = await w.invoke(w.alice, "checkin", note="shipped it", link=link)
    assert res.ephemeral and "Checked in" in res.content
    (post,) = await w.wait_for_posts(accountability, 1)
    assert post["embeds"][0]["fields"] == [{"name": "Link", "value": link, "inline": True}]


async def test_masked_links_in_member_text_are_never_rendered(w: World) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
    await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
    # discord.py's escape_markdown escapes the first "[" of a line only: the second link went through.
    text = f"[docs](https://example.com) then {MASKED} and\n{MASKED}"
    await w.invoke(w.alice, "checkin", note=text)
    await w.invoke(w.alice, "kudos", member=w.bob, reason=text)
    await w.invoke(w.alice, "goal add", text=" ".join(text.split()))
    descriptions = [
        p["embeds"][0]["description"]
        for channel in (accountability, w.celebrations, w.goals)
        for p in await w.wait_for_posts(channel, 1)
    ]
    assert len(descriptions) == 3
    for description in descriptions:
        assert "Verify your account" in description
        assert not UNESCAPED_MASKED_LINK.search(description), description
    listed = await w.invoke(w.bob, "goal list", member=w.alice)
    assert not UNESCAPED_MASKED_LINK.search(listed.embeds[0]["description"])


# --- Spam limits. ---


async def test_a_burst_of_checkins_is_posted_once_but_every_one_counts(w: World) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    first = await w.invoke(w.alice, "checkin", note="check-in 0")
    assert "sharing it in the accountability channel" in first.content
    for n in range(1, 30):
        res = await w.invoke(w.alice, "checkin", note=f"check-in {n}")
        assert res.ephemeral and "1-week streak" in res.content
        assert "isn't posted again" in res.content and "sharing it" not in res.content
    await w.invoke(w.bob, "checkin", note="bob's own check-in is posted")  # the limit is per member
    assert len(await w.wait_for_posts(accountability, 3, timeout=1)) == 2
    assert await rows(w, CheckIn) == 31
    w.clock.advance(timedelta(minutes=10))
    res = await w.invoke(w.alice, "checkin", note="ten minutes later")
    assert "sharing it in the accountability channel" in res.content
    posts = await w.wait_for_posts(accountability, 3)
    assert [p["embeds"][0]["description"] for p in posts] == [
        "check-in 0",
        "bob's own check-in is posted",
        "ten minutes later",
    ]


async def test_the_kudos_limit_is_per_24_hours_whatever_the_time_zone(w: World) -> None:
    for n in range(5):
        assert "daily limit" not in (await w.invoke(w.alice, "kudos", member=w.bob, reason=f"thanks {n}")).content
        w.clock.advance(timedelta(hours=1))
    # Noon UTC is already tomorrow in Kiritimati (UTC+14): the limit used to start again there.
    await w.invoke(w.alice, "me timezone", tz="Pacific/Kiritimati")
    res = await w.invoke(w.alice, "kudos", member=w.bob, reason="one more")
    assert res.ephemeral and "5 kudos in the last 24 hours" in res.content and "<t:" in res.content
    await w.invoke(w.alice, "me timezone", tz="Pacific/Pago_Pago")  # UTC-11: yesterday
    assert "24 hours" in (await w.invoke(w.alice, "kudos", member=w.bob, reason="and another")).content
    assert await rows(w, Kudos) == 5
    w.clock.advance(timedelta(hours=19))  # 24 hours after the first one
    assert "24 hours" not in (await w.invoke(w.alice, "kudos", member=w.bob, reason="a new day")).content
    assert "24 hours" in (await w.invoke(w.alice, "kudos", member=w.bob, reason="too soon")).content
    assert await rows(w, Kudos) == 6


async def forget(w: World, member: Any) -> None:
    res = await w.invoke(member, "me forget")
    done = await w.fake.click(w.guild, member, res, "shiplog:forget:yes")
    assert "deleted" in done.content


async def test_forget_does_not_reset_the_limits(w: World) -> None:
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    assert "sharing it" in (await w.invoke(w.alice, "checkin", note="posted")).content
    for n in range(5):
        await w.invoke(w.alice, "kudos", member=w.bob, reason=f"secret reason {n}")
    await w.invoke(w.bob, "kudos", member=w.alice, reason="bob's thanks")
    await forget(w, w.alice)
    res = await w.invoke(w.alice, "kudos", member=w.bob, reason="after forgetting")
    assert res.ephemeral and "5 kudos in the last 24 hours" in res.content
    res = await w.invoke(w.alice, "checkin", note="after forgetting")
    assert "Checked in" in res.content and "isn't posted again" in res.content
    async with transaction(w.sessionmaker) as session:
        assert await session.scalar(select(func.count()).select_from(Kudos)) == 0
        kept = (await session.scalars(select(LimitMark))).all()
        assert len(kept) == 6  # 5 kudos and 1 check-in post: their times only
        dumped = json.dumps([{c.key: str(getattr(m, c.key)) for c in LimitMark.__table__.columns} for m in kept])
        assert str(w.alice.id) not in dumped and str(w.bob.id) not in dumped and "secret" not in dumped
    exported = json.loads((await w.invoke(w.alice, "me export")).files[0].data)
    assert sorted(m["kind"] for m in exported["limit_marks"]) == ["checkin"] + ["kudos"] * 5
    w.clock.advance(timedelta(hours=24, seconds=1))
    assert "24 hours" not in (await w.invoke(w.alice, "kudos", member=w.bob, reason="a day later")).content
    assert await rows(w, LimitMark) == 0  # kept no longer than the limits need them


async def test_two_kudos_at_once_cannot_both_pass_the_limit(w: World) -> None:
    for n in range(4):
        await w.invoke(w.alice, "kudos", member=w.bob, reason=f"thanks {n}")
    results = await asyncio.gather(
        *(w.invoke(w.alice, "kudos", member=w.bob, reason=f"race {n}") for n in range(3)),
    )
    assert sorted(r.ephemeral and "limit" in r.content for r in results) == [False, True, True]
    assert await rows(w, Kudos) == 5


async def test_the_limits_count_after_locking_the_member_row(w: World) -> None:
    # PostgreSQL runs two /kudos (or /checkin) of one member side by side: each counts only after
    # taking the member's row with SELECT ... FOR UPDATE. (SQLite's BEGIN IMMEDIATE serialises them.)
    accountability = await w.fake.create_channel(w.guild, "accountability")
    await w.invoke(w.admin, "settings channel", purpose="accountability", channel=accountability)
    statements: list[str] = []

    def record(state: Any) -> None:
        try:
            statements.append(str(state.statement.compile(dialect=postgresql.dialect())))
        except Exception:  # a SQLite-only statement (INSERT OR IGNORE)
            statements.append(str(state.statement))

    event.listen(Session, "do_orm_execute", record)
    try:
        await w.invoke(w.alice, "kudos", member=w.bob, reason="thanks")
        await w.invoke(w.alice, "checkin", note="note")
    finally:
        event.remove(Session, "do_orm_execute", record)
    locks = [i for i, s in enumerate(statements) if "FROM members" in s and s.endswith("FOR UPDATE")]
    assert len(locks) == 2
    kudos_count = next(i for i, s in enumerate(statements) if "FROM kudos" in s and "created_at >" in s)
    checkin_count = next(i for i, s in enumerate(statements) if "FROM checkins" in s and "posted" in s)
    assert locks[0] < kudos_count < locks[1] < checkin_count


async def test_a_streak_milestone_offers_its_member_a_post(w: World) -> None:
    await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
    for week in range(4):
        await w.invoke(w.alice, "checkin", note=f"week {week}")
        if week < 3:
            w.clock.advance(timedelta(days=7))
    (milestone,) = await w.wait_for_posts(w.celebrations, 1)
    assert "4-week streak" in milestone["content"]
    (button,) = milestone["components"][0]["components"]
    assert button["custom_id"] == f"shiplog:share-streak:{w.alice.id}:4:w"
    mine = await w.fake.click(w.guild, w.alice, milestone, button["custom_id"])
    assert mine.ephemeral and len(mine.embeds) == 4
    assert [f.filename for f in mine.files] == ["streak.png"] and mine.files[0].data.startswith(b"\x89PNG")
    assert all("🔥 4 weeks in a row" in e["description"] and "#BuildInPublic" in e["description"] for e in mine.embeds)
    theirs = await w.fake.click(w.guild, w.bob, milestone, button["custom_id"])
    assert theirs.ephemeral and "to share" in theirs.content and not theirs.files


async def test_kudos_without_a_celebrations_channel_are_thanked_right_here(w: World) -> None:
    res = await w.invoke(w.alice, "kudos", member=w.bob, reason="reviewed my PR")
    assert not res.ephemeral
    assert res.content == f"💜 <@{w.alice.id}> gave kudos to <@{w.bob.id}>!"
    assert res.embeds[0]["description"] == "reviewed my PR"
    assert await rows(w, Kudos) == 1
