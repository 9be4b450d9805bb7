"""The bot's own web server: health checks and GitHub webhook intake."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.db.session import create_sessionmaker, ping
from bot.services.github import webhooks

log = logging.getLogger(__name__)

HEALTH_TIMEOUT = 5.0
# GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
MAX_WEBHOOK_BODY = 25 * 1024**2
# Column sizes of webhook_deliveries.delivery_id and .event.
MAX_DELIVERY_ID_LENGTH = 100
MAX_EVENT_LENGTH = 64


@dataclass(frozen=True, slots=True)
class WebhookIntake:
    """What the webhook handler needs: the secret (None when not configured), storage and a wake-up."""

    secret: str | None
    writer: webhooks.DeliveryWriter
    on_delivery: Callable[[], None] | None


ENGINE_KEY = web.AppKey("engine", AsyncEngine)
WEBHOOK_KEY = web.AppKey("webhook", WebhookIntake)


async def healthz(request: web.Request) -> web.Response:
    """Answer 200 when the database answers, 503 when it does not."""
    try:
        await asyncio.wait_for(ping(request.app[ENGINE_KEY]), HEALTH_TIMEOUT)
    except Exception as exc:  # any failure to reach the database means unhealthy
        log.warning("health check: database unreachable: %s", exc)
        return web.json_response({"status": "unhealthy", "database": "unreachable"}, status=503)
    return web.json_response({"status": "ok", "database": "ok"})


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _kept_headers(request: web.Request) -> dict[str, str]:
    # Lower-case names so the processor can look them up without caring how GitHub spelled them.
    kept = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower.startswith("x-github-") or lower in ("content-type", "user-agent"):
            kept[lower] = value
    return kept


async def github_webhook(request: web.Request) -> web.Response:
    """Verify a GitHub delivery, store it, then acknowledge it (pings are answered, not stored)."""
    intake = request.app[WEBHOOK_KEY]
    if not intake.secret:
        return _error(503, "GitHub webhooks are not configured on this bot: set GITHUB_WEBHOOK_SECRET.")
    if request.content_type not in webhooks.CONTENT_TYPES:
        return _error(415, "Send the webhook as application/json or application/x-www-form-urlencoded.")
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        return _error(413, "The body is larger than GitHub's 25 MB webhook limit.")
    try:
        body = await request.read()
    except web.HTTPRequestEntityTooLarge:  # a chunked body, without Content-Length, went over the limit
        return _error(413, "The body is larger than GitHub's 25 MB webhook limit.")

    # Nothing about the body is trusted, or even parsed, before the signature matches.
    if not webhooks.verify_signature(intake.secret, body, request.headers.get("X-Hub-Signature-256")):
        log.info("webhook refused: missing or wrong signature (from %s)", request.remote)
        return _error(401, "Missing or wrong X-Hub-Signature-256: check the webhook's secret.")
    event = request.headers.get("X-GitHub-Event")
    delivery_id = request.headers.get("X-GitHub-Delivery")
    if not event or len(event) > MAX_EVENT_LENGTH:
        return _error(400, "Missing or invalid X-GitHub-Event header.")
    if not delivery_id or len(delivery_id) > MAX_DELIVERY_ID_LENGTH:
        return _error(400, "Missing or invalid X-GitHub-Delivery header.")
    try:
        # Parsed once, only to refuse what the processor could never read; it parses the stored body.
        payload = webhooks.decode_payload(request.content_type, body)
    except ValueError as exc:
        return _error(400, f"The body is not a valid webhook payload: {exc}.")

    if event == "ping":
        # A ping carries no work: answering proves the secret and the URL, storing it would add nothing.
        log.info("webhook ping %s for hook %s", delivery_id, request.headers.get("X-GitHub-Hook-ID"))
        return web.json_response({"ok": True, "zen": payload.get("zen")})

    delivery = webhooks.Delivery(delivery_id, event, _kept_headers(request), body, utcnow())
    try:
        stored = await intake.writer.store(delivery)
    except Exception:
        log.exception("could not store webhook %s (%s)", delivery_id, event)
        return _error(500, "The delivery could not be stored; redeliver it from the webhook's Recent Deliveries.")
    if not stored:
        log.info("webhook %s (%s) is a redelivery; already stored", delivery_id, event)
        return web.json_response({"ok": True, "duplicate": True, "delivery": delivery_id})
    if intake.on_delivery is not None:
        try:
            intake.on_delivery()
        except Exception:  # the delivery is committed; a failed wake-up only delays its processing
            log.exception("on_delivery failed after storing webhook %s", delivery_id)
    return web.json_response({"ok": True, "delivery": delivery_id}, status=202)


def build_app(
    engine: AsyncEngine,
    *,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
    webhook_secret: str | None = None,
    on_delivery: Callable[[], None] | None = None,
) -> web.Application:
    """Build the aiohttp application; without a webhook secret, /github/webhook answers 503."""
    app = web.Application(client_max_size=MAX_WEBHOOK_BODY)
    app[ENGINE_KEY] = engine
    app[WEBHOOK_KEY] = WebhookIntake(
        secret=webhook_secret or None,
        writer=webhooks.DeliveryWriter(sessionmaker if sessionmaker is not None else create_sessionmaker(engine)),
        on_delivery=on_delivery,
    )
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/github/webhook", github_webhook)
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
