"""The engine, sessions and transactions."""

from __future__ import annotations

import asyncio
import sqlite3
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
from sqlalchemy import Result, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from bot.db.one_hop import use_one_hop

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "shiplog_read_only"

# SQLite has one writer at a time. Writers of this process queue on an asyncio.Lock per engine (and
# event loop) before BEGIN IMMEDIATE, so they take turns in arrival order, woken the moment the
# previous one commits. Without it they meet in SQLite's busy handler, which polls in 1-100 ms
# sleeps: a webhook ack then waited behind GitHub processing for hundreds of ms. Another process on
# the same file still waits in the busy handler, as before. PostgreSQL takes no such lock.
T = TypeVar("T")

_write_locks: weakref.WeakKeyDictionary[Any, weakref.WeakKeyDictionary[Any, asyncio.Lock]] = weakref.WeakKeyDictionary()
_holding_write_lock: ContextVar[bool] = ContextVar("shiplog_holding_write_lock", default=False)


def sqlite_path(url: str) -> Path | None:
    """Return the file a SQLite URL points at (None for other databases or in-memory SQLite)."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite") or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def create_engine(url: str, *, echo: bool = False, create_folder: bool = True) -> AsyncEngine:
    """Build the process's one engine; for SQLite, create the folder (unless told not to) and tune the connection."""
    path = sqlite_path(url)
    if path is not None and create_folder:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_async_engine(url, echo=echo, pool_pre_ping=path is None)
    if make_url(url).drivername.startswith("sqlite"):
        _tune_sqlite(engine)
    return engine


def _open_aiosqlite(*args: Any, **kwargs: Any) -> Awaitable[Any]:
    """Open an aiosqlite connection as SQLAlchemy would, but wait for its thread when opening fails.

    When sqlite3 cannot open the file, aiosqlite queues its worker thread's stop with a future on
    the running loop and returns without waiting. The thread resolves that future a moment later,
    from its own side; if the loop has closed meanwhile (`shiplog check` exits right after the
    failure, a test ends), the thread dies with "RuntimeError: Event loop is closed", printed on
    stderr. Waiting here, while the loop still runs, lets the thread finish first.
    """
    connection = aiosqlite.connect(*args, **kwargs)
    # SQLAlchemy's own path does this too: a worker thread never keeps the process from exiting.
    connection._thread.daemon = True
    return _connected(connection)


async def _connected(connection: aiosqlite.Connection) -> aiosqlite.Connection:
    try:
        return await connection
    except BaseException:
        await asyncio.to_thread(connection._thread.join, 5)
        raise


