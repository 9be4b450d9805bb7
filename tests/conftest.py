"""Shared fixtures: a real, migrated database per test.

By default each test gets its own SQLite file. With TEST_DATABASE_URL set to a PostgreSQL URL
(`.ci/postgres start` prints one), the whole suite runs on that database instead: it is migrated
once per run (everything in it is dropped first) and each test starts with every table emptied.
Tests that only make sense on one database are marked `sqlite_only` or `postgres_only`.

Under pytest-xdist (`-n auto`) each worker has its own databases: SQLite files in its own temporary
folder, and on PostgreSQL a database of its own (`<name>_gw0`, ...) created next to the one
TEST_DATABASE_URL names and dropped at the end.

With SHIPLOG_TEST_NOW set to an instant (`SHIPLOG_TEST_NOW=2026-12-07T06:30:00Z`), the whole run
happens then: this process's clock is moved there with time-machine (and keeps ticking), and the
programs the tests start (`shiplog run`, the playground, Alembic in a subprocess) are moved by the
same offset with libfaketime (Debian's `faketime` package). The suite must pass at any instant:
a test that depends on "now" pins it (the bot's injected clock, `world(now=...)`, time-machine).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import threading
import time
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from glob import glob
from pathlib import Path
from typing import Any, TypeVar

import pytest
import time_machine
from hypothesis import settings as hypothesis_settings
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.migrate import upgrade
from bot.db.session import create_engine, create_sessionmaker

# Property tests check what holds, not how fast: Hypothesis' default 200 ms deadline per example
# made them fail on a loaded machine. Speed is measured in bench/, never asserted in a test.
hypothesis_settings.register_profile("shiplog", deadline=None)
hypothesis_settings.load_profile("shiplog")

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)  # a Monday

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)
# Set by pytest-xdist in each worker process ("gw0", "gw1", ...); empty without -n.
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")

T = TypeVar("T")


def sqlite_url(path: Path) -> str:
    """Return the aiosqlite URL of a file."""
    return f"sqlite+aiosqlite:///{path}"


def pytest_configure(config: pytest.Config) -> None:
    if ON_POSTGRES and make_url(TEST_DATABASE_URL).get_backend_name() != "postgresql":
        raise pytest.UsageError(f"TEST_DATABASE_URL must be a PostgreSQL URL, not {TEST_DATABASE_URL!r}")
    _travel_to_test_now(config)


def pytest_unconfigure(config: pytest.Config) -> None:
    traveller = config.stash.get(_TRAVELLER, None)
    if traveller is not None:
        traveller.stop()


def pytest_report_header(config: pytest.Config) -> list[str]:
    if ON_POSTGRES:
        lines = [f"database: PostgreSQL at {make_url(TEST_DATABASE_URL).render_as_string()}"]
    else:
        lines = ["database: a SQLite file per test (set TEST_DATABASE_URL to run on PostgreSQL)"]
    if config.stash.get(_TRAVELLER, None) is not None:
        children = "and subprocesses (libfaketime)" if FAKETIME_LIB else "but NOT its subprocesses (no libfaketime)"
        lines.append(f"clock: the run started at {os.environ[TEST_NOW_ENV]} ({TEST_NOW_ENV}), {children}")
    return lines


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Say out loud, at the end, when the browser tests did not run (and what they need)."""
    from tests.browser import NEEDS, SKIP_PREFIX

    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and SKIP_PREFIX in str(report.longrepr[2])
    ]
    if skipped:
        terminalreporter.section("browser tests skipped", yellow=True, bold=True)
        why = str(skipped[0].longrepr[2]).split(f"{SKIP_PREFIX}: ", 1)[-1].split(";")[0]
        terminalreporter.line(f"{len(skipped)} test(s) in headless Chromium did not run: {why}.", bold=True)
        terminalreporter.line(f"They need {NEEDS}; with CI=true they fail instead.", yellow=True)


# --- Running the whole suite at another instant (SHIPLOG_TEST_NOW).

TEST_NOW_ENV = "SHIPLOG_TEST_NOW"
FAKETIME_LIB = next(iter(sorted(glob("/usr/lib/*/faketime/libfaketime.so.1"))), None)
_TRAVELLER = pytest.StashKey[time_machine.travel]()


