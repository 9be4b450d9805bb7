"""The outbox: every message the bot owes is a row, written with whatever caused it.

A sender (bot/workers/outbox.py) claims due rows, posts them and marks them sent. A crash between the
post and the mark is covered by the row's nonce, random and stored with it (Discord answers a
repeated nonce with the message it already made, for a few minutes), so a retried post is not
shown twice. A process that stays down longer than that window between the post and the mark can
post once more: past the nonce window, delivery is at least once, never lost.

A claim is a short lease (CLAIM_LEASE) that the sender renews while it works on the rows, however
long Discord makes it wait: a claim outlives its send, and rows claimed by a process that died are
taken up again within seconds.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, true, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import OutboxMessage
from bot.db.session import changed_rows, reading, transaction
from bot.services import audience
from bot.services.messages import Message, UnknownKind, decode

log = logging.getLogger(__name__)

# How long a claimed row is left alone before another attempt (a crash mid-send, say) may take it;
# the sender renews it every RENEW_EVERY while it still works on the row.
CLAIM_LEASE = timedelta(seconds=5)
RENEW_EVERY = timedelta(seconds=1.5)
MAX_BACKOFF = timedelta(minutes=30)
MAX_ATTEMPTS = 50
# A message that fails with an error nobody expected (a bug, bad data) is tried this often, then failed.
MAX_UNEXPECTED_ATTEMPTS = 5
MAX_FOLD = 1000
# Why a message of a server Shiplog was removed from is settled unsent (a re-invited server's admins
# can still retry it from /settings show). The rule and its words belong to the audience module.
GONE_ERROR = audience.GONE_ERROR


def new_nonce() -> str:
    """Return a nonce no other message has had: 'shiplog-' and 56 random bits (Discord allows 25 characters)."""
    return f"shiplog-{secrets.token_hex(7)}"


async def enqueue(
    session: AsyncSession,
    message: Message,
    *,
    guild_id: int | None,
    channel_id: int | None,
    now: datetime,
    dedupe_key: str | None = None,
    fold_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage | None:
    """Queue a message in the caller's transaction; with a dedupe key seen before, queue nothing.

    Rows sharing a `fold_key` that are due together are posted as one message (kinds that fold only).
    """
    if fold_key is not None and not message.FOLDS:
        raise ValueError(f"messages of kind {message.KIND!r} are drawn one by one: no fold_key")
    if dedupe_key is not None:
        seen = await session.scalar(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == dedupe_key))
        if seen is not None:
            return None
    row = row_for(
        message,
        guild_id=guild_id,
        channel_id=channel_id,
        now=now,
        dedupe_key=dedupe_key,
        fold_key=fold_key,
        not_before=not_before,
    )
    session.add(row)
    await session.flush()
    return row


def values_for(
    message: Message,
    *,
    guild_id: int | None,
    channel_id: int | None,
    now: datetime,
    dedupe_key: str | None = None,
    fold_key: str | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """Return the column values of an outbox row for `message` (for a bulk insert)."""
    return {
        "nonce": new_nonce(),
        "guild_id": guild_id,
        "channel_id": channel_id,
        "kind": message.KIND,
        "data": message.encode(),
        "dedupe_key": dedupe_key,
        "fold_key": fold_key,
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
    }


def row_for(
    message: Message,
    *,
    guild_id: int | None,
    channel_id: int | None,
    now: datetime,
    dedupe_key: str | None = None,
    fold_key: str | None = None,
    not_before: datetime | None = None,
) -> OutboxMessage:
    """Build an outbox row for `message` (for `enqueue_many`)."""
    return OutboxMessage(
        **values_for(
            message,
            guild_id=guild_id,
            channel_id=channel_id,
            now=now,
            dedupe_key=dedupe_key,
            fold_key=fold_key,
            not_before=not_before,
        )
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
    nonce: str = ""


def _not_in(channels: Collection[int]) -> Any:
    """Rows for none of these channels (rows with no channel, such as DMs, always qualify)."""
    if not channels:
        return true()
    return or_(OutboxMessage.channel_id.is_(None), OutboxMessage.channel_id.not_in(channels))


async def claim_due(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    now: datetime,
    limit: int = 20,
    skip_channels: Collection[int] = (),
) -> list[Claimed]:
    """Claim up to `limit` due rows, oldest first, with every pending row of their fold groups.

    Claiming pushes a row's next attempt past a short lease, which the sender renews while it works,
    so a crash mid-send retries it within seconds. Rows for `skip_channels` (channels this sender is
    busy with) are left for later.
    """
    async with transaction(sessionmaker) as session:
        rows = list(
            (
                await session.scalars(
                    select(OutboxMessage)
                    .where(
                        OutboxMessage.status == "pending",
                        OutboxMessage.next_attempt_at <= now,
                        _not_in(skip_channels),
                    )
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
                and row.fold_key in heads  # always true (the query asked for these keys): narrows the key to str
                and row.attempts == heads[row.fold_key]
                and (row.attempts == 0 or row.next_attempt_at <= now)
            ]
            rows = sorted([*rows, *joining], key=lambda row: row.id)
        rows = await _settle_gone(session, rows)
        claimed = []
        for row in rows:
            row.next_attempt_at = now + CLAIM_LEASE
            row.attempts += 1
            claimed.append(
                Claimed(
                    row.id,
                    row.guild_id,
                    row.channel_id,
                    row.kind,
                    dict(row.data),
                    row.attempts,
                    row.fold_key,
                    row.nonce or f"shiplog-{row.id}",
                )
            )
    return claimed


async def _settle_gone(session: AsyncSession, rows: list[OutboxMessage]) -> list[OutboxMessage]:
    """Fail the rows of servers Shiplog was removed from (queued after it left, by a webhook say):
    posting them could only meet 403s and 404s. Return the others."""
    gone = await audience.gone_guilds(session, {row.guild_id for row in rows if row.guild_id is not None})
    if not gone:
        return rows
    kept = []
    for row in rows:
        if row.guild_id in gone:
            row.status, row.last_error = "failed", GONE_ERROR
        else:
            kept.append(row)
    return kept


@dataclass(frozen=True, slots=True)
class Addressed:
    """A claimed row the audience allows, with its message as it may be drawn (maybe without some members)."""

    row: Claimed
    message: Message


async def address(sessionmaker: async_sessionmaker[AsyncSession], rows: Sequence[Claimed]) -> list[Addressed]:
    """Ask the audience about every row's subjects, right before drawing them: the one check that
    every message passes, whichever path queued it.

    A row about a member who may not be addressed is settled (failed, with the reason, so /settings
    show can tell); a message about several (the ping, the digest) is kept without them, unless
    nobody is left. A row of a kind this version cannot read is failed. Return what may be sent.
    """
    kept: list[Addressed] = []
    settled: dict[str, list[int]] = {}
    # A read (no write lock): only a row to settle needs a write, and that is rare.
    async with reading(sessionmaker) as session:
        gone = await audience.gone_guilds(session, {row.guild_id for row in rows if row.guild_id is not None})
        for row in rows:
            if row.guild_id in gone:
                settled.setdefault(GONE_ERROR, []).append(row.id)
                continue
            try:
                message = decode(row.kind, row.data)
            except UnknownKind:
                settled.setdefault(f"no cog handles messages of kind {row.kind!r}", []).append(row.id)
                continue
            except Exception as exc:  # a payload no version could have written: fail it, never loop on it
                log.exception("could not read outbox row %s (%s)", row.id, row.kind)
                settled.setdefault(f"could not read the message: {exc!r}", []).append(row.id)
                continue
            refused = await audience.refusals(session, row.guild_id, message.subjects())
            allowed = message.without(refused.keys()) if refused else message
            if allowed is None:
                settled.setdefault(sorted(set(refused.values()))[0], []).append(row.id)
                continue
            kept.append(Addressed(row, allowed))
    if settled:
        async with transaction(sessionmaker) as session:
            for error, ids in settled.items():
                await session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
                    .values(status="failed", last_error=error[:500])
                )
    return kept


async def renew(sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, now: datetime) -> None:
    """Extend the lease of rows the sender still works on (those not yet sent, failed or rescheduled)."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage)
            .where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == "pending",
                OutboxMessage.next_attempt_at < now + CLAIM_LEASE,  # never shortens a backoff set meanwhile
            )
            .values(next_attempt_at=now + CLAIM_LEASE)
        )


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
    sessionmaker: async_sessionmaker[AsyncSession],
    ids: Sequence[int],
    *,
    attempts: int,
    error: str,
    now: datetime,
    max_attempts: int = MAX_ATTEMPTS,
) -> datetime | None:
    """Leave the rows for a later attempt with exponential backoff; give up after `max_attempts`."""
    if attempts >= max_attempts:
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