def _use_wal(cursor: Any) -> None:
    """Put the file in WAL mode (it stays so: after the first connection this only reads the mode).

    Switching needs the file to itself, and SQLite answers "database is locked" at once, without
    its busy handler, while another connection holds a lock: two processes starting together on a
    new file (`shiplog run` beside `shiplog web`) met exactly that. So the switch is tried again
    for a while. It blocks the loop, but only on a file not yet in WAL mode, at its first connects.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0].lower() == "wal":
            return
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return  # in WAL mode now (or, for an in-memory database, in the only mode it has)
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _tune_sqlite(engine: AsyncEngine) -> None:
    if engine.dialect.driver == "aiosqlite":

        @event.listens_for(engine.sync_engine, "do_connect")
        def on_do_connect(_dialect, _record, _cargs, cparams: dict[str, Any]) -> None:
            cparams["async_creator_fn"] = _open_aiosqlite

    # Every transaction starts with BEGIN IMMEDIATE: it takes the write lock up front, waiting up to
    # the busy timeout, so two writers never both read and then fail to upgrade ("database is locked").
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        use_one_hop(dbapi_connection)  # a statement in one trip to aiosqlite's thread (bot/db/one_hop.py)
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn) -> None:
        # Reads (see `reading`) need no write lock: WAL lets them run beside a writer.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def _write_lock(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Lock | None:
    engine = sessionmaker.kw.get("bind")
    if engine is None or engine.dialect.name != "sqlite" or _holding_write_lock.get():
        return None  # not SQLite, or a transaction opened inside one: it must not wait for itself
    per_loop = _write_locks.setdefault(engine.sync_engine, weakref.WeakKeyDictionary())
    loop = asyncio.get_running_loop()
    lock = per_loop.get(loop)
    if lock is None:
        lock = per_loop[loop] = asyncio.Lock()
    return lock


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Open a session in one transaction: commit on success, roll back on any error.

    On SQLite the transaction first queues for this process's write lock (see `_write_locks`).
    """
    lock = _write_lock(sessionmaker)
    if lock is None:
        async with sessionmaker() as session, session.begin():
            yield session
        return
    async with lock:
        token = _holding_write_lock.set(True)
        try:
            async with sessionmaker() as session, session.begin():
                yield session
        finally:
            _holding_write_lock.reset(token)


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Open a session for reads only: on SQLite it takes no write lock (writes in it are a bug)."""
    async with sessionmaker() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session  # closing the session ends (rolls back) the transaction, keeping loaded objects


def changed_rows(result: Result[Any]) -> int:
    """Return how many rows an UPDATE or DELETE changed (0 when the driver cannot tell).

    `Session.execute` types every result as a `Result`; a DML statement's is a `CursorResult`, the
    one that counts rows.
    """
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of an UPDATE or DELETE: {type(result).__name__}")
    return result.rowcount or 0


# Rows per chunk of `chunks`: fetched and converted in about a millisecond or two.
CHUNK_ROWS = 1000


async def chunks(session: AsyncSession, statement: Any, *, size: int = CHUNK_ROWS) -> AsyncIterator[Sequence[Any]]:
    """Run a query and yield its rows a chunk at a time, giving the event loop a turn between chunks.

    For reads of a whole big server (50,000 members): fetched at once, converting the rows held the
    loop for 50-90 ms; streamed, no chunk holds it more than a few.
    """
    result = await session.stream(statement, execution_options={"yield_per": size})
    async for part in result.partitions(size):
        yield part
        await asyncio.sleep(0)


def hold(session: AsyncSession, row: T) -> T:
    """Keep `row` in the session's identity map until the session ends, and return it.

    SQLAlchemy's identity map holds rows weakly: a row nobody refers to any more is dropped, and
    the next `session.get` of it is a SELECT again. A merge's steps each look up the same profile
    and server; held, each looks it up once per transaction.
    """
    session.info.setdefault("held", []).append(row)
    return row


async def insert_ignore(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent first inserts of one row must not collide.

    PostgreSQL runs them truly concurrently; SQLite's BEGIN IMMEDIATE happens to serialise them.
    """
    if not rows:
        return
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(model).values(rows).on_conflict_do_nothing())


async def upsert(session: AsyncSession, model: type, row: dict[str, Any], *, key: str) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE: write one row whether or not it exists yet.

    `session.merge` reads, then inserts when it found nothing: two processes writing the same new
    row at once (a fleet syncing its commands on its first start) both insert, and on PostgreSQL
    the second fails on the primary key. This cannot collide.
    """
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = insert(model).values(row)
    changes = {name: statement.excluded[name] for name in row if name != key}
    await session.execute(statement.on_conflict_do_update(index_elements=[key], set_=changes))


@asynccontextmanager
async def read_connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Open a connection for reads only, as `reading` does for a session: on SQLite it takes no write lock."""
    async with engine.connect() as conn:
        await conn.execution_options(**{READ_ONLY: True})
        yield conn


async def ping(engine: AsyncEngine) -> None:
    """Run a trivial query; raise if the database cannot be reached.

    It only reads: /healthz asks it every few seconds, and on SQLite a `BEGIN IMMEDIATE` would queue
    it behind every writer (4.3 s, or a 503, beside a `shiplog run` taking a burst of webhooks).
    """
    async with read_connection(engine) as conn:
        await conn.execute(text("SELECT 1"))
