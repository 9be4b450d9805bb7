"""Benchmark GitHub webhook intake against a bare aiohttp handler, on loopback.

    python bench/webhook_intake.py [--seconds 3 --rounds 3 --concurrency 32 --requests 30000]

One process runs two servers on 127.0.0.1: the real app from `build_app` (signature check, JSON
validation, a committed SQLite row per delivery, in a temporary migrated database) and a bare
handler that only reads the body and answers 202. A child process (this script with --client)
sends signed ~15 KB JSON deliveries with unique delivery ids over `--concurrency` connections and
times each response. Rounds alternate between the two servers. On a machine with two or more
CPUs the servers are pinned to one CPU and the load generator to another, as if GitHub were
elsewhere; otherwise the two processes share whatever CPUs there are and figures swing with the
scheduler. The report gives deliveries/s (median of the rounds), p50 and p99 of the time to the
response (over all rounds) and the ratio of the intake's rate to the bare handler's.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from sqlalchemy import func, select

from bot.db.migrate import upgrade
from bot.db.models import WebhookDelivery
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.web import WebServer, build_app
from bot.web.webhook import MAX_WEBHOOK_BODY

HOST = "127.0.0.1"
PATH = "/github/webhook"
SECRET = "bench-secret"  # noqa: S105 - a throwaway secret shared with the load generator
FIXTURE = (
    Path(__file__).resolve().parents[1] / "bot" / "playground" / "samples" / "github" / "issues" / "opened.payload.json"
)
BODY_SIZE = 15 * 1024
PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


NUMBER_PLACEHOLDER = 987654321


def merge_template() -> bytes:
    """Return a merged pull request by Codertocat (the fixtures' author) with placeholders for its number and id."""
    from bot.playground.samples import merged_pr_payload

    payload = json.loads(merged_pr_payload(number=NUMBER_PLACEHOLDER, title=f"bench PR {NUMBER_PLACEHOLDER}"))
    payload["bench_delivery"] = PLACEHOLDER
    return json.dumps(payload).encode()


def make_template() -> bytes:
    """Return a real `issues` payload padded to about BODY_SIZE bytes, with a placeholder delivery id."""
    payload = json.loads(FIXTURE.read_bytes())
    payload["bench_delivery"] = PLACEHOLDER
    payload["issue"]["body"] = ""
    payload["issue"]["body"] = "x" * max(0, BODY_SIZE - len(json.dumps(payload)))
    return json.dumps(payload).encode()


def signed_request(template: bytes, delivery_id: str, number: int | None = None) -> tuple[bytes, dict[str, str]]:
    """Return the body and headers GitHub would send for one delivery (bodies differ by id).

    With `number`, the template is a merged pull request (`merge_template`) and this is its number.
    """
    body = template.replace(PLACEHOLDER.encode(), delivery_id.encode())
    if number is not None:
        body = body.replace(str(NUMBER_PLACEHOLDER).encode(), str(number).encode())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/bench",
        "X-GitHub-Event": "issues" if number is None else "pull_request",
        "X-GitHub-Delivery": delivery_id,
        "X-GitHub-Hook-ID": "1",
        "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
    }
    return body, headers


def pin(cpu: int | None) -> None:
    """Keep this process (and the threads it starts later) on one CPU."""
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


# --- The load generator, in the child process.


async def run_client(
    url: str, *, requests: int, seconds: float, warmup_seconds: float, concurrency: int, merges_from: int | None = None
) -> dict[str, Any]:
    """Warm up, then send up to `requests` deliveries for at most `seconds`, timing each response.

    With `merges_from`, every delivery is a merged pull request, numbered from it upwards.
    """
    template = make_template() if merges_from is None else merge_template()
    numbers = itertools.count(merges_from or 0)
    latencies: list[float] = []
    statuses: dict[str, int] = {}
    sent = 0

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def worker(deadline: float, timed: bool) -> None:
            nonlocal sent
            while time.perf_counter() < deadline and (not timed or len(latencies) < requests):
                # Built here, not ahead: a unique delivery id (and so body and signature) per request.
                number = next(numbers) if merges_from is not None else None
                body, headers = signed_request(template, str(uuid.uuid4()), number)
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as response:
                    await response.read()
                sent += 1
                if timed:
                    latencies.append(time.perf_counter() - started)
                    statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1

        await asyncio.gather(*(worker(time.perf_counter() + warmup_seconds, False) for _ in range(concurrency)))
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {"elapsed": elapsed, "latencies": latencies, "statuses": statuses, "sent": sent}


# --- The servers and the report, in the main process.


async def bare_handler(request: web.Request) -> web.Response:
    """Read the body and answer 202: the floor any intake is measured against."""
    await request.read()
    return web.json_response({"ok": True}, status=202)


