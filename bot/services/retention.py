"""Retention: what the database stops keeping once it has served its purpose.

Run daily by the scheduler (bot.workers.scheduler.RETENTION_JOB) with DELIVERY_RETENTION_DAYS. Every pass
works in short transactions of at most BATCH rows, so no write lock is held for long (on SQLite
one writer at a time: the webhook intake and the outbox sender wait at most one batch). Nothing
pending is ever touched: only deliveries processed, and messages sent, more than `days` ago.

Webhook deliveries (status done or failed, processed_at older than the window): the raw body
becomes b"". The row stays with its delivery id (the unique key that answers a redelivery with
200, duplicate, and stores nothing), its event, status, error and times, and its headers: they are
GitHub's own metadata (event, delivery and hook ids, user agent, content type: about 250 bytes, no
signature and nothing about a member), which is what is left to debug "which hook sent this".
Failed deliveries lose their body too: their error stays, and a delivery to replay can be
redelivered from GitHub's hook settings (GitHub keeps them for a few days only, so look early).

Outbox rows sent more than `days` ago. Failed rows are kept: /settings show lists them and
Retry failed can still send them, so they are messages still owed, not history. A sent row:

- naming no member (relays, the cleanup rows of an old /me forget) is deleted. Its dedupe key
  goes with it: the same relay could be posted again only if GitHub reported the same event again
  under a new delivery id after the window (repeated delivery ids are refused forever).
- naming members only through its top-level subject keys (a check-in, a goal, kudos, a
  celebration, a milestone, a DM, a role grant: the messages /me forget deletes whole) keeps
  its channel id, message id and dedupe key, and its data shrinks to those subject ids. /me
  forget still finds and deletes the post, and no celebration or milestone is queued twice.
- naming members inside its data (the weekly ping, the digest: /me forget edits them, re-drawing
  the message from its data without that member) is kept whole: one or two a week per server.

A pruned sent row has no nonce, which is how a pass tells it from one still to prune (the nonce
only matters for minutes after a post, and a sent row is never posted again).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import table_of
from bot.db.models import OutboxMessage, WebhookDelivery
from bot.db.session import transaction
from bot.services.privacy import PROCESSED, SUBJECT_KEYS

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True)
class Pruned:
    """What one retention pass did."""

    bodies: int = 0  # deliveries whose body was dropped
    deleted: int = 0  # sent outbox rows deleted
    slimmed: int = 0  # sent outbox rows cut down to their subject ids
    batches: int = 0  # transactions that changed something


def _names_member(value: Any) -> bool:
    # Whether any part of the data names a member (the privacy module's subject keys or a user_ids list).
    if isinstance(value, dict):
        return any(key in value for key in (*SUBJECT_KEYS, "user_ids")) or any(_names_member(v) for v in value.values())
    if isinstance(value, list):
        return any(_names_member(v) for v in value)
    return False


def slim(data: dict[str, Any]) -> dict[str, Any] | None:
    """Return what a sent row about members keeps of its data, or None to delete the row.

    Rows naming no member go (None). Rows naming members only through top-level subject keys keep
    those keys. Rows naming members deeper in (the weekly ping, the digest) keep all their data,
    returned unchanged: /me forget re-draws them without the member.
    """
    subjects = {key: data[key] for key in SUBJECT_KEYS if key in data}
    rest = {key: value for key, value in data.items() if key not in subjects}
    if _names_member(rest):
        return data
    return subjects or None


async def drop_delivery_bodies(
    sessionmaker: async_sessionmaker[AsyncSession], *, before: datetime, batch: int = BATCH
) -> tuple[int, int]:
    """Empty the body of deliveries processed before `before`; return (rows, batches)."""
    table = table_of(WebhookDelivery)
    total = batches = 0
    while True:
        async with transaction(sessionmaker) as session:
            ids = (
                await session.scalars(
                    select(table.c.id)
                    .where(
                        table.c.status.in_(PROCESSED),
                        table.c.processed_at < before,
                        func.length(table.c.body) > 0,
                    )
                    .order_by(table.c.id)
                    .limit(batch)
                )
            ).all()
            if not ids:
                return total, batches
            await session.execute(
                update(table)
                .where(table.c.id.in_(ids), table.c.status.in_(PROCESSED))  # never a row made pending again
                .values(body=b"")
            )
        total += len(ids)
        batches += 1


async def prune_sent_messages(
    sessionmaker: async_sessionmaker[AsyncSession], *, before: datetime, batch: int = BATCH
) -> tuple[int, int, int]:
    """Delete or slim outbox rows sent before `before` (see the module); return (deleted, slimmed, batches)."""
    table = table_of(OutboxMessage)
    deleted = slimmed = batches = 0
    while True:
        async with transaction(sessionmaker) as session:
            rows = (
                await session.execute(
                    select(table.c.id, table.c.data)
                    .where(table.c.status == "sent", table.c.sent_at < before, table.c.nonce.is_not(None))
                    .order_by(table.c.id)
                    .limit(batch)
                )
            ).all()
            if not rows:
                return deleted, slimmed, batches
            gone: list[int] = []
            kept: list[dict[str, Any]] = []
            for row in rows:
                data = slim(row.data if isinstance(row.data, dict) else {})
                if data is None:
                    gone.append(row.id)
                else:
                    kept.append({"row_id": row.id, "slim": data})
            if gone:
                await session.execute(delete(table).where(table.c.id.in_(gone), table.c.status == "sent"))
            if kept:
                await session.execute(
                    update(table)
                    .where(table.c.id == bindparam("row_id"), table.c.status == "sent")
                    .values(data=bindparam("slim"), nonce=None),
                    kept,
                )
        deleted += len(gone)
        slimmed += len(kept)
        batches += 1


async def prune(
    sessionmaker: async_sessionmaker[AsyncSession], *, days: int, now: datetime, batch: int = BATCH
) -> Pruned:
    """Drop processed delivery bodies and prune sent outbox rows older than `days` (the daily job)."""
    if days < 1:
        raise ValueError(f"the retention must be at least one day, not {days}")
    before = now - timedelta(days=days)
    bodies, body_batches = await drop_delivery_bodies(sessionmaker, before=before, batch=batch)
    deleted, slimmed, outbox_batches = await prune_sent_messages(sessionmaker, before=before, batch=batch)
    result = Pruned(bodies, deleted, slimmed, body_batches + outbox_batches)
    if bodies or deleted or slimmed:
        log.info(
            "retention (%d days): dropped %d delivery bodies, deleted %d and slimmed %d sent messages",
            days,
            bodies,
            deleted,
            slimmed,
        )
    return result
