"""GET /metrics (METRICS=true): what an operator's Prometheus reads, parsed with prometheus_client's own parser.

The bot is the real one (tests/harness.py) with GitHub faked as in tests/test_e2e_radar.py; `shiplog
web` is the real command. Each test does what happens in production (a webhook, a radar pass, an
outage of Discord) and reads the figures an operator would.
"""

from __future__ import annotations

import json
import math
import signal
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bot.db.models import JobRun, OutboxMessage
from bot.db.session import create_engine, create_sessionmaker, reading, transaction
from bot.playground.samples import merged_pr_payload, sign
from bot.services import guilds
from tests.harness import WEBHOOK_SECRET, World, eventually, world
from tests.shiplog_process import free_port, shiplog_process
from tests.test_e2e_github import post_delivery
from tests.test_e2e_radar import OCTO_ID, FakeGitHub, just_merged, link, posts, webhook_merge

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(port: int) -> tuple[int, str, Samples]:
    """GET /metrics; return its status, content type and every sample by (name, sorted labels)."""
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
        samples: Samples = {}
        if response.status == 200:
            for family in text_string_to_metric_families(text):
                for sample in family.samples:
                    samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return response.status, response.headers.get("Content-Type", ""), samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


@pytest.fixture
async def w(db_url: str) -> AsyncIterator[World]:
    async with world(db_url, start=False) as w:
        await w.start_bot(metrics=True)
        await w.invoke(w.admin, "settings channel", purpose="celebrations", channel=w.celebrations)
        yield w


def port(w: World) -> int:
    assert w.bot is not None
    return w.bot.web.port


async def test_the_metrics_say_what_the_bot_did(w: World) -> None:
    gh = FakeGitHub(w)
    octo = gh.user("Codertocat", OCTO_ID)
    gh.history(octo, {"octo-org/Hello-World": 1})
    await link(w, w.alice, octo)  # the radar imports the history and checks alice once
    merged = webhook_merge(number=2, merged_at=just_merged(w))
    assert (await post_delivery(w, merged, delivery="d-1"))[0] == 202
    assert (await post_delivery(w, merged, delivery="d-1"))[0] == 200  # GitHub's redelivery
    assert (await post_delivery(w, merged, signature="sha256=" + "0" * 64))[0] == 401
    ping = json.dumps({"zen": "Keep it logically awesome.", "hook_id": 1}).encode()
    assert (await post_delivery(w, ping, event="ping"))[0] == 200
    await w.wait_for_posts(w.celebrations, 1)
    await eventually(lambda: outbox_settled(w))
    await w.fake.sync()  # a heartbeat round trip: the gateway's latency is known

    status, content_type, samples = await scrape(port(w))

    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    deliveries = "shiplog_webhook_deliveries_total"
    assert value(samples, deliveries, result="stored", reason="") == 1
    assert value(samples, deliveries, result="duplicate", reason="") == 1
    assert value(samples, deliveries, result="refused", reason="signature") == 1
    assert value(samples, deliveries, result="ping", reason="") == 1
    assert value(samples, "shiplog_outbox_messages", kind="github.merged", state="sent") == 1
    assert value(samples, "shiplog_outbox_oldest_pending_seconds") == 0
    assert value(samples, "shiplog_radar_members_watched") == 1
    assert (value(samples, "shiplog_radar_members_checked_total") or 0) >= 1
    assert value(samples, "shiplog_radar_longest_unchecked_seconds") is not None
    assert value(samples, "shiplog_github_ratelimit_remaining", resource="search") == gh.remaining
    latency = value(samples, "shiplog_gateway_latency_seconds")
    assert latency is not None and math.isfinite(latency) and latency >= 0
    assert str(w.alice.id) not in str(samples)  # no member's id in a label


async def outbox_settled(w: World) -> bool:
    async with reading(w.sessionmaker) as session:
        pending = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "pending")
        return (await session.scalar(pending)) == 0