async def load(url: str, args: argparse.Namespace, client_cpu: int | None) -> dict[str, Any]:
    """Run the load generator against `url` in a child process and return what it measured."""
    command = [sys.executable, __file__, "--client", url]
    for option in ("requests", "seconds", "warmup_seconds", "concurrency"):
        command += [f"--{option.replace('_', '-')}", str(getattr(args, option))]
    if getattr(args, "merges_from", None) is not None:
        command += ["--merges-from", str(args.merges_from)]
    if client_cpu is not None:
        command += ["--client-cpu", str(client_cpu)]
    cpu = time.process_time()
    child = await asyncio.create_subprocess_exec(*command, stdout=asyncio.subprocess.PIPE)
    out, _ = await child.communicate()
    if child.returncode != 0:
        raise SystemExit(f"the load generator failed against {url} (exit {child.returncode})")
    result = json.loads(out)
    # The servers' own CPU time (all threads, aiosqlite's included), warm-up requests included.
    result["server_cpu"] = time.process_time() - cpu
    return result


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile of sorted values."""
    return sorted_values[max(0, min(len(sorted_values) - 1, round(fraction * len(sorted_values)) - 1))]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Combine the rounds of one target: median rate, pooled latency percentiles in ms, statuses."""
    latencies = sorted(latency for run in runs for latency in run["latencies"])
    statuses: dict[str, int] = {}
    for run in runs:
        for status, count in run["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    rates = [len(run["latencies"]) / run["elapsed"] for run in runs]
    cpu_per_request = sum(run["server_cpu"] for run in runs) / sum(run["sent"] for run in runs)
    return {
        "cpu_us": cpu_per_request * 1e6,
        "requests": len(latencies),
        "rates": rates,
        "rate": statistics.median(rates),
        "p50": percentile(latencies, 0.50) * 1000,
        "p99": percentile(latencies, 0.99) * 1000,
        "max": latencies[-1] * 1000,
        "statuses": statuses,
        "sent": sum(run["sent"] for run in runs),  # warm-up included
    }


async def run_servers(args: argparse.Namespace) -> None:
    """Start both servers, load them in alternating rounds, print the table and check the stored rows."""
    cpus = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 and not args.no_pin else (None, None)
    pin(server_cpu)  # before any thread starts (aiosqlite's, the default executor's): they inherit it

    with tempfile.TemporaryDirectory(prefix="shiplog-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        wakeups = 0

        def on_delivery() -> None:
            nonlocal wakeups
            wakeups += 1

        intake_app = build_app(engine, sessionmaker=sessionmaker, webhook_secret=SECRET, on_delivery=on_delivery)
        bare_app = web.Application(client_max_size=MAX_WEBHOOK_BODY)
        bare_app.router.add_post(PATH, bare_handler)
        servers = {"bare": WebServer(bare_app, HOST, 0), "intake": WebServer(intake_app, HOST, 0)}
        runs: dict[str, list[dict[str, Any]]] = {name: [] for name in servers}
        for server in servers.values():
            await server.start()
        try:
            for _ in range(args.rounds):
                for name, server in servers.items():
                    runs[name].append(await load(f"http://{HOST}:{server.port}{PATH}", args, client_cpu))
        finally:
            for server in servers.values():
                await server.stop()
        async with transaction(sessionmaker) as session:
            stored = await session.scalar(select(func.count()).select_from(WebhookDelivery))
        await engine.dispose()

    results = {name: summarise(target_runs) for name, target_runs in runs.items()}
    placement = f"servers on CPU {server_cpu}, load on CPU {client_cpu}" if server_cpu is not None else "not pinned"
    print(
        f"{args.concurrency} connections, {len(make_template()) / 1024:.0f} KB signed JSON bodies, 127.0.0.1, "
        f"{args.rounds} rounds of {args.seconds:g} s (+{args.warmup_seconds:g} s warm-up), {placement}"
    )
    print(
        f"{'target':<7} {'requests':>8} {'deliveries/s':>12} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'server CPU us/req':>17}  rounds/s"
    )
    for name, r in results.items():
        rounds = " ".join(f"{rate:.0f}" for rate in r["rates"])
        print(
            f"{name:<7} {r['requests']:>8} {r['rate']:>12.0f} {r['p50']:>7.2f} {r['p99']:>7.2f} {r['max']:>7.1f} "
            f"{r['cpu_us']:>17.0f}  {rounds}  {r['statuses']}"
        )
    ratio = results["intake"]["rate"] / results["bare"]["rate"]
    cpu_ratio = results["bare"]["cpu_us"] / results["intake"]["cpu_us"]
    p99 = results["intake"]["p99"]
    print(f"ratio intake/bare: {ratio:.2f} (goal >= 0.33); intake p99 {p99:.1f} ms (goal < 50 ms)")
    print(f"server CPU per request, bare/intake: {cpu_ratio:.2f}")
    accepted = results["intake"]["statuses"].get("202", 0)
    # Every 202, timed or warm-up, must be a committed row and one wake-up.
    print(f"rows committed: {stored} ({accepted} timed 202s + warm-up); on_delivery calls: {wakeups}")


def main() -> None:
    """Parse the arguments; run the servers, or the load generator with --client."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=30_000, help="most timed deliveries per round")
    parser.add_argument("--seconds", type=float, default=3.0, help="longest timed round")
    parser.add_argument("--warmup-seconds", type=float, default=0.5, help="untimed load before each round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per target, alternating")
    parser.add_argument("--concurrency", type=int, default=32, help="concurrent connections")
    parser.add_argument("--no-pin", action="store_true", help="do not pin the servers and the load to CPUs")
    parser.add_argument("--client", metavar="URL", help=argparse.SUPPRESS)
    parser.add_argument("--client-cpu", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--merges-from", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.client:
        pin(args.client_cpu)
        options = {
            "requests": args.requests,
            "seconds": args.seconds,
            "concurrency": args.concurrency,
            "merges_from": args.merges_from,
        }
        result = asyncio.run(run_client(args.client, warmup_seconds=args.warmup_seconds, **options))
        json.dump(result, sys.stdout)
    else:
        asyncio.run(run_servers(args))


if __name__ == "__main__":
    main()
