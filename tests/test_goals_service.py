"""Goal rules, on a real SQLite file."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from bot.db.models import Goal, OutboxMessage
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.errors import NotFoundError, PermissionDeniedError, UserError
from bot.services import goals, guilds
from tests.conftest import NOW

GUILD = 1000
OTHER_GUILD = 2000
ALICE = 11
BOB = 22


async def all_goals(sessionmaker) -> list[tuple]:
    async with transaction(sessionmaker) as session:
        rows = (await session.scalars(select(Goal).order_by(Goal.id))).all()
        return [(g.guild_id, g.number, g.user_id, g.text, g.due, g.link, g.status) for g in rows]


async def test_add_numbers_goals_per_guild(sessionmaker) -> None:
    a = await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="first PR in httpx", now=NOW)
    b = await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=BOB, text="docs fix", now=NOW)
    c = await goals.add_goal(sessionmaker, guild_id=OTHER_GUILD, user_id=ALICE, text="elsewhere", now=NOW)
    assert (a.goal.number, b.goal.number, c.goal.number) == (1, 2, 1)
    assert not a.announced  # no goals channel configured


async def test_add_parses_due_in_member_zone_and_link(sessionmaker) -> None:
    await guilds.set_timezone(sessionmaker, guild_id=GUILD, user_id=ALICE, name="Pacific/Kiritimati")  # UTC+14
    change = await goals.add_goal(
        sessionmaker,
        guild_id=GUILD,
        user_id=ALICE,
        text="  merge   the retry PR ",
        due="tomorrow",
        link="https://github.com/Encode/HTTPX/pull/3120/files",
        now=NOW,
    )
    # 12:00 UTC on the 23rd is already 02:00 on the 24th in Kiritimati: tomorrow is the 25th.
    assert change.goal.due == date(2026, 11, 25)
    assert str(change.goal.link) == "encode/httpx#3120"
    assert change.goal.text == "merge the retry PR"
    assert change.today == date(2026, 11, 24)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"text": "   "}, "needs some words"),
        ({"text": "x" * 301}, "at most 300"),
        ({"text": "ship\x00it"}, "control character"),  # PostgreSQL could not store it
        ({"text": "ok", "due": "fridy"}, "couldn't read"),
        ({"text": "ok", "due": "2026-02-30"}, "February 30"),
        ({"text": "ok", "due": "2020-01-01"}, "past"),
        ({"text": "ok", "link": "https://gitlab.com/a/b/issues/1"}, "isn't a GitHub issue"),
        ({"text": "ok", "link": "https://github.com/a/b/commit/abc"}, "isn't a GitHub issue"),
        ({"text": "ok", "link": "https://github.com/a/b/pull/0"}, "isn't a GitHub issue"),
    ],
)
async def test_add_refuses_bad_input_and_stores_nothing(sessionmaker, kwargs, message) -> None:
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="kept", now=NOW)
    before = await all_goals(sessionmaker)
    with pytest.raises(UserError, match=message):
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW, **kwargs)
    assert await all_goals(sessionmaker) == before
    # The refused goal did not use up a number.
    nxt = await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="next", now=NOW)
    assert nxt.goal.number == 2


async def test_only_the_owner_changes_a_goal(sessionmaker) -> None:
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="mine", now=NOW)
    before = await all_goals(sessionmaker)
    for change in (goals.finish_goal, goals.drop_goal):
        with pytest.raises(PermissionDeniedError, match="belongs to someone else"):
            await change(sessionmaker, guild_id=GUILD, user_id=BOB, number=1, now=NOW)
    with pytest.raises(PermissionDeniedError):
        await goals.edit_goal(sessionmaker, guild_id=GUILD, user_id=BOB, number=1, text="hijacked", now=NOW)
    with pytest.raises(NotFoundError, match="no goal #99"):
        await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=99, now=NOW)
    # Goal numbers are per server: #1 of another server is not this one.
    with pytest.raises(NotFoundError):
        await goals.finish_goal(sessionmaker, guild_id=OTHER_GUILD, user_id=ALICE, number=1, now=NOW)
    assert await all_goals(sessionmaker) == before


async def test_finish_and_drop_close_goals_once(sessionmaker) -> None:
    for text in ("a", "b"):
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text=text, now=NOW)
    await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, now=NOW)
    await goals.drop_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=2, now=NOW)
    with pytest.raises(UserError, match="already finished"):
        await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, now=NOW)
    with pytest.raises(UserError, match="already dropped"):
        await goals.edit_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=2, text="x", now=NOW)
    listing = await goals.list_goals(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW)
    assert listing.open == []
    assert [g.number for g in listing.finished] == [1]  # dropped goals are kept but not listed


async def test_list_orders_open_by_due_and_finished_by_recency(sessionmaker) -> None:
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="no date", now=NOW)
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="later", due="in 3 weeks", now=NOW)
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="soon", due="tomorrow", now=NOW)
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=BOB, text="not alice's", now=NOW)
    for n in range(5, 12):
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text=f"done {n}", now=NOW)
        await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=n, now=NOW + timedelta(minutes=n))
    listing = await goals.list_goals(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW)
    assert [g.text for g in listing.open] == ["soon", "later", "no date"]
    assert [g.number for g in listing.finished] == [11, 10, 9, 8, 7]


async def test_edit_changes_and_clears_fields(sessionmaker) -> None:
    await goals.add_goal(
        sessionmaker, guild_id=GUILD, user_id=ALICE, text="a", due="friday", link="octo/repo#5", now=NOW
    )
    change = await goals.edit_goal(
        sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, text="b", due="none", link="none", now=NOW
    )
    assert (change.goal.text, change.goal.due, change.goal.link) == ("b", None, None)
    with pytest.raises(UserError, match="what to change"):
        await goals.edit_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, now=NOW)
    before = await all_goals(sessionmaker)
    with pytest.raises(UserError):
        await goals.edit_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, text="c", due="someday", now=NOW)
    assert await all_goals(sessionmaker) == before  # a bad due date changes nothing, text included


async def test_announcements_are_queued_with_the_goal(sessionmaker) -> None:
    await guilds.set_channel(sessionmaker, guild_id=GUILD, purpose="goals", channel_id=555, now=NOW)
    change = await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text="ship", now=NOW)
    await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=1, now=NOW)
    assert change.announced
    async with transaction(sessionmaker) as session:
        rows = (await session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))).all()
    assert [(r.channel_id, r.kind, r.data["number"], r.status) for r in rows] == [
        (555, "goal.added", 1, "pending"),
        (555, "goal.done", 1, "pending"),
    ]


async def test_autocomplete_offers_own_open_goals(sessionmaker) -> None:
    for text in ("write tests", "fix docs", "closed one"):
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text=text, now=NOW)
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=BOB, text="bob's docs", now=NOW)
    await goals.finish_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, number=3, now=NOW)
    choices = await goals.open_goal_choices(sessionmaker, guild_id=GUILD, user_id=ALICE, query="")
    assert [c.number for c in choices] == [2, 1]
    assert [
        c.number for c in await goals.open_goal_choices(sessionmaker, guild_id=GUILD, user_id=ALICE, query="doc")
    ] == [2]
    assert [
        c.number for c in await goals.open_goal_choices(sessionmaker, guild_id=GUILD, user_id=ALICE, query="#1")
    ] == [1]


async def test_concurrent_writers_from_two_processes_never_lock_or_collide(db_url: str) -> None:
    # Two engines on one file behave like two bot processes: each has its own connection pool.
    engines = [create_engine(db_url), create_engine(db_url)]
    makers = [create_sessionmaker(e) for e in engines]
    try:
        await guilds.set_timezone(makers[0], guild_id=GUILD, user_id=ALICE, name="UTC")
        results = await asyncio.gather(
            *(
                goals.add_goal(makers[i % 2], guild_id=GUILD, user_id=100 + i, text=f"goal {i}", now=NOW)
                for i in range(40)
            ),
            *(
                guilds.set_timezone(makers[i % 2], guild_id=GUILD, user_id=100 + i, name="Europe/Berlin")
                for i in range(10)
            ),
        )
        numbers = sorted(r.goal.number for r in results[:40])
        assert numbers == list(range(1, 41))
        async with transaction(makers[0]) as session:
            assert await session.scalar(select(func.count()).select_from(Goal)) == 40
    finally:
        for e in engines:
            await e.dispose()
