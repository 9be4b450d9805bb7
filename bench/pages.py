"""Benchmark a member's public page and the server's community page over HTTP on a temporary SQLite file.

    python bench/pages.py [--runs 30]
    python bench/pages.py --quick     # small sizes, no timing judged; exits 1 when a check fails (CI)

Seeds a server of 2,000 members with 50 merged PRs, 10 goals and 100 activity rows each (100,000
merged PRs in all), and one heavy member among them with 3,000 merged PRs in 80 repositories, 300
goals, 1,500 activity rows and 400 kudos received; each member is linked to a GitHub account whose
history holds the same merges (github_merges; a quarter of them merged their first in the last year),
and has a stored streak. Starts the real app (`bot.web.build_app`) on
loopback, then times, as medians (and worst) of `--runs` requests one at a time, each until its
body is read: the heavy member's page, its streak PNG and its 1200x630 card (drawn, from the
cache, and a 304 for an If-None-Match), and a light member's page; then how long /healthz takes
while the cards of 30 members are drawn at once (the drawing must leave the event loop free); then
the community page of the whole server (its counts, 12-month chart, first PRs and streaks) and its card.
Checks every answer is a 200 of the right type (a 304 for the card's ETag), each card is drawn
once, an unknown slug is a 404, and a page and its card are 404 right after the member closes it (the
community page and its card right after the admins take it down).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import insert

from bot.db.migrate import upgrade
from bot.db.models import (
    Activity,
    GitHubAccount,
    GitHubMerge,
    GitHubProfile,
    Goal,
    Guild,
    Kudos,
    Member,
    MergedPullRequest,
)
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.services.rhythm.streaks import refresh_streaks
from bot.services.sharing import community, pages
from bot.web import WebServer, build_app
from bot.web.pages import SITE_KEY

NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)
GUILD = 1_300_000_000_000_000_000
HEAVY = 1_300_000_000_000_000_001
PUBLIC = "http://127.0.0.1"


async def seed(sessionmaker, *, members: int, heavy_prs: int) -> None:
    rng = random.Random(12)
    async with transaction(sessionmaker) as session:
        await session.execute(insert(Guild), [{"id": GUILD}])
        users = [HEAVY + i for i in range(members)]
        await session.execute(insert(Member), [{"guild_id": GUILD, "user_id": u} for u in users])
        prs, goals, activity, kudos = [], [], [], []
        number = 0
        for user in users:
            heavy = user == HEAVY
            for i in range(heavy_prs if heavy else 50):
                number += 1
                repo = f"org{rng.randrange(80 if heavy else 500)}/repo"
                prs.append(
                    {"guild_id": GUILD, "user_id": user, "repo": repo, "number": number,
                     "title": f"Fix the thing number {i} <&>", "url": f"https://github.com/{repo}/pull/{number}",
                     "merged_at": NOW - timedelta(hours=rng.randrange(24 * 700))}
                )  # fmt: skip
            for i in range(300 if heavy else 10):
                done = i % 4 != 0
                goals.append(
                    {"guild_id": GUILD, "user_id": user, "number": len(goals) + 1, "text": f"goal {i} <script>",
                     "status": "done" if done else "open", "created_at": NOW - timedelta(days=400 - i),
                     "updated_at": NOW, "closed_at": NOW - timedelta(days=300 - i) if done else None}
                )  # fmt: skip
            days = sorted(rng.sample(range(1, 1500), 1500 // (1 if heavy else 15) - 1))
            activity.extend(
                {"guild_id": GUILD, "user_id": user, "kind": "checkin", "ref": str(d),
                 "local_date": (NOW - timedelta(days=d)).date()}
                for d in days
            )  # fmt: skip
        for i in range(400):
            kudos.append(
                {"guild_id": GUILD, "from_user_id": users[1 + i % (len(users) - 1)], "to_user_id": HEAVY,
                 "reason": "thanks", "local_date": NOW.date(), "created_at": NOW - timedelta(hours=i)}
            )  # fmt: skip
        github_of = {user: 10_000 + index for index, user in enumerate(users)}
        profiles = [{"id": github_of[u], "login": f"gh{u % 100_000}", "history_status": "done"} for u in users]
        accounts = [
            {"guild_id": GUILD, "user_id": u, "github_id": github_of[u], "login": f"gh{u % 100_000}",
             "login_lower": f"gh{u % 100_000}", "linked_at": NOW - timedelta(days=800)}
            for u in users
        ]  # fmt: skip
        # A quarter of the members merged their first PR in the last year: the page lists those.
        newcomer = {u for i, u in enumerate(users) if i % 4 == 1}
        history = [
            {"github_id": github_of[pr["user_id"]], "repo": pr["repo"], "number": pr["number"],
             "merged_at": pr["merged_at"], "source": "history"}
            for pr in prs
            if pr["user_id"] not in newcomer or pr["merged_at"] > NOW - timedelta(days=360)
        ]  # fmt: skip
        for table, rows in (
            (MergedPullRequest, prs), (Goal, goals), (Activity, activity), (Kudos, kudos),
            (GitHubProfile, profiles), (GitHubAccount, accounts), (GitHubMerge, history),
        ):  # fmt: skip
            for start in range(0, len(rows), 5000):
                await session.execute(insert(table), rows[start : start + 5000])
        await refresh_streaks(session, GUILD, users, now=NOW)


async def timed(
    session: aiohttp.ClientSession,
    url: str,
    runs: int,
    kind: str,
    *,
    status: int = 200,
    before: Callable[[], None] = lambda: None,
    headers: dict[str, str] | None = None,
) -> list[float]:
    times = []
    for _ in range(runs):
        before()
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            if response.status != status or (status == 200 and response.content_type != kind):
                raise SystemExit(f"FAIL: {url} answered {response.status} {response.content_type}")
        times.append((time.perf_counter() - started) * 1000)
    return times


def report(label: str, times: list[float]) -> None:
    print(f"{label:<40} median {statistics.median(times):7.1f} ms   worst {max(times):7.1f} ms")


async def healthz_while_drawing(session: aiohttp.ClientSession, public: str, cards: list[str]) -> list[float]:
    """Time /healthz, one at a time, while every card of `cards` is drawn at once."""

    async def fetch(url: str) -> int:
        async with session.get(url) as response:
            await response.read()
            return response.status

    drawing = [asyncio.create_task(fetch(card)) for card in cards]
    times = []
    while not all(task.done() for task in drawing):
        started = time.perf_counter()
        if await fetch(f"{public}/healthz") != 200:
            raise SystemExit("FAIL: /healthz did not answer 200 while cards were drawn")
        times.append((time.perf_counter() - started) * 1000)
    if set(await asyncio.gather(*drawing)) != {200}:
        raise SystemExit("FAIL: a card drawn among 30 did not answer 200")
    return times


async def bench_community(session: aiohttp.ClientSession, sessionmaker, public: str, runs: int, pictures) -> None:
    """Time the server's community page (with its chart) and its card, then check taking it down is a 404."""
    on = await community.set_community(
        sessionmaker, guild_id=GUILD, enabled=True, server_name="Bench", public_url=public
    )
    if on.url is None:
        raise SystemExit("FAIL: the community page was not published")
    async with session.get(on.url) as response:
        html = await response.text()
    if (
        "<svg" not in html
        or "merged this month" not in html
        or "a streak going" not in html
        or "their first" not in html
    ):
        raise SystemExit("FAIL: the community page lacks its chart, counts, first PRs or streaks")
    await timed(session, on.url, 2, "text/html")  # warm up
    report("community page, with its chart", await timed(session, on.url, runs, "text/html"))
    card = f"{on.url}/card.png"
    report("community card.png, drawn", await timed(session, card, runs, "image/png", before=pictures.clear))
    report("community card.png, from the cache", await timed(session, card, runs, "image/png"))
    await community.set_community(sessionmaker, guild_id=GUILD, enabled=False, server_name="Bench", public_url=public)
    for address in (on.url, f"{on.url}/card.png"):
        async with session.get(address) as response:
            if response.status != 404:
                raise SystemExit(f"FAIL: a community page taken down answered {response.status} at {address}")


