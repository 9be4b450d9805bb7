"""The bot's own web server: health checks now, GitHub webhooks later."""

from __future__ import annotations

import asyncio
import logging

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db.session import ping

log = logging.getLogger(__name__)

ENGINE_KEY = web.AppKey("engine", AsyncEngine)
HEALTH_TIMEOUT = 5.0


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        await asyncio.wait_for(ping(request.app[ENGINE_KEY]), HEALTH_TIMEOUT)
    except Exception as exc:  # any failure to reach the database means unhealthy
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def build_app(engine: AsyncEngine) -> web.Application:
    """Build the aiohttp application."""
    app = web.Application(client_max_size=1024**2)
    app[ENGINE_KEY] = engine
    app.router.add_get("/healthz", healthz)
    return app


class WebServer:
    """Runs the aiohttp application on host:port inside the bot's event loop."""

    def __init__(self, app: web.Application, host: str, port: int) -> None:
        self.app = app
        self.host = host
        self.port = port
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Start listening; with port 0, the chosen port is stored in `self.port`."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server = site._server  # aiohttp keeps the asyncio server here; it knows the real port
        if server is not None and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("web server listening on http://%s:%s", self.host, self.port)

    async def stop(self) -> None:
        """Stop listening and finish in-flight requests."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
