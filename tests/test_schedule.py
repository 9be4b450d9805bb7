"""The weekly rhythm: schedule arithmetic, exactly-once runs, catch-up, the ping, the digest and the
streak DMs, on a real SQLite file."""

from __future__ import annotations

import asyncio
import random
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from bot.db.models import (
    Activity,
    CheckIn,
    GitHubAccount,
    GitHubOpenPR,
    GitHubProfile,
    Goal,
    Guild,
    JobRun,
    Kudos,
    Member,
    MemberStreak,
    MergedPullRequest,
    OutboxMessage,
    ReviewNudge,
)
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.errors import UserError
from bot.services.github.nudges import WaitingPR
from bot.services.rhythm import ping, runs, when
from bot.services.rhythm import settings as rhythm_settings
from bot.services.rhythm.ping import PING_HEADER, DueMember, PingSettings, member_token, pack_ping, plan_ping
from bot.services.rhythm.runs import JOBS, catch_up, run_weekly
from bot.services.rhythm.streak_dms import queue_streak_dms
from bot.services.rhythm.streaks import refresh_streaks
from bot.services.rhythm.when import Schedule, next_run, period_of, previous_run
from bot.workers.scheduler import STREAK_DMS_JOB, SYNC_JOB, Scheduler, cron_trigger
from tests.conftest import NOW

GUILD = 1000
ACCOUNTABILITY = 5001
DIGEST = 5002
ALICE, BOB, CAROL, DAVE, ERIN = 11, 22, 33, 44, 55
ROLE = 7001
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the default schedule's instant before NOW
MENTION = re.compile(r"<@(\d+)>")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local(zone: ZoneInfo, *args: int, fold: int = 0) -> datetime:
    return datetime(*args, tzinfo=zone, fold=fold)


# --- Schedule arithmetic ---------------------------------------------------------------------------


def test_berlin_spring_forward_keeps_the_wall_time() -> None:
    monday_9 = Schedule(0, time(9, 0), BERLIN)
    # Clocks go forward on Sunday 29 March 2026: 09:00 is 08:00 UTC before, 07:00 UTC after.
    assert previous_run(monday_9, utc(2026, 3, 30, 6, 59)) == utc(2026, 3, 23, 8, 0)
    assert next_run(monday_9, utc(2026, 3, 30, 6, 59)) == utc(2026, 3, 30, 7, 0)
    assert previous_run(monday_9, utc(2026, 3, 30, 7, 0)) == utc(2026, 3, 30, 7, 0)  # at the instant: it is due
    assert next_run(monday_9, utc(2026, 3, 30, 7, 0)) == utc(2026, 4, 6, 7, 0)
    assert next_run(monday_9, utc(2026, 3, 23, 8, 0)) - utc(2026, 3, 23, 8, 0) == timedelta(days=7, hours=-1)
    # 02:30 does not exist that Sunday: it is read with the winter offset, which is 03:30 summer time.
    sunday_0230 = Schedule(6, time(2, 30), BERLIN)
    assert next_run(sunday_0230, utc(2026, 3, 28, 12, 0)) == utc(2026, 3, 29, 1, 30)
    assert next_run(sunday_0230, utc(2026, 3, 29, 1, 30)) == utc(2026, 4, 5, 0, 30)


def test_berlin_fall_back_runs_an_ambiguous_time_once() -> None:
    sunday_0230 = Schedule(6, time(2, 30), BERLIN)
    # 02:30 happens twice on Sunday 25 October 2026; the first (summer time, 00:30 UTC) is the one.
    first = next_run(sunday_0230, utc(2026, 10, 24, 12, 0))
    assert first == utc(2026, 10, 25, 0, 30)
    assert next_run(sunday_0230, first) == utc(2026, 11, 1, 1, 30)  # not the repeat at 01:30 UTC that day
    assert previous_run(sunday_0230, utc(2026, 10, 25, 1, 45)) == first
    monday_9 = Schedule(0, time(9, 0), BERLIN)
    assert next_run(monday_9, utc(2026, 10, 19, 7, 0)) == utc(2026, 10, 26, 8, 0)  # a week and an hour


def test_new_york_dst_both_ways() -> None:
    friday_17 = Schedule(4, time(17, 0), NEW_YORK)
    # DST starts on Sunday 8 March 2026 and ends on Sunday 1 November 2026.
    assert previous_run(friday_17, utc(2026, 3, 10, 0, 0)) == utc(2026, 3, 6, 22, 0)  # EST, UTC-5
    assert next_run(friday_17, utc(2026, 3, 10, 0, 0)) == utc(2026, 3, 13, 21, 0)  # EDT, UTC-4
    assert next_run(friday_17, utc(2026, 10, 30, 21, 0)) == utc(2026, 11, 6, 22, 0)
    # The local date decides the weekday: Friday 23:00 in New York is already Saturday in UTC.
    late = Schedule(4, time(23, 0), NEW_YORK)
    assert previous_run(late, utc(2026, 11, 28, 3, 59)) == utc(2026, 11, 21, 4, 0)
    assert previous_run(late, utc(2026, 11, 28, 4, 0)) == utc(2026, 11, 28, 4, 0)


