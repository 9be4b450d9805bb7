"""Metrics for operators: what a process serves at `GET /metrics` with METRICS=true (docs/metrics.md).

Two kinds, both drawn by the official `prometheus_client`:
- events this process saw, as counters (webhook deliveries by result, radar members checked): each
  process of a fleet counts its own, so a fleet's total is their sum;
- the state of the shared database, read at each scrape (outbox messages by kind and state, the
  oldest pending one's age, the member the radar checked longest ago, weekly runs by outcome),
  and of this process (GitHub's rate limits as it last saw them, the gateway's latency). Every
  process reports the same database figures: take any one (`max`), not their sum.
It reads tables and writes none.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.models import GitHubProfile, JobRun, OutboxMessage, WebhookDelivery
from bot.db.session import reading
from bot.services.github import radar
from bot.services.github.ratelimits import RateLimits
from bot.services.rhythm import runs

# The classic text format, which every Prometheus (2.x and 3.x) and every agent reads.
CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

# Why the intake refused a delivery, by the status it answered (bot/web/webhook.py says each one's cause).
REFUSALS = {
    400: "invalid",
    401: "signature",
    408: "slow_body",
    413: "too_large",
    415: "content_type",
    503: "unavailable",
}


@dataclass(slots=True)
class DatabaseFigures:
    """What the last scrape read from the database."""

    outbox: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state) -> messages
    oldest_pending: float | None = None  # seconds since the oldest pending message was queued
    webhooks: dict[str, int] = field(default_factory=dict)  # stored deliveries by state
    radar_watched: int = 0
    radar_longest_unchecked: float | None = None  # seconds since the member checked longest ago was
    weekly_runs: dict[tuple[str, str], int] = field(default_factory=dict)  # (job, outcome) -> runs


class Metrics:
    """One process's metrics: counters fed as things happen, and sources read at each scrape."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], *, now: Callable[[], datetime]) -> None:
        self.sessionmaker = sessionmaker
        self.now = now
        self.registry = CollectorRegistry(auto_describe=True)
        self.deliveries = Counter(
            "shiplog_webhook_deliveries",
            "Webhook deliveries this process answered, by result (stored, duplicate, ping, refused, failed) "
            "and, for a refusal, its reason.",
            ["result", "reason"],
            registry=self.registry,
        )
        self.figures = DatabaseFigures()
        # Set by the bot when it has them; `shiplog web` has neither, and serves without them.
        self.rate_limits: RateLimits | None = None
        self.radar_checked: Callable[[], int] | None = None
        self.gateway_latency: Callable[[], float] | None = None
        self.registry.register(_Sources(self))

    def delivery(self, status: int, *, result: str | None = None) -> None:
        """Count one webhook answer: by its status (2xx stored, 500 failed, another 4xx or 5xx refused),
        unless the intake named its result ("ping", "duplicate")."""
        reason = ""
        if result is None:
            if status >= 500 and status != 503:
                result = "failed"
            elif status >= 400:
                result, reason = "refused", REFUSALS.get(status, str(status))
            else:
                result = "stored"
        self.deliveries.labels(result=result, reason=reason).inc()

    async def scrape(self) -> bytes:
        """Read the database's figures, then return every metric in Prometheus' text format."""
        self.figures = await read_figures(self.sessionmaker, self.now())
        return generate_latest(self.registry)


