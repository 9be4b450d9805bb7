"""Benchmark streaks on a temporary migrated SQLite file.

    python bench/streaks.py [--runs 15]
    python bench/streaks.py --quick     # small sizes, no timing asserted; exits 1 on a mismatch (CI)

Seeds one member with 1,000 check-ins spread over four years (plus a few rests) and a second
server with 10,000 members x 10 activity rows, then times, as medians of `--runs` runs:

- /streak for the one member: member_streak + rest_ranges + activity_days (26 weeks) + the PNG;
- guild_streaks for all 10,000 members of the big server;
- /leaderboard board:streaks, side by side: the old way (guild_streaks, every member recomputed)
  and the new (stored_currents, from member_streaks), after checking that both give the same board
  now and at later times (the run exits 1 if they differ);
- compute_streak alone on the 1,000 dates, weekly and daily.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select

from bot.db.migrate import upgrade
from bot.db.models import Activity, Guild, Member, RestPeriod
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.services.dates import member_today
from bot.services.rhythm import checkins
from bot.services.rhythm.streaks import (
    activity_days,
    compute_streak,
    guild_streaks,
    member_streak,
    refresh_streaks,
    rest_ranges,
    stored_currents,
)
from bot.services.streak_image import render_streak_png

NOW = datetime(2026, 11, 25, 18, 0, tzinfo=UTC)
SMALL_GUILD, BIG_GUILD = 1, 2
MEMBER = 42
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo", "America/Los_Angeles", "Asia/Kolkata")


async def seed(sessionmaker, *, members: int, rows_per_member: int) -> None:
    """Insert both servers' members, activity and rests."""
    rng = random.Random(7)
    today = NOW.date()
    async with transaction(sessionmaker) as session:
        await session.execute(insert(Guild), [{"id": SMALL_GUILD}, {"id": BIG_GUILD, "cadence": "weekly"}])
        await session.execute(
            insert(Member), [{"guild_id": SMALL_GUILD, "user_id": MEMBER, "timezone": "Europe/Berlin"}]
        )
        checkins = [
            {"guild_id": SMALL_GUILD, "user_id": MEMBER, "kind": "checkin", "ref": str(n),
             "local_date": today - timedelta(days=rng.randrange(4 * 365))}
            for n in range(1000)
        ]  # fmt: skip
        await session.execute(insert(Activity), checkins)
        rests = [(today - timedelta(days=d), today - timedelta(days=d - 10)) for d in (40, 300, 700, 1100)]
        await session.execute(
            insert(RestPeriod),
            [{"guild_id": SMALL_GUILD, "user_id": MEMBER, "start": s, "end": e} for s, e in rests],
        )

        users = range(10_000, 10_000 + members)
        await session.execute(
            insert(Member), [{"guild_id": BIG_GUILD, "user_id": u, "timezone": rng.choice(ZONES)} for u in users]
        )
        activity = [
            {"guild_id": BIG_GUILD, "user_id": u, "kind": "checkin", "ref": str(n),
             "local_date": today - timedelta(days=rng.randrange(140))}
            for u in users
            for n in range(rows_per_member)
        ]  # fmt: skip
        await session.execute(insert(Activity), activity)
        await session.execute(
            insert(RestPeriod),
            [
                {
                    "guild_id": BIG_GUILD,
                    "user_id": u,
                    "start": today - timedelta(days=30),
                    "end": today - timedelta(days=20),
                }
                for u in users[::10]
            ],
        )


async def median_ms(runs: int, job: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """Return the median and the worst time of `runs` runs of `job`, in milliseconds (after one warm-up)."""
    await job()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        await job()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), max(times)


async def check_boards(sessionmaker, guild_id: int) -> int:
    """Compare the stored and the recomputed current streaks at several instants; return the mismatches."""
    mismatches = 0
    for days in (0, 1, 3, 8, 15, 22, 40):
        now = NOW + timedelta(days=days)
        async with transaction(sessionmaker) as session:
            stored, stale = await stored_currents(session, guild_id, now=now)
            states = await guild_streaks(session, guild_id, now=now)
        recomputed = {uid: s.current for uid, s in states.items() if s.current > 0}
        if stale or stored != recomputed:
            wrong = {u for u in stored.keys() | recomputed.keys() if stored.get(u) != recomputed.get(u)}
            print(f"MISMATCH at +{days} days: {len(wrong)} members differ, {len(stale)} stale")
            mismatches += 1
    return mismatches