def test_periods_are_iso_weeks_in_the_schedule_zone_across_year_end() -> None:
    monday_9 = Schedule(0, time(9, 0), ZoneInfo("UTC"))
    assert period_of(monday_9, MONDAY_9) == "2026-W48"
    end_of_year = next_run(monday_9, utc(2026, 12, 25, 0, 0))
    assert end_of_year == utc(2026, 12, 28, 9, 0)
    assert period_of(monday_9, end_of_year) == "2026-W53"  # 2026 has 53 ISO weeks
    assert period_of(monday_9, next_run(monday_9, end_of_year)) == "2027-W01"
    assert period_of(monday_9, utc(2024, 12, 30, 9, 0)) == "2025-W01"  # a week that starts in December
    # Monday 09:00 in Auckland is Sunday 20:00 UTC: the period is the Auckland week, not the UTC one.
    auckland = Schedule(0, time(9, 0), ZoneInfo("Pacific/Auckland"))
    instant = next_run(auckland, utc(2027, 1, 1, 0, 0))
    assert instant == utc(2027, 1, 3, 20, 0)
    assert period_of(auckland, instant) == "2027-W01"


ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Pacific/Auckland", "America/Santiago"]


@settings(max_examples=300, deadline=None)
@given(
    weekday=st.integers(0, 6),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 15, 30, 59]),
    zone=st.sampled_from(ZONES),
    now=st.datetimes(min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)),
)
def test_previous_and_next_bracket_now_and_agree_with_apscheduler(
    weekday: int, hour: int, minute: int, zone: str, now: datetime
) -> None:
    plan = Schedule(weekday, time(hour, minute), ZoneInfo(zone))
    before, after = previous_run(plan, now), next_run(plan, now)
    assert before <= now < after
    assert next_run(plan, before) == after
    assert previous_run(plan, after) == after
    assert timedelta(days=6, hours=22) <= after - before <= timedelta(days=7, hours=2)
    assert after.astimezone(plan.zone).weekday() == weekday
    fire = cron_trigger(plan).get_next_fire_time(None, now + timedelta(microseconds=1))  # it counts `now` in
    # The cron trigger also fires on the repeat of an ambiguous wall time; the run of that period is
    # already recorded then, so it does nothing. Otherwise it fires exactly at our instants, except at
    # local times in the midnight hour just after a DST change, which APScheduler 3.11 skips (see the next test).
    if fire.fold == 0 and plan.at.hour != 0:
        assert fire.astimezone(UTC) == after
    assert fire.astimezone(UTC) >= after


async def test_a_run_apscheduler_skips_at_midnight_after_a_dst_change_is_caught_up(sessionmaker) -> None:
    plan = Schedule(0, time(0, 0), BERLIN)
    before_the_change = utc(2026, 3, 23, 12, 0)
    due = next_run(plan, before_the_change)
    assert due == utc(2026, 3, 29, 22, 0)  # Monday 30 March, 00:00 summer time
    fire = cron_trigger(plan).get_next_fire_time(None, before_the_change)
    assert fire.astimezone(UTC) in (due, due + timedelta(days=7))  # 3.11 answers a week late
    await make_guild(
        sessionmaker, created=utc(2026, 1, 1, 0, 0), schedule_timezone="Europe/Berlin", schedule_time="00:00"
    )
    # The scheduler's 15-minute sync runs catch_up, which makes the run all the same.
    (result,) = await catch_up(sessionmaker, now=due + timedelta(minutes=15))
    assert (result.period, result.scheduled_for, result.queued) == ("2026-W14", due, 1)


def test_parse_time_and_weekday() -> None:
    assert when.parse_time(" 9:05 ") == time(9, 5)
    assert when.parse_time("23:59") == time(23, 59)
    for bad in ("25:61", "24:00", "9am", "0900", "", "12:5"):
        with pytest.raises(UserError, match="HH:MM"):
            when.parse_time(bad)
    assert when.parse_weekday("Sunday") == 6
    assert when.parse_weekday("tue") == 1
    with pytest.raises(UserError):
        when.parse_weekday("someday")


# --- Seeding ---------------------------------------------------------------------------------------


async def make_guild(sessionmaker, *, created: datetime = NOW - timedelta(days=60), **values) -> None:
    values = {"accountability_channel_id": ACCOUNTABILITY, "digest_channel_id": DIGEST} | values
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=GUILD, created_at=created, **values))


async def add_rows(sessionmaker, *rows) -> None:
    """Store rows; activity among them updates the stored streaks, as recording it does in the bot."""
    async with transaction(sessionmaker) as session:
        session.add_all(rows)
        active_members = {row.user_id for row in rows if isinstance(row, Activity)}
        if active_members:
            await session.flush()
            await refresh_streaks(session, GUILD, active_members, now=NOW)


_numbers = iter(range(1, 10**6))


