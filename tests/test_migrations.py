"""The migrations build the schema the models describe, from an empty database."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from bot.db.base import Base
from bot.db.migrate import current_revision, head_revision, upgrade
from bot.db.session import create_engine
from tests.conftest import sqlite_url


async def test_upgrade_from_empty_database_reaches_head(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "nested" / "fresh.db")  # the folder does not exist yet
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"guilds", "members", "goals", "outbox", "app_state", "alembic_version"} <= tables
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op(tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "twice.db")
    await asyncio.to_thread(upgrade, url)
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision(url)
    finally:
        await engine.dispose()


async def test_models_and_migrations_agree(db_url: str) -> None:
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync: compare_metadata(
                    MigrationContext.configure(sync, opts={"compare_type": True}), Base.metadata
                )
            )
    finally:
        await engine.dispose()
    assert diff == []


async def test_sqlite_connections_are_tuned(engine) -> None:
    async with engine.connect() as conn:
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    assert (journal, fks) == ("wal", 1)
    assert busy >= 5000
