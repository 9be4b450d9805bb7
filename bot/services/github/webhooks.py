"""GitHub webhook deliveries: verify, store before acknowledging, then hand out for processing.

The web handler (bot/web/webhook.py) checks the signature over the raw body, stores the delivery (through a
`DeliveryWriter`, which commits concurrent deliveries together) and only then answers GitHub. A
processor (bot/services/github/events.process_batch) applies pending rows, in short transactions
with the messages they queue; the raw body is kept for DELIVERY_RETENTION_DAYS, so a row can be
replayed. GitHub's delivery id (X-GitHub-Delivery) is unique: a redelivery is recognised and
stored once. Pings are answered and not stored: they carry no work.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot import strict_json
from bot.db.models import WebhookDelivery
from bot.db.session import transaction

log = logging.getLogger(__name__)

SIGNATURE_PREFIX = "sha256="
_SIGNATURE = re.compile(r"sha256=[0-9a-f]{64}")
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
CONTENT_TYPES = (JSON, FORM)
MAX_ERROR_LENGTH = 1000
# Column sizes of webhook_deliveries.delivery_id and .event.
MAX_DELIVERY_ID_LENGTH = 100
MAX_EVENT_LENGTH = 64
# GitHub's delivery ids (GUIDs) and event names ("pull_request") are visible ASCII.
_TOKEN = re.compile(r"[!-~]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
# A JSON escape of a UTF-16 surrogate ("\ud83d"): only then can a parsed string hold an unpaired one.
# GitHub's payloads nest about 6 deep; the JSON parser gives up near 1,000, depending on its stack.
MAX_DEPTH = 100
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


def well_formed_signature(header: str | None) -> bool:
    """Tell whether `header` looks like an X-Hub-Signature-256 at all (checked before reading a body)."""
    return header is not None and _SIGNATURE.fullmatch(header) is not None


class SignatureCheck:
    """GitHub's X-Hub-Signature-256 computed over a body as it streams in, chunk by chunk.

    The web handler feeds each chunk as it arrives, so checking the signature needs no second
    pass over the body (see bot.web.webhook.BodyBudget for what it keeps meanwhile).
    """

    def __init__(self, secret: str) -> None:
        self._secret = secret
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def update(self, chunk: bytes) -> None:
        self._mac.update(chunk)

    def matches(self, header: str | None) -> bool:
        """Return whether `header` is the signature of everything fed so far."""
        if not self._secret or not header:
            return False  # an empty secret would let anyone sign
        expected = SIGNATURE_PREFIX + self._mac.hexdigest()
        # Compare bytes: compare_digest refuses non-ASCII str, and a header may carry any byte.
        return hmac.compare_digest(expected.encode(), header.encode("utf-8", "surrogateescape"))


def decode_payload(content_type: str, body: bytes) -> dict[str, Any]:
    """Return the JSON object of a delivery sent as JSON or as a form's `payload` field; raise ValueError.

    The JSON is read by bot.strict_json's rule (RFC 8259 only, every refusal a ValueError, so the
    web handler answers every bad body with a 400), nested at most MAX_DEPTH deep: the processor,
    which parses the stored body again, must read whatever the web handler accepted.
    """
    mime = content_type.partition(";")[0].strip().lower()
    # UnicodeDecodeError is a ValueError, as the caller expects.
    if mime == JSON:
        text = body.decode()
    elif mime == FORM:
        fields = parse_qs(body.decode(), keep_blank_values=True, errors="strict")
        if "payload" not in fields:
            raise ValueError("the form has no payload field")
        text = fields["payload"][0]
    else:
        raise ValueError(f"unsupported content type {content_type!r}")
    return strict_json.loads_object(text, max_depth=MAX_DEPTH)


@dataclass(frozen=True, slots=True)
class Delivery:
    """A verified delivery to store: GitHub's id and event, the headers kept, and the raw body."""

    delivery_id: str
    event: str
    headers: dict[str, str]
    body: bytes
    received_at: datetime


class InvalidDelivery(ValueError):
    """A delivery that cannot be stored as it is; its message says why, for the sender."""


