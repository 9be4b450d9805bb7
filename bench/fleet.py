"""Benchmark the webhook intake of one against two `shiplog web` processes on one database.

    python bench/fleet.py --database-url postgresql+asyncpg://shiplog:shiplog@127.0.0.1:25432/shiplog_bench
    python bench/fleet.py --quick [--database-url ...]   # CI: short rounds; exit 1 unless every 202 is a row

Real `shiplog web` processes (the console script's code, `python -m bot.cli web`), each on its
own port, on one database; EVERYTHING IN THAT DATABASE IS DROPPED first, then migrated. Without
--database-url: a temporary SQLite file (two processes then share its one writer). The load
generator of bench/webhook_intake.py (signed ~15 KB deliveries, unique ids) runs as one child
process per web process, each with its share of `--concurrency` connections, all at once. Rounds
alternate between one process and two, so both are measured side by side on the same machine:
the report gives deliveries/s (median of the rounds), pooled p50/p99 of the ack, and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import webhook_intake  # noqa: E402
from weekly import empty_postgres  # noqa: E402

from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import WebhookDelivery  # noqa: E402
from bot.db.session import create_engine, create_sessionmaker, reading  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def prepare(url: str) -> None:
    """Empty the database (PostgreSQL: drop the schema, as bench/weekly.py does) and migrate it."""
    if url.startswith("postgresql"):
        await empty_postgres(url)
    await asyncio.to_thread(upgrade, url)


def start_web(url: str, port: int, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k not in {"DISCORD_TOKEN", "DATABASE_URL", "HTTP_PORT"}}
    env |= {
        "DATABASE_URL": url,
        "HTTP_HOST": "127.0.0.1",
        "HTTP_PORT": str(port),
        "GITHUB_WEBHOOK_SECRET": webhook_intake.SECRET,
        "LOG_LEVEL": "WARNING",
        "PYTHONPATH": str(ROOT),
    }
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "web"], env=env, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent
        )


async def wait_healthy(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SystemExit(f"shiplog web exited {process.returncode}: see {log}")
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise SystemExit(f"shiplog web on port {port} never became healthy: see {log}")


async def round_against(ports: list[int], args: argparse.Namespace) -> dict[str, Any]:
    """One round: a load generator per port, all at once; the combined rate and pooled latencies."""
    share = argparse.Namespace(
        requests=args.requests,
        seconds=args.seconds,
        warmup_seconds=args.warmup_seconds,
        concurrency=max(1, args.concurrency // len(ports)),
    )
    results = await asyncio.gather(
        *(webhook_intake.load(f"http://127.0.0.1:{port}{webhook_intake.PATH}", share, None) for port in ports)
    )
    statuses: dict[str, int] = {}
    for result in results:
        for status, count in result["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "rate": sum(len(r["latencies"]) / r["elapsed"] for r in results),
        "latencies": [latency for r in results for latency in r["latencies"]],
        "statuses": statuses,
    }


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="shiplog-fleet-") as folder:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(folder) / 'fleet.db'}"
        await prepare(url)
        ports = [free_port(), free_port()]
        logs = [Path(folder) / f"web-{n}.log" for n in range(2)]
        processes = [start_web(url, port, log) for port, log in zip(ports, logs, strict=True)]
        try:
            for port, process, log in zip(ports, processes, logs, strict=True):
                await wait_healthy(port, process, log)
            rounds: dict[str, list[dict[str, Any]]] = {"1 process": [], "2 processes": []}
            for _ in range(args.rounds):
                rounds["1 process"].append(await round_against(ports[:1], args))
                rounds["2 processes"].append(await round_against(ports, args))
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(30)
        engine = create_engine(url)
        try:
            async with reading(create_sessionmaker(engine)) as session:
                stored = await session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0
        finally:
            await engine.dispose()

    backend = "PostgreSQL" if url.startswith("postgresql") else "SQLite"
    print(
        f"shiplog web on {backend}, {args.concurrency} connections in all, {args.rounds} rounds of {args.seconds:g} s "
        f"(+{args.warmup_seconds:g} s warm-up), {os.cpu_count()} CPUs shared by everything"
    )
    print(f"{'':<12} {'deliveries/s':>12} {'p50 ms':>7} {'p99 ms':>7}  rounds/s")
    rates = {}
    accepted = 0
    for name, results in rounds.items():
        latencies = sorted(latency for r in results for latency in r["latencies"])
        rates[name] = statistics.median(r["rate"] for r in results)
        p50 = webhook_intake.percentile(latencies, 0.5) * 1000
        p99 = webhook_intake.percentile(latencies, 0.99) * 1000
        each = " ".join(f"{r['rate']:.0f}" for r in results)
        statuses: dict[str, int] = {}
        for r in results:
            for status, count in r["statuses"].items():
                statuses[status] = statuses.get(status, 0) + count
        accepted += statuses.get("202", 0)
        print(f"{name:<12} {rates[name]:>12.0f} {p50:>7.1f} {p99:>7.1f}  {each}  {statuses}")
    print(f"ratio 2 processes / 1: {rates['2 processes'] / rates['1 process']:.2f}")
    # Warm-up requests are stored too: at least every timed 202 must be a row, and no more rows than sent.
    print(f"rows stored: {stored:,} (timed 202s: {accepted:,}, plus the warm-ups)")
    return 0 if stored >= accepted > 0 else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="PostgreSQL database to use: EVERYTHING IN IT IS DROPPED")
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--warmup-seconds", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--requests", type=int, default=30_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--quick", action="store_true", help="CI: one round of 0.5 s")
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.warmup_seconds, args.rounds = 0.5, 0.2, 1
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
