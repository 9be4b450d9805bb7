"""SQLite statements in one trip to aiosqlite's thread, instead of four.

aiosqlite runs each connection's sqlite3 calls on a thread of its own; every call is a hand-off
to that thread and back (a queue, a wake-up, a future set from the other side). SQLAlchemy's
adapter makes four per statement: open a cursor, execute, fetch the rows, close the cursor. The
statement itself takes microseconds: the hand-offs are what a statement costs, about 0.2 ms each
on a busy machine, so a celebrated merge's 40-odd statements took 30 ms, most of it waiting.

`OneHopCursor` does all four in one function run on that thread, and keeps what SQLAlchemy reads
afterwards (the rows, `description`, `rowcount`, `lastrowid`). Nothing else changes: the same
sqlite3 connection, the same statements, the same errors. Server-side cursors (`session.stream`,
used by `chunks`) keep SQLAlchemy's own, which fetch lazily. `use_one_hop` is applied to every
SQLite connection by bot/db/session.py.

It leans on two private names of the pinned versions (aiosqlite's `Connection._execute` and
`_conn`, SQLAlchemy's `AsyncAdapt_aiosqlite_*`): tests/test_session.py checks that each connection
uses it, so an upgrade that moves them fails there.
"""

from __future__ import annotations

import collections
import sqlite3
from typing import Any

from sqlalchemy.dialects.sqlite.aiosqlite import AsyncAdapt_aiosqlite_connection, AsyncAdapt_aiosqlite_cursor
from sqlalchemy.util import immutabledict

# What one trip brings back: description, rowcount, lastrowid, and the rows (None: the statement has none).
_Outcome = tuple[Any, int, int | None, list[Any] | None]


def _run(connection: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> _Outcome:
    """On aiosqlite's thread: run one statement on a cursor of its own and bring everything back."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """SQLAlchemy's aiosqlite cursor, making one trip to the connection's thread per statement."""

    __slots__ = ("_description", "_lastrowid", "_rowcount")

    def __init__(self, adapt_connection: Any) -> None:
        # No aiosqlite cursor is opened here (that was a trip of its own): each statement opens its own.
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]  # never read: every property below is this class's
        self._soft_closed_memoized = immutabledict()
        self._rows = collections.deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> int:
        return self._lastrowid  # type: ignore[return-value]  # sqlite3 says None before any insert too

    @property
    def arraysize(self) -> int:
        return 1

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        pass  # the rows are all fetched at once

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._trip(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
        return await self._trip(operation, seq_of_parameters, many=True)

    async def _trip(self, operation: Any, parameters: Any, *, many: bool) -> None:
        async with self._adapt_connection._execute_mutex:
            outcome = await self._connection._execute(_run, self._connection._conn, operation, parameters, many)
        self._description, self._rowcount, self._lastrowid, rows = outcome
        self._rows = collections.deque(rows or ())

    async def _async_soft_close(self) -> None:
        return None  # nothing is open on the other thread

    def close(self) -> None:
        self._rows.clear()


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    """SQLAlchemy's aiosqlite connection whose (non-streaming) cursors are `OneHopCursor`s."""

    __slots__ = ()
    _cursor_cls = OneHopCursor  # a subclass of the cursor it replaces


def use_one_hop(dbapi_connection: Any) -> None:
    """Make a fresh SQLAlchemy aiosqlite connection use `OneHopCursor` (same layout: only its class changes)."""
    if type(dbapi_connection) is AsyncAdapt_aiosqlite_connection:
        dbapi_connection.__class__ = OneHopConnection
