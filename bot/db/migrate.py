"""Run Alembic migrations from code (`shiplog migrate`, `shiplog run`, the tests)."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations
from bot.db.session import read_connection


def alembic_config(database_url: str) -> Config:
    """Return an Alembic config pointing at the packaged migrations and `database_url`."""
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Upgrade the database to `revision`. Blocking: call it outside the event loop (or in a thread)."""
    command.upgrade(alembic_config(database_url), revision)


def head_revision(database_url: str) -> str | None:
    """Return the newest migration's revision id."""
    return ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()


async def current_revision(engine: AsyncEngine) -> str | None:
    """Return the revision the database is at (None for an empty database)."""
    async with read_connection(engine) as conn:  # a look, not a write: no SQLite write lock
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
