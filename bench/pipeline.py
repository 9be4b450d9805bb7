"""Benchmark the delivery pipeline inside the running bot: webhook in, celebration out, under Discord's limits.

    python bench/pipeline.py [--pings 30 --prs 50 --seconds 3 --concurrency 16] [--no-pin]
    python bench/pipeline.py --quick      # CI: small sizes, a few seconds, checks what it promises

The real bot (discord.py included, built as tests/harness.py builds it) runs against the fake
Discord of bot/playground/fake_discord/, on a temporary migrated SQLite file. discord.py's sleeps are not
scaled: a 429 or a rate-limit wait costs its real time. The fake enforces Discord's per-channel
limit of 5 messages per 5 seconds (learned by discord.py from the `X-RateLimit-*` headers, and
answered with 429 past it). Three measurements:

a. celebration latency while a weekly ping drains: `--pings` messages queued in the
   accountability channel, then a signed merged-PR delivery POSTed to the bot's own web server;
   the time from the POST to the celebration in the celebrations channel;
b. `--prs` merged PRs (different numbers) POSTed at once: POST to post, p50/p99/max. The channel
   limit is lifted for this one: by Discord's rule alone 50 messages in one channel take 50 s;
c. intake inside the running bot (GitHub processing and the outbox running too): the load
   generator of bench/webhook_intake.py in a child process, `--concurrency` connections for
   `--seconds`: deliveries/s and p50/p99 of the ack; then how long processing takes to catch up.

Every celebration must appear exactly once: the script exits 1 when one is missing or doubled.
The "before" column is the figures of issue 9, measured on the old single delivery loop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import re
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import respx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fake Discord lives in tests/
sys.path.insert(0, str(ROOT / "bench"))

import webhook_intake  # noqa: E402

from bot.bot import Shiplog  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import GitHubAccount, GitHubProfile, OutboxMessage, WebhookDelivery  # noqa: E402
from bot.db.session import create_engine, create_sessionmaker, transaction  # noqa: E402
from bot.playground.fake_discord import FakeDiscord  # noqa: E402
from bot.playground.samples import merged_pr_payload, sign  # noqa: E402
from bot.services import (  # noqa: E402
    guilds,
    messages,
    outbox,
)
from bot.services.github import events, webhooks  # noqa: E402

OCTO_ID = 21031067  # the fixtures' PR author, Codertocat
CHANNEL_LIMIT = (5, 5.0)  # Discord: about 5 messages per 5 seconds per channel
BEFORE = {  # a-c: issue 9, the old single delivery loop; d-e: issue 20, before its changes
    "a": "28 s (behind a 32-message ping)",
    "b": "p50 838 ms",
    "c": "47-51/s, p50 ack ~330 ms",
    "d": "28-30/s, p50 547 ms, p99 636-677 ms",
    "e": "~33 ms",
}
TITLE = re.compile(r"bench PR (\d+)\b")


class Bench:
    """The fake Discord, the bot connected to it, and what the celebrations channel shows."""

    def __init__(self, fake: FakeDiscord, db_url: str) -> None:
        self.fake = fake
        self.db_url = db_url
        self.guild = fake.add_guild(name="Bench")
        self.admin = fake.add_member(self.guild, "ada", manage_guild=True)
        self.alice = fake.add_member(self.guild, "alice")
        self.celebrations = fake.add_text_channel(self.guild, "celebrations")
        self.accountability = fake.add_text_channel(self.guild, "accountability")
        self.bot: Shiplog | None = None
        self.seen: dict[int, list[float]] = {}  # PR number -> when each celebration of it was seen
        self._counted = 0

    async def start(self) -> Shiplog:
        settings = Settings(
            discord_token=self.fake.token,
            database_url=self.db_url,
            http_port=0,
            dev_guild_id=self.guild.id,
            github_webhook_secret=webhook_intake.SECRET,
            github_poll_seconds=3600,
        )
        self.engine = create_engine(self.db_url)
        self.http_client = httpx.AsyncClient()
        self.bot = Shiplog(
            settings=settings,
            engine=self.engine,
            sessionmaker=create_sessionmaker(self.engine),
            http_client=self.http_client,
        )
        await self.fake.start_bot(self.bot)
        for purpose, channel in (("celebrations", self.celebrations), ("accountability", self.accountability)):
            await self.fake.invoke(self.guild, self.admin, "settings channel", purpose=purpose, channel=channel)
        async with transaction(self.bot.sessionmaker) as session:
            session.add(GitHubProfile(id=OCTO_ID, login="Codertocat", history_status="done"))
            session.add(
                GitHubAccount(
                    guild_id=self.guild.id,
                    user_id=self.alice.id,
                    github_id=OCTO_ID,
                    login="Codertocat",
                    login_lower="codertocat",
                )
            )
        return self.bot

    async def stop(self) -> None:
        if self.bot is not None:
            await self.fake.stop_bot(self.bot)
        await self.http_client.aclose()
        await self.engine.dispose()

    @property
    def url(self) -> str:
        assert self.bot is not None
        return f"http://127.0.0.1:{self.bot.web.port}/github/webhook"

    def poll(self) -> None:
        """Note the celebrations posted since the last poll, by PR number."""
        posts = self.fake.messages_in(self.celebrations, include_interactions=False)
        now = time.perf_counter()
        for post in posts[self._counted :]:
            match = TITLE.search(json.dumps(post.get("embeds")))
            if match:
                self.seen.setdefault(int(match[1]), []).append(now)
        self._counted = len(posts)

    async def watch(self, numbers: set[int], within: float) -> None:
        """Poll every few ms until each of `numbers` has been celebrated, or `within` seconds pass."""

        def check() -> bool:
            self.poll()
            return numbers <= self.seen.keys()

        await until(check, within)

    async def post_merge(self, session: aiohttp.ClientSession, number: int) -> float:
        """POST a signed merged-PR delivery; return when it was sent (after checking the 202)."""
        body = merged_pr_payload(number=number, title=f"bench PR {number}")
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": sign(webhook_intake.SECRET, body),
            "User-Agent": "GitHub-Hookshot/bench",
        }
        started = time.perf_counter()
        async with session.post(self.url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 202:
                raise SystemExit(f"PR {number}: the webhook answered {response.status}")
        return started

    async def queue_pings(self, count: int) -> None:
        """Queue a weekly ping of `count` messages, as the scheduler does."""
        assert self.bot is not None
        async with transaction(self.bot.sessionmaker) as session:
            for index in range(count):
                await outbox.enqueue(
                    session,
                    messages.Ping(content=f"📣 Weekly check-in ({index + 1}/{count}) <@{self.alice.id}>"),
                    guild_id=self.guild.id,
                    channel_id=self.accountability.id,
                    now=self.bot.now(),
                )
        self.bot.wake_outbox()

    async def pending_deliveries(self) -> int:
        assert self.bot is not None
        async with transaction(self.bot.sessionmaker) as session:
            query = select(func.count()).select_from(WebhookDelivery).where(WebhookDelivery.status == "pending")
            return await session.scalar(query) or 0


async def until(check: Callable[[], bool], within: float, every: float = 0.005) -> bool:
    """Poll `check` every `every` seconds until it holds or `within` seconds pass; return whether it held."""
    deadline = time.perf_counter() + within
    while True:
        if check():
            return True
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(every)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))]


async def measure_ping(bench: Bench, http: aiohttp.ClientSession, pings: int) -> dict[str, Any]:
    """a. A celebration queued while a `pings`-message ping drains under the channel limit."""
    bench.fake.channel_rate_limit = CHANNEL_LIMIT
    started = time.perf_counter()
    await bench.queue_pings(pings)
    await until(lambda: len(bench.fake.messages_in(bench.accountability)) >= 2, 30)  # the drain is under way
    posted = await bench.post_merge(http, 1000)
    await bench.watch({1000}, within=pings * 1.5 + 10)
    latency = bench.seen[1000][0] - posted if 1000 in bench.seen else float("inf")
    at = len(bench.fake.messages_in(bench.accountability))
    await until(lambda: len(bench.fake.messages_in(bench.accountability)) >= pings, pings * 1.5 + 10, 0.05)
    drained = time.perf_counter() - started
    count = len(bench.fake.messages_in(bench.accountability))
    return {"latency": latency, "at": at, "drained": drained, "pings": count, "limited": bench.fake.rate_limited}


async def measure_burst(bench: Bench, http: aiohttp.ClientSession, prs: int) -> dict[str, Any]:
    """b. `prs` merged PRs POSTed at once, channel limit lifted: POST to post."""
    bench.fake.channel_rate_limit = None
    numbers = list(range(2000, 2000 + prs))
    wall = datetime.now(UTC)
    posted = dict(zip(numbers, await asyncio.gather(*(bench.post_merge(http, n) for n in numbers)), strict=True))
    await bench.watch(set(numbers), within=30)
    latencies = [bench.seen[n][0] - posted[n] for n in numbers if n in bench.seen]
    # Where the time went: POST to queued (intake and GitHub processing), queued to sent (the sender).
    assert bench.bot is not None
    async with transaction(bench.bot.sessionmaker) as session:
        rows = (
            await session.execute(
                select(OutboxMessage.created_at, OutboxMessage.sent_at).where(
                    OutboxMessage.kind == "github.merged", OutboxMessage.created_at >= wall
                )
            )
        ).all()
    queued = [(created - wall).total_seconds() for created, _ in rows]
    sending = [(sent - created).total_seconds() for created, sent in rows if sent is not None]
    return {"latencies": latencies, "missing": prs - len(latencies), "queued": queued, "sending": sending}


async def measure_intake(bench: Bench, args: argparse.Namespace, client_cpu: int | None) -> dict[str, Any]:
    """c. The intake load generator against the bot's own web server, then the processing catch-up."""
    load_args = argparse.Namespace(
        requests=args.requests, seconds=args.seconds, warmup_seconds=args.warmup_seconds, concurrency=args.concurrency
    )
    result = webhook_intake.summarise([await webhook_intake.load(bench.url, load_args, client_cpu)])
    started = time.perf_counter()
    left = await bench.pending_deliveries()
    backlog = left
    while left and time.perf_counter() - started < 120:
        await asyncio.sleep(0.1)
        left = await bench.pending_deliveries()
    result |= {"backlog": backlog, "catch_up": time.perf_counter() - started, "left": left}
    return result