def goal(user_id: int, text: str = "ship it", *, status: str = "open", due: date | None = None, **values) -> Goal:
    values = {"created_at": NOW - timedelta(days=30), "updated_at": NOW} | values
    return Goal(guild_id=GUILD, number=next(_numbers), user_id=user_id, text=text, status=status, due=due, **values)


def active(user_id: int, day: date) -> Activity:
    return Activity(
        guild_id=GUILD,
        user_id=user_id,
        kind="checkin",
        ref=f"{user_id}:{day}",
        local_date=day,
        created_at=datetime.combine(day, time(12), tzinfo=UTC),
    )


def checkin(user_id: int, at: datetime) -> CheckIn:
    return CheckIn(guild_id=GUILD, user_id=user_id, note="progress", local_date=at.date(), created_at=at)


async def outbox_rows(sessionmaker, kind: str | None = None) -> list[OutboxMessage]:
    async with transaction(sessionmaker) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind is not None:
            query = query.where(OutboxMessage.kind == kind)
        return list((await session.scalars(query)).all())


async def job_runs(sessionmaker) -> list[tuple]:
    async with transaction(sessionmaker) as session:
        rows = await session.scalars(select(JobRun).order_by(JobRun.id))
        return [(r.guild_id, r.job, r.period, r.status) for r in rows]


async def seed_week(sessionmaker) -> None:
    """Alice has open goals; Bob too, but opted out; Carol's streak is at risk; Dave's is safe."""
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker,
        Member(guild_id=GUILD, user_id=ALICE, timezone="Europe/Berlin"),
        Member(guild_id=GUILD, user_id=BOB, reminders=False),
        Member(guild_id=GUILD, user_id=CAROL),
        Member(guild_id=GUILD, user_id=DAVE),
        goal(ALICE, "write the **docs** <@123456789012345678> @everyone", due=date(2026, 11, 27)),
        goal(ALICE, "fix the flaky test"),
        goal(BOB, "bob's own goal"),
        goal(CAROL, "an old one", status="done", closed_at=NOW - timedelta(days=20)),
        active(CAROL, date(2026, 11, 18)),  # last week only: this week's check-in is still owed
        *(active(DAVE, day) for day in (date(2026, 11, 4), date(2026, 11, 11), date(2026, 11, 18), date(2026, 11, 23))),
    )


# --- Exactly once ----------------------------------------------------------------------------------


async def test_run_weekly_twice_for_a_period_queues_once(sessionmaker) -> None:
    await seed_week(sessionmaker)
    first = await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    assert first.period == "2026-W48"
    assert [(o.job, o.status, o.messages) for o in first.outcomes] == [("ping", "done", 1), ("digest", "done", 1)]
    again = await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW + timedelta(minutes=5))
    assert [(o.job, o.status) for o in again.outcomes] == [("ping", "already"), ("digest", "already")]
    assert again.queued == 0
    assert [row.kind for row in await outbox_rows(sessionmaker)] == ["rhythm.ping", "rhythm.digest"]
    assert await job_runs(sessionmaker) == [(GUILD, "ping", "2026-W48", "done"), (GUILD, "digest", "2026-W48", "done")]


async def test_two_processes_running_the_same_period_at_once_queue_once(db_url: str, sessionmaker) -> None:
    await seed_week(sessionmaker)
    other_engine = create_engine(db_url)  # a second bot process: its own engine on the same file
    try:
        results = await asyncio.gather(
            run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW),
            run_weekly(create_sessionmaker(other_engine), GUILD, scheduled_for=MONDAY_9, now=NOW),
        )
    finally:
        await other_engine.dispose()
    statuses = sorted(tuple(o.status for o in result.outcomes) for result in results)
    assert statuses == [("already", "already"), ("done", "done")]
    assert len(await outbox_rows(sessionmaker)) == 2 == sum(result.queued for result in results)
    assert len(await job_runs(sessionmaker)) == 2


async def test_a_run_that_loses_the_insert_race_retries_and_queues_nothing(sessionmaker, monkeypatch) -> None:
    """On PostgreSQL two runs can both see no JobRun; the second insert fails and the run looks again."""
    await seed_week(sessionmaker)
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    real = runs.missing_jobs
    calls = []

    async def stale_first_look(session, guild_id, period):
        calls.append(period)
        return list(JOBS) if len(calls) == 1 else await real(session, guild_id, period)

    monkeypatch.setattr(runs, "missing_jobs", stale_first_look)
    result = await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    assert len(calls) == 2
    assert [o.status for o in result.outcomes] == ["already", "already"]
    assert len(await outbox_rows(sessionmaker)) == 2


async def test_catch_up_within_12_hours_runs(sessionmaker) -> None:
    await seed_week(sessionmaker)
    (result,) = await catch_up(sessionmaker, now=MONDAY_9 + timedelta(hours=11, minutes=59))
    assert (result.guild_id, result.period, result.scheduled_for) == (GUILD, "2026-W48", MONDAY_9)
    assert [o.status for o in result.outcomes] == ["done", "done"]
    assert len(await outbox_rows(sessionmaker)) == 2
    assert await catch_up(sessionmaker, now=MONDAY_9 + timedelta(hours=12)) == []  # nothing left to do


