"""Forgetting a member scrubs shared messages; a new rest keeps the days already rested."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from bot.db.models import OutboxMessage, RestPeriod
from bot.db.session import transaction
from bot.services import guilds, messages, outbox, privacy
from bot.services.rhythm import checkins
from tests.conftest import NOW

GUILD, ALICE, BOB = 1000, 11, 22


async def test_forget_removes_the_member_from_a_pending_ping_and_the_digest(sessionmaker) -> None:
    content = f"**How is it going?**\n<@{ALICE}>\n• `#1` alice's secret goal\n<@{BOB}>\n• `#2` bob's goal"
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        await outbox.enqueue(
            session, messages.Ping(content=content, user_ids=(ALICE, BOB)), guild_id=GUILD, channel_id=1, now=NOW
        )
        finished = (messages.DigestGoal(ALICE, 1, "alice's secret goal"), messages.DigestGoal(BOB, 2, "b"))
        await outbox.enqueue(
            session, messages.Digest(goals_finished=2, goals=finished), guild_id=GUILD, channel_id=2, now=NOW
        )
        # A row of a kind this version does not know (say, from a newer one) about alice alone: deleted whole.
        session.add(
            OutboxMessage(
                nonce=outbox.new_nonce(),
                guild_id=GUILD,
                channel_id=3,
                kind="only.alice",
                data={"user_ids": [ALICE], "content": "x"},
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
    await privacy.forget(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW)
    async with transaction(sessionmaker) as session:
        rows = {row.kind: row.data for row in await session.scalars(select(OutboxMessage))}
    assert set(rows) == {"rhythm.ping", "rhythm.digest"}  # the ping for alice alone is gone
    assert rows["rhythm.ping"] == {"content": f"**How is it going?**\n<@{BOB}>\n• `#2` bob's goal", "user_ids": [BOB]}
    assert rows["rhythm.digest"]["goals"] == {
        "set": 0,
        "finished": 2,  # the server's count stays: only what names alice goes
        "latest_finished": [{"user_id": BOB, "number": 2, "text": "b"}],
    }


async def test_a_new_rest_keeps_the_days_already_rested(sessionmaker) -> None:
    await checkins.start_rest(sessionmaker, guild_id=GUILD, user_id=ALICE, weeks=4, now=NOW)
    later = NOW + timedelta(days=10)
    start, end = await checkins.start_rest(sessionmaker, guild_id=GUILD, user_id=ALICE, weeks=1, now=later)
    async with transaction(sessionmaker) as session:
        rests = [(r.start, r.end) for r in await session.scalars(select(RestPeriod).order_by(RestPeriod.start))]
    assert rests == [(date(2026, 11, 23), date(2026, 12, 2)), (date(2026, 12, 3), date(2026, 12, 9))]
    assert (start, end) == (date(2026, 12, 3), date(2026, 12, 9))


async def test_forget_takes_the_member_out_of_a_ping_of_mentions(sessionmaker) -> None:
    carol = 33
    content = (
        f"📣 header\n-# legend\n🔥3 <@{ALICE}> ⏳ <@{BOB}>\n🔥1 <@{ALICE + 100}>\n<@{carol}> <@{ALICE}>\n"
        "…and **9** more"
    )
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        ping = messages.Ping(content=content, user_ids=(ALICE, BOB, ALICE + 100, carol), role_ids=(7,))
        await outbox.enqueue(session, ping, guild_id=GUILD, channel_id=1, now=NOW)
    await privacy.forget(sessionmaker, guild_id=GUILD, user_id=ALICE, now=NOW)
    async with transaction(sessionmaker) as session:
        (row,) = await session.scalars(select(OutboxMessage))
    assert row.data["user_ids"] == [BOB, ALICE + 100, 33]
    assert (
        row.data["content"] == f"📣 header\n-# legend\n🔥3 <@{BOB}>\n🔥1 <@{ALICE + 100}>\n<@{carol}>\n…and **9** more"
    )
    assert row.data["role_ids"] == [7]


async def test_forget_takes_the_member_out_of_an_edit_still_owed(sessionmaker) -> None:
    """An edit queued by an earlier /me forget (a ping without alice) still names bob and carol:
    bob's forget takes him out of it too, and carol's leaves nobody, so it goes."""
    carol = 33
    ping = messages.Ping(content=f"📣 header\n<@{BOB}> <@{carol}>", user_ids=(BOB, carol))
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        edit = messages.DiscordEdit(channel_id=1, message_id=2, message=ping)
        await outbox.enqueue(session, edit, guild_id=GUILD, channel_id=1, now=NOW)
    await privacy.forget(sessionmaker, guild_id=GUILD, user_id=BOB, now=NOW)
    async with transaction(sessionmaker) as session:
        (row,) = await session.scalars(select(OutboxMessage))
    assert row.data["data"] == {"content": f"📣 header\n<@{carol}>", "user_ids": [carol]}
    await privacy.forget(sessionmaker, guild_id=GUILD, user_id=carol, now=NOW)
    async with transaction(sessionmaker) as session:
        assert list(await session.scalars(select(OutboxMessage))) == []