async def main(runs: int, quick: bool) -> int:
    members, heavy_prs = (50, 300) if quick else (2000, 3000)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        try:
            started = time.perf_counter()
            await seed(sessionmaker, members=members, heavy_prs=heavy_prs)
            print(f"seeded {members:,} members in {time.perf_counter() - started:.1f} s")
            await pages.set_server_pages(sessionmaker, guild_id=GUILD, enabled=True, server_name="Bench")
            app = build_app(engine, public_url=PUBLIC, now=lambda: NOW)
            pictures = app[SITE_KEY].pictures
            server = WebServer(app, "127.0.0.1", 0)
            await server.start()
            public = f"{PUBLIC}:{server.port}"
            heavy = await pages.open_page(
                sessionmaker, guild_id=GUILD, user_id=HEAVY, display_name="heavy", public_url=public
            )
            light = await pages.open_page(
                sessionmaker, guild_id=GUILD, user_id=HEAVY + 7, display_name="light", public_url=public
            )
            others = [
                await pages.open_page(
                    sessionmaker, guild_id=GUILD, user_id=HEAVY + i, display_name=f"m{i}", public_url=public
                )
                for i in range(10, 40)
            ]
            try:
                async with aiohttp.ClientSession() as session:
                    card = f"{heavy.url}/card.png"
                    for label, address, kind in (
                        (f"page, {heavy_prs:,} PRs / 300 goals", heavy.url, "text/html"),
                        ("streak.png", f"{heavy.url}/streak.png", "image/png"),
                        ("page, 50 PRs / 10 goals", light.url, "text/html"),
                    ):
                        await timed(session, address, 2, kind)  # warm up
                        report(label, await timed(session, address, runs, kind))
                    report(
                        "card.png (1200x630), drawn",
                        await timed(session, card, runs, "image/png", before=pictures.clear),
                    )
                    drawn = pictures.drawn
                    report("card.png, from the cache", await timed(session, card, runs, "image/png"))
                    async with session.get(card) as response:
                        etag = response.headers["ETag"]
                    report(
                        "card.png, 304 for its ETag",
                        await timed(session, card, runs, "", status=304, headers={"If-None-Match": etag}),
                    )
                    if pictures.drawn != drawn:
                        raise SystemExit("FAIL: a card kept in the cache was drawn again")
                    pictures.clear()
                    report(
                        "/healthz while 30 cards are drawn",
                        await healthz_while_drawing(session, public, [f"{o.url}/card.png" for o in others]),
                    )
                    if pictures.drawn != drawn + len(others):
                        raise SystemExit(f"FAIL: 30 cards were drawn {pictures.drawn - drawn} times")
                    async with session.get(f"{public}/u/{'A' * 16}/{'B' * 16}") as response:
                        if response.status != 404:
                            raise SystemExit(f"FAIL: an unknown page answered {response.status}")
                    await pages.close_page(sessionmaker, guild_id=GUILD, user_id=HEAVY)
                    for address in (heavy.url, card):
                        async with session.get(address, headers={"If-None-Match": etag}) as response:
                            if response.status != 404:
                                raise SystemExit(f"FAIL: a closed page answered {response.status} at {address}")
                    await bench_community(session, sessionmaker, public, runs, pictures)
            finally:
                await server.stop()
        finally:
            await engine.dispose()
    print(
        "ok: every page 200, each card drawn once, 304 for its ETag, unknown and closed pages and cards 404,"
        " the community page and its card 404 once taken down"
    )
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few runs (CI)")
    args = parser.parse_args()
    sys.exit(asyncio.run(main(3 if args.quick else args.runs, args.quick)))
