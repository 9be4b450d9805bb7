"""Benchmark GitHub webhook intake against a bare aiohttp handler, on loopback.

    python bench/webhook_intake.py [--requests 4000 --concurrency 32 --max-seconds 20]

One process runs two servers on 127.0.0.1: the real app from `build_app` (signature check, JSON
validation, a committed SQLite row per delivery, in a temporary migrated database) and a bare
handler that only reads the body and answers 202. A second process (this script with --client)
sends signed ~15 KB JSON deliveries with unique delivery ids over `--concurrency` connections, so
the servers get a core of their own as they would in production. It prints deliveries/s, p50 and
p99 of the time to each response, and the ratio of the intake's rate to the bare handler's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import logging
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.db.migrate import upgrade
from bot.db.models import WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.web import WebServer, build_app

log = logging.getLogger("bench.webhook_intake")

HOST = "127.0.0.1"
SECRET = "bench-secret"  # noqa: S105 - a throwaway secret shared with the load generator
FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "github" / "issues" / "opened.payload.json"
BODY_SIZE = 15 * 1024


PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def make_template() -> bytes:
    """Return a real `issues` payload padded to about BODY_SIZE bytes, with a placeholder delivery id."""
    payload = json.loads(FIXTURE.read_bytes())
    payload["bench_delivery"] = PLACEHOLDER
    raw = json.dumps(payload).encode()
    payload["issue"]["body"] = "x" * max(0, BODY_SIZE - len(raw))
    return json.dumps(payload).encode()


def signed_request(template: bytes, delivery_id: str) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers GitHub would send for one `issues` delivery (bodies differ by id)."""
    body = template.replace(PLACEHOLDER.encode(), delivery_id.encode())
    signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "issues",
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": signature,
    }
    return body, headers


# --- The load generator (runs in its own process).


async def run_client(url: str, *, requests: int, warmup: int, concurrency: int, max_seconds: float) -> dict:
    """Send `warmup` then up to `requests` deliveries (or until `max_seconds`); return what happened."""
    template = make_template()
    prepared = [signed_request(template, str(uuid.uuid4())) for _ in range(warmup + requests)]

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker(queue: list[tuple[bytes, dict[str, str]]], deadline: float, record: bool) -> None:
            while queue and time.perf_counter() < deadline:
                body, headers = queue.pop()
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                if record:
                    latencies.append(time.perf_counter() - started)
                    statuses[response.status] = statuses.get(response.status, 0) + 1

        warm = prepared[:warmup]
        await asyncio.gather(*(worker(warm, time.perf_counter() + max_seconds, False) for _ in range(concurrency)))
        timed = prepared[warmup:]
        timed.reverse()  # pop() from the end sends them in order
        started = time.perf_counter()
        deadline = started + max_seconds
        await asyncio.gather(*(worker(timed, deadline, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "body_size": len(prepared[0][0])}


# --- The servers and the report (the main process).


async def bare_handler(request: web.Request) -> web.Response:
    """Read the body and answer 202: the floor any intake is measured against."""
    await request.read()
    return web.json_response({"ok": True}, status=202)


async def measure(name: str, url: str, args: argparse.Namespace) -> dict:
    """Run the load generator against `url` in a child process and return its results."""
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        __file__,
        "--client",
        url,
        "--requests",
        str(args.requests),
        "--warmup",
        str(args.warmup),
        "--concurrency",
        str(args.concurrency),
        "--max-seconds",
        str(args.max_seconds),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the load generator failed against {name} (exit {child.returncode})")
    result = json.loads(out)
    result["name"] = name
    return result


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of already sorted values."""
    index = max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


def summarise(result: dict) -> dict:
    """Return rate, p50 and p99 (in ms) of one run."""
    latencies = sorted(result["latencies"])
    return {
        "name": result["name"],
        "count": len(latencies),
        "statuses": result["statuses"],
        "seconds": result["elapsed"],
        "rate": len(latencies) / result["elapsed"],
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "mean": statistics.fmean(latencies) * 1000,
    }


async def run_servers(args: argparse.Namespace) -> None:
    """Start both servers, load each in turn, print the table and check the stored rows."""
    with tempfile.TemporaryDirectory(prefix="shiplog-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        wakeups = 0

        def on_delivery() -> None:
            nonlocal wakeups
            wakeups += 1

        intake = WebServer(
            build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, on_delivery=on_delivery), HOST, 0
        )
        bare_app = web.Application(client_max_size=25 * 1024**2)
        bare_app.router.add_post("/github/webhook", bare_handler)
        bare = WebServer(bare_app, HOST, 0)
        await intake.start()
        await bare.start()
        try:
            results = []
            for name, server in (("bare", bare), ("intake", intake)):
                results.append(summarise(await measure(name, f"http://{HOST}:{server.port}/github/webhook", args)))
        finally:
            await intake.stop()
            await bare.stop()
        async with transaction(sessionmaker) as session:
            stored = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        await engine.dispose()

    print(f"{args.concurrency} connections, ~{BODY_SIZE // 1024} KB signed JSON bodies, loopback")
    print(f"{'target':<8} {'requests':>8} {'seconds':>8} {'deliveries/s':>13} {'p50 ms':>8} {'p99 ms':>8} statuses")
    for r in results:
        print(
            f"{r['name']:<8} {r['count']:>8} {r['seconds']:>8.2f} {r['rate']:>13.0f} "
            f"{r['p50']:>8.2f} {r['p99']:>8.2f} {r['statuses']}"
        )
    bare_result, intake_result = results
    print(f"ratio intake/bare: {intake_result['rate'] / bare_result['rate']:.2f}")
    accepted = intake_result["statuses"].get("202", 0)
    print(f"rows stored: {stored} (warm-up {args.warmup} + {accepted} timed 202s), on_delivery calls: {wakeups}")


def main() -> None:
    """Parse the arguments; run the servers, or the load generator with --client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000, help="timed deliveries per target")
    parser.add_argument("--warmup", type=int, default=300, help="untimed deliveries first")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="stop each timed run after this long")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import os

    if os.environ.get("PIN"):
        os.sched_setaffinity(0, {1} if args.client else {0})
    if args.client:
        result = asyncio.run(
            run_client(
                args.client,
                requests=args.requests,
                warmup=args.warmup,
                concurrency=args.concurrency,
                max_seconds=args.max_seconds,
            )
        )
        json.dump(result, sys.stdout)
    else:
        asyncio.run(run_servers(args))


if __name__ == "__main__":
    main()
