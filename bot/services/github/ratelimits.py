"""GitHub's rate limits, read from its answers: the headers, the buckets per resource, and the pacing.

Every answer's `x-ratelimit-*` headers, and the `retry-after` of a 403 or 429, are read here
(`read_rate_headers`, the one place) and kept per resource ("core", "search", "graphql") in one
`RateLimits` that every caller of the API client shares. GraphQL is counted in points: each answer
says what its query cost (graphql.py passes it to `spent_graphql`), and the radar, its only user,
spends at most `GRAPHQL_BACKGROUND_SHARE` of the hourly points.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

import httpx

from bot.services.github.errors import GitHubRateLimited

log = logging.getLogger(__name__)

RESOURCES = ("core", "search", "graphql")
# The radar uses at most this share of a resource's budget, and leaves this many requests to commands.
BACKGROUND_SHARE = 0.8
BACKGROUND_RESERVE = {"core": 10, "search": 2, "graphql": 100}
# Search allows 10 requests a minute without a token and 30 with one; core 60 and 5,000 an hour.
SEARCH_WINDOW = 60.0
DEFAULT_SEARCH_LIMIT = {False: 10, True: 30}
CORE_WINDOW = 3600.0
DEFAULT_CORE_LIMIT = {False: 60, True: 5000}
CORE_BACKGROUND_SHARE = 0.5
# GraphQL allows 5,000 points an hour per token; the radar paces its queries to use 40% of them.
GRAPHQL_WINDOW = 3600.0
DEFAULT_GRAPHQL_LIMIT = 5000
GRAPHQL_BACKGROUND_SHARE = 0.4
# GitHub asks to wait at least a minute after a secondary rate limit that names no time.
SECONDARY_WAIT = timedelta(seconds=60)
MIN_WAIT = timedelta(seconds=5)
# However far off GitHub's headers put a reset, nothing waits longer than this for it.
MAX_WAIT = timedelta(hours=1)


@dataclass(slots=True)
class Bucket:
    """What GitHub last said of one resource's rate limit (times are aware UTC)."""

    limit: int | None = None
    remaining: int | None = None
    reset_at: datetime | None = None
    blocked_until: datetime | None = None  # after a 403 or 429: nothing is sent before
    last_background: datetime | None = None  # when background work last sent a request
    last_cost: int = 1  # what that request cost, in points (GraphQL; 1 for the others)

    def wait(self, now: datetime, *, reserve: int = 0) -> float:
        """Return how many seconds to wait before a request may go out (0: now)."""
        if self.blocked_until is not None and now < self.blocked_until:
            return (self.blocked_until - now).total_seconds()
        exhausted = self.remaining is not None and self.remaining <= reserve
        if exhausted and self.reset_at is not None and now < self.reset_at:
            return (self.reset_at - now).total_seconds()
        return 0.0


class RateLimits:
    """GitHub's rate limits as its answers report them, per resource, shared by every caller."""

    def __init__(self, *, has_token: bool) -> None:
        self.has_token = has_token
        self.buckets = {resource: Bucket() for resource in RESOURCES}
        self.limited = 0  # how many 403/429 rate-limit answers were received

    def observe(self, resource: str, response: httpx.Response, now: datetime) -> GitHubRateLimited | None:
        """Read a response's rate-limit headers; return the error when it says the limit is reached."""
        said = read_rate_headers(response.headers, now)
        bucket = self.buckets.setdefault(said.resource or resource, Bucket())
        if said.limit is not None:
            bucket.limit = said.limit
        if said.remaining is not None:
            bucket.remaining = said.remaining
        if said.reset_at is not None:
            bucket.reset_at = said.reset_at
        limited = rate_limit_error(response, now)
        if limited is not None:
            self.limited += 1
            # A reset already past (a skewed clock, "retry-after: 0") still waits a moment: asking again at
            # once would only earn another refusal.
            bucket.blocked_until = max(limited.reset_at or now + SECONDARY_WAIT, now + MIN_WAIT)
            if bucket.remaining == 0 and bucket.reset_at is None:
                bucket.reset_at = bucket.blocked_until
        return limited

    def background_interval(self, resource: str) -> float:
        """Return the seconds between two background requests, so they use only part of the budget."""
        bucket = self.buckets[resource]
        if resource == "search":
            limit = bucket.limit or DEFAULT_SEARCH_LIMIT[self.has_token]
            return SEARCH_WINDOW / (limit * BACKGROUND_SHARE)
        if resource == "graphql":
            # By points: a query that cost 2 is followed after twice the time.
            limit = bucket.limit or DEFAULT_GRAPHQL_LIMIT
            return GRAPHQL_WINDOW * max(1, bucket.last_cost) / (limit * GRAPHQL_BACKGROUND_SHARE)
        # Core is what /github verify needs: the radar's lookups (renames, logins) take half of it at most.
        limit = bucket.limit or DEFAULT_CORE_LIMIT[self.has_token]
        return CORE_WINDOW / (limit * CORE_BACKGROUND_SHARE)

    def spent_graphql(
        self, cost: int | None, remaining: int | None, reset_at: datetime | None, limit: int | None
    ) -> None:
        """Note what a GraphQL answer's `rateLimit` said: its cost paces the next query."""
        bucket = self.buckets["graphql"]
        bucket.last_cost = cost if cost is not None else 1
        if remaining is not None:
            bucket.remaining = remaining
        if reset_at is not None:
            bucket.reset_at = reset_at
        if limit:
            bucket.limit = limit

    def block(self, resource: str, until: datetime, now: datetime) -> None:
        """Send nothing of `resource` before `until` (GitHub said stop without an HTTP 403 or 429)."""
        self.limited += 1
        self.buckets[resource].blocked_until = max(until, now + MIN_WAIT)

    def background_wait(self, resource: str, now: datetime) -> float:
        """Return how long background work must wait before its next request of `resource`."""
        bucket = self.buckets[resource]
        wait = bucket.wait(now, reserve=BACKGROUND_RESERVE.get(resource, 0))
        if bucket.last_background is not None:
            paced = bucket.last_background + timedelta(seconds=self.background_interval(resource))
            wait = max(wait, (paced - now).total_seconds())
        return max(wait, 0.0)


