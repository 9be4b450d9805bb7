"""The engine's transactions: on SQLite, this process's writers take turns on a lock, not in the busy handler."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import delete, event, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import table_of
from bot.db.models import AppState
from bot.db.session import changed_rows, create_engine, create_sessionmaker, reading, transaction, upsert
from tests.conftest import NOW


def no_busy_wait(engine: AsyncEngine) -> None:
    """Make SQLite fail at once ("database is locked") instead of waiting for another writer."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA busy_timeout=0")
        cursor.close()


@pytest.mark.sqlite_only  # PostgreSQL runs writers side by side: there is no lock to queue on
async def test_writers_of_one_process_queue_instead_of_failing(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    no_busy_wait(engine)
    await engine.dispose()  # connections opened from now on get the listener
    order: list[str] = []
    holding = asyncio.Event()

    async def first() -> None:
        async with transaction(sessionmaker) as session:
            session.add(AppState(key="first", value="1", updated_at=NOW))
            await session.flush()
            holding.set()
            await asyncio.sleep(0.2)  # the write lock is held here
            order.append("first")

    async def second() -> None:
        await holding.wait()
        async with transaction(sessionmaker) as session:  # would raise "database is locked" without the queue
            order.append("second")
            session.add(AppState(key="second", value="2", updated_at=NOW))

    await asyncio.gather(first(), second())
    assert order == ["first", "second"]
    async with reading(sessionmaker) as session:
        assert set(await session.scalars(select(AppState.key))) == {"first", "second"}


async def test_a_reader_does_not_queue_behind_a_writer(
    engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    holding, done = asyncio.Event(), asyncio.Event()

    async def writer() -> None:
        async with transaction(sessionmaker) as session:
            session.add(AppState(key="slow", value="1", updated_at=NOW))
            await session.flush()
            holding.set()
            await done.wait()  # held until the reader has read

    task = asyncio.create_task(writer())
    await holding.wait()
    async with reading(sessionmaker) as session:
        assert await asyncio.wait_for(session.scalar(text("SELECT 1")), 2) == 1
    done.set()
    await task


async def test_a_failed_transaction_hands_the_lock_on(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    try:
        async with transaction(sessionmaker) as session:
            session.add(AppState(key="lost", value="1", updated_at=NOW))
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    async with asyncio.timeout(2), transaction(sessionmaker) as session:
        session.add(AppState(key="kept", value="1", updated_at=NOW))
    async with reading(sessionmaker) as session:
        assert list(await session.scalars(select(AppState.key))) == ["kept"]


async def test_changed_rows_counts_what_an_update_or_a_delete_changed(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    table = table_of(AppState)
    async with transaction(sessionmaker) as session:
        session.add_all(AppState(key=key, value="0", updated_at=NOW) for key in ("a", "b", "c"))
        await session.flush()
        assert changed_rows(await session.execute(update(AppState).where(AppState.key != "c").values(value="1"))) == 2
        assert changed_rows(await session.execute(update(table).where(table.c.key == "nobody").values(value="2"))) == 0
        assert changed_rows(await session.execute(delete(table).where(table.c.value == "0"))) == 1
        with pytest.raises(TypeError, match="not the result of an UPDATE or DELETE"):
            changed_rows(await session.execute(select(AppState)))


async def test_two_processes_writing_the_same_new_state_at_once_both_succeed(db_url: str) -> None:
    """A fleet's processes start together and each stores its synced-command hash: the second write
    waits for the first and overwrites it. (A read-then-insert, `session.merge`, failed the second
    process's start on PostgreSQL with a duplicate key, exit 1.)"""
    engines = [create_engine(db_url), create_engine(db_url)]  # two processes: two pools
    first, second = (create_sessionmaker(engine) for engine in engines)
    written = asyncio.Event()

    async def one() -> None:
        async with transaction(first) as session:
            await upsert(session, AppState, {"key": "commands:1:global", "value": "a", "updated_at": NOW}, key="key")
            written.set()
            await asyncio.sleep(0.2)  # the other process writes now, before this commits

    async def other() -> None:
        await written.wait()
        async with transaction(second) as session:
            await upsert(session, AppState, {"key": "commands:1:global", "value": "b", "updated_at": NOW}, key="key")

    try:
        await asyncio.gather(one(), other())
        async with reading(first) as session:
            assert (await session.get(AppState, "commands:1:global")).value == "b"
    finally:
        for engine in engines:
            await engine.dispose()


def test_no_code_writes_a_row_by_reading_then_inserting() -> None:
    """`session.merge` is a read then an insert: concurrent first writes collide. `upsert` owns that."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    found = [
        f"{path.relative_to(root)}:{node.lineno}"
        for folder in ("bot", "cogs")
        for path in sorted((root / folder).rglob("*.py"))
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "merge"
    ]
    assert found == []


@pytest.mark.sqlite_only  # the one-hop cursor is aiosqlite's
async def test_every_sqlite_statement_is_one_trip_to_aiosqlites_thread(engine: AsyncEngine, sessionmaker) -> None:
    """bot/db/one_hop.py: one hand-off per statement (SQLAlchemy's own cursor made four), same results."""
    from sqlalchemy.exc import IntegrityError

    from bot.db.one_hop import OneHopConnection
    from bot.db.session import chunks

    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        assert type(raw.dbapi_connection) is OneHopConnection  # an upgrade that moved its names fails here
        aiosqlite_connection = raw.driver_connection
        queue = aiosqlite_connection._tx  # the worker thread reads this queue; each trip is one put

        class Counting:
            trips = 0

            def put_nowait(self, item: object) -> None:
                Counting.trips += 1
                queue.put_nowait(item)

        await conn.execute(text("SELECT 1"))  # the transaction's BEGIN is a statement, and a trip, of its own
        aiosqlite_connection._tx = Counting()
        try:
            assert (await conn.execute(text("SELECT 1 + 1"))).scalar() == 2
        finally:
            aiosqlite_connection._tx = queue
        trips = Counting.trips
        assert trips == 1

    async with transaction(sessionmaker) as session:  # rowcount, RETURNING, executemany, errors
        await session.execute(
            AppState.__table__.insert(), [{"key": f"k{n}", "value": "v", "updated_at": NOW} for n in range(3)]
        )
        assert changed_rows(await session.execute(update(AppState).where(AppState.key != "k0").values(value="w"))) == 2
    with pytest.raises(IntegrityError):
        async with transaction(sessionmaker) as session:
            session.add(AppState(key="k0", value="again", updated_at=NOW))
    async with reading(sessionmaker) as session:  # a server-side cursor keeps SQLAlchemy's own, and streams
        streamed = [
            row
            for part in [p async for p in chunks(session, select(AppState.key).order_by(AppState.key), size=2)]
            for row in part
        ]
        assert [key for (key,) in streamed] == ["k0", "k1", "k2"]