def requested_now() -> datetime | None:
    """Return the instant SHIPLOG_TEST_NOW asks the run to start at, in UTC (None: the real time)."""
    raw = os.environ.get(TEST_NOW_ENV, "").strip()
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise pytest.UsageError(
            f"{TEST_NOW_ENV} must be an ISO 8601 instant such as 2026-12-07T06:30:00Z, not {raw!r}"
        ) from None
    if when.tzinfo is None:
        raise pytest.UsageError(f"{TEST_NOW_ENV} needs a zone or an offset (2026-12-07T06:30:00Z), not {raw!r}")
    return when.astimezone(UTC)


def _travel_to_test_now(config: pytest.Config) -> None:
    """Move the clock of this process, and of every program a test starts, to SHIPLOG_TEST_NOW."""
    when = requested_now()
    if when is None:
        return
    if "FAKETIME" in os.environ:
        raise pytest.UsageError(f"{TEST_NOW_ENV} and FAKETIME both move the clock: use one of them")
    # Whole seconds, for libfaketime; this process travels by exactly the same offset, so a time a
    # child stores is never ahead of this process's clock (a test compares them).
    offset = round(when.timestamp() - time.time())
    traveller = time_machine.travel(time.time() + offset, tick=True)
    traveller.start()
    config.stash[_TRAVELLER] = traveller
    if _is_xdist_controller(config):
        # The workers this process starts inherit its environment: under libfaketime they would
        # travel twice. Each worker runs this function itself and moves its own children.
        return
    if FAKETIME_LIB is not None:
        # Children keep the offset, so their clock agrees with this process's. Their monotonic clock
        # moves by it too: with FAKETIME_DONT_FAKE_MONOTONIC, libfaketime fails time.sleep (EINVAL).
        os.environ["FAKETIME"] = f"{offset:+d}"
        os.environ["LD_PRELOAD"] = ":".join(filter(None, [FAKETIME_LIB, os.environ.get("LD_PRELOAD")]))


def _is_xdist_controller(config: pytest.Config) -> bool:
    """Whether this process hands the tests to pytest-xdist workers (`-n 2`) rather than running them."""
    return not XDIST_WORKER and config.getoption("dist", "no") != "no"


# The quick subset (`pytest -n auto -m "not slow"`, run before each commit) leaves out the kinds of
# test that take seconds each: those that start programs (`shiplog` processes, Chromium, Alembic or
# pytest in a subprocess), the end-to-end tests of the whole bot (tests/test_e2e_*.py), and property
# tests (hypothesis). A slow test elsewhere says so with `@pytest.mark.slow`.
SLOW_MODULES = frozenset(
    {
        "test_browser_pages",
        "test_cli",
        "test_containers",
        "test_extensions",
        "test_fleet",
        "test_migrations",
        "test_playground",
        "test_processes",
        "test_readme",
        "test_start_failures",
    }
)


