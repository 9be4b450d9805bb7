"""The weekly rhythm through the real discord.py client: /settings schedule, the scheduled ping and
digest, exactly once across triggers and restarts, catch-up, and the streak-at-risk DM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from bot.db.models import Activity, Guild, JobRun
from bot.db.session import reading, transaction
from bot.services.rhythm import settings
from bot.services.rhythm.ping import PING_HEADER, PingSettings
from bot.workers.scheduler import Scheduler
from tests.conftest import NOW
from tests.harness import World, eventually, world


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url, start=False) as w:
        w.fake.add_text_channel(w.guild, "accountability")
        w.fake.add_text_channel(w.guild, "digest")
        await w.start_bot()
        yield w


def scheduler_of(w: World) -> Scheduler:
    scheduler = w.bot.scheduler
    assert scheduler is not None
    return scheduler


async def set_up_channels(w: World) -> None:
    for purpose in ("accountability", "digest"):
        await w.invoke(w.admin, "settings channel", purpose=purpose, channel=w.guild.channel_named(purpose))


async def stored_schedule(w: World) -> tuple | None:
    async with transaction(w.sessionmaker) as session:
        guild = await session.get(Guild, w.guild.id)
        if guild is None:
            return None
        return (guild.schedule_weekday, guild.schedule_time, guild.schedule_timezone, guild.cadence)


async def job_runs(w: World) -> list[tuple]:
    async with transaction(w.sessionmaker) as session:
        rows = await session.scalars(select(JobRun).order_by(JobRun.id))
        return [(r.job, r.period, r.status) for r in rows]


async def existing_since(w: World, when: datetime) -> None:
    # ensure_guild stamps the real time; make the server older than the runs a test expects it to have.
    async with transaction(w.sessionmaker) as session:
        (await session.get(Guild, w.guild.id)).created_at = when


async def test_admin_sets_the_schedule_and_the_job_follows_at_once(w: World) -> None:
    res = await w.invoke(w.admin, "settings schedule", weekday="tuesday", time="9:00", timezone="europe/berlin")
    assert res.ephemeral
    assert "**Tuesdays at 09:00 (Europe/Berlin)**" in res.content
    next_run = int(datetime(2026, 11, 24, 8, 0, tzinfo=UTC).timestamp())  # 09:00 in Berlin
    assert f"Next: <t:{next_run}:F>" in res.content
    assert "No accountability or digest channel is set yet" in res.content
    assert await stored_schedule(w) == (1, "09:00", "Europe/Berlin", "weekly")
    scheduler = scheduler_of(w)
    job = await eventually(
        lambda: (job := scheduler.job(w.guild.id)) and job.args[1] == "1 09:00 Europe/Berlin" and job
    )
    assert job.id == f"weekly:{w.guild.id}"
    assert str(job.trigger) == "cron[day_of_week='tue', hour='9', minute='0']"
    assert job.trigger.timezone == ZoneInfo("Europe/Berlin")
    # The zone is optional: leaving it out keeps the one set.
    res = await w.invoke(w.admin, "settings schedule", weekday="friday", time="17:30")
    assert "**Fridays at 17:30 (Europe/Berlin)**" in res.content
    await eventually(lambda: scheduler.job(w.guild.id).args[1] == "4 17:30 Europe/Berlin")


async def test_timezone_autocomplete_and_cadence(w: World) -> None:
    choices = await w.autocomplete(w.admin, "settings schedule", "timezone", "berl", weekday="monday", time="09:00")
    assert "Europe/Berlin" in [c["value"] for c in choices]
    res = await w.invoke(w.admin, "settings cadence", cadence="daily")
    assert res.ephemeral and "**daily**" in res.content
    assert (await stored_schedule(w))[3] == "daily"


@pytest.mark.parametrize(
    ("who", "command", "options", "expected"),
    [
        ("admin", "settings schedule", {"weekday": "monday", "time": "25:61"}, "`25:61` isn't a time I can use"),
        ("admin", "settings schedule", {"weekday": "monday", "time": "9am"}, "HH:MM"),
        ("admin", "settings schedule", {"weekday": "monday", "time": "09:00", "timezone": "Mars/Olympus"}, "time zone"),
        ("bob", "settings schedule", {"weekday": "monday", "time": "10:00"}, "Manage Server"),
        ("bob", "settings cadence", {"cadence": "daily"}, "Manage Server"),
    ],
)
async def test_bad_or_unauthorised_changes_are_refused_politely_and_change_nothing(
    w: World, who: str, command: str, options: dict, expected: str
) -> None:
    w.fake.allow_everyone(w.guild, "settings")  # an admin opened /settings to everyone: the bot still checks
    res = await w.invoke(getattr(w, who), command, **options)
    assert res.ephemeral
    assert expected in res.content
    assert "went wrong" not in res.content
    assert await stored_schedule(w) in (None, (0, "09:00", "UTC", "weekly"))
    assert await job_runs(w) == []


async def test_a_scheduled_run_posts_once_even_when_triggered_twice_and_not_again_after_restart(w: World) -> None:
    await set_up_channels(w)
    await existing_since(w, NOW - timedelta(days=30))  # so that the restart's catch-up does look at this week
    await w.invoke(w.alice, "goal add", text="ship the beta **today**", due="friday")
    await w.invoke(w.bob, "goal add", text="bob's quiet goal")
    await settings.set_reminders(w.sessionmaker, w.guild.id, w.bob.id, False)  # /me reminders enabled:false
    await w.invoke(w.admin, "settings schedule", weekday="tuesday", time="09:00", timezone="Europe/Berlin")
    job = await eventually(lambda: (job := scheduler_of(w).job(w.guild.id)) and job.args[1].startswith("1 ") and job)
    w.clock.advance(timedelta(hours=20, minutes=1))  # Tuesday 08:01 UTC, 09:01 in Berlin

    # What APScheduler calls when the trigger fires, twice (a misfire, a second process, ...).
    first, second = await asyncio.gather(job.func(*job.args), job.func(*job.args))
    assert sorted([first.queued, second.queued]) == [0, 2]

    accountability, digest = w.guild.channel_named("accountability"), w.guild.channel_named("digest")
    (ping,) = await w.wait_for_posts(accountability, 1)
    # A ping is mentions; the goals are in /goal list and the digest, which it points to.
    assert ping["content"] == f"{PING_HEADER}\n<@{w.alice.id}>"
    assert "ship the beta" not in ping["content"] and "bob's quiet goal" not in ping["content"]
    assert [m["id"] for m in ping["mentions"]] == [str(w.alice.id)]
    assert ping["allowed_mentions"] == {"parse": [], "users": [w.alice.id]}
    (post,) = await w.wait_for_posts(digest, 1)
    embed = post["embeds"][0]
    assert embed["title"] == "🗓️ Weekly digest"
    start, end = (int(datetime(2026, 11, day, 8, 0, tzinfo=UTC).timestamp()) for day in (17, 24))
    assert (
        embed["description"]
        == f"What the server shipped this week, digest to digest: from <t:{start}:f> to <t:{end}:f>."
    )
    goals = next(f for f in embed["fields"] if f["name"] == "🎯 Goals")
    assert goals["value"].startswith("**2** goals set, 0 finished.")
    assert post["mentions"] == [] and post["allowed_mentions"]["parse"] == []
    assert await job_runs(w) == [
        ("ping", "2026-W47", "skipped"),  # the new schedule's last week: not posted late
        ("digest", "2026-W47", "skipped"),
        ("ping", "2026-W48", "done"),
        ("digest", "2026-W48", "done"),
    ]

    await w.restart_bot()
    job = scheduler_of(w).job(w.guild.id)
    assert job.args[1] == "1 09:00 Europe/Berlin"  # rescheduled from the database at start
    assert (await job.func(*job.args)).queued == 0
    await asyncio.sleep(0.3)
    assert len(w.fake.messages_in(accountability, include_interactions=False)) == 1
    assert len(w.fake.messages_in(digest, include_interactions=False)) == 1


async def run_the_ping(w: World) -> dict:
    """Schedule the run for an hour after NOW (a Monday noon), let it fire, and return the ping it posted."""
    await w.invoke(w.admin, "settings schedule", weekday="monday", time="13:00", timezone="UTC")
    job = await eventually(lambda: (job := scheduler_of(w).job(w.guild.id)) and job.args[1].startswith("0 13") and job)
    w.clock.advance(timedelta(hours=1, minutes=1))
    result = await job.func(*job.args)
    assert result.outcome("ping").status == "done"
    channel = w.guild.channel_named("accountability")  # check-ins are shared there too
    pings = await eventually(
        lambda: [p for p in w.fake.messages_in(channel, include_interactions=False) if p["content"].startswith("📣")]
    )
    (ping,) = pings
    return ping


async def test_an_admin_pings_only_the_quiet_ones_up_to_a_cap_and_a_role_for_the_rest(w: World) -> None:
    await set_up_channels(w)
    await existing_since(w, NOW - timedelta(days=30))
    carol = w.fake.add_member(w.guild, "carol")
    for member in (w.alice, w.bob, carol):
        await w.invoke(member, "goal add", text=f"{member.name}'s goal")
    await w.invoke(w.bob, "checkin", note="made progress")  # bob is not quiet
    role = await w.fake.create_role(w.guild, "accountability", mentionable=True)
    res = await w.invoke(w.admin, "settings ping", who="quiet", cap=1, role=role)
    assert res.ephemeral
    assert "haven't checked in since the last ping" in res.content
    assert "at most **1** members" in res.content and f"<@&{role.id}>" in res.content

    ping = await run_the_ping(w)
    first = min(w.alice.id, carol.id)
    assert [m["id"] for m in ping["mentions"]] == [str(first)]
    assert ping["mention_roles"] == [str(role.id)]
    assert ping["allowed_mentions"] == {"parse": [], "users": [first], "roles": [role.id]}
    assert ping["content"].endswith(f"…and **1** more member who haven't checked in since the last ping: <@&{role.id}>")
    assert f"<@{w.bob.id}>" not in ping["content"]


async def test_settings_ping_keeps_what_is_left_out_and_the_default_mentions_everyone_with_a_goal(w: World) -> None:
    await set_up_channels(w)
    await existing_since(w, NOW - timedelta(days=30))
    res = await w.invoke(w.admin, "settings ping", cap=5)
    assert "every member with an open goal" in res.content and "at most **5** members" in res.content
    res = await w.invoke(w.admin, "settings ping", cap=0)
    assert "**Cap**: none" in res.content and "**Role past the cap**: none" in res.content
    await w.invoke(w.alice, "goal add", text="a goal")
    await w.invoke(w.bob, "goal add", text="another")
    await w.invoke(w.bob, "checkin", note="progress")
    ping = await run_the_ping(w)
    assert sorted(int(m["id"]) for m in ping["mentions"]) == sorted([w.alice.id, w.bob.id])
    assert ping["mention_roles"] == [] and "roles" not in ping["allowed_mentions"]


@pytest.mark.parametrize("which", ["everyone", "managed"])
async def test_settings_ping_refuses_everyone_and_a_bots_role(w: World, which: str) -> None:
    # @everyone, or the bot's own role (managed by its integration).
    role = w.guild.everyone if which == "everyone" else next(r for r in w.guild.roles.values() if r.managed)
    res = await w.invoke(w.admin, "settings ping", cap=1, role=role)
    assert res.ephemeral and "not @everyone or a bot's role" in res.content
    assert "went wrong" not in res.content
    assert await ping_settings(w) == PingSettings()


async def test_settings_ping_is_for_admins(w: World) -> None:
    w.fake.allow_everyone(w.guild, "settings")
    res = await w.invoke(w.bob, "settings ping", who="quiet")
    assert res.ephemeral and "Manage Server" in res.content
    assert await ping_settings(w) == PingSettings()


async def test_a_run_missed_while_down_is_caught_up_at_start(w: World) -> None:
    await set_up_channels(w)
    await existing_since(w, NOW - timedelta(days=30))
    await w.invoke(w.alice, "goal add", text="keep the streak")
    await w.invoke(w.admin, "settings schedule", weekday="tuesday", time="06:00", timezone="UTC")
    await w.stop_bot()
    w.clock.advance(timedelta(hours=21))  # Tuesday 09:00: three hours late
    await w.start_bot()
    (ping,) = await w.wait_for_posts(w.guild.channel_named("accountability"), 1)
    assert [m["id"] for m in ping["mentions"]] == [str(w.alice.id)]
    await w.wait_for_posts(w.guild.channel_named("digest"), 1)
    assert await job_runs(w) == [
        ("ping", "2026-W47", "skipped"),
        ("digest", "2026-W47", "skipped"),
        ("ping", "2026-W48", "done"),
        ("digest", "2026-W48", "done"),
    ]


async def test_a_run_missed_by_more_than_12_hours_is_skipped(w: World) -> None:
    await set_up_channels(w)
    await existing_since(w, NOW - timedelta(days=30))
    await w.invoke(w.alice, "goal add", text="keep the streak")
    await w.invoke(w.admin, "settings schedule", weekday="tuesday", time="06:00", timezone="UTC")
    await w.restart_bot(before_start=lambda: w.clock.advance(timedelta(hours=31)))  # Tuesday 19:00
    assert (await job_runs(w))[2:] == [("ping", "2026-W48", "skipped"), ("digest", "2026-W48", "skipped")]
    await asyncio.sleep(0.3)
    assert w.fake.messages_in(w.guild.channel_named("accountability"), include_interactions=False) == []
    assert w.fake.messages_in(w.guild.channel_named("digest"), include_interactions=False) == []


async def test_streak_at_risk_dm_once_per_period(w: World) -> None:
    await settings.set_streak_dms(w.sessionmaker, w.guild.id, w.alice.id, True)  # /me streak-dms enabled:true
    await settings.set_streak_dms(w.sessionmaker, w.guild.id, w.bob.id, False)
    async with transaction(w.sessionmaker) as session:
        for member in (w.alice, w.bob):
            session.add(
                Activity(
                    guild_id=w.guild.id,
                    user_id=member.id,
                    kind="checkin",
                    ref="last-week",
                    local_date=date(2026, 11, 18),
                    created_at=datetime(2026, 11, 18, 12, tzinfo=UTC),
                )
            )
    scheduler = scheduler_of(w)
    assert await scheduler.send_streak_dms() == []  # Monday: the week ends in six and a half days
    w.clock.advance(timedelta(days=6))  # Sunday noon: it ends at midnight
    (queued,) = await scheduler.send_streak_dms()
    assert queued.user_id == w.alice.id
    assert await scheduler.send_streak_dms() == []
    (dm,) = await eventually(lambda: w.fake.dms_to(w.alice))
    assert dm["content"].startswith("🔥 Your 1-week streak in **Builders** is at risk: this week ends <t:")
    assert dm["mentions"] == [] and dm["allowed_mentions"]["parse"] == []
    await asyncio.sleep(0.3)
    assert len(w.fake.dms_to(w.alice)) == 1
    assert w.fake.dms_to(w.bob) == []


async def ping_settings(w: World) -> PingSettings:
    """The server's ping settings, as the weekly run reads them from its row."""
    async with reading(w.sessionmaker) as session:
        guild = await session.get(Guild, w.guild.id)
        return PingSettings.of(guild) if guild is not None else PingSettings()
