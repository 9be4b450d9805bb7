"""The queries behind a removed bot and a departed member (bot/services/departures.py and the
filters it relies on in the schedule, the outbox, recaps and pages)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.db.models import GitHubAccount, GitHubProfile, Guild, Member, MemberPage, OutboxMessage
from bot.db.session import reading, transaction
from bot.services import departures, messages, outbox
from bot.services.github import radar
from bot.services.rhythm import checkins
from bot.services.rhythm.digest import build_digest
from bot.services.rhythm.runs import catch_up, due_members, run_weekly
from bot.services.rhythm.settings import all_schedules
from bot.services.rhythm.streak_dms import queue_streak_dms
from bot.services.rhythm.streaks import guild_streaks
from bot.services.sharing import pages, recap
from tests.conftest import NOW
from tests.test_schedule import (
    ALICE,
    BOB,
    CAROL,
    GUILD,
    MONDAY_9,
    active,
    add_rows,
    goal,
    job_runs,
    make_guild,
    outbox_rows,
)

OTHER = 2000


async def left_at(sessionmaker, model, *key):
    async with reading(sessionmaker) as session:
        row = await session.get(model, key if len(key) > 1 else key[0])
        return row.left_at if row is not None else "no row"


async def test_a_removed_server_settles_its_pending_messages_and_no_other(sessionmaker) -> None:
    await make_guild(sessionmaker)
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=OTHER))
        for guild_id in (GUILD, OTHER):
            await outbox.enqueue(session, messages.Relay(), guild_id=guild_id, channel_id=1, now=NOW)
        sent = await outbox.enqueue(session, messages.Relay(), guild_id=GUILD, channel_id=1, now=NOW)
        sent.status = "sent"
    assert await departures.guild_left(sessionmaker, GUILD, now=NOW) == 1
    assert await left_at(sessionmaker, Guild, GUILD) == NOW
    rows = await outbox_rows(sessionmaker)
    assert [(r.guild_id, r.status, r.last_error) for r in rows] == [
        (GUILD, "failed", outbox.GONE_ERROR),
        (OTHER, "pending", None),
        (GUILD, "sent", None),  # kept: a sent row is what /me forget needs to find its post
    ]
    # Admins invited back can still retry them, as any failed message.
    assert await outbox.retry_failed(sessionmaker, guild_id=GUILD, now=NOW) == 1


async def test_a_server_shiplog_never_stored_leaves_nothing_behind(sessionmaker) -> None:
    assert await departures.guild_left(sessionmaker, GUILD, now=NOW) is None
    assert await left_at(sessionmaker, Guild, GUILD) == "no row"


async def test_messages_queued_after_the_removal_are_settled_when_claimed(sessionmaker) -> None:
    await make_guild(sessionmaker)
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=OTHER))
    await departures.guild_left(sessionmaker, GUILD, now=NOW)
    async with transaction(sessionmaker) as session:  # say, a webhook relayed after the removal
        late = await outbox.enqueue(session, messages.Relay(), guild_id=GUILD, channel_id=1, now=NOW)
        other = await outbox.enqueue(session, messages.Relay(), guild_id=OTHER, channel_id=2, now=NOW)
        dm = await outbox.enqueue(session, messages.Relay(), guild_id=None, channel_id=None, now=NOW)
    claimed = await outbox.claim_due(sessionmaker, now=NOW)
    assert sorted(row.id for row in claimed) == sorted([other.id, dm.id])
    async with reading(sessionmaker) as session:
        row = await session.get(OutboxMessage, late.id)
    assert (row.status, row.last_error) == ("failed", outbox.GONE_ERROR)


async def test_no_weekly_run_is_planned_made_or_caught_up_for_a_removed_server(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(sessionmaker, goal(ALICE))
    await departures.guild_left(sessionmaker, GUILD, now=MONDAY_9 - timedelta(hours=1))
    assert GUILD not in await all_schedules(sessionmaker)
    assert await catch_up(sessionmaker, now=NOW) == []
    assert (await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)).outcomes == ()
    assert await outbox_rows(sessionmaker) == [] and await job_runs(sessionmaker) == []
    assert await departures.is_gone(sessionmaker, GUILD)

    # Invited back three hours after the run's time: that run is skipped, not posted late.
    assert await departures.guild_joined(sessionmaker, GUILD, now=NOW)
    assert await left_at(sessionmaker, Guild, GUILD) is None
    assert GUILD in await all_schedules(sessionmaker)
    assert [(job, status) for _, job, _, status in await job_runs(sessionmaker)] == [
        ("ping", "skipped"),
        ("digest", "skipped"),
    ]
    assert await catch_up(sessionmaker, now=NOW) == []
    assert await outbox_rows(sessionmaker) == []
    assert not await departures.guild_joined(sessionmaker, GUILD, now=NOW)  # a second join changes nothing


async def test_a_removal_after_the_last_run_skips_nothing_on_return(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await departures.guild_left(sessionmaker, GUILD, now=MONDAY_9 + timedelta(hours=1))
    await departures.guild_joined(sessionmaker, GUILD, now=NOW)
    assert await job_runs(sessionmaker) == []  # the run was before the removal: catch-up decides


async def test_reconcile_marks_only_absent_servers_on_the_shards_this_process_holds(sessionmaker) -> None:
    ids = [(n << 22) for n in range(4)]  # shards 0, 1, 0, 1 of 2
    async with transaction(sessionmaker) as session:
        session.add_all(Guild(id=guild_id) for guild_id in ids)
    shard_zero = lambda guild_id: (guild_id >> 22) % 2 == 0  # noqa: E731
    gone = await departures.reconcile_guilds(sessionmaker, present={ids[0]}, holds=shard_zero, now=NOW)
    assert gone == [ids[2]]  # ids[1] and ids[3] are another process's to judge
    assert [await left_at(sessionmaker, Guild, guild_id) for guild_id in ids] == [None, None, NOW, None]
    assert await departures.reconcile_guilds(sessionmaker, present={ids[0]}, holds=shard_zero, now=NOW) == []


async def test_pages_of_a_removed_server_are_not_found_and_come_back_with_it(sessionmaker) -> None:
    await make_guild(sessionmaker, pages_enabled=True, page_slug="S" * 16, page_name="Builders")
    async with transaction(sessionmaker) as session:
        session.add(MemberPage(guild_id=GUILD, user_id=ALICE, slug="a" * 16, display_name="alice"))
    async with reading(sessionmaker) as session:
        assert await pages.find(session, "S" * 16, "a" * 16) is not None
    await departures.guild_left(sessionmaker, GUILD, now=NOW)
    async with reading(sessionmaker) as session:
        assert await pages.find(session, "S" * 16, "a" * 16) is None
    await departures.guild_joined(sessionmaker, GUILD, now=NOW)
    async with reading(sessionmaker) as session:
        assert await pages.find(session, "S" * 16, "a" * 16) is not None


async def test_a_departed_member_is_left_out_of_the_ping_recap_and_streak_dms(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker,
        Member(guild_id=GUILD, user_id=ALICE, recap_dms=True, streak_dms=True),
        Member(guild_id=GUILD, user_id=BOB, recap_dms=True, streak_dms=True),
        goal(ALICE),
        goal(BOB),
        active(ALICE, date(2026, 11, 18)),
        active(BOB, date(2026, 11, 18)),
    )
    async with transaction(sessionmaker) as session:
        session.add(MemberPage(guild_id=GUILD, user_id=ALICE, slug="a" * 16, display_name="alice"))
    assert await departures.member_left(sessionmaker, GUILD, ALICE, now=NOW)
    assert await left_at(sessionmaker, Member, GUILD, ALICE) == NOW
    async with reading(sessionmaker) as session:
        assert await session.get(MemberPage, (GUILD, ALICE)) is None  # closed at once
        assert [m.user_id for m in await due_members(session, GUILD, now=NOW, states={})] == [BOB]
        assert await recap.recap_members(session, GUILD) == [BOB]
    sunday = NOW + timedelta(days=6)
    assert [dm.user_id for dm in await queue_streak_dms(sessionmaker, now=sunday)] == [BOB]

    assert await departures.member_joined(sessionmaker, GUILD, ALICE)
    async with reading(sessionmaker) as session:
        assert sorted(m.user_id for m in await due_members(session, GUILD, now=NOW, states={})) == [ALICE, BOB]
        assert await recap.recap_members(session, GUILD) == [ALICE, BOB]
        assert await session.get(MemberPage, (GUILD, ALICE)) is None  # stays closed until reopened
    assert not await departures.member_joined(sessionmaker, GUILD, ALICE)


async def test_no_streak_dms_for_a_removed_server(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker, Member(guild_id=GUILD, user_id=ALICE, streak_dms=True), active(ALICE, date(2026, 11, 18))
    )
    sunday = NOW + timedelta(days=6)
    await departures.guild_left(sessionmaker, GUILD, now=NOW)
    assert await queue_streak_dms(sessionmaker, now=sunday) == []


async def test_a_member_with_goals_but_no_preferences_is_marked_and_a_stranger_is_not_stored(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(sessionmaker, goal(CAROL))
    assert not await departures.member_left(sessionmaker, GUILD, CAROL, now=NOW)  # no page to close
    assert await left_at(sessionmaker, Member, GUILD, CAROL) == NOW
    async with reading(sessionmaker) as session:
        assert await due_members(session, GUILD, now=NOW, states={}) == []
    await departures.member_left(sessionmaker, GUILD, 999, now=NOW)  # never used Shiplog
    async with reading(sessionmaker) as session:
        assert list(await session.scalars(select(Member.user_id))) == [CAROL]


async def test_the_radar_leaves_a_removed_servers_members_alone_and_restarts_from_the_return(sessionmaker) -> None:
    await make_guild(sessionmaker)
    long_ago = NOW - timedelta(days=40)
    async with transaction(sessionmaker) as session:
        session.add(GitHubProfile(id=77, login="alice", checked_through=long_ago))
        await session.flush()
        session.add(GitHubAccount(guild_id=GUILD, user_id=ALICE, github_id=77, login="alice", login_lower="alice"))

    async def watched() -> list[int]:
        async with reading(sessionmaker) as session:
            return list(await session.scalars(radar.watched_ids()))

    assert await watched() == [77]
    await departures.guild_left(sessionmaker, GUILD, now=long_ago)
    assert await watched() == []  # no search budget spent on a server Shiplog is not in
    await departures.guild_joined(sessionmaker, GUILD, now=NOW)
    assert await watched() == [77]
    async with reading(sessionmaker) as session:
        guild = await session.get(Guild, GUILD)
        profile = await session.get(GitHubProfile, 77)
    # What merged while Shiplog was away is not celebrated on its return, as when the radar is turned back on.
    assert (guild.radar_since, profile.checked_through) == (NOW, NOW)


async def test_a_departed_member_holds_no_place_on_the_leaderboards_nor_the_digests_streaks(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker,
        goal(ALICE, status="done", closed_at=NOW - timedelta(days=1)),
        goal(ALICE, status="done", closed_at=NOW - timedelta(days=1)),
        goal(BOB, status="done", closed_at=NOW - timedelta(days=1)),
        active(ALICE, date(2026, 11, 18)),
        active(BOB, date(2026, 11, 18)),
    )

    async def board(name: str) -> list[int]:
        result = await checkins.leaderboard(sessionmaker, guild_id=GUILD, board=name, user_id=BOB, now=NOW)
        return [user_id for user_id, _ in result.top]

    async def digest_streaks() -> list[int]:
        async with reading(sessionmaker) as session:
            states = await guild_streaks(session, GUILD, now=NOW)
            digest = await build_digest(session, GUILD, start=NOW - timedelta(days=7), end=NOW, states=states)
        return [row["user_id"] for row in digest["streaks"]]

    assert (await board("goals"), await board("streaks"), await digest_streaks()) == (
        [ALICE, BOB],
        [ALICE, BOB],
        [ALICE, BOB],
    )
    await departures.member_left(sessionmaker, GUILD, ALICE, now=NOW)
    assert (await board("goals"), await board("streaks"), await digest_streaks()) == ([BOB], [BOB], [BOB])
    async with reading(sessionmaker) as session:  # the week's finished goals are history and stay listed
        digest = await build_digest(session, GUILD, start=NOW - timedelta(days=7), end=NOW, states={})
    assert sorted(g["user_id"] for g in digest["goals"]["latest_finished"]) == [ALICE, ALICE, BOB]
    await departures.member_joined(sessionmaker, GUILD, ALICE)
    assert await board("goals") == [ALICE, BOB]
