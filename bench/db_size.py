"""Measure how big the database grows: per webhook delivery (before and after retention) and per member-year.

    python bench/db_size.py            # 10,000 deliveries and 20,000 rows of each member table
    python bench/db_size.py --quick    # 500 and 1,000: a few seconds (CI); exit 1 unless sane

On a temporary migrated SQLite file (the real schema, indexes included), through the real services
where they decide what is stored: rows are inserted in bulk, then the file is VACUUMed and its size
compared with the VACUUMed size before, so every figure is whole pages of a real file, divided by
the rows. Deliveries are the real fixture payloads of bot/playground/samples/github with the headers the
intake keeps; retention.prune then runs with its real rules. Member-table rows carry realistic
text lengths (a 200-character check-in note, an 80-character goal, a 100-character kudos reason).
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402

from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import (  # noqa: E402
    Activity,
    CheckIn,
    GitHubMerge,
    GitHubProfile,
    Goal,
    Guild,
    Kudos,
    MergedPullRequest,
    OutboxMessage,
    WebhookDelivery,
)
from bot.db.session import create_engine, create_sessionmaker, transaction  # noqa: E402
from bot.services import outbox, retention  # noqa: E402

FIXTURES = ROOT / "bot" / "playground" / "samples" / "github"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
OLD = NOW - timedelta(days=30)
GUILD = 1000
# What a member does in a year, for the estimate: 5 check-ins a week (each shared, at most one per
# 10 minutes anyway), 50 merged PRs, 20 goals, 50 kudos given (so 50 received, on average).
YEAR = {"checkins": 260, "prs": 50, "goals": 20, "kudos": 50}
PAYLOADS = [
    ("pull_request", "pull_request/closed.payload.json"),
    ("pull_request", "pull_request/opened.payload.json"),
    ("issues", "issues/opened.payload.json"),
    ("issues", "issues/labeled.payload.json"),
    ("release", "release/published.payload.json"),
]


def headers(event: str, n: int) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": "GitHub-Hookshot/044aadd",
        "x-github-event": event,
        "x-github-delivery": f"72d3162e-cc78-11e3-81ab-{n:012d}",
        "x-github-hook-id": "292430182",
        "x-github-hook-installation-target-id": "79929171",
        "x-github-hook-installation-target-type": "repository",
    }


class File:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.engine = create_engine(f"sqlite+aiosqlite:///{path}")
        self.sessionmaker = create_sessionmaker(self.engine)

    async def size(self) -> int:
        # VACUUMed, with the WAL folded in: only the pages the rows need (a plain connection, in autocommit).
        await self.engine.dispose()
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            conn.close()
        return self.path.stat().st_size

    async def insert(self, model: type, rows: list[dict]) -> None:
        for at in range(0, len(rows), 2000):
            async with transaction(self.sessionmaker) as session:
                await session.execute(insert(model), rows[at : at + 2000])


async def deliveries(db: File, n: int) -> dict[str, float]:
    bodies = [(event, (FIXTURES / path).read_bytes()) for event, path in PAYLOADS]
    base = await db.size()
    rows = []
    for i in range(n):
        event, body = bodies[i % len(bodies)]
        rows.append(
            {
                "delivery_id": headers(event, i)["x-github-delivery"],
                "event": event,
                "headers": headers(event, i),
                "body": body,
                "status": "done",
                "attempts": 1,
                "received_at": OLD,
                "processed_at": OLD,
            }
        )
    await db.insert(WebhookDelivery, rows)
    full = await db.size()
    result = await retention.prune(db.sessionmaker, days=14, now=NOW)
    assert result.bodies == n, result
    pruned = await db.size()
    return {
        "mean_body": sum(len(b) for _, b in bodies) / len(bodies),
        "before": (full - base) / n,
        "after": (pruned - base) / n,
    }


def _row(kind: str, data: dict, i: int, dedupe: str | None = None) -> dict:
    return {
        "guild_id": GUILD,
        "channel_id": 7,
        "kind": kind,
        "data": data,
        "dedupe_key": dedupe,
        "status": "sent",
        "attempts": 1,
        "next_attempt_at": OLD,
        "message_id": 1_300_000_000_000_000_000 + i,
        "nonce": outbox.new_nonce(),
        "created_at": OLD,
        "sent_at": OLD,
    }


def celebration(i: int) -> dict:
    return {
        "merged_id": i,
        "user_id": 400_000_000_000_000_000 + i,
        "login": "Codertocat",
        "repo": "codertocat/hello-world",
        "repo_name": "Codertocat/Hello-World",
        "number": i,
        "title": "Update the README with the new installation steps",
        "url": f"https://github.com/Codertocat/Hello-World/pull/{i}",
        "total": 12,
        "in_repo": 3,
        "known": True,
        "exact": True,
        "milestones": [],
        "goals": [],
        "source": "webhook",
    }


def checkin_post(i: int) -> dict:
    return {"user_id": 400_000_000_000_000_000 + i, "note": "n" * 200, "link": None, "streak": 12, "cadence": "daily"}


async def sent_messages(db: File, n: int) -> dict[str, float]:
    out = {}
    for name, make in (("celebration", celebration), ("checkin.posted", checkin_post)):
        base = await db.size()
        kind = "github.merged" if name == "celebration" else name
        await db.insert(OutboxMessage, [_row(kind, make(i), i, f"{name}:{i}") for i in range(n)])
        full = await db.size()
        await retention.prune(db.sessionmaker, days=14, now=NOW)
        pruned = await db.size()
        out[name] = ((full - base) / n, (pruned - base) / n)
        async with transaction(db.sessionmaker) as session:
            await session.execute(text("DELETE FROM outbox"))
    return out


async def member_tables(db: File, n: int) -> dict[str, float]:
    user = 400_000_000_000_000_000
    day = date(2026, 1, 1)
    tables = {
        "checkins": (
            CheckIn,
            [
                {
                    "guild_id": GUILD,
                    "user_id": user + i % 500,
                    "note": "n" * 200,
                    "link": "https://github.com/codertocat/hello-world/pull/1" if i % 4 == 0 else None,
                    "local_date": day + timedelta(days=i // 500),
                    "posted": True,
                    "created_at": OLD,
                }
                for i in range(n)
            ],
        ),
        "activity": (
            Activity,
            [
                {
                    "guild_id": GUILD,
                    "user_id": user + i % 500,
                    "kind": "checkin",
                    "ref": f"checkin:{i}",
                    "local_date": day + timedelta(days=i // 500),
                    "created_at": OLD,
                }
                for i in range(n)
            ],
        ),
        "goals": (
            Goal,
            [
                {
                    "guild_id": GUILD,
                    "number": i + 1,
                    "user_id": user + i % 500,
                    "text": "g" * 80,
                    "link_repo": "codertocat/hello-world" if i % 2 else None,
                    "link_number": i if i % 2 else None,
                    "status": "done",
                    "created_at": OLD,
                    "updated_at": OLD,
                    "closed_at": OLD,
                }
                for i in range(n)
            ],
        ),
        "kudos": (
            Kudos,
            [
                {
                    "guild_id": GUILD,
                    "from_user_id": user + i % 500,
                    "to_user_id": user + (i + 1) % 500,
                    "reason": "k" * 100,
                    "local_date": day,
                    "created_at": OLD,
                }
                for i in range(n)
            ],
        ),
    }
    # The radar's side of a merged PR: the server's row (merged_prs, what celebrations and counts
    # read) and the account's (github_merges, the history the radar and webhooks share).
    github = 10_000_000
    tables["merged_prs"] = (
        MergedPullRequest,
        [
            {
                "guild_id": GUILD,
                "user_id": user + i % 500,
                "github_id": github + i % 500,
                "repo": "codertocat/hello-world",
                "number": i + 1,
                "title": "Update the README with the new installation steps",
                "url": f"https://github.com/Codertocat/Hello-World/pull/{i + 1}",
                "merged_at": OLD,
                "recorded_at": OLD,
            }
            for i in range(n)
        ],
    )
    tables["github_merges"] = (
        GitHubMerge,
        [
            {
                "github_id": github + i % 500,
                "repo": "codertocat/hello-world",
                "number": i + 1,
                "merged_at": OLD,
                "source": "radar",
            }
            for i in range(n)
        ],
    )
    await db.insert(GitHubProfile, [{"id": github + i, "login": f"member{i}"} for i in range(500)])
    out = {}
    for name, (model, rows) in tables.items():
        base = await db.size()
        await db.insert(model, rows)
        out[name] = (await db.size() - base) / n
    return out


async def main(path: Path, n_deliveries: int, n_rows: int) -> int:
    db = File(path)
    try:
        async with transaction(db.sessionmaker) as session:
            await session.execute(insert(Guild), [{"id": GUILD, "created_at": OLD}])
        d = await deliveries(db, n_deliveries)
        sent = await sent_messages(db, n_rows)
        rows = await member_tables(db, n_rows)
    finally:
        await db.engine.dispose()
    print(f"deliveries: {n_deliveries:,} (fixture bodies, mean {d['mean_body']:,.0f} bytes)")
    print(f"  per delivery before retention: {d['before']:,.0f} bytes; after: {d['after']:,.0f} bytes")
    before, after = d["before"] * 10_000 / 1e6, d["after"] * 10_000 / 1e6
    print(f"  per 10,000 deliveries: {before:,.1f} MB before, {after:,.2f} MB after")
    for name, (before, after) in sent.items():
        print(f"sent outbox row ({name}): {before:,.0f} bytes; after retention: {after:,.0f} bytes")
    for name, size in rows.items():
        print(f"{name} row: {size:,.0f} bytes")
    # A member-year: their rows, and the outbox rows about them once pruned (one per check-in shared,
    # PR celebrated, goal set and finished, kudos given).
    slim = sent["checkin.posted"][1]
    year = (
        YEAR["checkins"] * (rows["checkins"] + rows["activity"])
        + YEAR["prs"] * (rows["activity"] + rows["merged_prs"] + rows["github_merges"])
        + YEAR["goals"] * (rows["goals"] + rows["activity"])
        + YEAR["kudos"] * rows["kudos"]
        + (YEAR["checkins"] + YEAR["prs"] + 2 * YEAR["goals"] + YEAR["kudos"]) * slim
    )
    print(f"member-year ({YEAR}): {year / 1e3:,.0f} kB")
    sane = d["after"] < d["before"] / 10 and all(0 < size < 2_000 for size in rows.values()) and year > 0
    return 0 if sane else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds (CI)")
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--rows", type=int, default=20_000)
    args = parser.parse_args()
    n, rows = (500, 1_000) if args.quick else (args.deliveries, args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "size.db"
        upgrade(f"sqlite+aiosqlite:///{path}")  # runs its own event loop: before ours
        code = asyncio.run(main(path, n, rows))
    sys.exit(code)