MERGE_LOAD_FROM = 10_000  # d's merged PRs are numbered from here
COST_FROM = 50_000  # e's


async def measure_merge_intake(bench: Bench, args: argparse.Namespace, client_cpu: int | None) -> dict[str, Any]:
    """d. Intake while every delivery is a merged PR of a linked member, each celebrated; then the catch-up."""
    bench.fake.channel_rate_limit = None  # as in b: Discord's channel limit alone would take minutes
    load_args = argparse.Namespace(
        requests=args.merge_requests,
        seconds=args.seconds,
        warmup_seconds=args.merge_warmup_seconds,
        concurrency=args.concurrency,
        merges_from=MERGE_LOAD_FROM,
    )
    result = webhook_intake.summarise([await webhook_intake.load(bench.url, load_args, client_cpu)])
    started = time.perf_counter()
    numbers = set(range(MERGE_LOAD_FROM, MERGE_LOAD_FROM + result["sent"]))
    await bench.watch(numbers, within=result["sent"] * 0.1 + 60)
    result |= {"numbers": numbers, "celebrated_in": time.perf_counter() - started}
    return result


async def measure_cost(count: int) -> dict[str, Any]:
    """e. Processing alone: `count` merged PRs of a linked member stored in a fresh SQLite file, then
    applied by the processor's own function (events.process_batch) until none is pending, in this
    process with no bot beside it: wall time and the event loop thread's CPU, per merge."""
    with tempfile.TemporaryDirectory(prefix="shiplog-cost-") as folder:
        db_url = f"sqlite+aiosqlite:///{Path(folder) / 'cost.db'}"
        await asyncio.to_thread(upgrade, db_url)
        engine = create_engine(db_url)
        try:
            sessionmaker = create_sessionmaker(engine)
            async with transaction(sessionmaker) as session:
                guild = await guilds.ensure_guild(session, 1)
                guild.celebrations_channel_id = 2
                session.add(GitHubProfile(id=OCTO_ID, login="Codertocat", history_status="done"))
                session.add(
                    GitHubAccount(
                        guild_id=1, user_id=3, github_id=OCTO_ID, login="Codertocat", login_lower="codertocat"
                    )
                )
            writer = webhooks.DeliveryWriter(sessionmaker)
            headers = {"content-type": "application/json", "x-github-event": "pull_request"}
            now = datetime.now(UTC)
            await asyncio.gather(
                *(
                    writer.store(
                        webhooks.Delivery(str(uuid.uuid4()), "pull_request", headers, merged_pr_payload(number=n), now)
                    )
                    for n in range(COST_FROM, COST_FROM + count)
                )
            )
            cpu, started = time.thread_time(), time.perf_counter()
            while await events.process_batch(sessionmaker, now=now):
                pass
            wall, cpu = time.perf_counter() - started, time.thread_time() - cpu
            async with transaction(sessionmaker) as session:
                queued = await session.scalar(
                    select(func.count()).select_from(OutboxMessage).where(OutboxMessage.kind == "github.merged")
                )
        finally:
            await engine.dispose()
    if queued != count:
        raise SystemExit(f"e: {queued} celebrations queued for {count} merges")
    return {"wall_ms": wall * 1000 / count, "cpu_ms": cpu * 1000 / count, "count": count}