def is_slow(item: pytest.Item) -> bool:
    """Whether `item` belongs to the slow kinds the quick subset leaves out."""
    module = item.nodeid.split("::", 1)[0].rsplit("/", 1)[-1].removesuffix(".py")
    return (
        module in SLOW_MODULES
        or module.startswith("test_e2e_")
        or getattr(getattr(item, "obj", None), "is_hypothesis_test", False)
        or "slow" in item.keywords
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip_sqlite = pytest.mark.skip(reason="SQLite only; this run is on PostgreSQL")
    skip_postgres = pytest.mark.skip(reason="PostgreSQL only: set TEST_DATABASE_URL")
    for item in items:
        if is_slow(item):
            item.add_marker(pytest.mark.slow)
        if ON_POSTGRES and "sqlite_only" in item.keywords:
            item.add_marker(skip_sqlite)
        if not ON_POSTGRES and "postgres_only" in item.keywords:
            item.add_marker(skip_postgres)


@pytest.fixture(autouse=True)
async def _sqlite_threads_finish_on_the_test_loop() -> AsyncIterator[None]:
    """Let the aiosqlite threads a test started end while its event loop is still open.

    An aiosqlite connection that fails to open, or is closed without being awaited, stops its
    thread without waiting for it. That thread then reports to the test's loop; if the loop has
    closed by then, the thread dies with "Event loop is closed", and the run fails on the next
    test. Waiting here, for up to two seconds, is what the bot gets for free: its loop outlives
    every connection.
    """
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        started = [t for t in threading.enumerate() if t not in before and "_connection_worker_thread" in t.name]
        if not started:
            return
        await asyncio.sleep(0.005)


# --- PostgreSQL housekeeping, on a connection of its own in a thread of its own: no test's event loop.


_DROP_FUNCTIONS = """
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public'
    LOOP
        EXECUTE 'DROP FUNCTION ' || f || ' CASCADE';
    END LOOP;
END $$
"""


class _Postgres:
    """One asyncpg connection to the test database, for resetting it between tests."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="test-postgres", daemon=True)
        self._thread.start()
        self._conn: Any = None
        self.tables: list[str] = []

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    async def _connect(self) -> Any:
        import asyncpg

        if self._conn is None or self._conn.is_closed():
            self._conn = await asyncpg.connect(self.dsn)
        return self._conn

    async def drop_everything(self) -> None:
        conn = await self._connect()
        await conn.execute("DROP SCHEMA public CASCADE; CREATE SCHEMA public")

    async def find_tables(self) -> None:
        conn = await self._connect()
        rows = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'alembic_version'"
        )
        self.tables = sorted(row["tablename"] for row in rows)

    async def empty_tables(self) -> None:
        conn = await self._connect()
        # A transaction a finished test left open (its event loop is gone) would hold locks forever.
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'"
        )
        # Tests may add trigger functions (see poison_trigger); the migrations create none.
        await conn.execute(_DROP_FUNCTIONS)
        names = ", ".join(f'"{name}"' for name in self.tables)
        await conn.execute(f"SET lock_timeout = '30s'; TRUNCATE {names} RESTART IDENTITY CASCADE")

    async def create_database(self, suffix: str = "") -> str:
        """Create an empty database beside this one (named with `suffix`, or a random one); return its URL."""
        conn = await self._connect()
        name = f"{make_url(self.url).database}_{suffix or uuid.uuid4().hex[:8]}"
        # A worker's database a killed run left behind is replaced.
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
        return make_url(self.url).set(database=name).render_as_string(hide_password=False)

    async def drop_database(self, url: str) -> None:
        conn = await self._connect()
        await conn.execute(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)')

    def close(self) -> None:
        if self._conn is not None:
            self.run(self._conn.close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


@pytest.fixture(scope="session")
def postgres() -> Iterator[_Postgres | None]:
    """The PostgreSQL test database's housekeeper (None on SQLite).

    Under pytest-xdist, each worker's is a database of its own, so workers never empty each other's tables.
    """
    if not ON_POSTGRES:
        yield None
        return
    main = _Postgres(TEST_DATABASE_URL)
    if not XDIST_WORKER:
        try:
            yield main
        finally:
            main.close()
        return
    try:
        url = main.run(main.create_database(suffix=XDIST_WORKER))
        pg = _Postgres(url)
        try:
            yield pg
        finally:
            pg.close()
            main.run(main.drop_database(url))
    finally:
        main.close()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory, postgres: _Postgres | None) -> str:
    """Migrate once per run: a SQLite file each test copies, or the PostgreSQL test database itself."""
    if postgres is not None:
        postgres.run(postgres.drop_everything())
        upgrade(postgres.url)
        postgres.run(postgres.find_tables())
        return postgres.url
    path = tmp_path_factory.mktemp("template") / "template.db"
    upgrade(sqlite_url(path))
    return str(path)


@pytest.fixture
def db_url(tmp_path: Path, migrated_template: str, postgres: _Postgres | None) -> str:
    """Return the URL of a fresh, migrated, empty database for this test."""
    if postgres is not None:
        postgres.run(postgres.empty_tables())
        return postgres.url
    path = tmp_path / "shiplog.db"
    shutil.copyfile(migrated_template, path)
    return sqlite_url(path)


@pytest.fixture
def empty_db_url(tmp_path: Path, postgres: _Postgres | None) -> Iterator[str]:
    """Return the URL of a database with nothing in it, not even migrations.

    On SQLite it is a file not yet created, in a folder not yet created either.
    """
    if postgres is None:
        yield sqlite_url(tmp_path / "nested" / "empty.db")
        return
    url = postgres.run(postgres.create_database())
    try:
        yield url
    finally:
        postgres.run(postgres.drop_database(url))


@pytest.fixture
def unreachable_db_url(tmp_path: Path) -> str:
    """Return a URL of the test run's kind of database that cannot be reached."""
    if not ON_POSTGRES:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        return sqlite_url(blocker / "shiplog.db")
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return make_url(TEST_DATABASE_URL).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)


