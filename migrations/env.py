"""Alembic environment: async engine, batch mode for SQLite's limited ALTER TABLE."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy import event, text
from sqlalchemy.engine import Connection

from bot.config import DEFAULT_DATABASE_URL
from bot.db import models  # noqa: F401  (registers every table on Base.metadata)
from bot.db.base import Base
from bot.db.session import create_engine

config = context.config
target_metadata = Base.metadata
# The key of the PostgreSQL advisory lock that one migration at a time holds ("shiplog" in ASCII).
MIGRATION_LOCK = 0x73686970_6C6F67


def database_url() -> str:
    """Return the URL given by the caller, else DATABASE_URL, else the default SQLite file."""
    return (
        config.attributes.get("database_url")
        or config.get_main_option("sqlalchemy.url")
        or os.environ.get("DATABASE_URL")
        or DEFAULT_DATABASE_URL
    )


def do_run_migrations(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=sqlite,
        compare_type=True,
        # Alembic assumes SQLite cannot roll DDL back, and commits after each migration. It can: so
        # an upgrade is one transaction there too. Two processes starting on one new file then take
        # turns (BEGIN IMMEDIATE) instead of interleaving their steps and failing on each other's
        # version rows, and a failed upgrade leaves the file as it found it.
        transactional_ddl=True if sqlite else None,
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # A fleet's processes start together and each runs `shiplog run`'s migrations: one
            # migrates, the others wait here, then find nothing left to do. (SQLite's BEGIN
            # IMMEDIATE already serialises them.)
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK})
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(
                    f"a migration left rows pointing at nothing (PRAGMA foreign_key_check): {broken[:5]}"
                )


def _migrate_without_sqlite_foreign_keys(engine) -> None:
    # SQLite's batch mode rebuilds a table it cannot ALTER: a copy, then DROP TABLE of the old one.
    # With foreign keys enforced, that DROP deletes, by ON DELETE CASCADE, every row that points at
    # the table (rebuilding guilds emptied members, goals, streaks...). So migrations run with them
    # off, as Alembic's batch docs advise (the PRAGMA only works outside a transaction: at connect),
    # and check them before committing instead (PRAGMA foreign_key_check above).
    @event.listens_for(engine.sync_engine, "connect")
    def foreign_keys_off(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=OFF")
        cursor.close()


async def run_async_migrations() -> None:
    engine = create_engine(database_url())
    if engine.dialect.name == "sqlite":
        _migrate_without_sqlite_foreign_keys(engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(do_run_migrations)
    finally:
        await engine.dispose()


def run_migrations_offline() -> None:
    context.configure(url=database_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    asyncio.run(run_async_migrations())
