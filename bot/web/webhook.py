"""The GitHub webhook intake, `POST /github/webhook`: verify a delivery's signature, store it, acknowledge it.

What it stores, the processor (`bot/workers/github.py`, through `events.process_batch`) turns into
celebrations; nothing here parses more of a delivery than it must to refuse what the processor
could never read.
Writes the `webhook_deliveries` table (through `webhooks.DeliveryWriter`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import utcnow
from bot.services.github import webhooks
from bot.web.health import STATE_KEY

if TYPE_CHECKING:
    from bot.metrics import Metrics

log = logging.getLogger(__name__)

# GitHub caps webhook payloads at 25 MB; anything larger is not from GitHub.
MAX_WEBHOOK_BODY = 25 * 1024**2
# Bytes of bodies whose signature is not checked yet, held by all requests together (BodyBudget).
MAX_UNVERIFIED_BYTES = 64 * 1024**2
# GitHub gives up on a delivery after 10 seconds; a body still arriving after this is not GitHub's.
BODY_TIMEOUT = 20.0
# What a 503 for a spent budget tells the sender: by then the bodies holding it are read or refused.
RETRY_AFTER_SECONDS = 5
# Headers stored with a delivery; the processor reads content-type, the rest helps replay and debugging.
KEPT_HEADERS = ("content-type", "user-agent")
KEPT_PREFIX = "x-github-"


class BodyBudget:
    """The bytes of webhook bodies held before their signature is checked, all requests together.

    The signature covers the whole body, so it can only be checked once the last byte is in, and
    until then the body must be kept in case it turns out to be GitHub's. Reading every body whole
    let anyone make the bot hold 25 MB per connection: 16 concurrent unsigned posts took it from
    96 MB to 652 MB. So the handler refuses a request without a well-formed signature before
    reading any of its body, and streams every other body into the HMAC and a buffer, taking each
    chunk from this budget as it arrives: past the limit the request is answered 503 with
    Retry-After at once, and what it held is given back. Bytes go back as soon as the signature is
    checked, matching or not: what stays held after that was signed with the secret.

    Only bytes really received count, not what Content-Length promises, so a client cannot hold
    the budget without sending the bytes; BODY_TIMEOUT bounds how long it can keep them. The limit
    is at least one whole body, so GitHub's largest delivery fits once the others are read.
    Spooling bodies to a temporary file instead would spare those 503s, but trade memory for disk
    that an attacker could fill the same way; GitHub's deliveries are mostly a few kilobytes, so
    64 MB lets thousands arrive at once.
    """

    def __init__(self, limit: int) -> None:
        if limit < MAX_WEBHOOK_BODY:
            raise ValueError(f"the budget of unverified bytes must hold one whole body ({MAX_WEBHOOK_BODY} bytes)")
        self.limit = limit
        self.held = 0
        self.peak = 0  # the most ever held at once: what tests and operators can check the limit by

    def take(self, size: int) -> bool:
        """Take `size` bytes from the budget; False, taking nothing, when they do not fit."""
        if self.held + size > self.limit:
            return False
        self.held += size
        self.peak = max(self.peak, self.held)
        return True

    def give_back(self, size: int) -> None:
        self.held -= size


@dataclass(frozen=True, slots=True)
class WebhookIntake:
    """What the webhook handler needs: the secret (None when not configured), storage and a wake-up."""

    secret: str | None
    writer: webhooks.DeliveryWriter
    on_delivery: Callable[[], None] | None
    budget: BodyBudget
    body_timeout: float
    now: Callable[[], datetime] = utcnow  # the bot's clock: a delivery is stamped with it when stored
    metrics: Metrics | None = None  # METRICS=true: every answer is counted (bot/metrics.py)


WEBHOOK_KEY = web.AppKey("webhook", WebhookIntake)
# Set on the request by an answer that is neither a stored delivery nor a refusal: "ping" or "duplicate".
RESULT_KEY = web.RequestKey("webhook_result", str)


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"ok": False, "error": message}, status=status)


def _kept_headers(request: web.Request) -> dict[str, str]:
    """Return the headers stored with a delivery, by lower-case name; raise InvalidDelivery for a repeated one.

    Lower-case names so the processor can look them up without caring how GitHub spelled them. A
    header sent twice is refused, not picked from: the handler and the processor would otherwise
    read different values (aiohttp's `get` returns the first, a dict keeps the last).
    """
    kept: dict[str, str] = {}
    for name, value in request.headers.items():
        lower = name.lower()
        if lower.startswith(KEPT_PREFIX) or lower in KEPT_HEADERS:
            if lower in kept:
                raise webhooks.InvalidDelivery(f"The {name} header is sent more than once")
            kept[lower] = value
    return kept


def _busy() -> web.Response:
    response = _error(503, "Too many webhook bodies are arriving at once; try again shortly.")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


async def _read_signed_body(
    request: web.Request, intake: WebhookIntake, check: webhooks.SignatureCheck, signature: str
) -> bytes | web.Response:
    """Return the body once its signature matches, or the answer refusing it.

    The body streams into the HMAC and into a buffer whose every chunk is taken from the budget
    of unverified bytes (see BodyBudget), and given back when this returns. Answers: 413 past 25 MB
    (a chunked body has no Content-Length to refuse it by), 503 when the budget is spent, 408 when
    the body is slower than BODY_TIMEOUT, 400 when the sender broke it off, 401 when the
    signature does not match.
    """
    chunks: list[bytes] = []
    taken = 0
    # A body already in whole (most are: GitHub's are a few kB) cannot stall, and needs no timer.
    deadline = contextlib.nullcontext() if request.content.is_eof() else asyncio.timeout(intake.body_timeout)
    try:
        async with deadline:
            async for chunk in request.content.iter_any():
                if taken + len(chunk) > MAX_WEBHOOK_BODY:
                    return _error(413, "The body is larger than GitHub's 25 MB webhook limit.")
                if not intake.budget.take(len(chunk)):
                    log.warning("webhook refused: %d bytes of unverified bodies already held", intake.budget.held)
                    return _busy()
                taken += len(chunk)
                check.update(chunk)
                chunks.append(chunk)
        # Nothing about the body is trusted, or even parsed, before the signature matches.
        if not check.matches(signature):
            log.info("webhook refused: wrong signature (from %s)", request.remote)
            return _error(401, "Missing or wrong X-Hub-Signature-256: check the webhook's secret.")
        return b"".join(chunks)
    except TimeoutError:
        return _error(408, f"The body took longer than {intake.body_timeout:g} seconds to arrive.")
    except (ConnectionError, HttpProcessingError) as exc:  # the sender went away or broke the framing
        log.info("webhook body broken off (from %s): %r", request.remote, exc)
        return _error(400, "The body broke off before its end.")
    finally:
        intake.budget.give_back(taken)


async def github_webhook(request: web.Request) -> web.Response:
    """Answer a GitHub delivery (see `_answer`), and count the answer when metrics are on."""
    response = await _answer(request)
    metrics = request.app[WEBHOOK_KEY].metrics
    if metrics is not None:
        metrics.delivery(response.status, result=request.get(RESULT_KEY))
    return response


async def _answer(request: web.Request) -> web.Response:
    """Verify a GitHub delivery, store it, then acknowledge it (pings are answered, not stored).

    Every refusal is a 4xx (or a 503 that says when to try again) and stores nothing: only a
    database failing to store a valid delivery is a 500.
    """
    intake = request.app[WEBHOOK_KEY]
    if request.app[STATE_KEY].stopping:
        # Nothing is read or stored: GitHub shows the 503 in Recent Deliveries, where it can be redelivered.
        response = _error(503, "Shiplog is restarting; redeliver this in a minute.")
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response.headers["Connection"] = "close"
        return response
    if not intake.secret:
        return _error(503, "GitHub webhooks are not configured on this bot: set GITHUB_WEBHOOK_SECRET.")
    if request.content_type not in webhooks.CONTENT_TYPES:
        return _error(415, "Send the webhook as application/json or application/x-www-form-urlencoded.")
    if request.content_length is not None and request.content_length > MAX_WEBHOOK_BODY:
        return _error(413, "The body is larger than GitHub's 25 MB webhook limit.")
    # Without exactly one well-formed signature no body can be GitHub's: refused before it is read.
    signatures = request.headers.getall("X-Hub-Signature-256", [])
    if len(signatures) != 1 or not webhooks.well_formed_signature(signatures[0]):
        log.info("webhook refused: missing or malformed signature (from %s)", request.remote)
        return _error(401, "Missing or wrong X-Hub-Signature-256: check the webhook's secret.")
    body = await _read_signed_body(request, intake, webhooks.SignatureCheck(intake.secret), signatures[0])
    if isinstance(body, web.Response):
        return body

    try:
        headers = _kept_headers(request)
        delivery = webhooks.Delivery(
            headers.get("x-github-delivery", ""), headers.get("x-github-event", ""), headers, body, intake.now()
        )
        webhooks.check_delivery(delivery)  # here, not in the batch it would otherwise fail
    except webhooks.InvalidDelivery as exc:
        return _error(400, f"{exc}.")
    try:
        # Parsed once, only to refuse what the processor could never read; it parses the stored body.
        payload = webhooks.decode_payload(headers.get("content-type", webhooks.JSON), body)
    except ValueError as exc:
        return _error(400, f"The body is not a valid webhook payload: {exc}.")
    delivery_id, event = delivery.delivery_id, delivery.event

    if event == "ping":
        # A ping carries no work: answering proves the secret and the URL, storing it would add nothing.
        log.info("webhook ping %s for hook %s", delivery_id, headers.get("x-github-hook-id"))
        request[RESULT_KEY] = "ping"
        zen = payload.get("zen")
        return web.json_response({"ok": True, "zen": zen if isinstance(zen, str) else None})

    try:
        stored = await intake.writer.store(delivery)
    except Exception:
        log.exception("could not store webhook %s (%s)", delivery_id, event)
        return _error(500, "The delivery could not be stored; redeliver it from the webhook's Recent Deliveries.")
    if not stored:
        log.info("webhook %s (%s) is a redelivery; already stored", delivery_id, event)
        request[RESULT_KEY] = "duplicate"
        return web.json_response({"ok": True, "duplicate": True, "delivery": delivery_id})
    if intake.on_delivery is not None:
        try:
            intake.on_delivery()
        except Exception:  # the delivery is committed; a failed wake-up only delays its processing
            log.exception("on_delivery failed after storing webhook %s", delivery_id)
    return web.json_response({"ok": True, "delivery": delivery_id}, status=202)


def add_routes(
    app: web.Application,
    *,
    sessionmaker: async_sessionmaker[AsyncSession],
    secret: str | None,
    on_delivery: Callable[[], None] | None,
    max_unverified_bytes: int,
    body_timeout: float,
    now: Callable[[], datetime],
    metrics: Metrics | None = None,
) -> None:
    """Take GitHub's deliveries at /github/webhook (each answered 503 while `secret` is None)."""
    app[WEBHOOK_KEY] = WebhookIntake(
        secret=secret,
        writer=webhooks.DeliveryWriter(sessionmaker),
        on_delivery=on_delivery,
        budget=BodyBudget(max_unverified_bytes),
        body_timeout=body_timeout,
        now=now,
        metrics=metrics,
    )
    app.router.add_post("/github/webhook", github_webhook)
