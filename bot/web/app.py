"""The bot's own web server: the aiohttp app (health checks, webhook intake, public pages) and its runner.

Each route lives in its own module (`health`, `webhook`, `pages`); here they are put together, with
the headers every answer gets and the server's log.
"""

from __future__ import annotations

import asyncio
import errno
import logging
from collections.abc import Callable
from datetime import datetime
from types import TracebackType
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.session import create_sessionmaker
from bot.metrics import CONTENT_TYPE, Metrics
from bot.web import community, health, pages, webhook
from bot.web.health import HEALTH_TIMEOUT, STATE_KEY, GatewayWatch, ProcessState
from bot.web.webhook import BODY_TIMEOUT, MAX_UNVERIFIED_BYTES, MAX_WEBHOOK_BODY

log = logging.getLogger(__name__)

# What `exc_info` may be, as the logging module takes it.
ExcInfo = (
    bool
    | BaseException
    | tuple[type[BaseException], BaseException, TracebackType | None]
    | tuple[None, None, None]
    | None
)


async def _safe_headers(_request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Give every answer of this server the headers that keep it private, whichever route or error made it.

    No Referer leaves a page for the sites it links to (a member's page address is a secret of
    sorts: closing it must be enough), no type sniffing, and nothing kept by a browser or a CDN
    unless the route chose its own caching (the pages' images revalidate: see bot.web.pages).
    """
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers.setdefault("Cache-Control", "no-store")


class _ServerLog(logging.LoggerAdapter):
    """aiohttp's server log, where a request it could not parse is the client's fault, not the bot's.

    aiohttp answers a malformed request (a request line or header over 8 KB, broken framing) with a
    400, correctly, but logs it as an ERROR with a traceback: anyone could fill the log with them.
    Those become one INFO line; any other exception stays an ERROR with its traceback.
    """

    def exception(self, msg: object, *args: object, exc_info: ExcInfo = True, **kwargs: Any) -> None:
        if isinstance(exc_info, HttpProcessingError) and 400 <= (exc_info.code or 500) < 500:
            reason = (str(exc_info.message).strip().splitlines() or [type(exc_info).__name__])[0][:120]
            text = str(msg) % args if args else str(msg)
            self.info("%s: malformed, answered %d (%s: %s)", text, exc_info.code, type(exc_info).__name__, reason)
            return
        super().exception(msg, *args, exc_info=exc_info, **kwargs)


SERVER_LOG = _ServerLog(logging.getLogger("aiohttp.server"), {})


def build_app(
    engine: AsyncEngine,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    webhook_secret: str | None = None,
    on_delivery: Callable[[], None] | None = None,
    max_unverified_bytes: int = MAX_UNVERIFIED_BYTES,
    body_timeout: float = BODY_TIMEOUT,
    gateway: GatewayWatch | None = None,
    public_url: str | None = None,
    now: Callable[[], datetime] = utcnow,
    health_timeout: float = HEALTH_TIMEOUT,
    metrics: Metrics | None = None,
) -> web.Application:
    """Build the aiohttp application; without a webhook secret, /github/webhook answers 503.

    Members' public pages are served under /u/ (see bot.web.pages); without `public_url` each is a 404.
    With `metrics` (METRICS=true), GET /metrics serves them; without, it is a 404.
    """
    app = web.Application(client_max_size=MAX_WEBHOOK_BODY)
    app.on_response_prepare.append(_safe_headers)
    if sessionmaker is None:
        sessionmaker = create_sessionmaker(engine)
    health.add_routes(app, engine, gateway=gateway, health_timeout=health_timeout)
    webhook.add_routes(
        app,
        sessionmaker=sessionmaker,
        secret=webhook_secret or None,
        on_delivery=on_delivery,
        max_unverified_bytes=max_unverified_bytes,
        body_timeout=body_timeout,
        now=now,
        metrics=metrics,
    )
    if metrics is not None:
        app[METRICS_KEY] = metrics
        app.router.add_get("/metrics", _metrics)
    pages.add_routes(app, sessionmaker=sessionmaker, public_url=public_url, now=now)
    community.add_routes(app)
    return app


METRICS_KEY = web.AppKey("metrics", Metrics)


async def _metrics(request: web.Request) -> web.Response:
    """Serve the metrics in Prometheus' text format (bot/metrics.py); a database failure is a 503."""
    try:
        body = await request.app[METRICS_KEY].scrape()
    except Exception:
        log.exception("could not read the metrics")
        return web.Response(status=503, text="The metrics could not be read from the database.\n")
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})


class PortInUse(Exception):
    """HTTP_HOST:HTTP_PORT is taken by another program (or cannot be bound); the message names the fix."""


class WebServer:
    """Runs the aiohttp application on host:port inside the bot's event loop."""

    def __init__(self, app: web.Application, host: str, port: int, *, shutdown_timeout: float = 10.0) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.shutdown_timeout = shutdown_timeout
        self._runner: web.AppRunner | None = None

    @property
    def running(self) -> bool:
        return self._runner is not None

    @property
    def state(self) -> ProcessState:
        return self.app[STATE_KEY]

    async def start(self) -> None:
        """Start listening; with port 0, the chosen port is stored in `self.port`. Raise PortInUse."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False, logger=SERVER_LOG)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        try:
            await site.start()
        except OSError as exc:
            await self._runner.cleanup()
            self._runner = None
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(
                    f"HTTP_PORT {self.port} on {self.host} is in use by another program: stop it, "
                    "or set HTTP_PORT to a free port."
                ) from None
            raise PortInUse(
                f"cannot listen on HTTP_HOST {self.host} port {self.port} ({exc.strerror or exc}): "
                "set HTTP_HOST to an address of this machine (0.0.0.0 for all)."
            ) from None
        server = site._server  # aiohttp keeps the asyncio server here; it knows the real port
        if isinstance(server, asyncio.Server) and server.sockets:
            self.port = server.sockets[0].getsockname()[1]
        log.info("web server listening on http://%s:%s", self.host, self.port)

    def drain(self) -> None:
        """Refuse new webhooks (503) and report "stopping" on /healthz; requests in flight go on."""
        self.state.stopping = True

    async def stop(self) -> None:
        """Stop listening and finish in-flight requests (for up to `shutdown_timeout` seconds)."""
        if self._runner is not None:
            self._runner._shutdown_timeout = self.shutdown_timeout  # aiohttp reads it here, at cleanup
            await self._runner.cleanup()
            self._runner = None