async def test_catch_up_after_12_hours_records_skipped_and_queues_nothing(sessionmaker, caplog) -> None:
    await seed_week(sessionmaker)
    (result,) = await catch_up(sessionmaker, now=MONDAY_9 + timedelta(hours=12, minutes=1))
    assert [(o.status, o.messages) for o in result.outcomes] == [("skipped", 0), ("skipped", 0)]
    assert "more than 12.0 hours" in result.outcomes[0].reason
    assert "skipped the weekly ping of 2026-W48" in caplog.text
    assert await outbox_rows(sessionmaker) == []
    assert await job_runs(sessionmaker) == [
        (GUILD, "ping", "2026-W48", "skipped"),
        (GUILD, "digest", "2026-W48", "skipped"),
    ]
    # The run itself, arriving even later (a misfire), does nothing either.
    late = await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=MONDAY_9 + timedelta(hours=13))
    assert [o.status for o in late.outcomes] == ["already", "already"]


async def test_catch_up_ignores_a_server_that_did_not_exist_yet(sessionmaker) -> None:
    await make_guild(sessionmaker, created=MONDAY_9 + timedelta(minutes=1))
    assert await catch_up(sessionmaker, now=NOW) == []
    assert await job_runs(sessionmaker) == []


async def test_a_missing_channel_skips_that_job_only(sessionmaker) -> None:
    await seed_week(sessionmaker)
    async with transaction(sessionmaker) as session:
        (await session.get(Guild, GUILD)).digest_channel_id = None
    result = await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    assert [(o.status, o.reason) for o in result.outcomes] == [("done", ""), ("skipped", "no digest channel is set")]
    assert [row.kind for row in await outbox_rows(sessionmaker)] == ["rhythm.ping"]


# --- Settings --------------------------------------------------------------------------------------


async def test_set_schedule_applies_from_its_next_instant(sessionmaker) -> None:
    await make_guild(sessionmaker, digest_channel_id=None)
    change = await rhythm_settings.set_schedule(
        sessionmaker, guild_id=GUILD, weekday="tuesday", at="10:00", timezone="europe/berlin", now=NOW
    )
    assert change.schedule == Schedule(1, time(10, 0), BERLIN)
    assert change.next_run == utc(2026, 11, 24, 9, 0)
    assert change.unset_channels == ("digest",)
    async with transaction(sessionmaker) as session:
        guild = await session.get(Guild, GUILD)
        assert (guild.schedule_weekday, guild.schedule_time, guild.schedule_timezone) == (1, "10:00", "Europe/Berlin")
    # Earlier today: this week's run is not posted late by a catch-up; the next one is next week.
    change = await rhythm_settings.set_schedule(
        sessionmaker, guild_id=GUILD, weekday="monday", at="11:00", timezone=None, now=NOW
    )
    assert change.next_run == utc(2026, 11, 30, 10, 0)  # Berlin time kept
    assert await catch_up(sessionmaker, now=NOW) == []
    assert await outbox_rows(sessionmaker) == []


async def test_set_schedule_after_this_weeks_run_announces_next_weeks(sessionmaker) -> None:
    await seed_week(sessionmaker)
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    change = await rhythm_settings.set_schedule(
        sessionmaker, guild_id=GUILD, weekday="friday", at="17:00", timezone="UTC", now=NOW
    )
    assert change.next_run == utc(2026, 12, 4, 17, 0)  # Friday 27 November is in week 48, which already ran


@pytest.mark.parametrize(
    ("weekday", "at", "zone", "message"),
    [
        ("monday", "25:61", "UTC", "isn't a time"),
        ("monday", "9am", None, "HH:MM"),
        ("monday", "09:00", "Mars/Olympus", "isn't a time zone"),
        ("caturday", "09:00", None, "day of the week"),
    ],
)
async def test_bad_schedule_is_refused_and_changes_nothing(sessionmaker, weekday, at, zone, message) -> None:
    await make_guild(sessionmaker)
    with pytest.raises(UserError, match=message):
        await rhythm_settings.set_schedule(sessionmaker, guild_id=GUILD, weekday=weekday, at=at, timezone=zone, now=NOW)
    assert await rhythm_settings.get_schedule(sessionmaker, GUILD) == when.DEFAULT_SCHEDULE
    assert await job_runs(sessionmaker) == []


async def test_a_cadence_change_stamps_the_recomputed_streaks_with_the_clock(sessionmaker) -> None:
    """The streaks a new cadence recomputes are stamped with the injected clock, not the wall clock."""
    await make_guild(sessionmaker)
    await add_rows(sessionmaker, active(ALICE, NOW.date() - timedelta(days=1)))
    later = NOW + timedelta(hours=5)
    await rhythm_settings.set_cadence(sessionmaker, guild_id=GUILD, cadence="daily", now=later)
    async with transaction(sessionmaker) as session:
        (row,) = await session.scalars(select(MemberStreak))
        assert (row.user_id, row.cadence, row.updated_at) == (ALICE, "daily", later)


