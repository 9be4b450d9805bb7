"""Faults on purpose: injected REST failures, an outage, slow REST and Discord's per-channel rate limit."""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from bot.playground.fake_discord.models import FaultRule, RecordedRequest
from bot.playground.fake_discord.rest.responses import json_response

if TYPE_CHECKING:
    from bot.playground.fake_discord.base import Fake


class FaultsMixin:
    """Fail the bot's REST calls the way Discord can: ``fail_next``, ``outage``, channel rate limits."""

    # ------------------------------------------------------------------ fault injection

    def fail_next(
        self: Fake,
        method: str | None,
        path_regex: str,
        status: int,
        times: int = 1,
        json: Any = None,
        *,
        retry_after: float = 0.05,
        is_global: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> FaultRule:
        """Answer the next ``times`` requests whose method matches (None/"*" = any) and whose
        path (relative to /api/v10, e.g. ``/channels/123/messages``) matches ``path_regex``
        (``re.search``) with ``status``.  Sensible Discord-style bodies are used by default
        (403 -> 50013 Missing Permissions, 429 -> retry_after + the headers discord.py needs)."""
        hdrs = dict(headers or {})
        if json is None:
            json = self._default_error_body(status, retry_after=retry_after, is_global=is_global)
        if status == 429:
            hdrs.setdefault("Retry-After", str(max(1, int(retry_after + 0.999))))
            hdrs.setdefault("X-RateLimit-Limit", "5")
            hdrs.setdefault("X-RateLimit-Remaining", "0")
            hdrs.setdefault("X-RateLimit-Reset-After", str(retry_after))
            hdrs.setdefault("X-RateLimit-Bucket", "fake-bucket")
            hdrs.setdefault("X-RateLimit-Scope", "global" if is_global else "user")
            if is_global:
                hdrs.setdefault("X-RateLimit-Global", "true")
            # discord.py treats a 429 without a Via header as a Cloudflare ban.
            hdrs.setdefault("Via", "1.1 google")
        rule = FaultRule(
            method=method.upper() if method else None,
            pattern=re.compile(path_regex),
            status=status,
            remaining=times,
            body=json,
            headers=hdrs,
        )
        self._faults.append(rule)
        return rule

    def clear_faults(self: Fake) -> None:
        self._faults.clear()

    @staticmethod
    def _default_error_body(status: int, *, retry_after: float = 0.05, is_global: bool = False) -> Any:
        if status == 429:
            return {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
                "code": 0,
            }
        known = {
            400: {"message": "400: Bad Request", "code": 0},
            401: {"message": "401: Unauthorized", "code": 0},
            403: {"message": "Missing Permissions", "code": 50013},
            404: {"message": "404: Not Found", "code": 0},
            500: {"message": "500: Internal Server Error", "code": 0},
            502: {"message": "502: Bad Gateway", "code": 0},
            503: {"message": "503: Service Unavailable", "code": 0},
        }
        return known.get(status, {"message": f"{status}: Error", "code": 0})

    # ------------------------------------------------------------------ internals: REST plumbing

    def _channel_rate(self: Fake, rec: RecordedRequest) -> web.Response | dict[str, str] | None:
        """Count a message post against its channel's window: a 429, the headers to send, or None."""
        if self.channel_rate_limit is None or rec.method != "POST":
            return None
        m = re.fullmatch(r"/channels/(\d+)/messages", rec.path)
        if m is None:
            return None
        limit, per = self.channel_rate_limit
        now = time.monotonic()
        start, used = self._channel_windows.get(m.group(1), (now, 0))
        if now - start >= per:
            start, used = now, 0
        reset_after = round(max(0.001, per - (now - start)), 3)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Reset-After": str(reset_after),
            "X-RateLimit-Reset": str(round(time.time() + reset_after, 3)),
            "X-RateLimit-Bucket": "fake-channel-messages",
        }
        if used >= limit:
            self.rate_limited += 1
            body = self._default_error_body(429, retry_after=reset_after)
            headers |= {"X-RateLimit-Remaining": "0", "X-RateLimit-Scope": "user", "Via": "1.1 google"}
            headers["Retry-After"] = str(max(1, int(reset_after + 0.999)))
            return json_response(body, 429, headers)
        self._channel_windows[m.group(1)] = (start, used + 1)
        return headers | {"X-RateLimit-Remaining": str(limit - used - 1)}
