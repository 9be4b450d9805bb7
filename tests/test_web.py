"""The bot's web server answers health checks from the database's state."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.engine import make_url

from bot.db.migrate import current_revision, head_revision
from bot.db.session import create_engine, ping
from bot.web import WebServer, build_app
from bot.web.app import SERVER_LOG
from bot.web.health import LOGIN_GRACE, STATE_KEY, GatewayWatch
from tests.conftest import database_locked


async def test_healthz_is_200_when_the_database_answers(engine) -> None:
    async with TestClient(TestServer(build_app(engine))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    folder = tmp_path / "a-folder"
    folder.mkdir()
    engine = create_engine(f"sqlite+aiosqlite:///{folder}")  # a folder: SQLite cannot open it
    try:
        async with TestClient(TestServer(build_app(engine))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"
        # aiosqlite stops its thread after the failed open without waiting for it: the engine does,
        # or the thread dies later with "Event loop is closed", once this test's loop has closed.
        assert not [t for t in threading.enumerate() if "_connection_worker_thread" in t.name]
    finally:
        await engine.dispose()


async def test_server_listens_on_loopback_and_reports_its_port(engine) -> None:
    server = WebServer(build_app(engine), "127.0.0.1", 0)
    await server.start()
    try:
        assert server.port > 0
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/healthz") as r:
            assert r.status == 200
    finally:
        await server.stop()


class ManualClock:
    def __init__(self) -> None:
        self.now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


async def health(client: TestClient) -> tuple[int, dict]:
    response = await client.get("/healthz")
    return response.status, await response.json()


async def test_healthz_reports_the_gateway_starting_connected_and_disconnected_too_long(engine) -> None:
    clock = ManualClock()
    gateway = GatewayWatch(clock=clock)
    async with TestClient(TestServer(build_app(engine, gateway=gateway))) as client:
        assert await health(client) == (
            200,
            {
                "status": "starting",
                "database": "ok",
                "gateway": "logging in",
                "gateway_detail": "connecting to Discord",
            },
        )
        gateway.connected(0)
        gateway.connected(1)
        assert (await health(client))[1]["status"] == "ok"
        gateway.disconnected(1)
        clock.now += timedelta(seconds=60)
        status, body = await health(client)
        assert (status, body["status"], body["gateway"]) == (200, "ok", "disconnected")  # a minute is allowed
        clock.now += timedelta(seconds=1)
        status, body = await health(client)
        assert (status, body["status"], body["gateway_detail"]) == (503, "unhealthy", "shard 1 disconnected 61 s ago")
        gateway.connected(1)  # resumed
        assert await health(client) == (
            200,
            {"status": "ok", "database": "ok", "gateway": "connected", "gateway_detail": "2 shards connected"},
        )


async def test_healthz_is_503_when_logging_in_never_ends(engine) -> None:
    clock = ManualClock()
    gateway = GatewayWatch(clock=clock)
    async with TestClient(TestServer(build_app(engine, gateway=gateway))) as client:
        clock.now += LOGIN_GRACE
        assert (await health(client))[0] == 200
        clock.now += timedelta(seconds=1)
        status, body = await health(client)
        assert (status, body["status"], body["gateway_detail"]) == (503, "unhealthy", "not connected 301 s after start")


async def test_a_stopping_process_refuses_webhooks_with_503_and_says_so_on_healthz(engine) -> None:
    app = build_app(engine, webhook_secret="s3cret")
    async with TestClient(TestServer(app)) as client:
        app[STATE_KEY].stopping = True
        response = await client.post(
            "/github/webhook", data=b"{}", headers={"Content-Type": "application/json", "X-Hub-Signature-256": "x"}
        )
        assert response.status == 503
        assert response.headers["Retry-After"] == "5"
        assert await response.json() == {"ok": False, "error": "Shiplog is restarting; redeliver this in a minute."}
        assert await health(client) == (503, {"status": "stopping", "database": "ok"})


async def test_healthz_only_reads_so_a_writer_holding_the_lock_does_not_hold_it_up(engine, db_url: str) -> None:
    """Another process's long write (a `shiplog run` taking a burst of webhooks) leaves /healthz answering at once.

    It took the write lock (`BEGIN IMMEDIATE`), so it waited behind every writer until its timeout: a 503.
    """
    async with TestClient(TestServer(build_app(engine))) as client, database_locked(db_url):
        assert await health(client) == (200, {"status": "ok", "database": "ok"})


async def test_every_status_read_of_the_database_takes_no_write_lock(engine, db_url: str) -> None:
    """The checks `/healthz`, `shiplog check`, `shiplog web` and the bot's start make only read.

    They share `read_connection` (the connection twin of `reading()`); `current_revision` opened a
    write transaction too, and waited out SQLite's 30 s busy timeout behind a writer.
    """
    head = head_revision(db_url)
    async with database_locked(db_url):
        await ping(engine)
        assert await current_revision(engine) == head


@pytest.mark.sqlite_only
async def test_a_health_check_that_times_out_is_logged_as_a_timeout(
    db_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A database held by another process (an exclusive lock) answers nothing: the log says it did not answer.

    A TimeoutError is an OSError, and was logged as "cannot open the SQLite file", sending an
    operator to check folders and permissions of a file that opens fine.
    """
    holder = sqlite3.connect(make_url(db_url).database, isolation_level=None)
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")  # readers too wait for it, even in WAL mode
    holder.execute("BEGIN EXCLUSIVE")
    holder.execute("CREATE TABLE held (x)")
    engine = create_engine(db_url)
    try:
        async with TestClient(TestServer(build_app(engine, health_timeout=0.2))) as client:
            with caplog.at_level(logging.WARNING, logger="bot.web.health"):
                # Answered at its timeout although the stuck connection cannot be cancelled before SQLite's
                # 30 s busy timeout; a second check shares the stuck ping instead of adding one.
                for _ in range(2):
                    status, body = await health(client)
                    assert (status, body) == (503, {"status": "unhealthy", "database": "unreachable"})
            holder.close()  # the other process lets go: the stuck ping ends, and the next check is healthy
            stuck = client.app[STATE_KEY].health_ping
            assert stuck is not None
            await stuck
            assert await health(client) == (200, {"status": "ok", "database": "ok"})
        logged = [r.getMessage() for r in caplog.records if r.name == "bot.web.health"]
        assert logged == ["health check: the database did not answer within 0.2 s"] * 2
    finally:
        holder.close()
        await engine.dispose()