async def next_due(
    sessionmaker: async_sessionmaker[AsyncSession], *, skip_channels: Collection[int] = ()
) -> datetime | None:
    """Return when the earliest pending row is due, if any (rows for `skip_channels` left out)."""
    async with reading(sessionmaker) as session:
        return await session.scalar(
            select(OutboxMessage.next_attempt_at)
            .where(OutboxMessage.status == "pending", _not_in(skip_channels))
            .order_by(OutboxMessage.next_attempt_at)
            .limit(1)
        )


async def release(sessionmaker: async_sessionmaker[AsyncSession], ids: Sequence[int], *, until: datetime) -> None:
    """Give back claimed rows without counting an attempt: due at `until` (an earlier message's retry, or now
    when the sender stops). Rows sent or failed meanwhile are left as they are."""
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids), OutboxMessage.status == "pending")
            .values(next_attempt_at=until, attempts=OutboxMessage.attempts - 1)
        )


async def retry_failed(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, now: datetime, channel_id: int | None = None
) -> int:
    """Give the server's failed messages (those for one channel, if given) a fresh start; return how many."""
    async with transaction(sessionmaker) as session:
        conditions = [OutboxMessage.guild_id == guild_id, OutboxMessage.status == "failed"]
        if channel_id is not None:
            conditions.append(OutboxMessage.channel_id == channel_id)
        result = await session.execute(
            update(OutboxMessage).where(*conditions).values(status="pending", attempts=0, next_attempt_at=now)
        )
        return changed_rows(result)