async def test_cadence_reminders_and_streak_dms_settings(sessionmaker) -> None:
    assert await rhythm_settings.set_cadence(sessionmaker, guild_id=GUILD, cadence="daily", now=NOW) == "daily"
    with pytest.raises(UserError):
        await rhythm_settings.set_cadence(sessionmaker, guild_id=GUILD, cadence="hourly", now=NOW)
    await rhythm_settings.set_reminders(sessionmaker, GUILD, ALICE, False)
    await rhythm_settings.set_streak_dms(sessionmaker, GUILD, ALICE, True)
    async with transaction(sessionmaker) as session:
        assert (await session.get(Guild, GUILD)).cadence == "daily"
        member = await session.get(Member, (GUILD, ALICE))
        assert (member.reminders, member.streak_dms) == (False, True)


# --- The ping --------------------------------------------------------------------------------------


def mentioned(content: str) -> list[int]:
    return [int(user_id) for user_id in MENTION.findall(content)]


async def test_ping_mentions_members_with_open_goals_or_a_streak_at_risk(sessionmaker) -> None:
    await seed_week(sessionmaker)
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.ping")
    assert row.channel_id == ACCOUNTABILITY
    content = row.data["content"]
    # Carol's streak is at risk (first), Alice has open goals; Bob opted out; Dave has no goal and is safe.
    assert row.data["user_ids"] == [CAROL, ALICE] == mentioned(content)
    assert "role_ids" not in row.data
    assert content == f"{PING_HEADER}\n🔥1 <@{CAROL}>\n<@{ALICE}>"
    # The goals live in /goal list and the digest, which the header points to; no member text here.
    assert "`/goal list`" in PING_HEADER and "digest" in PING_HEADER
    assert "docs" not in content and "bob's own goal" not in content


async def test_quiet_only_mentions_members_with_no_check_in_since_the_last_ping(sessionmaker) -> None:
    await seed_week(sessionmaker)
    async with transaction(sessionmaker) as session:
        (await session.get(Guild, GUILD)).ping_quiet_only = True
    await add_rows(
        sessionmaker,
        # Alice checked in on Friday (since last Monday's ping); Erin's check-in is older than that.
        CheckIn(
            guild_id=GUILD, user_id=ALICE, note="x", local_date=date(2026, 11, 20), created_at=utc(2026, 11, 20, 9)
        ),
        goal(ERIN, "erin's goal"),
        checkin(ERIN, utc(2026, 11, 16, 8)),
    )
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.ping")
    assert row.data["user_ids"] == [CAROL, ERIN] == mentioned(row.data["content"])
    assert "No check-in since the last ping" in row.data["content"]


async def test_past_the_cap_the_ping_names_a_count_and_mentions_only_the_role(sessionmaker) -> None:
    await make_guild(sessionmaker, ping_cap=3, ping_role_id=ROLE)
    await add_rows(sessionmaker, *(goal(user_id) for user_id in range(100, 110)))
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.ping")
    assert row.data["user_ids"] == [100, 101, 102] == mentioned(row.data["content"])
    assert row.data["role_ids"] == [ROLE]
    assert row.data["content"].endswith(f"\n…and **7** more members with open goals: <@&{ROLE}>")
    # Without a role, just the count.
    members = [DueMember(user_id) for user_id in range(100, 110)]
    messages, shown = plan_ping(members, PingSettings(cap=9))
    assert [m.user_id for m in shown] == list(range(100, 109))
    assert messages[-1].content.endswith("…and **1** more member with open goals.")
    assert messages[-1].role_ids == ()


async def test_a_member_who_chose_review_nudges_in_the_ping_gets_the_mark_and_is_nudged_once(sessionmaker) -> None:
    await make_guild(sessionmaker, ping_cap=1)
    await add_rows(
        sessionmaker,
        Member(guild_id=GUILD, user_id=ALICE, review_nudges="ping"),
        Member(guild_id=GUILD, user_id=BOB, review_nudges="ping"),
        GitHubProfile(id=901, login="alice-gh"),
        GitHubProfile(id=902, login="bob-gh"),
    )
    await add_rows(
        sessionmaker,
        *(
            GitHubAccount(guild_id=GUILD, user_id=uid, github_id=gid, login=login, login_lower=login)
            for uid, gid, login in ((ALICE, 901, "alice-gh"), (BOB, 902, "bob-gh"))
        ),
        *(
            GitHubOpenPR(
                github_id=gid,
                repo="org/repo",
                number=number,
                title="waiting",
                url=f"https://github.com/org/repo/pull/{number}",
                opened_at=NOW - timedelta(days=10),
                unreviewed=True,
                seen_at=NOW - timedelta(hours=1),
            )
            for gid, number in ((901, 1), (902, 2))
        ),
    )
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.ping")
    # Alice is mentioned with the mark; Bob is past the cap of 1: not shown, so not counted as nudged.
    assert row.data["content"].split("\n")[2:] == [f"<@{ALICE}> ⏳", "…and **1** more member with open goals."]
    async with transaction(sessionmaker) as session:
        nudged = [(n.user_id, n.number) for n in await session.scalars(select(ReviewNudge))]
    assert nudged == [(ALICE, 1)]


