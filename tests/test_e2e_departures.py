"""Shiplog removed from a server and invited back, and members leaving and rejoining, as admins and
members see it: what is posted (and not), the weekly ping's mentions, DMs and public pages."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from bot.db.models import Guild, JobRun, Member, OutboxMessage
from bot.db.session import reading, transaction
from bot.playground.fake_discord import INTENT_GUILD_MEMBERS, FakeDiscordError
from bot.services import guilds
from bot.services.outbox import GONE_ERROR
from tests.conftest import NOW
from tests.harness import World, eventually, world
from tests.test_e2e_pages import free_port, get, open_page
from tests.test_e2e_rhythm import scheduler_of


@asynccontextmanager
async def departures_world(db_url: str, **settings: Any) -> AsyncIterator[World]:
    """The usual server with accountability and digest channels, public pages on, and a weekly run
    on Mondays at 13:00 UTC (an hour after NOW)."""
    async with world(db_url, start=False) as w:
        w.fake.add_text_channel(w.guild, "accountability")
        w.fake.add_text_channel(w.guild, "digest")
        port = free_port()
        await w.start_bot(http_port=port, public_url=f"http://127.0.0.1:{port}", **settings)
        for purpose in ("accountability", "digest"):
            await w.invoke(w.admin, "settings channel", purpose=purpose, channel=w.guild.channel_named(purpose))
        await w.invoke(w.admin, "settings channel", purpose="goals", channel=w.goals)
        await w.invoke(w.admin, "settings schedule", weekday="monday", time="13:00", timezone="UTC")
        await w.invoke(w.admin, "settings pages", enabled=True)
        async with transaction(w.sessionmaker) as session:  # a server older than the runs the tests look at
            (await session.get(Guild, w.guild.id)).created_at = NOW - timedelta(days=30)
        yield w


async def fire_weekly(w: World) -> Any:
    """Fire the server's weekly job as APScheduler would at its time; return its result."""
    job = await eventually(lambda: scheduler_of(w).job(w.guild.id))
    assert job is not None, "no weekly job"
    return await job.func(*job.args)


def pings(w: World) -> list[dict]:
    channel = w.guild.channel_named("accountability")
    return [p for p in w.fake.messages_in(channel, include_interactions=False) if p["content"].startswith("📣")]


async def stored(w: World, model: type, *key: int) -> Any:
    async with reading(w.sessionmaker) as session:
        return await session.get(model, key if len(key) > 1 else key[0])


async def test_a_removed_bot_posts_nothing_more_runs_nothing_and_its_pages_404_until_reinvited(db_url: str) -> None:
    async with departures_world(db_url) as w:
        await w.invoke(w.alice, "goal add", text="ship the beta")
        await w.wait_for_posts(w.goals, 1)
        url = await open_page(w, w.alice)
        assert (await get(url))[0] == 200

        # A backlog: this process is not sending (another one does, or it is behind); bob's
        # announcement waits in the outbox.
        posts_to_goals = rf"/channels/{w.goals.id}/messages"
        await w.bot.workers.outbox.hand_back()
        await w.invoke(w.bob, "goal add", text="bob's goal")
        async with reading(w.sessionmaker) as session:
            (waiting,) = await session.scalars(select(OutboxMessage).where(OutboxMessage.status == "pending"))
        tried = len(w.fake.requests_to("POST", posts_to_goals))

        await w.fake.remove_bot(w.guild)  # an admin kicks Shiplog
        assert await eventually(lambda: _left(w))
        row = await stored(w, OutboxMessage, waiting.id)
        assert (row.status, row.last_error) == ("failed", GONE_ERROR)  # settled, not retried for ever
        assert await eventually(lambda: scheduler_of(w).job(w.guild.id) is None)
        assert (await get(url))[0] == 404  # the admins can no longer turn it off: it is off
        await w.bot.workers.outbox.start(w.bot)  # sending again

        w.clock.advance(timedelta(hours=1, minutes=1))  # Monday 13:01: the weekly run's time
        await w.bot.workers.outbox.deliver_due()
        assert len(w.fake.requests_to("POST", posts_to_goals)) == tried  # the retry never went out
        result = await scheduler_of(w).run_guild(w.guild.id)  # as a job still in APScheduler would
        assert result.outcomes == ()
        assert await scheduler_of(w).sync() == []  # nothing to catch up either
        assert pings(w) == []

        w.clock.advance(timedelta(hours=2))  # Monday 15:01: invited back
        await w.fake.invite_bot(w.guild)
        assert await eventually(lambda: _left(w, gone=False))
        assert await eventually(lambda: scheduler_of(w).job(w.guild.id))
        assert (await get(url))[0] == 200  # all its data was kept: the same address works again
        await scheduler_of(w).sync()
        await asyncio.sleep(0.3)
        assert pings(w) == []  # this Monday's run, missed while away, is not posted hours late
        async with reading(w.sessionmaker) as session:
            runs = {(r.job, r.status) for r in await session.scalars(select(JobRun))}
        assert runs == {("ping", "skipped"), ("digest", "skipped")}

        w.clock.advance(timedelta(weeks=1) - timedelta(hours=2))  # next Monday 13:01
        assert (await fire_weekly(w)).outcome("ping").status == "done"
        (ping,) = await eventually(lambda: pings(w))
        assert f"<@{w.alice.id}>" in ping["content"] and f"<@{w.bob.id}>" in ping["content"]
        assert len(w.fake.requests_to("POST", posts_to_goals)) == tried  # the settled row stays settled


