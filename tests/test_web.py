"""The bot's web server answers health checks from the database's state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from bot.health import LOGIN_GRACE, GatewayWatch
from bot.web import STATE_KEY, WebServer, build_app


async def test_healthz_is_200_when_the_database_answers(engine) -> None:
    async with TestClient(TestServer(build_app(engine))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    engine = create_async_engine(f"sqlite+aiosqlite:///{blocker}/shiplog.db")
    try:
        async with TestClient(TestServer(build_app(engine))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"
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