async def test_celebrations_stuck_behind_a_discord_outage_show_as_the_oldest_pending_age(w: World) -> None:
    gh = FakeGitHub(w)
    octo = gh.user("Codertocat", OCTO_ID)
    gh.history(octo, {"octo-org/Hello-World": 1})
    await link(w, w.alice, octo)
    w.fake.outage = True  # every REST call to Discord fails: the celebration waits in the outbox
    assert (await post_delivery(w, webhook_merge(number=2, merged_at=just_merged(w))))[0] == 202
    await eventually(lambda: pending_celebration(w))
    w.clock.advance(timedelta(minutes=10))

    _, _, samples = await scrape(port(w))
    # docs/metrics.md's alert fires past 5 minutes: this one is 10 minutes old.
    stuck = value(samples, "shiplog_outbox_oldest_pending_seconds")
    assert stuck is not None and 600 <= stuck < 630  # the clock moves on a little by itself
    assert value(samples, "shiplog_outbox_messages", kind="github.merged", state="pending") == 1

    w.fake.outage = False
    assert w.bot is not None
    w.bot.wake_outbox()
    await w.wait_for_posts(w.celebrations, 1, timeout=30)
    await eventually(lambda: outbox_settled(w))
    _, _, samples = await scrape(port(w))
    assert value(samples, "shiplog_outbox_oldest_pending_seconds") == 0
    assert len(posts(w)) == 1


async def pending_celebration(w: World) -> bool:
    async with reading(w.sessionmaker) as session:
        kind = OutboxMessage.kind == "github.merged"
        return bool(await session.scalar(select(func.count()).select_from(OutboxMessage).where(kind)))


async def test_metrics_are_off_unless_asked_for(db_url: str) -> None:
    async with world(db_url) as w:
        status, _, _ = await scrape(port(w))
        assert status == 404


async def test_shiplog_web_serves_its_own_metrics(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    try:
        async with transaction(create_sessionmaker(engine)) as session:
            guild = await guilds.ensure_guild(session, 1)
            session.add(JobRun(guild_id=guild.id, job="ping", period="2026-W49", status="done"))
            session.add(JobRun(guild_id=guild.id, job="digest", period="2026-W49", status="skipped"))
            session.add(JobRun(guild_id=guild.id, job="dm:4242", period="2026-12-06", status="done"))  # a streak DM
    finally:
        await engine.dispose()
    http = free_port()
    env = {"DATABASE_URL": db_url, "GITHUB_WEBHOOK_SECRET": WEBHOOK_SECRET, "HTTP_PORT": str(http), "METRICS": "true"}
    with shiplog_process(["web"], tmp_path, **env) as web:
        await web.wait_healthy(http)
        body = merged_pr_payload()
        headers = {"X-GitHub-Event": "pull_request", "Content-Type": "application/json"}
        async with aiohttp.ClientSession() as session:
            signed = headers | {
                "X-GitHub-Delivery": str(uuid.uuid4()),
                "X-Hub-Signature-256": sign(WEBHOOK_SECRET, body),
            }
            async with session.post(f"http://127.0.0.1:{http}/github/webhook", data=body, headers=signed) as r:
                assert r.status == 202
            async with session.post(f"http://127.0.0.1:{http}/github/webhook", data=b"{}", headers=headers) as r:
                assert r.status == 401  # no signature
        status, _, samples = await scrape(http)
        web.signal(signal.SIGTERM)
        assert await web.wait(20) == 0, web.output
    assert status == 200
    deliveries = "shiplog_webhook_deliveries_total"
    assert value(samples, deliveries, result="stored", reason="") == 1
    assert value(samples, deliveries, result="refused", reason="signature") == 1
    assert value(samples, "shiplog_webhook_deliveries_stored", state="pending") == 1  # no bot here to process it
    assert value(samples, "shiplog_weekly_runs", job="ping", outcome="done") == 1
    assert value(samples, "shiplog_weekly_runs", job="digest", outcome="skipped") == 1
    assert "4242" not in str(samples)  # a member's streak DM is no weekly run, and no id is a label
    # No gateway and no GitHub client in `shiplog web`: those are not reported rather than made up.
    assert not [name for name, _ in samples if name.startswith(("shiplog_gateway", "shiplog_github"))]