def test_a_members_part_is_the_mention_and_a_mark() -> None:
    assert member_token(DueMember(ALICE, 8)) == f"<@{ALICE}>"
    pr = WaitingPR("org/repo", 7, "title", "https://x", 9)
    assert member_token(DueMember(ALICE, 0, 3, (pr,))) == f"<@{ALICE}> ⏳"
    (message,) = pack_ping(
        [DueMember(ALICE, 0, 3, (pr,)), DueMember(BOB, 0, 3), DueMember(CAROL, 1, 1), DueMember(DAVE, 2)]
    )
    assert message.content.split("\n")[2:] == [f"🔥3 <@{ALICE}> ⏳ <@{BOB}>", f"🔥1 <@{CAROL}>", f"<@{DAVE}>"]


def random_members(rng: random.Random, count: int, *, first_id: int = 10**18) -> list[DueMember]:
    """Members with snowflake-sized ids (19 digits, as new accounts have): most have open goals, about
    half a streak at risk, a few PRs waiting for a review."""
    pr = WaitingPR("org/repo", 1, "title", "https://x", 9)
    members = [
        DueMember(
            first_id + n * 7919,
            rng.randint(0, 8),
            rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 26, 52]),
            (pr,) if rng.random() < 0.05 else (),
        )
        for n in range(count)
    ]
    members.sort(key=lambda m: (-m.streak_at_risk, m.user_id))
    return members


def check_packing(members: list[DueMember], messages: list, *, header: str = PING_HEADER) -> None:
    """Each message fits, mentions exactly its members, and every member is mentioned once, in order."""
    seen: list[int] = []
    for message in messages:
        assert len(message.content) <= 2000
        assert mentioned(message.content) == list(message.user_ids)
        seen += message.user_ids
    assert seen == [m.user_id for m in members]
    if messages:
        assert messages[0].content.startswith(header)
        assert not any(header in message.content for message in messages[1:])


@pytest.mark.parametrize(("count", "most"), [(200, 3), (1_000, 14), (10_000, 120)])
def test_the_ping_of_many_members_is_a_few_messages(count: int, most: int) -> None:
    members = random_members(random.Random(count), count)
    messages = pack_ping(members)
    check_packing(members, messages)
    assert len(messages) <= most
    # Every message but the last is full: it has less room left than the next member's part needs.
    longest = max(len(f"{ping.STREAK_MARK}{m.streak_at_risk} {member_token(m)}") + 1 for m in members)
    assert all(2000 - len(message.content) < longest for message in messages[:-1])


def test_the_ping_of_10000_members_with_a_cap_is_one_message_mentioning_the_role() -> None:
    members = random_members(random.Random(1), 10_000)
    messages, shown = plan_ping(members, PingSettings(cap=50, role_id=ROLE))
    (message,) = messages
    check_packing(shown, messages)
    assert message.user_ids == tuple(m.user_id for m in members[:50])
    assert message.role_ids == (ROLE,)
    assert message.content.endswith(f"…and **9,950** more members with open goals: <@&{ROLE}>")


def test_the_overflow_line_opens_a_message_of_its_own_when_the_last_is_full() -> None:
    members = random_members(random.Random(2), 400)
    full = pack_ping(members)
    messages, _ = plan_ping([*members, DueMember(1)], PingSettings(cap=len(members), role_id=ROLE))
    assert len(messages) in (len(full), len(full) + 1)
    check_packing(members, messages)
    assert messages[-1].content.endswith(f"<@&{ROLE}>") and messages[-1].role_ids == (ROLE,)
    assert all(m.role_ids == () for m in messages[:-1])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.integers(1, 10**20), st.integers(0, 10**6), st.booleans()),
        max_size=300,
        unique_by=lambda t: t[0],
    ),
    st.sampled_from([None, 0, 1, 50]),
    st.booleans(),
)
def test_ping_packing_always_fits(raw: list[tuple[int, int, bool]], cap: int | None, quiet: bool) -> None:
    pr = WaitingPR("org/repo", 1, "title", "https://x", 9)
    members = sorted(
        (DueMember(user_id, 1, streak, (pr,) if waits else ()) for user_id, streak, waits in raw),
        key=lambda m: (-m.streak_at_risk, m.user_id),
    )
    settings = PingSettings(quiet_only=quiet, cap=cap or None, role_id=ROLE if cap else None)
    messages, shown = plan_ping(members, settings)
    check_packing(shown, messages, header=ping.ping_header(quiet_only=quiet))
    assert bool(messages) == bool(members)


# --- The digest ------------------------------------------------------------------------------------