def check_delivery(delivery: Delivery) -> None:
    """Raise InvalidDelivery unless the database can store every value of `delivery` as it is.

    Run before a delivery joins a group commit: a value the database refuses would otherwise fail
    every delivery committed with it. aiohttp reads header bytes that are not UTF-8 as lone
    surrogates ("\\udcff"), which SQLite and PostgreSQL cannot store; one such X-GitHub-Delivery
    once made 331 of 600 concurrent deliveries answer 500.
    """
    if not (len(delivery.event) <= MAX_EVENT_LENGTH and _TOKEN.fullmatch(delivery.event)):
        raise InvalidDelivery(
            f"Missing or invalid X-GitHub-Event header: 1 to {MAX_EVENT_LENGTH} visible ASCII characters"
        )
    if not (len(delivery.delivery_id) <= MAX_DELIVERY_ID_LENGTH and _TOKEN.fullmatch(delivery.delivery_id)):
        raise InvalidDelivery(
            f"Missing or invalid X-GitHub-Delivery header: 1 to {MAX_DELIVERY_ID_LENGTH} visible ASCII characters"
        )
    for name, value in delivery.headers.items():
        if _SURROGATE.search(name) or _SURROGATE.search(value) or "\x00" in value:
            raise InvalidDelivery(f"The {name} header is not valid UTF-8 text")


# asyncpg reports nearly every PostgreSQL error as a plain DBAPIError (never an OperationalError, as
# SQLite's "database is locked" or "no such table" are): its SQLSTATE tells the database's own
# troubles from one row's. Classes: 08 connection, 40 transaction rollback (serialization failure,
# deadlock), 53 insufficient resources (disk full, too many connections), 57 operator intervention
# (shutdown, statement timeout), 58 system (I/O), XX internal. States: lock not available, object
# in use, read-only transaction, no such database, and the schema behind the code (no such table or
# column, as on an unmigrated database), or no permission on it.
_POSTGRES_FAULT_CLASSES = frozenset({"08", "40", "53", "57", "58", "XX"})
_POSTGRES_FAULT_STATES = frozenset({"55P03", "55006", "25006", "3D000", "42P01", "42703", "42501"})


def is_database_fault(exc: BaseException) -> bool:
    """Tell whether an error is the database's own (down, locked, full, gone), not one row's.

    Such an error would fail any transaction alike: trying the rows of a failed batch one by one,
    or counting it against one delivery, would only repeat it.
    """
    if isinstance(exc, OSError):  # asyncpg cannot reach the server: ConnectionRefusedError, TimeoutError
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError)) or exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)
    return isinstance(state, str) and (state[:2] in _POSTGRES_FAULT_CLASSES or state in _POSTGRES_FAULT_STATES)


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


class DeliveryWriter:
    """Group commit: deliveries stored concurrently share one transaction, each answered once committed.

    One transaction per delivery costs about 0.9 ms on SQLite (BEGIN IMMEDIATE, INSERT and COMMIT
    each cross to aiosqlite's thread) and concurrent writers queue on SQLite's busy handler, which
    sleeps; batching what arrives while the previous batch commits keeps one writer and amortises
    the round trips. Durability is unchanged: `store` returns only after its row's commit.

    One delivery must not fail the others: `store` checks a delivery before it joins a batch
    (`check_delivery`), and a batch whose commit fails all the same, for a reason no check foresaw,
    is stored again one delivery per transaction, so only the delivery at fault fails. That retry
    is skipped when the database itself failed (`is_database_fault`): each delivery would fail the
    same way, and a batch of 256 would wait 256 times on a locked database.
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
        """Store the delivery (committed on return); return False for a delivery id seen before.

        Raise InvalidDelivery, before anything is written, for a delivery the database could not store.
        """
        check_delivery(delivery)
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
                await self._commit(batch)
                batch = []
        finally:
            self._task = None
            # Only when this task is cancelled (shutdown) do callers remain; do not leave them waiting.
            for _, future in [*batch, *self._queue]:
                if not future.done():
                    future.cancel()
            self._queue.clear()

    async def _commit(self, batch: list[tuple[Delivery, asyncio.Future[bool]]]) -> None:
        # Answers each of the batch's callers: stored, seen before, or the error that failed it.
        try:
            results = await store_deliveries(self._sessionmaker, [delivery for delivery, _ in batch])
        except Exception as exc:
            if len(batch) == 1 or is_database_fault(exc):
                _answer(batch, exc)  # this batch's callers get the error; later ones still try
                return
            log.warning("a group commit of %d deliveries failed (%r): storing them one by one", len(batch), exc)
            for index, (delivery, future) in enumerate(batch):
                try:
                    [stored] = await store_deliveries(self._sessionmaker, [delivery])
                except Exception as one_exc:
                    _answer([(delivery, future)], one_exc)
                    if is_database_fault(one_exc):  # the database went away meanwhile: the rest would fail too
                        _answer(batch[index + 1 :], one_exc)
                        return
                else:
                    if not future.done():
                        future.set_result(stored)
        else:
            for (_, future), stored in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(stored)


def _answer(batch: Sequence[tuple[Delivery, asyncio.Future[bool]]], exc: BaseException) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(exc)
