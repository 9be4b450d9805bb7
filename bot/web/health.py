"""`/healthz`: the database answers, the gateway's shards are connected, the process is not stopping.

`GatewayWatch` follows the shards (the bot feeds it their events); `ProcessState` is what the app
knows of its process, which the webhook intake reads too (a stopping process takes no delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.db import problems
from bot.db.base import utcnow
from bot.db.session import ping

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0

# A shard may be down this long (a resume, a reconnect after Discord's own restart) and still be healthy.
DISCONNECTED_GRACE = timedelta(minutes=1)
# Logging in counts as healthy this long: identifying is rate-limited by Discord (one shard every five
# seconds per bucket), so a process with many shards takes minutes to connect them all.
LOGIN_GRACE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """The gateway's state: `healthy` decides 200 or 503, `status` and `detail` say why."""

    healthy: bool
    status: str  # "connected", "logging in" or "disconnected"
    detail: str


@dataclass
class GatewayWatch:
    """Follows the gateway's connect and disconnect events, per shard (None for an unsharded client)."""

    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(init=False)
    up: set[int | None] = field(default_factory=set)
    down_since: dict[int | None, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def connected(self, shard_id: int | None = None) -> None:
        """Record that a shard is connected (READY or RESUMED)."""
        self.up.add(shard_id)
        self.down_since.pop(shard_id, None)

    def disconnected(self, shard_id: int | None = None) -> None:
        """Record that a shard lost its connection (discord.py reconnects it by itself)."""
        if shard_id in self.up:
            self.up.discard(shard_id)
            self.down_since[shard_id] = self.clock()

    def health(self) -> GatewayHealth:
        """Return the gateway's state now."""
        now = self.clock()
        if self.down_since:
            shard, since = min(self.down_since.items(), key=lambda item: item[1])
            seconds = (now - since).total_seconds()
            name = "the gateway" if shard is None else f"shard {shard}"
            detail = f"{name} disconnected {seconds:.0f} s ago"
            return GatewayHealth(now - since <= DISCONNECTED_GRACE, "disconnected", detail)
        if not self.up:
            waited = now - self.started_at
            if waited > LOGIN_GRACE:
                return GatewayHealth(False, "logging in", f"not connected {waited.total_seconds():.0f} s after start")
            return GatewayHealth(True, "logging in", "connecting to Discord")
        return GatewayHealth(True, "connected", f"{len(self.up)} shard{'s' if len(self.up) != 1 else ''} connected")


@dataclass
class ProcessState:
    """What the web app knows of its process: the gateway (None in `shiplog web`) and whether it is stopping."""

    gateway: GatewayWatch | None = None
    stopping: bool = False
    health_timeout: float = HEALTH_TIMEOUT
    health_ping: asyncio.Task[None] | None = None  # the database ping in flight, shared by health checks


ENGINE_KEY = web.AppKey("engine", AsyncEngine)
STATE_KEY = web.AppKey("state", ProcessState)


async def _ping_database(app: web.Application) -> None:
    """Ping the database within the health timeout; raise TimeoutError past it.

    One ping at a time, shared by every check that comes meanwhile: a connection stuck in SQLite's
    busy handler cannot be cancelled until it returns (up to 30 s), so waiting for it would hold the
    answer past the timeout, and a new ping per check would pile stuck connections up.
    """
    state = app[STATE_KEY]
    task = state.health_ping
    if task is None or task.done():
        task = state.health_ping = asyncio.create_task(ping(app[ENGINE_KEY]), name="shiplog-healthz-ping")
        # Read its failure even when every check stopped waiting for it, so asyncio does not log it as lost.
        task.add_done_callback(lambda t: t.cancelled() or t.exception())
    await asyncio.wait_for(asyncio.shield(task), state.health_timeout)


async def _end_health_ping(app: web.Application) -> None:
    task = app[STATE_KEY].health_ping
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(BaseException):
            await task


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the database answers and the gateway is connected or logging in; else 503, saying why.

    The status is "ok", "starting" (logging in to Discord), "unhealthy" or "stopping" (a load
    balancer then sends webhooks elsewhere while this process finishes its work).
    """
    state = request.app[STATE_KEY]
    body: dict[str, str] = {}
    healthy = True
    engine = request.app[ENGINE_KEY]
    try:
        # A read: it takes no write lock, so a writer (a burst of webhooks) never holds it up.
        await _ping_database(request.app)
        body["database"] = "ok"
    except TimeoutError:  # an OSError too: not to be told as a file that cannot be opened
        log.warning("health check: the database did not answer within %g s", state.health_timeout)
        body["database"] = "unreachable"
        healthy = False
    except Exception as exc:  # any failure to reach the database means unhealthy
        log.warning("health check: %s", problems.describe(exc, engine.url.render_as_string(hide_password=False)))
        body["database"] = "unreachable"
        healthy = False
    starting = False
    if state.gateway is not None:
        gateway = state.gateway.health()
        body["gateway"] = gateway.status
        body["gateway_detail"] = gateway.detail
        healthy = healthy and gateway.healthy
        starting = gateway.status == "logging in"
    if state.stopping:
        status = "stopping"
    elif not healthy:
        status = "unhealthy"
    else:
        status = "starting" if starting else "ok"
    return web.json_response({"status": status, **body}, status=200 if status in ("ok", "starting") else 503)


def add_routes(
    app: web.Application, engine: AsyncEngine, *, gateway: GatewayWatch | None, health_timeout: float
) -> None:
    """Serve /healthz from `app`, which keeps the process's state for every route."""
    app[ENGINE_KEY] = engine
    app[STATE_KEY] = ProcessState(gateway=gateway, health_timeout=health_timeout)
    app.on_cleanup.append(_end_health_ping)
    app.router.add_get("/healthz", healthz)
