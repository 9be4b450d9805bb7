"""Benchmark the weekly run on a large server, in a temporary migrated SQLite file.

    python bench/weekly.py [--members 10000 --goals 100000 --weeks 26 --seed 48]
    python bench/weekly.py --quick      # CI: small, no timing judged, exit 1 if something is off

One server with `--members` members (a few zones, some opted out of reminders, some into streak
DMs), `--goals` goals (open, done and dropped, some due), a check-in and an activity row for about
half of each member's last `--weeks` weeks, rest periods, merged pull requests and kudos. It times
`run_weekly` end to end (streaks, the ping's members and packing, the digest, the outbox rows and
JobRun rows committed), its parts on their own, a repeated run (nothing to do), `catch_up` and the
streak-DM sweep, and prints the figures. The goal is under 2 s for run_weekly. run_weekly runs
beside the real web app taking a signed webhook every 20 ms and a ticker task: its longest write
transaction, the longest event-loop stall and the webhooks' ack latency are printed (goals: 50 ms,
50 ms, p95 under 200 ms), for the old code too unless `--quick`. The ping is checked:
every message within 2,000 characters and mentioning exactly its members, and at most 120 messages
per 10,000 due members (3 at least); any problem is printed and the exit status is 1. Unless
`--quick`, the ping of the old code (goal blocks, from git) is measured on the same data.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import hashlib
import hmac
import importlib
import json
import math
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import types
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import event, func, insert, select

from bot.db.migrate import upgrade
from bot.db.models import (
    Activity,
    CheckIn,
    Goal,
    Guild,
    Kudos,
    Member,
    MergedPullRequest,
    OutboxMessage,
    RestPeriod,
)
from bot.db.session import READ_ONLY, create_engine, create_sessionmaker, transaction
from bot.services.rhythm import streaks
from bot.services.rhythm.digest import build_digest
from bot.services.rhythm.ping import MESSAGE_LIMIT, PingSettings, plan_ping
from bot.services.rhythm.runs import catch_up, due_members, run_weekly
from bot.services.rhythm.streak_dms import queue_streak_dms
from bot.services.rhythm.when import DEFAULT_SCHEDULE, previous_run
from bot.web import WebServer, build_app

GUILD = 1
# The last commit whose ping listed each member's goals: the "old" figures are measured with it.
OLD_COMMIT = "6de66660c025afeddbe9a2b4a07fc64ec3a0ca75"
MENTION = re.compile(r"<@([0-9]+)>")
NOW = datetime(2026, 11, 23, 9, 5, tzinfo=UTC)  # five minutes after the default Monday 09:00 UTC
SCHEDULED = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
ZONES = ["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland", "America/Los_Angeles"]
WORDS = [
    "ship",
    "the",
    "parser",
    "refactor",
    "docs",
    "release",
    "fix",
    "flaky",
    "test",
    "beta",
    "launch",
    "landing",
    "page",
    "blog",
    "post",
    "v2",
    "api",
]


def user_id(n: int) -> int:
    return 10**17 + n  # snowflake-sized, so the mentions are as long as real ones


async def seed(sessionmaker, *, members: int, goals: int, weeks: int, rng: random.Random) -> dict[str, int]:
    """Fill the database with one big server; return how many rows of each kind."""
    today = NOW.date()
    monday = today - timedelta(days=today.weekday())
    member_rows, goal_rows, checkin_rows, activity_rows, rest_rows, pr_rows, kudos_rows = [], [], [], [], [], [], []
    for n in range(members):
        uid = user_id(n)
        member_rows.append(
            {
                "guild_id": GUILD,
                "user_id": uid,
                "timezone": rng.choice(ZONES),
                "reminders": rng.random() > 0.05,
                "streak_dms": rng.random() < 0.1,
                "created_at": NOW - timedelta(days=200),
            }
        )
        # Half the members are regulars (active most weeks), half drop in now and then.
        activity_rate = 0.85 if n % 2 else 0.25
        for week in range(weeks):
            if rng.random() < activity_rate:
                day = monday - timedelta(weeks=week) + timedelta(days=rng.randint(0, 6))
                if day > today:
                    continue
                at = datetime.combine(day, datetime.min.time(), tzinfo=UTC) + timedelta(hours=rng.randint(8, 20))
                checkin_rows.append(
                    {"guild_id": GUILD, "user_id": uid, "note": "progress", "local_date": day, "created_at": at}
                )
                activity_rows.append(
                    {
                        "guild_id": GUILD,
                        "user_id": uid,
                        "kind": "checkin",
                        "ref": f"{uid}:{week}",
                        "local_date": day,
                        "created_at": at,
                    }
                )
        if rng.random() < 0.05:
            start = monday - timedelta(weeks=rng.randint(0, weeks))
            rest_rows.append(
                {
                    "guild_id": GUILD,
                    "user_id": uid,
                    "start": start,
                    "end": start + timedelta(days=13),
                    "created_at": NOW - timedelta(days=30),
                }
            )
    for number in range(1, goals + 1):
        uid = user_id(rng.randrange(members))
        created = NOW - timedelta(days=rng.uniform(0, 180))
        status = rng.choices(["open", "done", "dropped"], weights=[40, 45, 15])[0]
        closed = created + timedelta(days=rng.uniform(0, (NOW - created).days or 1)) if status != "open" else None
        goal_rows.append(
            {
                "guild_id": GUILD,
                "number": number,
                "user_id": uid,
                "text": " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 40)))[:300],
                "due": (today + timedelta(days=rng.randint(-10, 60))) if rng.random() < 0.5 else None,
                "status": status,
                "created_at": created,
                "updated_at": closed or created,
                "closed_at": closed,
            }
        )
    for number in range(1, 5001):
        recorded = NOW - timedelta(days=rng.uniform(0, 70))
        pr_rows.append(
            {
                "guild_id": GUILD,
                "user_id": user_id(rng.randrange(members)),
                "repo": f"org/repo{number % 40}",
                "number": number,
                "title": " ".join(rng.choice(WORDS) for _ in range(6)),
                "url": f"https://github.com/org/repo{number % 40}/pull/{number}",
                "merged_at": recorded,
                "recorded_at": recorded,
            }
        )
    for _ in range(20_000):
        created = NOW - timedelta(days=rng.uniform(0, 70))
        kudos_rows.append(
            {
                "guild_id": GUILD,
                "from_user_id": user_id(rng.randrange(members)),
                "to_user_id": user_id(rng.randrange(members)),
                "reason": "thanks for the review",
                "local_date": created.date(),
                "created_at": created,
            }
        )
    async with transaction(sessionmaker) as session:
        session.add(
            Guild(
                id=GUILD,
                accountability_channel_id=2,
                digest_channel_id=3,
                last_goal_number=goals,
                created_at=NOW - timedelta(days=365),
            )
        )
        await session.flush()
        for model, rows in (
            (Member, member_rows),
            (Goal, goal_rows),
            (CheckIn, checkin_rows),
            (Activity, activity_rows),
            (RestPeriod, rest_rows),
            (MergedPullRequest, pr_rows),
            (Kudos, kudos_rows),
        ):
            for start in range(0, len(rows), 5000):
                await session.execute(insert(model), rows[start : start + 5000])
        # The stored streaks, as recording the activity keeps them (and migration 0009 fills them).
        await streaks.refresh_streaks(session, GUILD, now=NOW)
    return {
        "members": len(member_rows),
        "goals": len(goal_rows),
        "open goals": sum(row["status"] == "open" for row in goal_rows),
        "check-ins": len(checkin_rows),
        "activity": len(activity_rows),
        "rest periods": len(rest_rows),
        "merged PRs": len(pr_rows),
        "kudos": len(kudos_rows),
    }


# --- The run beside the rest of the process: write transactions, event-loop stalls, webhook acks ---

SECRET = "bench-secret"  # noqa: S105 - a throwaway secret shared with the load generator
WEBHOOK_EVERY = 0.020
TICK = 0.005
FIXTURE = (
    Path(__file__).resolve().parents[1] / "bot" / "playground" / "samples" / "github" / "issues" / "opened.payload.json"
)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)] if ordered else float("nan")


def post_webhooks(url: str, stop: threading.Event, acks: list[tuple[float, float, int]]) -> None:
    """In a thread with its own event loop (GitHub's side): post a signed delivery every WEBHOOK_EVERY
    without waiting for the previous answer; record (sent at, seconds to the answer, status)."""
    template = json.loads(FIXTURE.read_bytes())

    async def one(session: aiohttp.ClientSession) -> None:
        delivery = str(uuid.uuid4())
        body = json.dumps(template | {"bench_delivery": delivery}).encode()
        headers = {
            "Content-Type": "application/json",
            "X-GitHub-Event": "issues",
            "X-GitHub-Delivery": delivery,
            "X-GitHub-Hook-ID": "1",
            "X-Hub-Signature-256": "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest(),
        }
        sent = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
        acks.append((sent, time.perf_counter() - sent, response.status))

    async def load() -> None:
        async with aiohttp.ClientSession() as session:
            tasks = []
            while not stop.is_set():
                tasks.append(asyncio.create_task(one(session)))
                await asyncio.sleep(WEBHOOK_EVERY)
            await asyncio.gather(*tasks, return_exceptions=True)

    asyncio.run(load())


async def run_beside_webhooks(url: str, run) -> dict:
    """Run `run(sessionmaker)` on its own engine while the real web app (its own engine, same file)
    takes a signed webhook every WEBHOOK_EVERY and a ticker measures how late a TICK sleep wakes up.

    Return the run's result and total time, its longest write transaction (BEGIN IMMEDIATE to
    COMMIT, reads left out), the longest stall of the event loop, and the acks sent during the run.
    """
    run_engine, web_engine = create_engine(url), create_engine(url)
    writes: list[float] = []
    began: dict[int, float] = {}

    @event.listens_for(run_engine.sync_engine, "begin")
    def on_begin(conn) -> None:
        if not conn.get_execution_options().get(READ_ONLY):
            began[id(conn)] = time.perf_counter()

    @event.listens_for(run_engine.sync_engine, "commit")
    @event.listens_for(run_engine.sync_engine, "rollback")
    def on_end(conn) -> None:
        started = began.pop(id(conn), None)
        if started is not None:
            writes.append(time.perf_counter() - started)

    server = WebServer(build_app(web_engine, webhook_secret=SECRET), "127.0.0.1", 0)
    await server.start()
    stalls: list[float] = []
    ticking = True

    async def ticker() -> None:
        while ticking:
            started = time.perf_counter()
            await asyncio.sleep(TICK)
            stalls.append(time.perf_counter() - started - TICK)

    # Full collections of the garbage collector stop every thread: timed, to tell them from our own code.
    gc_pauses: list[float] = []
    gc_started: list[float] = []

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            gc_started[:] = [time.perf_counter()]
        elif gc_started:
            gc_pauses.append(time.perf_counter() - gc_started[0])

    stop, acks = threading.Event(), []
    poster = threading.Thread(
        target=post_webhooks, args=(f"http://127.0.0.1:{server.port}/github/webhook", stop, acks), daemon=True
    )
    poster.start()
    try:
        await asyncio.sleep(0.5)  # the web app and its engine warmed up
        # As the bot does once the gateway is up (bot.Shiplog.on_ready): what the process holds by
        # now is frozen, so full collections during the run do not walk it.
        gc.collect()
        gc.freeze()
        gc.callbacks.append(on_gc)
        tick = asyncio.create_task(ticker())
        stalls.clear()
        started = time.perf_counter()
        result = await run(create_sessionmaker(run_engine))
        total = time.perf_counter() - started
        ticking = False
        await tick
        gc.callbacks.remove(on_gc)
        await asyncio.sleep(0.3)
    finally:
        stop.set()
        await asyncio.to_thread(poster.join)
        await server.stop()
        await run_engine.dispose()
        await web_engine.dispose()
    during = [(seconds, status) for sent, seconds, status in acks if started <= sent <= started + total]
    latencies = [seconds for seconds, _ in during]
    return {
        "result": result,
        "total": total,
        "write": max(writes, default=0.0),
        "writes": len(writes),
        "stall": max(stalls, default=0.0),
        "gc": max(gc_pauses, default=0.0),
        "acks": len(during),
        "ok": sum(status == 202 for _, status in during),
        "p50": percentile(latencies, 0.5),
        "p95": percentile(latencies, 0.95),
        "max": max(latencies, default=float("nan")),
    }


async def timed(label: str, coro, timings: dict[str, float]):
    started = time.perf_counter()
    result = await coro
    timings[label] = time.perf_counter() - started
    return result


def old_schedule():
    """Load bot/services/schedule.py as it was before the ping became mentions (a ping of goal blocks),
    to measure it side by side; None when git or that commit is not at hand."""
    try:
        source = subprocess.run(  # noqa: S603 (a fixed command)
            ["git", "show", f"{OLD_COMMIT}:bot/services/schedule.py"],  # noqa: S607
            cwd=Path(__file__).resolve().parent.parent,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    # Modules it imports that moved since: their old names, for its imports.
    for old_name, new_name in {"bot.services.streaks": "bot.services.rhythm.streaks"}.items():
        sys.modules.setdefault(old_name, importlib.import_module(new_name))
    module = types.ModuleType("bench_old_schedule")
    sys.modules[module.__name__] = module  # dataclasses look their module up
    code = compile(source, f"{OLD_COMMIT[:7]}:bot/services/schedule.py", "exec")
    exec(code, module.__dict__)  # noqa: S102 (this repository's own code, from its history)
    return module


def check_ping(messages, members, problems: list[str]) -> None:
    """The ping's messages fit, mention exactly their members, and are few."""
    seen: list[int] = []
    for message in messages:
        if len(message.content) > MESSAGE_LIMIT:
            problems.append(f"a ping message of {len(message.content)} characters")
        if [int(uid) for uid in MENTION.findall(message.content)] != list(message.user_ids):
            problems.append("a ping message whose mentions are not its members")
        seen += message.user_ids
    if seen != [m.user_id for m in members]:
        problems.append("the ping does not mention every due member exactly once, in order")
    most = max(3, math.ceil(len(members) * 120 / 10_000))
    if len(messages) > most:
        problems.append(f"{len(messages)} ping messages for {len(members):,} members (at most {most})")


