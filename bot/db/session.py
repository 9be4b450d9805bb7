"""The engine, sessions and transactions."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

SQLITE_BUSY_TIMEOUT_MS = 30_000
READ_ONLY = "shiplog_read_only"


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


def _tune_sqlite(engine: AsyncEngine) -> None:
    # Every transaction starts with BEGIN IMMEDIATE: it takes the write lock up front, waiting up to
    # the busy timeout, so two writers never both read and then fail to upgrade ("database is locked").
    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(conn) -> None:
        # Reads (see `reading`) need no write lock: WAL lets them run beside a writer.
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get(READ_ONLY) else "BEGIN IMMEDIATE")


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; objects stay usable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Open a session in one transaction: commit on success, roll back on any error."""
    async with sessionmaker() as session, session.begin():
        yield session


@asynccontextmanager
async def reading(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """Open a session for reads only: on SQLite it takes no write lock (writes in it are a bug)."""
    async with sessionmaker() as session:
        await session.connection(execution_options={READ_ONLY: True})
        yield session  # closing the session ends (rolls back) the transaction, keeping loaded objects


async def insert_ignore(session: AsyncSession, model: type, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING: concurrent first inserts of one row must not collide.

    PostgreSQL runs them truly concurrently; SQLite's BEGIN IMMEDIATE happens to serialise them.
    """
    if not rows:
        return
    insert = postgresql.insert if session.bind.dialect.name == "postgresql" else sqlite.insert
    await session.execute(insert(model).values(rows).on_conflict_do_nothing())


async def ping(engine: AsyncEngine) -> None:
    """Run a trivial query; raise if the database cannot be reached."""
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
