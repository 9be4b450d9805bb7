"""The outbox: every message the bot owes is a row, written with whatever caused it.

A sender (cogs/delivery.py) claims due rows, posts them and marks them sent. A crash between the
post and the mark is covered by a Discord nonce derived from the row id (Discord answers a repeated
nonce with the message it already made, for a few minutes), so a retried post is not shown twice.
A process that stays down longer than that window between the post and the mark can post once
more: past the nonce window, delivery is at least once, never lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import OutboxMessage
from bot.db.session import transaction

# How long a claimed row is left alone before another attempt (a crash mid-send, say) may take it.
CLAIM_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(minutes=30)
MAX_ATTEMPTS = 50
MAX_FOLD = 1000


async def enqueue(
    session: AsyncSession,
    *,
    guild_id: int | None,
    channel_id: int | None,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    fold_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message in the caller's transaction; with a dedupe key seen before, queue nothing.

    Rows sharing a `fold_key` that are due together are posted as one message.
    """
    if dedupe_key is not None:
        seen = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if seen is not None:
            return None
    row = message(
        guild_id=guild_id,
        channel_id=channel_id,
        kind=kind,
        data=data,
        now=now,
        dedupe_key=dedupe_key,
        fold_key=fold_key,
        not_before=not_before,
    )
    session.add(row)
    await session.flush()
    return row


def message(
    *,
    guild_id: int | None,
    channel_id: int | None,
    kind: str,
    data: dict[str, Any],
    now: datetime,
    dedupe_key: str | None = None,
    fold_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Build an outbox row (for `enqueue_many`)."""
    return OutboxMessage(
        guild_id=guild_id,
        channel_id=channel_id,
        kind=kind,
        data=data,
        dedupe_key=dedupe_key,
        fold_key=fold_key,
        next_attempt_at=not_before or now,
        created_at=now,
    )


async def enqueue_many(session: AsyncSession, rows: Sequence[OutboxMessage]) -> None:
    """Queue many rows in one flush, for callers that already guard against queueing twice.

    No dedupe lookups: a repeated dedupe key fails the whole transaction on the unique index.
    """
    session.add_all(rows)
    await session.flush()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A row the sender holds for one attempt."""

    id: int
    guild_id: int | None
    channel_id: int | None
    kind: str
    data: dict[str, Any]
    attempts: int
    fold_key: str | None = None


async def claim_due(sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, limit: int = 20) -> list[Claimed]:
    """Claim up to `limit` due rows, oldest first, with every pending row of their fold groups.

    Claiming pushes a row's next attempt past a lease, so a crash mid-send retries it later.
    """
    async with transaction(sessionmaker) as session:
        rows = list(
            (
                await session.scalars(
                    select(OutboxMessage)
                    .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
                    .order_by(OutboxMessage.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ).all()
        )
        # A fold group's window opens with its first row, and its members are fixed when it is
        # first claimed: new rows join a fresh group (attempts 0), never one being retried, whose
        # nonce must keep naming the same message.
        heads: dict[str, int] = {}
        for row in rows:
            if row.fold_key is not None:
                heads.setdefault(row.fold_key, row.attempts)
        if heads:
            seen = {row.id for row in rows}
            more = await session.scalars(
                select(OutboxMessage)
                .where(OutboxMessage.status == "pending", OutboxMessage.fold_key.in_(heads))
                .order_by(OutboxMessage.id)
                .limit(MAX_FOLD)
                .with_for_update(skip_locked=True)
            )
            joining = [
                row
                for row in more
                if row.id not in seen
                and row.attempts == heads[row.fold_key]
                and (row.attempts == 0 or row.next_attempt_at <= now)
            ]
            rows = sorted([*rows, *joining], key=lambda row: row.id)
        claimed = []
        for row in rows:
            row.next_attempt_at = now + CLAIM_LEASE
            row.attempts += 1
            claimed.append(
                Claimed(row.id, row.guild_id, row.channel_id, row.kind, dict(row.data), row.attempts, row.fold_key)
            )
    return claimed


async def mark_sent(
    sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, message_id: int | None, now: datetime
) -> None:
    """Record that the rows' message was posted (one message for a folded group)."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(status="sent", sent_at=now, message_id=message_id, last_error=None)
        )


async def mark_retry(
    sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, attempts: int, error: str, now: datetime
) -> datetime | None:
    """Leave the rows for a later attempt with exponential backoff; give up after MAX_ATTEMPTS."""
    if attempts >= MAX_ATTEMPTS:
        await mark_failed(sessionmaker, ids, error=f"gave up after {attempts} attempts: {error}")
        return None
    when = now + min(timedelta(seconds=2 ** min(attempts, 12)), MAX_BACKOFF)
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(next_attempt_at=when, last_error=error[:500])
        )
    return when


async def mark_failed(sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, error: str) -> None:
    """Record that the rows can never be delivered, and why."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(status="failed", last_error=error[:500])
        )


async def next_due(sessionmaker: async_sessionmaker[AsyncSession]) -> datetime | None:
    """Return when the earliest pending row is due, if any."""
    async with transaction(sessionmaker) as session:
        return await session.scalar(
            select(OutboxMessage.next_attempt_at)
            .where(OutboxMessage.status == "pending")
            .order_by(OutboxMessage.next_attempt_at)
            .limit(1)
        )


async def release(sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, until: datetime) -> None:
    """Give back claimed rows without counting an attempt, to wait for an earlier message's retry."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(next_attempt_at=until, attempts=OutboxMessage.attempts - 1)
        )
