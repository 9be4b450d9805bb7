"""Benchmark streaks on a temporary migrated SQLite file.

    python bench/streaks.py [--runs 15]

Seeds one member with 1,000 check-ins spread over four years (plus a few rests) and a second
server with 10,000 members x 10 activity rows, then times, as medians of `--runs` runs:

- /streak for the one member: member_streak + rest_ranges + activity_days (26 weeks) + the PNG;
- guild_streaks for all 10,000 members of the big server;
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
from bot.services.streak_image import render_streak_png
from bot.services.streaks import activity_days, compute_streak, guild_streaks, member_streak, rest_ranges

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


async def bench(url: str, runs: int, members: int, rows_per_member: int) -> None:
    engine = create_engine(url)
    sessionmaker = create_sessionmaker(engine)
    try:
        started = time.perf_counter()
        await seed(sessionmaker, members=members, rows_per_member=rows_per_member)
        print(f"seeded {members:,} members x {rows_per_member} rows + 1 member x 1,000 in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip

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
            render_streak_png(days, today=today, rests=rests, title=f"member · {state.current}-week streak")

        async def slash_streak():
            state, rests, days = await load_one()
            render_streak_png(days, today=today, rests=rests, title=f"member · {state.current}-week streak")

        async def whole_guild():
            async with transaction(sessionmaker) as session:
                return await guild_streaks(session, BIG_GUILD, now=NOW)

        async with transaction(sessionmaker) as session:
            all_dates = list(await session.scalars(select(Activity.local_date).where(Activity.guild_id == SMALL_GUILD)))
        assert len(all_dates) == 1000

        async def pure(cadence: str):
            compute_streak(all_dates, rests, cadence=cadence, today=today)

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
        ]:
            median, worst = await median_ms(runs, job)
            print(f"{name:<52} {median:>10.2f} {worst:>8.2f}")
        at_risk = sum(s.at_risk for s in streaks.values())
        print(f"(member: current {state.current}, best {state.best}, total {state.total}; "
              f"guild: {at_risk:,} of {members:,} at risk)")  # fmt: skip
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=10, help="activity rows per member of the big server")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        upgrade(url)
        asyncio.run(bench(url, args.runs, args.members, args.rows))


if __name__ == "__main__":
    main()