def test_a_timeout_is_never_described_as_a_file_that_cannot_be_opened(tmp_path: Path) -> None:
    from bot.db.problems import describe

    try:
        try:
            raise sqlite3.OperationalError("interrupted")
        except sqlite3.OperationalError as inner:
            raise TimeoutError from inner
    except TimeoutError as exc:
        line = describe(exc, f"sqlite+aiosqlite:///{tmp_path}/s.db")
    assert "did not answer in time" in line and "cannot open" not in line


async def test_a_request_too_long_to_parse_is_a_400_and_one_info_line_not_an_error(
    engine, caplog: pytest.LogCaptureFixture
) -> None:
    """aiohttp answers a request line or header over 8 KB with 400, correctly, but logged an ERROR traceback."""
    server = WebServer(build_app(engine), "127.0.0.1", 0)
    await server.start()
    try:
        with caplog.at_level(logging.DEBUG, logger="aiohttp"):
            for request in (
                b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
            ):
                reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
                writer.write(request)
                answer = await reader.read()  # the server closes the connection after its 400
                writer.close()
                await writer.wait_closed()
                assert answer.startswith(b"HTTP/1.0 400 Bad Request\r\n")
        logged = [r for r in caplog.records if r.name.startswith("aiohttp")]
        assert [(r.levelno, r.exc_info) for r in logged] == [(logging.INFO, None)] * 2
        assert all("malformed, answered 400 (LineTooLong" in r.getMessage() for r in logged)
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/healthz") as r:
            assert r.status == 200  # the server goes on serving
        # Anything else aiohttp logs as an exception (a bug of a handler) stays an ERROR with its traceback.
        caplog.clear()
        try:
            raise RuntimeError("a bug")
        except RuntimeError:
            SERVER_LOG.exception("Error handling request from %s", "127.0.0.1")
        assert [(r.levelno, r.exc_info is not None) for r in caplog.records] == [(logging.ERROR, True)]
    finally:
        await server.stop()
