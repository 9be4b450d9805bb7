"""The migrations build the schema the models describe, from an empty database."""

from __future__ import annotations

import asyncio
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from bot.db.base import Base
from bot.db.migrate import current_revision, head_revision, upgrade
from bot.db.models import Activity, MemberStreak, RestPeriod
from bot.db.session import create_engine, create_sessionmaker, reading, transaction
from bot.services.rhythm.streaks import refresh_streaks
from tests.conftest import NOW

ROOT = Path(__file__).resolve().parent.parent


async def seed_a_server(session, *, with_page: bool = False) -> None:
    """Store, in raw SQL (as at an older revision), a server with a member, their goal and maybe their page."""
    statements = [
        "INSERT INTO guilds (id, cadence, created_at) VALUES (1, 'weekly', :at)",
        "INSERT INTO members (guild_id, user_id, created_at) VALUES (1, 11, :at)",
        "INSERT INTO goals (guild_id, number, user_id, text, status, created_at, updated_at) "
        "VALUES (1, 1, 11, 'ship it', 'open', :at, :at)",
    ]
    if with_page:
        statements.append(
            "INSERT INTO member_pages (guild_id, user_id, slug, display_name, created_at, updated_at) "
            "VALUES (1, 11, 'abcdefghijklmnop', 'alice', :at, :at)"
        )
    for statement in statements:
        await session.execute(text(statement), {"at": NOW})


async def test_upgrade_from_empty_database_reaches_head(empty_db_url: str) -> None:
    url = empty_db_url  # on SQLite, in a folder that does not exist yet
    await asyncio.to_thread(upgrade, url)
    engine = create_engine(url)
    try:
        assert await current_revision(engine) == head_revision(url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"guilds", "members", "goals", "outbox", "app_state", "alembic_version"} <= tables
    finally:
        await engine.dispose()


async def test_upgrade_twice_is_a_no_op(empty_db_url: str) -> None:
    url = empty_db_url
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


@pytest.mark.sqlite_only
async def test_sqlite_connections_are_tuned(engine) -> None:
    async with engine.connect() as conn:
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        fks = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    assert (journal, fks) == ("wal", 1)
    assert busy >= 5000


async def test_reads_do_not_wait_for_a_writer(db_url: str) -> None:
    from sqlalchemy import text

    from bot.db.session import reading

    writer_engine, reader_engine = create_engine(db_url), create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(writer_engine)) as writer:
            await writer.execute(
                text("INSERT INTO guilds (id, last_goal_number, created_at) VALUES (1, 0, '2026-01-01')")
            )
            # The writer holds SQLite's write lock; a read still answers at once, from before the write.
            async with reading(create_sessionmaker(reader_engine)) as reader:
                count = await asyncio.wait_for(reader.scalar(text("SELECT count(*) FROM guilds")), 2)
            assert count == 0
    finally:
        await writer_engine.dispose()
        await reader_engine.dispose()


async def test_the_streaks_migration_backfills_what_the_code_would_store(empty_db_url: str) -> None:
    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0008")  # before member_streaks existed
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        monday = date(2026, 9, 7)
        async with transaction(sessionmaker) as session:
            # Plain SQL: the models know columns that later migrations add (guilds.pages_enabled, ...).
            for guild_id, cadence in ((1, "weekly"), (2, "daily")):
                await session.execute(
                    text("INSERT INTO guilds (id, cadence, created_at) VALUES (:id, :cadence, :at)"),
                    {"id": guild_id, "cadence": cadence, "at": NOW},
                )
            for guild_id in (1, 2):
                for user_id, gaps in ((11, (0, 1, 7, 8, 15, 30)), (12, (0, 3, 4, 5, 6, 21))):
                    session.add_all(
                        Activity(
                            guild_id=guild_id,
                            user_id=user_id,
                            kind="checkin",
                            ref=f"{n}",
                            local_date=monday + timedelta(n),
                        )
                        for n in gaps
                    )
            session.add(RestPeriod(guild_id=1, user_id=11, start=monday + timedelta(14), end=monday + timedelta(27)))
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)

        def stored(rows) -> dict:
            return {
                (r.guild_id, r.user_id): (r.cadence, r.period, r.current, r.best, r.total, r.freezes, r.progress)
                for r in rows
            }

        async with transaction(sessionmaker) as session:
            backfilled = stored((await session.scalars(select(MemberStreak))).all())
            for guild_id in (1, 2):
                await refresh_streaks(session, guild_id, now=NOW)
            recomputed = stored((await session.scalars(select(MemberStreak))).all())
        assert len(backfilled) == 4
        assert backfilled == recomputed
    finally:
        await engine.dispose()