async def run(args: argparse.Namespace) -> int:
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 and not args.no_pin else (None, None)
    webhook_intake.pin(server_cpu)  # before any thread starts: they inherit it

    with (
        tempfile.TemporaryDirectory(prefix="shiplog-pipeline-") as folder,
        # GitHub, mocked: the radar's first pass must not reach the network.
        respx.mock(base_url="https://api.github.com", assert_all_called=False, assert_all_mocked=False),
    ):
        db_url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, db_url)
        async with FakeDiscord(retry_sleep_scale=None) as fake:
            bench = Bench(fake, db_url)
            await bench.start()
            try:
                async with aiohttp.ClientSession() as http:
                    # The burst first: before the limit is on, discord.py has learned no bucket to sleep on.
                    burst = await measure_burst(bench, http, args.prs)
                    # d before a too: its celebrations must not wait on a bucket discord.py learned in a.
                    merges = await measure_merge_intake(bench, args, client_cpu)
                    ping = await measure_ping(bench, http, args.pings)
                intake = await measure_intake(bench, args, client_cpu)
                await asyncio.sleep(0.5)  # anything posted twice would show by now
                bench.poll()
            finally:
                await bench.stop()

    cost = await measure_cost(args.cost_merges)
    latencies = burst["latencies"]
    placement = f"bot on CPU {server_cpu}, load on CPU {client_cpu}" if server_cpu is not None else "not pinned"
    print(
        f"the real bot against the fake Discord, SQLite file, discord.py sleeps unscaled, {placement}; "
        f"channel limit {CHANNEL_LIMIT[0]} per {CHANNEL_LIMIT[1]:g} s"
    )
    rows = [
        (
            f"a. celebration while a {args.pings}-message ping drains",
            f"{ping['latency'] * 1000:.0f} ms (after ping {ping['at']}; ping of {ping['pings']} drained in "
            f"{ping['drained']:.1f} s, {ping['limited']} 429s)",
            BEFORE["a"],
            "< 2 s",
        ),
        (
            f"b. {args.prs} merged PRs at once, POST to post",
            (
                f"p50 {percentile(latencies, 0.5) * 1000:.0f} ms, p99 {percentile(latencies, 0.99) * 1000:.0f} ms, "
                f"max {max(latencies) * 1000:.0f} ms"
            )
            + (
                f" (queued by p50 {percentile(burst['queued'], 0.5) * 1000:.0f} ms, max "
                f"{max(burst['queued']) * 1000:.0f} ms; queued to posted p50 "
                f"{percentile(burst['sending'], 0.5) * 1000:.0f} ms)"
                if burst["queued"] and burst["sending"]
                else ""
            )
            if latencies
            else "none posted",
            BEFORE["b"],
            "",
        ),
        (
            f"c. intake in the running bot, {args.concurrency} connections, {args.seconds:g} s",
            f"{intake['rate']:.0f}/s, p50 {intake['p50']:.1f} ms, p99 {intake['p99']:.1f} ms, "
            f"max {intake['max']:.0f} ms {intake['statuses']}",
            BEFORE["c"],
            ">= 500/s, p99 < 100 ms",
        ),
        (
            f"d. intake, every delivery a celebrated merge, {args.concurrency} connections, {args.seconds:g} s",
            f"{merges['rate']:.0f}/s, p50 {merges['p50']:.1f} ms, p99 {merges['p99']:.1f} ms, "
            f"max {merges['max']:.0f} ms {merges['statuses']}; all {len(merges['numbers'])} celebrated "
            f"{merges['celebrated_in']:.1f} s after",
            BEFORE["d"],
            ">= 500/s, p99 < 100 ms",
        ),
        (
            f"e. processing one celebrated merge ({cost['count']} in a row, SQLite, no bot beside it)",
            f"{cost['wall_ms']:.1f} ms each, of which {cost['cpu_ms']:.1f} ms of the event loop thread's CPU",
            BEFORE["e"],
            "<= 5 ms",
        ),
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    header = ("measurement", "now", "before (issue 9)")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + "  target")
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths, strict=True)) + f"  {row[3]}")
    print(
        f"processing caught up with the {intake['backlog']} deliveries left after the load in "
        f"{intake['catch_up']:.1f} s ({intake['left']} still pending)"
    )

    expected = {1000, *range(2000, 2000 + args.prs), *merges["numbers"]}
    missing = sorted(expected - bench.seen.keys())
    doubled = sorted(n for n, times in bench.seen.items() if len(times) > 1)
    extra = sorted(bench.seen.keys() - expected)
    print(f"celebrations: {len(expected) - len(missing)} of {len(expected)}; missing {missing}; doubled {doubled}")
    ok = not missing and not doubled and not extra and ping["pings"] == args.pings
    ok = ok and intake["statuses"].get("202", 0) == intake["requests"] and not intake["left"]
    ok = ok and merges["statuses"].get("202", 0) == merges["requests"]
    if not ok:
        print("FAILED: a celebration is missing or doubled, the ping did not drain, or the intake refused some")
    return 0 if ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pings", type=int, default=30, help="messages of the weekly ping that drains")
    parser.add_argument("--prs", type=int, default=50, help="merged PRs POSTed at once")
    parser.add_argument("--seconds", type=float, default=3.0, help="timed intake load")
    parser.add_argument("--warmup-seconds", type=float, default=0.5, help="untimed intake load before it")
    parser.add_argument("--requests", type=int, default=30_000, help="most timed intake deliveries")
    parser.add_argument("--concurrency", type=int, default=16, help="intake connections")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the bot and the load to CPUs")
    parser.add_argument("--cost-merges", type=int, default=200, help="merged PRs stored at once for e")
    parser.add_argument("--merge-requests", type=int, default=30_000, help="most timed merged-PR deliveries in d")
    parser.add_argument("--merge-warmup-seconds", type=float, default=0.5, help="untimed merged-PR load before d")
    parser.add_argument("--quick", action="store_true", help="CI: 8 pings, 10 PRs, 0.5 s of intake, unpinned")
    args = parser.parse_args()
    if args.quick:
        args.pings, args.prs, args.seconds, args.warmup_seconds, args.requests = 8, 10, 0.5, 0.2, 500
        args.cost_merges, args.merge_requests, args.merge_warmup_seconds = 20, 60, 0.0
        args.no_pin = True
    logging.basicConfig(level=logging.WARNING)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