async def test_digest_of_a_known_week(sessionmaker) -> None:
    await seed_week(sessionmaker)
    inside, before, after = utc(2026, 11, 18, 12, 0), utc(2026, 11, 16, 8, 59), utc(2026, 11, 23, 9, 0)

    def pr(user_id: int, number: int, recorded_at: datetime) -> MergedPullRequest:
        return MergedPullRequest(
            guild_id=GUILD,
            user_id=user_id,
            repo="encode/httpx",
            number=number,
            title=f"Fix #{number}",
            url=f"https://github.com/encode/httpx/pull/{number}",
            merged_at=recorded_at,
            recorded_at=recorded_at,
        )

    def kudos(to_user_id: int, created_at: datetime) -> Kudos:
        return Kudos(
            guild_id=GUILD,
            from_user_id=DAVE,
            to_user_id=to_user_id,
            reason="thanks",
            local_date=created_at.date(),
            created_at=created_at,
        )

    await add_rows(
        sessionmaker,
        pr(ALICE, 1, utc(2026, 11, 16, 9, 0)),  # the window's first instant
        pr(ALICE, 2, inside),
        pr(CAROL, 3, utc(2026, 11, 20, 8, 0)),
        pr(BOB, 4, before),
        pr(BOB, 5, after),
        goal(ALICE, "new this week", created_at=inside),
        goal(BOB, "also new", created_at=inside),
        goal(ALICE, "set and done", status="done", created_at=inside, closed_at=inside + timedelta(days=1)),
        goal(CAROL, "dropped", status="dropped", closed_at=inside),
        goal(CAROL, "done long ago", status="done", closed_at=before),
        kudos(ALICE, inside),
        kudos(ALICE, inside),
        kudos(ALICE, inside),
        kudos(BOB, inside),
        kudos(CAROL, before),
        kudos(CAROL, after),
    )
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.digest")
    assert row.channel_id == DIGEST
    number = row.data["goals"]["latest_finished"][0]["number"]
    assert row.data == {
        "period": "2026-W48",
        "start": "2026-11-16T09:00:00+00:00",
        "end": "2026-11-23T09:00:00+00:00",
        "prs": {
            "count": 3,
            "authors": 2,
            "latest": [
                {
                    "user_id": CAROL,
                    "repo": "encode/httpx",
                    "number": 3,
                    "title": "Fix #3",
                    "url": "https://github.com/encode/httpx/pull/3",
                },
                {
                    "user_id": ALICE,
                    "repo": "encode/httpx",
                    "number": 2,
                    "title": "Fix #2",
                    "url": "https://github.com/encode/httpx/pull/2",
                },
                {
                    "user_id": ALICE,
                    "repo": "encode/httpx",
                    "number": 1,
                    "title": "Fix #1",
                    "url": "https://github.com/encode/httpx/pull/1",
                },
            ],
        },
        "goals": {
            "set": 3,
            "finished": 1,
            "latest_finished": [{"user_id": ALICE, "number": number, "text": "set and done"}],
        },
        # Dave: four weeks in a row, this one included; Carol: last week's, at risk.
        "streaks": [
            {"user_id": DAVE, "current": 4, "cadence": "weekly"},
            {"user_id": CAROL, "current": 1, "cadence": "weekly"},
        ],
        "kudos": {"count": 4, "top": [{"user_id": ALICE, "count": 3}, {"user_id": BOB, "count": 1}]},
    }


async def test_digest_lists_the_five_longest_streaks(sessionmaker) -> None:
    await make_guild(sessionmaker)
    weeks = [date(2026, 11, 23) - timedelta(weeks=n) for n in range(8)]
    await add_rows(
        sessionmaker,
        *(active(user_id, day) for user_id in range(100, 108) for day in weeks[: user_id - 99]),
    )
    await run_weekly(sessionmaker, GUILD, scheduled_for=MONDAY_9, now=NOW)
    (row,) = await outbox_rows(sessionmaker, "rhythm.digest")
    assert [(s["user_id"], s["current"]) for s in row.data["streaks"]] == [
        (107, 8),
        (106, 7),
        (105, 6),
        (104, 5),
        (103, 4),
    ]


# --- Streak DMs ------------------------------------------------------------------------------------