def wait_text(seconds: float) -> str:
    """Say a wait the way a member reads it: "about a minute", "about 12 minutes", "about 2 hours"."""
    minutes = math.ceil(seconds / 60)
    if minutes <= 1:
        return "about a minute"
    if minutes < 120:
        return f"about {minutes} minutes"
    return f"about {round(minutes / 60)} hours"


@dataclass(frozen=True, slots=True)
class RateHeaders:
    """What a response's rate-limit headers say, read within bounds (times are aware UTC)."""

    resource: str | None
    limit: int | None
    remaining: int | None
    reset_at: datetime | None  # `x-ratelimit-reset`: never more than MAX_WAIT ahead
    retry_at: datetime | None  # `retry-after` (seconds or an HTTP date): never more than MAX_WAIT ahead


_COUNT = re.compile(r"\d{1,9}")
_SECONDS = re.compile(r"\d+")
_RESOURCE = re.compile(r"[a-z_]{1,40}")


def read_rate_headers(headers: Mapping[str, str], now: datetime) -> RateHeaders:
    """Read GitHub's rate-limit headers: the one place they are parsed.

    Whatever they hold (a reset in the year 9999, `retry-after: 100000000000`, a date that is no date),
    nothing here raises and no time is more than MAX_WAIT away: a wrong header costs an hour at most.
    """
    limit, remaining = _count(headers.get("x-ratelimit-limit")), _count(headers.get("x-ratelimit-remaining"))
    resource = (headers.get("x-ratelimit-resource") or "").strip()
    reset_at = retry_at = None
    latest = now + MAX_WAIT
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if _SECONDS.fullmatch(reset):
        # Epoch seconds; compared as numbers first, so no value can overflow a datetime.
        epoch = int(reset) if len(reset) <= 12 else math.inf
        reset_at = latest if epoch > latest.timestamp() else datetime.fromtimestamp(epoch, UTC)
    if (retry := headers.get("retry-after")) is not None:
        retry_at = _retry_after(retry.strip(), now, latest)
    return RateHeaders(resource if _RESOURCE.fullmatch(resource) else None, limit, remaining, reset_at, retry_at)


def _count(value: str | None) -> int | None:
    value = (value or "").strip()
    return int(value) if _COUNT.fullmatch(value) else None


def _retry_after(value: str, now: datetime, latest: datetime) -> datetime | None:
    if _SECONDS.fullmatch(value):
        if len(value) > 12 or int(value) > MAX_WAIT.total_seconds():
            return latest
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return min(when.astimezone(UTC), latest)


def rate_limit_error(response: httpx.Response, now: datetime, *, quiet: bool = False) -> GitHubRateLimited | None:
    """Return the error for a rate-limited response, or None when the response is not one."""
    if response.status_code not in (403, 429):
        return None
    headers = response.headers
    said = read_rate_headers(headers, now)
    primary = said.remaining == 0
    secondary = headers.get("retry-after") is not None or "rate limit" in response.text.lower()
    if not (response.status_code == 429 or primary or secondary):
        return None
    reset_at = said.retry_at
    if reset_at is None and primary:
        reset_at = said.reset_at
    if not quiet:
        log.warning("GitHub rate limit reached (HTTP %s), reset at %s", response.status_code, reset_at)
    when = wait_text((reset_at - now).total_seconds()) if reset_at is not None else "a few minutes"
    return GitHubRateLimited(f"GitHub's rate limit is reached; try again in {when}.", reset_at)