async def read_figures(sessionmaker: async_sessionmaker[AsyncSession], now: datetime) -> DatabaseFigures:
    """Read the shared state the metrics report (a few grouped counts on indexed columns)."""
    figures = DatabaseFigures()
    async with reading(sessionmaker) as session:
        rows = await session.execute(
            select(OutboxMessage.kind, OutboxMessage.status, func.count()).group_by(
                OutboxMessage.kind, OutboxMessage.status
            )
        )
        figures.outbox = {(kind, status): count for kind, status, count in rows}
        oldest = await session.scalar(
            select(func.min(OutboxMessage.created_at)).where(OutboxMessage.status == "pending")
        )
        figures.oldest_pending = _age(now, oldest)
        webhook_rows = await session.execute(
            select(WebhookDelivery.status, func.count()).group_by(WebhookDelivery.status)
        )
        figures.webhooks = {status: count for status, count in webhook_rows}
        # SQL's min skips members never checked yet: the next pass checks them first (nulls first).
        watched, oldest_check = (
            await session.execute(
                select(func.count(), func.min(GitHubProfile.last_checked_at)).where(*radar.watched_profiles())
            )
        ).one()
        figures.radar_watched = watched
        figures.radar_longest_unchecked = _age(now, oldest_check)
        run_rows = await session.execute(
            # The weekly jobs only: streak DMs are recorded as jobs too, one per member ("dm:<id>").
            select(JobRun.job, JobRun.status, func.count())
            .where(JobRun.job.in_(runs.JOBS))
            .group_by(JobRun.job, JobRun.status)
        )
        figures.weekly_runs = {(job, status): count for job, status, count in run_rows}
    return figures


def _age(now: datetime, then: datetime | None) -> float | None:
    return None if then is None else max((now - then).total_seconds(), 0.0)


class _Sources(Collector):
    """Draws the figures read at the scrape, and what the process knows, as metric families."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> Iterator[Metric]:
        return iter(())  # drawn fresh at each scrape: nothing to check names against in advance

    def collect(self) -> Iterator[Metric]:
        m, figures = self.metrics, self.metrics.figures
        outbox = GaugeMetricFamily(
            "shiplog_outbox_messages",
            "Outbox messages by kind and state (pending, sent, failed...).",
            labels=["kind", "state"],
        )
        for (kind, state), count in sorted(figures.outbox.items()):
            outbox.add_metric([kind, state], count)
        yield outbox
        yield GaugeMetricFamily(
            "shiplog_outbox_oldest_pending_seconds",
            "Age of the oldest pending outbox message (0 when none is pending): celebrations stuck when it grows.",
            value=figures.oldest_pending or 0.0,
        )
        stored = GaugeMetricFamily(
            "shiplog_webhook_deliveries_stored", "Stored webhook deliveries by processing state.", labels=["state"]
        )
        for state, count in sorted(figures.webhooks.items()):
            stored.add_metric([state], count)
        yield stored
        yield GaugeMetricFamily(
            "shiplog_radar_members_watched", "Linked GitHub accounts the radar watches.", value=figures.radar_watched
        )
        if figures.radar_longest_unchecked is not None:
            yield GaugeMetricFamily(
                "shiplog_radar_longest_unchecked_seconds",
                "Seconds since the radar last checked the member it checked longest ago.",
                value=figures.radar_longest_unchecked,
            )
        runs = GaugeMetricFamily(
            "shiplog_weekly_runs", "Weekly jobs run, by job and outcome (done, skipped).", labels=["job", "outcome"]
        )
        for (job, outcome), count in sorted(figures.weekly_runs.items()):
            runs.add_metric([job, outcome], count)
        yield runs
        if m.radar_checked is not None:
            yield CounterMetricFamily(
                "shiplog_radar_members_checked", "Members the radar checked in this process.", value=m.radar_checked()
            )
        if m.rate_limits is not None:
            remaining = GaugeMetricFamily(
                "shiplog_github_ratelimit_remaining",
                "Requests GitHub said are left in the current window, by resource (core, search, graphql).",
                labels=["resource"],
            )
            for resource, bucket in sorted(m.rate_limits.buckets.items()):
                if bucket.remaining is not None:
                    remaining.add_metric([resource], bucket.remaining)
            yield remaining
        if m.gateway_latency is not None:
            latency = m.gateway_latency()
            if math.isfinite(latency):  # discord.py says inf (or nan) before the first heartbeat
                yield GaugeMetricFamily(
                    "shiplog_gateway_latency_seconds",
                    "Time between the gateway's last heartbeat and its acknowledgement.",
                    value=latency,
                )
