"""The bot's web server answers health checks from the database's state."""

from __future__ import annotations

import asyncio

import aiohttp
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy.ext.asyncio import create_async_engine

from bot.web import WebServer, build_app


async def test_healthz_is_200_when_the_database_answers(engine) -> None:
    async with TestClient(TestServer(build_app(engine))) as client:
        response = await client.get("/healthz")
        assert response.status == 200
        assert await response.json() == {"status": "ok", "database": "ok"}


async def test_healthz_is_503_when_the_database_is_unreachable(unreachable_db_url: str) -> None:
    engine = create_async_engine(unreachable_db_url)
    try:
        async with TestClient(TestServer(build_app(engine))) as client:
            response = await client.get("/healthz")
            assert response.status == 503
            assert (await response.json())["database"] == "unreachable"
    finally:
        await engine.dispose()
        await asyncio.sleep(0.1)  # aiosqlite stops a failed connection's thread a moment later: not after the loop


async def test_server_listens_on_loopback_and_reports_its_port(engine) -> None:
    server = WebServer(build_app(engine), "127.0.0.1", 0)
    await server.start()
    try:
        assert server.port > 0
        async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{server.port}/healthz") as r:
            assert r.status == 200
    finally:
        await server.stop()