async def main(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    problems: list[str] = []
    old = old_schedule() if not args.quick and not args.database_url else None
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "weekly.db"
        url = args.database_url or f"sqlite+aiosqlite:///{path}"
        if args.database_url:
            await empty_postgres(url)
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        started = time.perf_counter()
        counts = await seed(sessionmaker, members=args.members, goals=args.goals, weeks=args.weeks, rng=rng)
        seeding = time.perf_counter() - started
        print(
            "Server:", ", ".join(f"{count:,} {what}" for what, count in counts.items()), f"(seeded in {seeding:.1f} s)"
        )
        if old is not None:
            await engine.dispose()
            shutil.copyfile(path, Path(folder) / "old.db")
            engine = create_engine(url)
            sessionmaker = create_sessionmaker(engine)

        week_start = previous_run(DEFAULT_SCHEDULE, SCHEDULED - timedelta(microseconds=1))
        parts: dict[str, float] = {}
        async with transaction(sessionmaker) as session:
            walked = await timed(
                "streaks of every member, walked", streaks.guild_streaks(session, GUILD, now=NOW), parts
            )
            states = await timed(
                "streaks of every member, stored (what the run reads)",
                streaks.stored_states(session, GUILD, now=NOW),
                parts,
            )
            if states != {uid: walked[uid] for uid in states}:
                problems.append("the stored streaks differ from the walked ones")
            members = await timed(
                "members due (goals, opt-outs)", due_members(session, GUILD, now=NOW, states=states), parts
            )
            started = time.perf_counter()
            messages, _ = plan_ping(members, PingSettings())
            parts["packing the ping"] = time.perf_counter() - started
            quiet = await timed(
                "members due, quiet only",
                due_members(session, GUILD, now=NOW, states=states, quiet_since=week_start),
                parts,
            )
            cap = max(1, min(50, len(members) // 2))  # one message's worth
            capped, _ = plan_ping(members, PingSettings(cap=cap, role_id=4))
            await timed(
                "digest queries",
                build_digest(session, GUILD, start=week_start, end=SCHEDULED, states=states),
                parts,
            )
            if old is not None:
                old_members = await timed(
                    "old: members due (goal lines)", old.due_members(session, GUILD, now=NOW, states=states), parts
                )
                started = time.perf_counter()
                old_messages = old.pack_ping(old_members)
                parts["old: packing the ping"] = time.perf_counter() - started
            await session.rollback()
        check_ping(messages, members, problems)
        if len(capped) != 1 or capped[0].role_ids != (4,):
            problems.append(f"a ping capped at {cap} members is {len(capped)} messages, or does not mention the role")

        runs: dict[str, float] = {}
        beside: dict[str, dict] = {}
        beside["new"] = await run_beside_webhooks(
            url, lambda sm: run_weekly(sm, GUILD, scheduled_for=SCHEDULED, now=NOW)
        )
        result = beside["new"]["result"]
        runs["run_weekly"] = beside["new"]["total"]
        again = await timed(
            "run_weekly again (already done)",
            run_weekly(sessionmaker, GUILD, scheduled_for=SCHEDULED, now=NOW),
            runs,
        )
        await timed("catch_up (nothing missing)", catch_up(sessionmaker, now=NOW), runs)
        sunday = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
        dms = await timed("streak-DM sweep (Sunday noon)", queue_streak_dms(sessionmaker, now=sunday), runs)
        async with transaction(sessionmaker) as session:
            queued = await session.scalar(select(func.count()).select_from(OutboxMessage))
        await engine.dispose()
        if old is not None:
            beside["old"] = await run_beside_webhooks(
                f"sqlite+aiosqlite:///{Path(folder) / 'old.db'}",
                lambda sm: old.run_weekly(sm, GUILD, scheduled_for=SCHEDULED, now=NOW),
            )
            old_result = beside["old"]["result"]
            runs["old: run_weekly"] = beside["old"]["total"]

    if result.outcome("ping").messages != len(messages) or result.queued != len(messages) + 1:
        problems.append(f"run_weekly queued {result.queued} rows for a ping of {len(messages)} messages")
    if again.queued != 0:
        problems.append("a second run_weekly of the same period queued messages")

    def sizes_of(ping) -> str:
        sizes = [len(message.content) for message in ping] or [0]
        return (
            f"sizes {min(sizes):,}-{max(sizes):,} characters, {sum(sizes) / len(sizes):,.0f} on average; "
            f"{sum(sizes) / MESSAGE_LIMIT / max(len(ping), 1):.1%} full"
        )

    print(f"Ping: {len(members):,} members due, {len(messages):,} messages ({sizes_of(messages)})")
    if old is not None:
        print(f"  old: {len(old_members):,} members due, {len(old_messages):,} messages ({sizes_of(old_messages)})")
    print(f"  quiet only: {len(quiet):,} members due; capped at {cap:,} with a role: {len(capped)} message(s)")
    print(f"Outbox: {result.queued:,} rows from run_weekly, {len(dms):,} streak DMs, {queued:,} rows in all")
    if old is not None:
        print(f"  old: {old_result.queued:,} rows from run_weekly")
    print("\nParts, each on its own (one transaction, rolled back):")
    for label, seconds in parts.items():
        print(f"  {label:<34} {seconds * 1000:8.0f} ms")
    print("\nEnd to end (each its own transactions, committed):")
    for label, seconds in runs.items():
        print(f"  {label:<34} {seconds * 1000:8.0f} ms")
    print(
        f"\nrun_weekly beside the web app (a signed webhook every {WEBHOOK_EVERY * 1000:.0f} ms, its own engine;"
        f" a {TICK * 1000:.0f} ms ticker):"
    )
    print(f"  {'':<5} {'total':>8} {'longest write':>14} {'writes':>6} {'longest stall':>14} {'longest gc':>11} "
          f"{'webhooks':>8} {'ack p50':>8} {'ack p95':>8} {'ack max':>8}")  # fmt: skip
    for name, r in beside.items():
        print(
            f"  {name:<5} {r['total'] * 1000:6.0f} ms {r['write'] * 1000:11.0f} ms {r['writes']:>6} "
            f"{r['stall'] * 1000:11.0f} ms {r['gc'] * 1000:8.0f} ms "
            f"{r['ok']:>4}/{r['acks']:<3} {r['p50'] * 1000:5.0f} ms "
            f"{r['p95'] * 1000:5.0f} ms {r['max'] * 1000:5.0f} ms"
        )
    new = beside["new"]
    if new["ok"] != new["acks"]:
        problems.append(f"{new['acks'] - new['ok']} webhooks during the run were not answered 202")
    if not args.quick:
        verdict = "under" if runs["run_weekly"] < 2 else "OVER"
        print(f"\nrun_weekly took {runs['run_weekly']:.2f} s: {verdict} the 2 s goal.")
        for label, value, goal in (
            ("longest write transaction", new["write"], 0.050),
            ("longest event-loop stall", new["stall"], 0.050),
            ("webhook ack p95 during the run", new["p95"], 0.200),
        ):
            print(
                f"{label}: {value * 1000:.0f} ms, {'under' if value < goal else 'OVER'} the {goal * 1000:.0f} ms goal."
            )
    for problem in problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    return 1 if problems else 0


async def empty_postgres(url: str) -> None:
    """Drop every table of the PostgreSQL database at `url` (the bench seeds it from scratch)."""
    from sqlalchemy import text

    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--goals", type=int, default=None, help="default: 10 per member")
    parser.add_argument("--weeks", type=int, default=26)
    parser.add_argument("--seed", type=int, default=48)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="CI: 200 members, 8 weeks, no old code, no timing judged; exit 1 on a problem",
    )
    parser.add_argument(
        "--database-url",
        help="a PostgreSQL database to run on instead of a temporary SQLite file: EVERYTHING IN IT IS DROPPED; "
        "no old code side by side",
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.members, arguments.weeks = 200, 8
    if arguments.goals is None:
        arguments.goals = arguments.members * 10
    sys.exit(asyncio.run(main(arguments)))
