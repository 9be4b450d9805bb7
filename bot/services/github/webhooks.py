"""GitHub webhook deliveries: verify, store before acknowledging, then hand out for processing.

The web handler (bot/web.py) checks the signature over the raw body, stores the delivery (through a
`DeliveryWriter`, which commits concurrent deliveries together) and only then answers GitHub. A
processor (bot/services/github/events.process_next) applies pending rows, each in one transaction
with the messages it queues; the raw body is kept, so a row can be replayed. GitHub's delivery id
(X-GitHub-Delivery) is unique: a redelivery is recognised and stored once. Pings are answered and
not stored: they carry no work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import WebhookDelivery
from bot.db.session import transaction

SIGNATURE_PREFIX = "sha256="
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = (JSON, FORM)
MAX_ERROR_LENGTH = 1000
# A group commit holds at most this many deliveries, or about this many bytes of bodies.
MAX_BATCH = 256
MAX_BATCH_BYTES = 32 * 1024**2


def _insert_new(dialect_insert: Any) -> Any:
    # ON CONFLICT DO NOTHING makes the unique delivery id the arbiter: concurrent identical deliveries
    # can neither both insert nor fail with an IntegrityError. RETURNING names the rows inserted.
    table = WebhookDelivery.__table__  # Core, not the ORM entity: no bulk-ORM bookkeeping per row
    return (
        dialect_insert(table)
        .on_conflict_do_nothing(index_elements=[table.c.delivery_id])
        .returning(table.c.delivery_id)
    )


_INSERT_NEW = {"sqlite": _insert_new(sqlite.insert), "postgresql": _insert_new(postgresql.insert)}


def verify_signature(secret: str, body: bytes, header: str | None) -> bool:
    """Return whether `header` is GitHub's X-Hub-Signature-256 of `body` under `secret`."""
    if not secret or not header:
        return False  # an empty secret would let anyone sign
    expected = SIGNATURE_PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry any byte.
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def decode_payload(content_type: str, body: bytes) -> dict[str, Any]:
    """Return the JSON object of a delivery sent as JSON or as a form's `payload` field; raise ValueError."""
    mime = content_type.partition(";")[0].strip().lower()
    if mime == JSON:
        text: str | bytes = body
    elif mime == FORM:
        # UnicodeDecodeError is a ValueError, as the caller expects.
        fields = parse_qs(body.decode(), keep_blank_values=True)
        if "payload" not in fields:
            raise ValueError("the form has no payload field")
        text = fields["payload"][0]
    else:
        raise ValueError(f"unsupported content type {content_type!r}")
    payload = json.loads(text)  # JSONDecodeError is a ValueError
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")
    return payload


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery to store: GitHub's id and event, the headers kept, and the raw body."""

    delivery_id: str
    event: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime


async def store_deliveries(
    sessionmaker: async_sessionmaker[AsyncSession], deliveries: Sequence[Delivery]
) -> list[bool]:
    """Store deliveries in one transaction and commit; return, for each, whether it was new.

    A delivery id seen before (in the database, or earlier in `deliveries`) is stored once: the
    first occurrence is new, the others are not.
    """
    firsts: dict[str, int] = {}
    for index, delivery in enumerate(deliveries):
        firsts.setdefault(delivery.delivery_id, index)
    if not firsts:
        return []
    rows = [
        {
            "delivery_id": delivery.delivery_id,
            "event": delivery.event,
            "headers": delivery.headers,
            "body": delivery.body,
            "status": "pending",
            "attempts": 0,
            "received_at": delivery.received_at,
        }
        for delivery in (deliveries[index] for index in firsts.values())
    ]
    async with transaction(sessionmaker) as session:
        dialect = session.get_bind().dialect.name
        statement = _INSERT_NEW.get(dialect)
        if statement is None:
            raise NotImplementedError(f"webhook storage supports SQLite and PostgreSQL, not {dialect}")
        inserted = set((await session.scalars(statement, rows)).all())
    return [firsts[d.delivery_id] == index and d.delivery_id in inserted for index, d in enumerate(deliveries)]


async def store_delivery(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    delivery_id: str,
    event: str,
    headers: dict[str, str],
    body: bytes,
    now: datetime,
) -> bool:
    """Store a pending delivery and commit; return False, storing nothing, for a delivery id seen before."""
    [stored] = await store_deliveries(sessionmaker, [Delivery(delivery_id, event, headers, body, now)])
    return stored


class DeliveryWriter:
    """Group commit: deliveries stored concurrently share one transaction, each answered once committed.

    One transaction per delivery costs about 0.9 ms on SQLite (BEGIN IMMEDIATE, INSERT and COMMIT
    each cross to aiosqlite's thread) and concurrent writers queue on SQLite's busy handler, which
    sleeps; batching what arrives while the previous batch commits keeps one writer and amortises
    the round trips. Durability is unchanged: `store` returns only after its row's commit.
    """

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        *,
        max_batch: int = MAX_BATCH,
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._max_batch = max_batch
        self._max_batch_bytes = max_batch_bytes
        self._queue: deque[tuple[Delivery, asyncio.Future[bool]]] = deque()
        self._task: asyncio.Task[None] | None = None

    async def store(self, delivery: Delivery) -> bool:
        """Store the delivery (committed on return); return False for a delivery id seen before."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._queue.append((delivery, future))
        if self._task is None:
            self._task = asyncio.create_task(self._drain(), name="webhook-delivery-writer")
        # A cancelled caller does not stop the write: its row may still commit, and a redelivery
        # is then answered as a duplicate.
        return await future

    def _take_batch(self) -> list[tuple[Delivery, asyncio.Future[bool]]]:
        batch = [self._queue.popleft()]
        size = len(batch[0][0].body)
        while self._queue and len(batch) < self._max_batch:
            size += len(self._queue[0][0].body)
            if size > self._max_batch_bytes:
                break
            batch.append(self._queue.popleft())
        return batch

    async def _drain(self) -> None:
        batch: list[tuple[Delivery, asyncio.Future[bool]]] = []
        try:
            while self._queue:
                batch = self._take_batch()
                try:
                    results = await store_deliveries(self._sessionmaker, [delivery for delivery, _ in batch])
                except Exception as exc:  # this batch's callers get the error; later ones still try
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                else:
                    for (_, future), stored in zip(batch, results, strict=True):
                        if not future.done():
                            future.set_result(stored)
                batch = []
        finally:
            self._task = None
            # Only when this task is cancelled (shutdown) do callers remain; do not leave them waiting.
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.cancel()
            self._queue.clear()
