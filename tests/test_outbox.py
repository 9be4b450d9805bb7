"""The outbox's claiming rules, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import transaction
from bot.services import outbox
from cogs.delivery import units
from tests.conftest import NOW


async def queue(sessionmaker, n: int, *, fold: str | None = "relay:1", at=NOW, channel: int = 1) -> int:
    async with transaction(sessionmaker) as session:
        row = await outbox.enqueue(
            session,
            guild_id=None,
            channel_id=channel,
            kind="github.relay",
            data={"n": n},
            now=at,
            fold_key=fold,
            not_before=at + timedelta(seconds=2) if fold else None,
        )
        return row.id


async def test_a_burst_is_claimed_as_one_unit_from_its_first_row(sessionmaker) -> None:
    for n in range(5):
        await queue(sessionmaker, n, at=NOW + timedelta(milliseconds=300 * n))
    # When the first row is due, the later ones (not yet due themselves) join its unit.
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))
    assert [[r.data["n"] for r in unit] for unit in units(claimed)] == [[0, 1, 2, 3, 4]]


async def test_a_retried_unit_keeps_its_members_and_new_rows_start_a_new_one(sessionmaker) -> None:
    first = await queue(sessionmaker, 1)
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))
    assert [r.id for r in claimed] == [first]
    # The process dies after posting, before marking it sent; another relay arrives meanwhile.
    await queue(sessionmaker, 2, at=NOW + timedelta(seconds=5))
    later = NOW + timedelta(minutes=2)  # past the claim lease
    claimed = await outbox.claim_due(sessionmaker, now=later)
    groups = [[r.data["n"] for r in unit] for unit in units(claimed)]
    # The retry posts #1 alone (same nonce, so Discord shows it once); #2 is its own message.
    assert groups == [[1], [2]]


async def test_rows_held_by_another_claim_do_not_join(sessionmaker) -> None:
    await queue(sessionmaker, 1)
    await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))  # another process holds #1
    await queue(sessionmaker, 2, at=NOW + timedelta(seconds=1))
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=3))
    assert [r.data["n"] for r in claimed] == [2]


async def test_backoff_grows_and_gives_up_as_failed(sessionmaker) -> None:
    row = await queue(sessionmaker, 1, fold=None)
    first = await outbox.mark_retry(sessionmaker, [row], attempts=1, error="Discord answered 500", now=NOW)
    second = await outbox.mark_retry(sessionmaker, [row], attempts=5, error="Discord answered 500", now=NOW)
    assert first - NOW < second - NOW <= outbox.MAX_BACKOFF
    assert await outbox.mark_retry(sessionmaker, [row], attempts=outbox.MAX_ATTEMPTS, error="x", now=NOW) is None
    async with transaction(sessionmaker) as session:
        stored = await session.scalar(select(OutboxMessage))
    assert stored.status == "failed" and "gave up" in stored.last_error


async def test_dedupe_key_queues_once(sessionmaker) -> None:
    async with transaction(sessionmaker) as session:
        for _ in range(2):
            await outbox.enqueue(
                session, guild_id=None, channel_id=1, kind="x", data={}, now=NOW, dedupe_key="merged:1:a/b#1"
            )
    async with transaction(sessionmaker) as session:
        assert len((await session.scalars(select(OutboxMessage))).all()) == 1