@pytest.fixture
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(db_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(engine)


# --- Making the database misbehave, the same way on both.


def impatient_engine(url: str) -> AsyncEngine:
    """An engine whose statements give up after 20 ms waiting for a lock, instead of the usual patience."""
    engine = create_engine(url)
    if make_url(url).get_backend_name() == "postgresql":

        @event.listens_for(engine.sync_engine, "connect")
        def on_connect(dbapi_connection, _record) -> None:
            # On the raw connection: outside any transaction, so it is not rolled back.
            dbapi_connection.run_async(lambda conn: conn.execute("SET lock_timeout = '20ms'"))

    else:
        event.listen(engine.sync_engine, "connect", lambda dbapi, _: dbapi.execute("PRAGMA busy_timeout=20"))
    return engine


@asynccontextmanager
async def database_locked(url: str, *, reads_too: bool = False) -> AsyncIterator[None]:
    """Hold the database's write lock (and with `reads_too`, block readers as well) for a block.

    SQLite: another connection's BEGIN IMMEDIATE (EXCLUSIVE). PostgreSQL: every table locked
    IN EXCLUSIVE MODE (ACCESS EXCLUSIVE), which is what stops writers (and readers) there.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        import sqlite3

        blocker = sqlite3.connect(parsed.database, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE" if reads_too else "BEGIN IMMEDIATE")
        try:
            yield
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        return
    import asyncpg

    conn = await asyncpg.connect(parsed.set(drivername="postgresql").render_as_string(hide_password=False))
    try:
        tables = [
            row["tablename"]
            for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
        ]
        transaction = conn.transaction()
        await transaction.start()
        mode = "ACCESS EXCLUSIVE" if reads_too else "EXCLUSIVE"
        names = ", ".join(f'"{table}"' for table in tables)
        await conn.execute(f"LOCK TABLE {names} IN {mode} MODE")
        try:
            yield
        finally:
            await transaction.rollback()
    finally:
        await conn.close()


POISON = "poison refused"


async def add_poison_trigger(
    session: AsyncSession, name: str, timing: str, table: str, when: str, *, fault: bool = False
) -> str:
    """Make the statements on `table` matching `when` fail with a real database error; return its message.

    `timing` is e.g. "BEFORE INSERT" or "BEFORE UPDATE OF status". With `fault`, the error is one
    the database raises for reasons of its own, that may pass on a later try (SQLite: "malformed
    JSON", an OperationalError; PostgreSQL: a serialization failure); without, the database refuses
    the row (an IntegrityError). The trigger (and on PostgreSQL its function) is named `name`.
    """
    if session.get_bind().dialect.name == "postgresql":
        code = "serialization_failure" if fault else "check_violation"
        statements = [
            f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{POISON}' USING ERRCODE = '{code}'; END $$",
            f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW WHEN ({when}) EXECUTE FUNCTION {name}()",
        ]
        message = POISON
    else:
        # RAISE(ABORT) is a constraint error; a function failing inside the trigger is not.
        action = "SELECT json_extract('{', '$')" if fault else f"SELECT RAISE(ABORT, '{POISON}')"
        statements = [f"CREATE TRIGGER {name} {timing} ON {table} WHEN {when} BEGIN {action}; END"]
        message = "malformed JSON" if fault else POISON
    for statement in statements:
        await session.execute(text(statement))
    return message


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