async def _left(w: World, *, gone: bool = True) -> bool:
    guild = await stored(w, Guild, w.guild.id)
    return (guild.left_at is not None) == gone


async def test_a_server_removed_while_the_bot_was_offline_is_marked_gone_at_start(db_url: str) -> None:
    async with departures_world(db_url) as w:
        other = w.fake.add_guild(name="Other")
        channel = w.fake.add_text_channel(other, "ship")
        await w.fake.invite_bot(other)
        # What /settings channel there stores (commands sync to DEV_GUILD_ID only in tests).
        await guilds.set_channel(
            w.sessionmaker, guild_id=other.id, purpose="accountability", channel_id=channel.id, now=w.clock()
        )
        assert await stored(w, Guild, other.id) is not None

        await w.stop_bot()
        w.fake.guilds.pop(other.id)  # removed while no process was connected: no GUILD_DELETE heard
        await w.start_bot()

        async def other_gone() -> bool:
            return (await stored(w, Guild, other.id)).left_at is not None

        assert await eventually(other_gone)
        assert (await stored(w, Guild, w.guild.id)).left_at is None  # the server it is still in is untouched
        assert scheduler_of(w).job(other.id) is None and scheduler_of(w).job(w.guild.id) is not None


async def test_a_member_who_leaves_is_not_mentioned_nor_messaged_and_their_page_closes(db_url: str) -> None:
    async with departures_world(db_url, members_intent=True) as w:
        assert w.bot.intents.members
        await w.invoke(w.alice, "goal add", text="ship the beta")
        await w.invoke(w.bob, "goal add", text="bob's goal")
        await w.invoke(w.alice, "checkin", note="wrote the docs")
        await w.invoke(w.alice, "me recap-dms", enabled=True)
        url = await open_page(w, w.alice)
        assert (await get(url))[0] == 200

        await w.fake.member_leave(w.alice)

        async def alice_left() -> bool:
            member = await stored(w, Member, w.guild.id, w.alice.id)
            return member is not None and member.left_at is not None

        assert await eventually(alice_left)
        assert (await get(url))[0] == 404  # closed at once, as opting out does

        w.clock.advance(timedelta(hours=1, minutes=1))  # Monday 13:01
        assert (await fire_weekly(w)).outcome("digest").status == "done"
        (ping,) = await eventually(lambda: pings(w))
        assert f"<@{w.bob.id}>" in ping["content"] and f"<@{w.alice.id}>" not in ping["content"]
        assert ping["allowed_mentions"]["users"] == [w.bob.id]
        await w.wait_for_posts(w.guild.channel_named("digest"), 1)
        await w.bot.workers.outbox.deliver_due()
        assert w.fake.dms_to(w.alice) == []  # no recap DM
        async with reading(w.sessionmaker) as session:  # their goals and history stay
            member = await session.get(Member, (w.guild.id, w.alice.id))
        assert member.recap_dms

        await w.fake.member_rejoin(w.alice)
        assert await eventually(lambda: _not(alice_left))
        w.clock.advance(timedelta(weeks=1))
        assert (await fire_weekly(w)).outcome("ping").status == "done"
        later = await eventually(lambda: len(pings(w)) == 2 and pings(w))
        assert f"<@{w.alice.id}>" in later[1]["content"] and f"<@{w.bob.id}>" in later[1]["content"]
        assert (await get(url))[0] == 404  # the page stays closed until alice opens it again
        (dm,) = await eventually(lambda: w.fake.dms_to(w.alice), timeout=10)  # recap DMs again
        assert "**Builders**" in dm["content"]