async def bench(url: str, runs: int, members: int, rows_per_member: int) -> int:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        started = time.perf_counter()
        await seed(sessionmaker, members=members, rows_per_member=rows_per_member)
        print(f"seeded {members:,} members x {rows_per_member} rows + 1 member x 1,000 in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        started = time.perf_counter()
        async with transaction(sessionmaker) as session:  # what migration 0009's backfill does
            for guild_id in (SMALL_GUILD, BIG_GUILD):
                await refresh_streaks(session, guild_id, now=NOW)
        print(f"stored streaks computed for every member in {time.perf_counter() - started:.2f} s")
        mismatches = await check_boards(sessionmaker, BIG_GUILD) + await check_boards(sessionmaker, SMALL_GUILD)

        today = member_today(NOW, ZoneInfo("Europe/Berlin"))
        first = today - timedelta(days=today.weekday() + 7 * 25)

        async def load_one():
            async with transaction(sessionmaker) as session:
                state = await member_streak(session, SMALL_GUILD, MEMBER, now=NOW)
                rests = await rest_ranges(session, SMALL_GUILD, MEMBER)
                days = await activity_days(session, SMALL_GUILD, MEMBER, start=first, end=today)
            return state, rests, days

        state, rests, days = await load_one()

        async def render():
            render_streak_png(days, today=today, rests=rests, name="member")

        async def slash_streak():
            _state, rests, days = await load_one()
            render_streak_png(days, today=today, rests=rests, name="member")

        async def whole_guild():
            async with transaction(sessionmaker) as session:
                return await guild_streaks(session, BIG_GUILD, now=NOW)

        async with transaction(sessionmaker) as session:
            all_dates = list(await session.scalars(select(Activity.local_date).where(Activity.guild_id == SMALL_GUILD)))
        assert len(all_dates) == 1000

        async def pure(cadence: str):
            compute_streak(all_dates, rests, cadence=cadence, today=today)

        async def old_board():  # what /leaderboard board:streaks did: every member recomputed
            async with transaction(sessionmaker) as session:
                states = await guild_streaks(session, BIG_GUILD, now=NOW)
            values = {uid: s.current for uid, s in states.items() if s.current > 0}
            return sorted(values.items(), key=lambda item: (-item[1], item[0]))[:10]

        async def new_board():
            board = await checkins.leaderboard(
                sessionmaker, guild_id=BIG_GUILD, board="streaks", user_id=10_000, now=NOW
            )
            return board.top

        if await old_board() != await new_board():
            print("MISMATCH: the old and the new leaderboard differ")
            mismatches += 1

        async def record_one():  # the write path: one activity, with the stored streak refreshed
            async with transaction(sessionmaker) as session:
                await refresh_streaks(session, BIG_GUILD, [10_000], now=NOW)

        streaks = await whole_guild()
        assert len(streaks) == members
        print(f"{'what':<52} {'median ms':>10} {'max ms':>8}")
        for name, job in [
            ("/streak: load (member_streak+rests+activity_days)", load_one),
            ("/streak: render_streak_png", render),
            ("/streak: total", slash_streak),
            (f"guild_streaks: {members:,} members, {members * rows_per_member:,} rows", whole_guild),
            ("compute_streak: 1,000 dates, weekly", lambda: pure("weekly")),
            ("compute_streak: 1,000 dates, daily", lambda: pure("daily")),
            (f"leaderboard streaks OLD (recompute), {members:,} members", old_board),
            (f"leaderboard streaks NEW (stored), {members:,} members", new_board),
            ("refresh one member's stored streak (per activity)", record_one),
        ]:
            median, worst = await median_ms(runs, job)
            print(f"{name:<52} {median:>10.2f} {worst:>8.2f}")
        at_risk = sum(s.at_risk for s in streaks.values())
        print(f"(member: current {state.current}, best {state.best}, total {state.total}; "
              f"guild: {at_risk:,} of {members:,} at risk)")  # fmt: skip
        print("stored and recomputed streaks agree" if not mismatches else f"{mismatches} MISMATCHES")
        return mismatches
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10, help="activity rows per member of the big server")
    parser.add_argument("--quick", action="store_true", help="small sizes, one run: a correctness check for CI")
    args = parser.parse_args()
    if args.quick:
        args.runs, args.members = 1, 300
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        mismatches = asyncio.run(bench(url, args.runs, args.members, args.rows))
    if mismatches:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