async def test_upgrading_keeps_every_row_of_the_tables_that_point_at_a_rebuilt_one(empty_db_url: str) -> None:
    # On SQLite, a migration that changes a table ALTER TABLE cannot (0011 adds a unique constraint
    # to guilds) rebuilds it: a new table, a copy, and DROP TABLE guilds. With foreign keys enforced,
    # that DROP cascaded to every row pointing at a guild (members, goals, streaks...): all deleted.
    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0010")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_a_server(session)
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("guilds", "members", "goals")
            ]
        assert counts == [1, 1, 1]
    finally:
        await engine.dispose()


async def test_an_upgrade_that_fails_leaves_the_database_as_it_found_it(empty_db_url: str) -> None:
    # A table in the way of 0011: every step before it runs, then 0011 fails. In one transaction, so
    # nothing of the steps before stays either (on SQLite, Alembic would commit after each step).
    url = empty_db_url
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE member_pages (x INTEGER)"))
        with pytest.raises(Exception, match="member_pages"):
            await asyncio.to_thread(upgrade, url)
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert tables == {"member_pages"}
        assert await current_revision(engine) is None
    finally:
        await engine.dispose()


@pytest.mark.sqlite_only  # PostgreSQL's fleets take an advisory lock (migrations/env.py); tests/test_fleet.py
async def test_two_processes_migrating_one_new_file_at_once_both_succeed(tmp_path: Path) -> None:
    # `shiplog run` and `shiplog web` started together on a new SQLite file both migrate it.
    # Both wait for the same instant after their imports, so their upgrades really start together.
    script = (
        "import sys, time; from bot.db.migrate import upgrade; "
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time())); upgrade(sys.argv[1])"
    )
    for round_ in range(3):
        url = f"sqlite+aiosqlite:///{tmp_path / f'new-{round_}.db'}"
        start_at = str(time.time() + 2.0)
        processes = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-c", script, url, start_at, cwd=ROOT, stderr=asyncio.subprocess.PIPE
            )
            for _ in range(2)
        ]
        for process in processes:
            _, stderr = await process.communicate()
            assert process.returncode == 0, stderr.decode()[-2000:]
        engine = create_engine(url)
        try:
            assert await current_revision(engine) == head_revision(url)
        finally:
            await engine.dispose()


async def test_the_departures_migration_keeps_every_row_and_leaves_everyone_present(empty_db_url: str) -> None:
    # 0012 adds guilds.left_at and members.left_at: on SQLite batch mode may rebuild both tables,
    # and nothing pointing at them may go; every server and member starts as present (NULL).
    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0011")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_a_server(session, with_page=True)
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("guilds", "members", "member_pages", "goals")
            ]
            left = [
                await session.scalar(text(f"SELECT left_at FROM {table}"))  # noqa: S608
                for table in ("guilds", "members")
            ]
        assert counts == [1, 1, 1, 1]
        assert left == [None, None]
    finally:
        await engine.dispose()


async def test_the_private_merges_migration_keeps_every_merge_public_and_goes_back(empty_db_url: str) -> None:
    # 0013 adds merged_prs.private and github_merges.private: every merge stored before stays, and
    # public, as it was treated; going back to 0012 drops the columns and keeps the rows.
    from alembic import command

    from bot.db.migrate import alembic_config

    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0012")
    engine = create_engine(url)
    merges = (
        "INSERT INTO merged_prs (guild_id, user_id, github_id, repo, number, title, url, merged_at, recorded_at) "
        "VALUES (1, 11, 7, 'octo/engine', 1, 'Fix', 'https://github.com/octo/engine/pull/1', :at, :at)",
        "INSERT INTO github_profiles (id, login, history_status, history_total, history_read) "
        "VALUES (7, 'alice', 'done', 1, 1)",
        "INSERT INTO github_merges (github_id, repo, number, merged_at, source) "
        "VALUES (7, 'octo/engine', 1, :at, 'webhook')",
    )
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_a_server(session)
            for statement in merges:
                await session.execute(text(statement), {"at": NOW})
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            private = [
                list(await session.scalars(text(f"SELECT private FROM {table}")))  # noqa: S608
                for table in ("merged_prs", "github_merges")
            ]
        assert private == [[False], [False]]
        await engine.dispose()

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0012")
        async with reading(create_sessionmaker(engine)) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("guilds", "members", "goals", "merged_prs", "github_merges")
            ]
            columns = await session.run_sync(
                lambda sync: {c["name"] for c in inspect(sync.connection()).get_columns("merged_prs")}
            )
        assert counts == [1, 1, 1, 1, 1]
        assert "private" not in columns
    finally:
        await engine.dispose()