async def test_streak_dm_once_per_member_and_period_when_the_period_ends_within_a_day(sessionmaker) -> None:
    await make_guild(sessionmaker)
    await add_rows(
        sessionmaker,
        Member(guild_id=GUILD, user_id=ALICE, timezone="Europe/Berlin", streak_dms=True),
        Member(guild_id=GUILD, user_id=BOB, streak_dms=False),
        Member(guild_id=GUILD, user_id=CAROL, timezone="Pacific/Auckland", streak_dms=True),
        Member(guild_id=GUILD, user_id=DAVE, streak_dms=True),
        *(active(user_id, date(2026, 11, 18)) for user_id in (ALICE, BOB, CAROL)),
        active(DAVE, date(2026, 11, 18)),
        active(DAVE, date(2026, 11, 24)),  # Dave already checked in this week: nothing at risk
    )
    # Saturday noon UTC: Auckland is already at Sunday 01:00, its week ends in 23 hours; Berlin's in 35.
    saturday = utc(2026, 11, 28, 12, 0)
    assert [(dm.user_id, dm.streak, dm.period) for dm in await queue_streak_dms(sessionmaker, now=saturday)] == [
        (CAROL, 1, date(2026, 11, 23))
    ]
    sunday = utc(2026, 11, 29, 12, 0)  # Berlin: 13:00, the week ends at 23:00 UTC
    (dm,) = await queue_streak_dms(sessionmaker, now=sunday)
    assert (dm.user_id, dm.ends_at) == (ALICE, utc(2026, 11, 29, 23, 0))
    assert await queue_streak_dms(sessionmaker, now=sunday + timedelta(minutes=15)) == []
    rows = await outbox_rows(sessionmaker)
    assert [(r.kind, r.channel_id, r.data["user_id"], r.data["period"]) for r in rows] == [
        ("dm.streak", None, CAROL, "2026-11-23"),
        ("dm.streak", None, ALICE, "2026-11-23"),
    ]
    assert rows[1].data["ends_at"] == "2026-11-29T23:00:00+00:00"
    assert [(job, period) for _, job, period, _ in await job_runs(sessionmaker)] == [
        (f"dm:{CAROL}", "2026-11-23"),
        (f"dm:{ALICE}", "2026-11-23"),
    ]


# --- The scheduler ---------------------------------------------------------------------------------


async def test_scheduler_start_adds_a_job_per_guild_and_catches_up(sessionmaker) -> None:
    await seed_week(sessionmaker)
    await add_rows(
        sessionmaker,
        Guild(
            id=GUILD + 1, schedule_weekday=1, schedule_time="10:00", schedule_timezone="Europe/Berlin", created_at=NOW
        ),
    )
    woken = []
    scheduler = Scheduler(sessionmaker, clock=lambda: NOW, on_queued=lambda: woken.append(True))
    with time_machine.travel(NOW, tick=False):
        await scheduler.start()
    try:
        assert {job.id for job in scheduler.aps.get_jobs()} == {
            f"weekly:{GUILD}",
            f"weekly:{GUILD + 1}",
            STREAK_DMS_JOB,
            SYNC_JOB,
        }
        berlin_job = scheduler.job(GUILD + 1)
        assert str(berlin_job.trigger) == "cron[day_of_week='tue', hour='10', minute='0']"
        assert berlin_job.trigger.timezone == BERLIN
        assert berlin_job.next_run_time == utc(2026, 11, 24, 9, 0)
        assert scheduler.job(GUILD).next_run_time == utc(2026, 11, 30, 9, 0)
        assert scheduler.aps.get_job(STREAK_DMS_JOB).trigger.interval == timedelta(minutes=15)
        # The start caught up this morning's run of the older server.
        assert [row.kind for row in await outbox_rows(sessionmaker)] == ["rhythm.ping", "rhythm.digest"]
        assert woken == [True]
    finally:
        scheduler.shutdown()


async def test_a_job_whose_schedule_changed_elsewhere_reschedules_instead_of_running(sessionmaker) -> None:
    await seed_week(sessionmaker)
    scheduler = Scheduler(sessionmaker, clock=lambda: NOW)
    scheduler.aps.start()
    try:
        stale = Schedule(3, time(18, 0), ZoneInfo("UTC"))
        scheduler.schedule_guild(GUILD, stale)
        assert await scheduler.run_guild(GUILD, stale.key) is None
        assert await outbox_rows(sessionmaker) == []
        assert scheduler.job(GUILD).args == (GUILD, when.DEFAULT_SCHEDULE.key)
        result = await scheduler.run_guild(*scheduler.job(GUILD).args)
        assert (result.scheduled_for, result.queued) == (MONDAY_9, 2)
    finally:
        scheduler.shutdown()


async def test_apscheduler_fires_the_weekly_job_at_its_time(sessionmaker) -> None:
    await seed_week(sessionmaker)
    woken = asyncio.Event()
    scheduler = Scheduler(sessionmaker, on_queued=woken.set)  # the real clock, moved by time-machine
    with time_machine.travel(MONDAY_9 - timedelta(seconds=1), tick=True):
        await scheduler.start()  # catches up last week's run: too late, recorded as skipped
        assert await job_runs(sessionmaker) == [
            (GUILD, "ping", "2026-W47", "skipped"),
            (GUILD, "digest", "2026-W47", "skipped"),
        ]
        try:
            await asyncio.wait_for(woken.wait(), timeout=10)
        finally:
            scheduler.shutdown()
    assert [row.kind for row in await outbox_rows(sessionmaker)] == ["rhythm.ping", "rhythm.digest"]
    assert (await job_runs(sessionmaker))[2:] == [
        (GUILD, "ping", "2026-W48", "done"),
        (GUILD, "digest", "2026-W48", "done"),
    ]
