"""Shared fixtures: a real, migrated SQLite file per test."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.migrate import upgrade
from bot.db.session import create_engine, create_sessionmaker

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday


def sqlite_url(path: Path) -> str:
    """Return the aiosqlite URL of a file."""
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate one database file per run; each test gets a copy (migrating is the slow part)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(sqlite_url(path))
    return path


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: Path) -> str:
    """Return the URL of a fresh, migrated SQLite file for this test."""
    path = tmp_path / "shiplog.db"
    shutil.copyfile(migrated_template, path)
    return sqlite_url(path)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


@pytest.fixture
async def respx_github() -> AsyncIterator[object]:
    """Mock api.github.com with respx; `.api` is a GitHubAPI over a real httpx client."""
    import httpx
    import respx

    from bot.services.github.api import GitHubAPI

    async with httpx.AsyncClient() as client:
        with respx.mock(base_url="https://api.github.com", assert_all_called=False) as router:
            router.api = GitHubAPI(client)
            yield router