async def test_the_mentors_migration_leaves_everyone_not_opted_in_and_goes_back(empty_db_url: str) -> None:
    # 0014 adds members.mentor and members.mentor_note: every member stored before is not a mentor
    # (opt-in), and going back to 0013 drops the columns and keeps the rows.
    from alembic import command

    from bot.db.migrate import alembic_config

    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0013")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_a_server(session, with_page=True)
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            row = (await session.execute(text("SELECT mentor, mentor_note FROM members"))).one()
        assert tuple(row) == (False, None)
        await engine.dispose()

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0013")
        async with reading(create_sessionmaker(engine)) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("guilds", "members", "member_pages", "goals")
            ]
            columns = await session.run_sync(
                lambda sync: {c["name"] for c in inspect(sync.connection()).get_columns("members")}
            )
        assert counts == [1, 1, 1, 1]
        assert not {"mentor", "mentor_note"} & columns
    finally:
        await engine.dispose()


async def test_the_community_page_migration_leaves_every_server_unpublished_and_goes_back(empty_db_url: str) -> None:
    # 0015 adds guilds.community_enabled and guilds.community_slug: every server stored before has no
    # community page (opt-in), and going back to 0014 drops the columns and keeps the rows.
    from alembic import command

    from bot.db.migrate import alembic_config

    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0014")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await seed_a_server(session, with_page=True)
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            row = (await session.execute(text("SELECT community_enabled, community_slug FROM guilds"))).one()
        assert tuple(row) == (False, None)
        await engine.dispose()

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0014")
        async with reading(create_sessionmaker(engine)) as session:
            counts = [
                await session.scalar(text(f"SELECT count(*) FROM {table}"))  # noqa: S608
                for table in ("guilds", "members", "member_pages", "goals")
            ]
            columns = await session.run_sync(
                lambda sync: {c["name"] for c in inspect(sync.connection()).get_columns("guilds")}
            )
        assert counts == [1, 1, 1, 1]
        assert not {"community_enabled", "community_slug"} & columns
    finally:
        await engine.dispose()


async def test_the_node_ids_migration_keeps_every_profile_without_a_node_id_and_goes_back(empty_db_url: str) -> None:
    # 0016 adds github_profiles.node_id: every profile stored before has none yet (the radar then asks
    # by the legacy id), and going back to 0015 drops the column and keeps the rows.
    from alembic import command

    from bot.db.migrate import alembic_config

    url = empty_db_url
    await asyncio.to_thread(upgrade, url, "0015")
    engine = create_engine(url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            await session.execute(
                text("INSERT INTO github_profiles (id, login, history_status) VALUES (583231, 'octocat', 'done')")
            )
        await engine.dispose()
        await asyncio.to_thread(upgrade, url)
        async with reading(create_sessionmaker(engine)) as session:
            row = (await session.execute(text("SELECT id, login, node_id FROM github_profiles"))).one()
        assert tuple(row) == (583231, "octocat", None)
        await engine.dispose()

        await asyncio.to_thread(command.downgrade, alembic_config(url), "0015")
        async with reading(create_sessionmaker(engine)) as session:
            count = await session.scalar(text("SELECT count(*) FROM github_profiles"))
            columns = await session.run_sync(
                lambda sync: {c["name"] for c in inspect(sync.connection()).get_columns("github_profiles")}
            )
        assert count == 1
        assert "node_id" not in columns
    finally:
        await engine.dispose()