async def _not(check: Any) -> bool:
    return not await check()


async def test_without_the_members_intent_a_leave_never_arrives_and_nothing_changes(db_url: str) -> None:
    async with departures_world(db_url) as w:
        assert not w.bot.intents.members  # MEMBERS_INTENT defaults to false: no privileged intent asked
        assert not any(s.intents & INTENT_GUILD_MEMBERS for s in w.fake._sessions.values())
        await w.invoke(w.alice, "goal add", text="ship the beta")
        url = await open_page(w, w.alice)
        await w.fake.member_leave(w.alice)
        await asyncio.sleep(0.3)
        assert (await get(url))[0] == 200
        member = await stored(w, Member, w.guild.id, w.alice.id)
        assert member is None or member.left_at is None
        w.clock.advance(timedelta(hours=1, minutes=1))
        await fire_weekly(w)
        (ping,) = await eventually(lambda: pings(w))
        assert f"<@{w.alice.id}>" in ping["content"]


async def test_without_the_intent_an_admin_tells_shiplog_a_member_left_and_that_they_are_back(db_url: str) -> None:
    async with departures_world(db_url) as w:
        await w.invoke(w.alice, "goal add", text="ship the beta")
        await w.invoke(w.bob, "goal add", text="bob's goal")
        url = await open_page(w, w.alice)

        with pytest.raises(FakeDiscordError, match="cannot see /settings member-left"):  # hidden from members
            await w.invoke(w.bob, "settings member-left", member=w.alice)
        still_here = await w.invoke(w.admin, "settings member-left", member=w.alice)
        assert still_here.ephemeral and "still in this server" in still_here.content
        assert (await get(url))[0] == 200

        await w.fake.member_leave(w.alice)  # no event reaches the bot without the intent
        stranger = w.fake.add_user("stranger")
        nothing = await w.invoke(w.admin, "settings member-left", member=stranger)
        assert "nothing stored for stranger" in nothing.content
        noted = await w.invoke(w.admin, "settings member-left", member=w.alice)
        assert noted.ephemeral and "no longer mention alice" in noted.content and "page is closed" in noted.content
        assert noted.allowed_mentions["parse"] == []  # a display name never pings anyone
        assert (await get(url))[0] == 404

        w.clock.advance(timedelta(hours=1, minutes=1))  # Monday 13:01
        await fire_weekly(w)
        (ping,) = await eventually(lambda: pings(w))
        assert f"<@{w.bob.id}>" in ping["content"] and f"<@{w.alice.id}>" not in ping["content"]

        back = await w.invoke(w.admin, "settings member-left", member=w.alice, left=False)
        assert "Welcome back to alice" in back.content
        again = await w.invoke(w.admin, "settings member-left", member=w.alice, left=False)
        assert "isn't marked as gone" in again.content
        w.clock.advance(timedelta(weeks=1))
        await fire_weekly(w)
        later = await eventually(lambda: len(pings(w)) == 2 and pings(w))
        assert f"<@{w.alice.id}>" in later[1]["content"]
