"""Benchmark the radar against a fake GitHub that enforces search's rate limit, in virtual time.

    python bench/radar.py [--members 1000 --hours 8 --merges 50 --poll-seconds 300 --latency 0.5
                          --index-lag 0 --seed 7]
    python bench/radar.py --quick      # 60 members, 1 virtual hour, a few seconds; exit 1 unless sane (CI)

Two runs, the same data, one with GITHUB_TOKEN and one without, printed side by side. Each run has
a temporary migrated SQLite file with one server (a celebrations channel, the radar on) and
`--members` linked members, each with an imported history (`history_status="done"`, cursor at the
start), and a fake GitHub on 127.0.0.1 (`bot/playground/fake_github.py`) that holds the same members, their
merged, closed and open PRs, enforces search's rate limit (10 a minute without a token, 30 with one;
403 past it) and checks each query (256 characters, five operators, known authors, 1,000 results).

The real `Radar` and `GitHubAPI` run against it, with `now` and `sleep` on a virtual clock: real
time plus every wait skipped, so rate-limit pacing and the `--poll-seconds` between passes cost no
real time, while HTTP, SQLite and Python cost what they cost. The fake reads the same clock, and
each of its answers takes `--latency` virtual seconds (GitHub's search answers in about half a
second). The
loop is `Radar.run_forever`'s: passes start every `poll_seconds`, or at once after a longer pass
(`run_forever` waits on the event loop's own clock, so the bench calls `run_pass` itself).

The first pass is the warm-up: it runs the daily query self-check and the first open-PR sweep of
every member. Steady state is from its end to `--hours` after the start. `--merges` merges by random
members into other people's repositories are injected at random instants of the steady state (the
fake shows each as merged from then on). After the window, passes go on until every injected merge
is celebrated (at most 3 virtual hours), for the latencies only.

Figures, from what the fake saw and what the database holds:

- searches an hour (steady state), by kind;
- how long until every member was searched once (from the start; and a steady pass);
- the time between two checks of one member: a check is a merge search (answered, page 1) naming
  them, and the gap is from one check to the next, over checks made in the steady state;
- 403/429 answers (warm-up, steady state);
- merge to celebration: the outbox row's `created_at` minus the PR's `merged_at` (p50, p90, max),
  and whether each injected merge was celebrated exactly once (and nothing else);
- members searched in the first `--poll-seconds` of a steady pass (what one poll interval of
  searching covers).

Either mode exits 1 when a run is not sane: a member never searched (or not in the steady state),
any 403/429 or 422, a pass cut short, an injected merge not celebrated exactly once or another
celebration, or the passes' `checked` counts disagreeing with the searches the fake answered.
`--quick` (CI) runs 60 members for 1 virtual hour with 10 merges.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import heapq
import itertools
import logging
import math
import random
import re
import statistics
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the fake GitHub lives in tests/

from bot.db.migrate import upgrade
from bot.db.models import GitHubAccount, GitHubMerge, GitHubProfile, Guild, Member, OutboxMessage
from bot.db.session import create_engine, create_sessionmaker, transaction
from bot.playground.fake_github import FakeGitHub, FakePR, FakeUser, SearchRecord
from bot.playground.fake_graphql import GraphQLRecord
from bot.services.github.api import GitHubAPI
from bot.services.github.radar import PassReport, Radar

GUILD = 1
CELEBRATIONS = 2
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
GOAL_GAP = 15 * 60  # with a token, every member checked at least every 15 minutes
DRAIN_CAP = 3 * 3600
TOKEN = "bench-token"  # noqa: S105 - the fake accepts any token
WORDS = [
    "dev", "code", "ada", "byte", "rust", "py", "ship", "hack", "nova", "pixel", "lambda", "octo", "kai",
    "mira", "jun", "leo", "sam", "ivy", "zoe", "max", "null", "qubit", "tofu", "mango", "cloud", "grace",
]  # fmt: skip
ORGS = [
    "octo-org", "encode", "pallets", "astral-sh", "tokio-rs", "vercel", "django", "pydantic", "fastapi",
    "sveltejs", "rust-lang", "mlflow", "huggingface", "denoland", "nodejs", "python", "numpy", "pandas-dev",
]  # fmt: skip
PROJECTS = ["core", "cli", "docs", "engine", "sdk", "web", "api", "lint", "parser", "runtime", "site", "tools"]
_LOGIN = re.compile(r"[A-Za-z0-9](?:-?[A-Za-z0-9]){3,14}")


# --- time -------------------------------------------------------------------------------------------


class VirtualClock:
    """Real time plus every wait skipped: waiting costs no real time, work costs what it costs.

    Sleeps that overlap (the GraphQL merge check and the open-PR sweep's searches run side by side,
    each paced, and the fake's answers take their latency) overlap in virtual time too: each sleeper
    waits for its own deadline, and when everyone has been asleep for `QUIET` real seconds (no work
    left that could still wake something), the clock jumps to the earliest deadline.
    """

    QUIET = 0.005

    def __init__(self, start: datetime) -> None:
        self.start = start
        self._t0 = time.perf_counter()
        self._skipped = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._timer: asyncio.TimerHandle | None = None

    def elapsed(self) -> float:
        """Return the virtual seconds since the start."""
        return time.perf_counter() - self._t0 + self._skipped

    def now(self) -> datetime:
        return self.start + timedelta(seconds=self.elapsed())

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        woken: asyncio.Future[None] = loop.create_future()
        heapq.heappush(self._sleepers, (self.elapsed() + seconds, next(self._order), woken))
        self._arm(loop)
        await woken

    def _arm(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = loop.call_later(self.QUIET, self._advance)

    def _advance(self) -> None:
        """Jump to the earliest deadline and wake whoever it is due for."""
        self._timer = None
        if not self._sleepers:
            return
        self._skipped += max(0.0, self._sleepers[0][0] - self.elapsed())
        now = self.elapsed()
        while self._sleepers and self._sleepers[0][0] <= now:
            _, _, woken = heapq.heappop(self._sleepers)
            if not woken.done():  # its sleeper was cancelled meanwhile
                woken.set_result(None)
        if self._sleepers:
            self._arm(asyncio.get_running_loop())

    def at(self, when: datetime) -> float:
        """Return an instant as virtual seconds since the start."""
        return (when - self.start).total_seconds()


# --- the server and the fake's data ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Linked:
    """A linked member, as seeded."""

    index: int
    github_id: int
    login: str
    history: int


@dataclass(frozen=True, slots=True)
class PlannedMerge:
    """A merge to inject: by whom, where, and at which fraction of the steady state."""

    member: int
    repo: str
    fraction: float
    opened_before: float  # seconds the PR was open before it merged


def make_logins(count: int, rng: random.Random) -> list[str]:
    """Return unique logins of 4 to 15 characters, in the styles people pick ("dev-1234abc", "AdaByte42")."""
    logins: list[str] = []
    seen: set[str] = set()
    while len(logins) < count:
        style = rng.random()
        if style < 0.4:
            login = f"{rng.choice(WORDS)}-{rng.randint(1, 9999)}" + "".join(
                rng.choices("abcdefghijklmnopqrstuvwxyz", k=rng.randint(0, 3))
            )
        elif style < 0.7:
            login = rng.choice(WORDS).capitalize() + rng.choice(WORDS).capitalize() + str(rng.randint(0, 99))
        else:
            alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
            login = "".join(rng.choices(alphabet, k=rng.randint(4, 15)))
        if _LOGIN.fullmatch(login) and login.lower() not in seen and login.lower() not in ORGS:
            seen.add(login.lower())
            logins.append(login)
    return logins


def make_members(count: int, rng: random.Random) -> list[Linked]:
    ids = rng.sample(range(1_000_000, 190_000_000), count)
    members = []
    for index, login in enumerate(make_logins(count, rng)):
        history = 0 if rng.random() < 0.25 else min(150, int(rng.expovariate(1 / 12)) + 1)
        members.append(Linked(index, ids[index], login, history))
    return members


def plan_merges(members: list[Linked], count: int, repos: list[str], rng: random.Random) -> list[PlannedMerge]:
    return sorted(
        (
            PlannedMerge(rng.randrange(len(members)), rng.choice(repos), rng.random(), rng.uniform(600, 3 * 86400))
            for _ in range(count)
        ),
        key=lambda m: m.fraction,
    )


def user_id(n: int) -> int:
    return 10**17 + n  # snowflake-sized


async def seed(sessionmaker, fake: FakeGitHub, members: list[Linked], repos: list[str], seed: int) -> dict[str, int]:
    """Fill the database and the fake with the same members and PRs; return how many of each."""
    rng = random.Random(seed)
    accounts, profiles, people, merges = [], [], [], []
    opened = closed = 0
    for m in members:
        user = fake.add_user(m.login, m.github_id)
        merged_times = []
        for _ in range(m.history):
            repo = rng.choice(repos)
            merged_at = START - timedelta(days=rng.uniform(2, 1000))
            pr = fake.add_pr(
                user, repo, created_at=merged_at - timedelta(hours=rng.uniform(1, 240)), merged_at=merged_at
            )
            merged_times.append(pr.merged_at)
            merges.append(
                {
                    "github_id": m.github_id,
                    "repo": repo.lower(),
                    "number": pr.number,
                    "merged_at": pr.merged_at,
                    "source": "history",
                }
            )
        for _ in range(rng.choice([0, 0, 1, 1, 2, 3])):
            fake.add_pr(
                user,
                rng.choice(repos),
                created_at=START - timedelta(days=rng.uniform(0.5, 60)),
                reviewed=rng.random() < 0.5,
            )
            opened += 1
        if rng.random() < 0.1:
            created = START - timedelta(days=rng.uniform(2, 300))
            fake.add_pr(user, rng.choice(repos), created_at=created, closed_at=created + timedelta(days=1))
            closed += 1
        linked_at = START - timedelta(days=rng.uniform(1, 400))
        accounts.append(
            {
                "guild_id": GUILD,
                "user_id": user_id(m.index),
                "github_id": m.github_id,
                "login": m.login,
                "login_lower": m.login.lower(),
                "linked_at": linked_at,
            }
        )
        people.append({"guild_id": GUILD, "user_id": user_id(m.index), "timezone": "UTC", "created_at": linked_at})
        profiles.append(
            {
                "id": m.github_id,
                "login": m.login,
                "history_status": "done",
                "history_total": m.history,
                "history_read": m.history,
                "first_merged_at": min(merged_times, default=None),
                "imported_at": linked_at,
                "checked_through": START,
                "last_checked_at": START,
            }
        )
    async with transaction(sessionmaker) as session:
        session.add(Guild(id=GUILD, celebrations_channel_id=CELEBRATIONS, created_at=START - timedelta(days=400)))
        await session.flush()
        for model, rows in (
            (Member, people),
            (GitHubProfile, profiles),
            (GitHubAccount, accounts),
            (GitHubMerge, merges),
        ):
            for at in range(0, len(rows), 5000):
                await session.execute(insert(model), rows[at : at + 5000])
    return {"members": len(members), "merged PRs": len(merges), "open PRs": opened, "closed PRs": closed}


def inject(
    fake: FakeGitHub,
    users: dict[int, FakeUser],
    members: list[Linked],
    plan: list[PlannedMerge],
    start: float,
    end: float,
) -> list[tuple[FakePR, float]]:
    """Add the planned merges to the fake at their instants of [start, end); return each PR and when it merged."""
    out = []
    for p in plan:
        at = start + p.fraction * (end - start)
        merged_at = START + timedelta(seconds=at)
        user = users[members[p.member].github_id]
        pr = fake.add_pr(user, p.repo, created_at=merged_at - timedelta(seconds=p.opened_before), merged_at=merged_at)
        out.append((pr, (pr.merged_at - START).total_seconds()))
    return out


# --- one configuration ------------------------------------------------------------------------------


@dataclass
class Run:
    """What one configuration did."""

    label: str
    token: bool
    members: int
    hours: float
    poll: float
    mode: str = "search"  # or "graphql": how the radar reads merges
    limit: int | None = None
    passes: list[tuple[float, float, PassReport]] = field(default_factory=list)  # start, end (virtual s), report
    warm_end: float = 0.0
    end: float = 0.0
    records: list[SearchRecord] = field(default_factory=list)
    checks: dict[str, list[float]] = field(default_factory=dict)
    latencies: list[float] = field(default_factory=list)
    injected: int = 0
    celebrated_once: int = 0
    celebrated_twice: int = 0
    missed: int = 0
    unexpected: int = 0
    client_limited: int = 0
    unprocessable: int = 0
    wall: float = 0.0
    seeded: dict[str, int] = field(default_factory=dict)
    queries: list[GraphQLRecord] = field(default_factory=list)  # what the fake's GraphQL endpoint received
    points_limit: int = 5000

    def graphql_limited(self) -> int:
        """GraphQL answers refused for a rate limit: 403/429, or RATE_LIMITED."""
        return sum(1 for q in self.queries if q.status in (403, 429) or "RATE_LIMITED" in q.errors)

    def points_share(self) -> float:
        """The share of the hourly GraphQL points the steady state used."""
        hours = (self.end - self.warm_end) / 3600
        points = sum(q.cost for q in self.queries if self.warm_end <= (q.at - START).total_seconds() < self.end)
        return points / hours / self.points_limit if hours > 0 else 0.0

    def queries_per_hour(self) -> float:
        hours = (self.end - self.warm_end) / 3600
        n = sum(1 for q in self.queries if self.warm_end <= (q.at - START).total_seconds() < self.end)
        return n / hours if hours > 0 else 0.0

    def at(self, record: SearchRecord) -> float:
        return (record.at - START).total_seconds()

    # Derived figures.

    def steady(self, record: SearchRecord) -> bool:
        return self.warm_end <= self.at(record) < self.end

    def searches_per_hour(self, kind: str | None = None) -> float:
        hours = (self.end - self.warm_end) / 3600
        n = sum(1 for r in self.records if self.steady(r) and (kind is None or kind_of(r) == kind))
        return n / hours if hours > 0 else 0.0

    def limited(self, phase: str) -> int:
        def phase_of(r: SearchRecord) -> str:
            at = self.at(r)
            return "warm-up" if at < self.warm_end else "steady" if at < self.end else "drain"

        return sum(1 for r in self.records if r.status in (403, 429) and phase_of(r) == phase)

    def first_seen_all(self) -> float:
        """Seconds from the start until every member was searched once (inf when some never were)."""
        if len(self.checks) < self.members:
            return math.inf
        return max(times[0] for times in self.checks.values())

    def gaps(self) -> list[float]:
        """Time from each steady-state check of a member to their next check."""
        out = []
        for times in self.checks.values():
            out += [b - a for a, b in itertools.pairwise(times) if self.warm_end <= a < self.end]
        return out

    def warm_gap(self) -> float:
        """The longest time from a check made during the warm-up to the member's next check."""
        return max(
            (b - a for times in self.checks.values() for a, b in itertools.pairwise(times) if a < self.warm_end),
            default=0.0,
        )

    def unchecked_in_steady(self) -> int:
        return self.members - sum(
            1 for times in self.checks.values() if any(self.warm_end <= t < self.end for t in times)
        )

    def steady_passes(self) -> list[tuple[float, float, PassReport]]:
        return [p for p in self.passes[1:] if p[0] < self.end]

    def members_per_second(self) -> float:
        """Members searched a second of pass, in the typical (median) steady pass."""
        rates = [r.checked / r.seconds for _, _, r in self.steady_passes() if r.seconds]
        return statistics.median(rates) if rates else 0.0

    def cycle(self) -> float:
        """The median time from one steady pass's start to the next's."""
        starts = [start for start, _, _ in self.steady_passes()]
        return statistics.median(b - a for a, b in itertools.pairwise(starts)) if len(starts) > 1 else math.nan

    def long_gaps_over_sweeps(self) -> int:
        """How many steady-state gaps over 15 min have an open-PR sweep search inside them."""
        sweeps = sorted(self.at(r) for r in self.records if kind_of(r).startswith("open"))
        count = 0
        for times in self.checks.values():
            for a, b in itertools.pairwise(times):
                if self.warm_end <= a < self.end and b - a > GOAL_GAP:
                    count += bisect.bisect_left(sweeps, b) > bisect.bisect_right(sweeps, a)
        return count

    def members_in_first(self, seconds: float) -> float:
        """Members searched in the first `seconds` of a steady pass (the median pass)."""
        flat = sorted(t for times in self.checks.values() for t in times)
        counts = [
            bisect.bisect_left(flat, start + seconds) - bisect.bisect_left(flat, start)
            for start, _, _ in self.steady_passes()
        ]
        return statistics.median(counts) if counts else 0.0


def kind_of(record: SearchRecord) -> str:
    terms = record.terms
    if any(t.startswith("merged:") for t in terms):
        return "merges"
    if "review:none" in terms:
        return "open, unreviewed"
    if "is:open" in terms:
        return "open"
    if record.per_page == 1:
        return "self-check"
    return "other"


@dataclass(frozen=True)
class Config:
    """One configuration of the radar to run."""

    label: str
    token: bool
    mode: str  # "graphql" or "search"
    members: int
    hours: float
    poll: float
    merges: int


async def run_config(config: Config, args: argparse.Namespace) -> Run:
    wall = time.perf_counter()
    label, token = config.label, config.token
    rng = random.Random(args.seed)
    members = make_members(config.members, rng)
    repos = sorted({f"{rng.choice(ORGS)}/{rng.choice(PROJECTS)}" for _ in range(200)})
    plan = plan_merges(members, config.merges, repos, rng)
    run = Run(label, token, config.members, config.hours, config.poll, mode=config.mode, end=config.hours * 3600)
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'radar.db'}"
        await asyncio.to_thread(upgrade, url)
        engine = create_engine(url)
        sessionmaker = create_sessionmaker(engine)
        async with (
            FakeGitHub(index_lag=args.index_lag, latency=args.latency) as fake,
            httpx.AsyncClient(trust_env=False, timeout=30) as client,
        ):
            run.seeded = await seed(sessionmaker, fake, members, repos, args.seed)
            clock = VirtualClock(START)  # seeding is not part of the run
            fake.now, fake.sleep = clock.now, clock.sleep
            api = GitHubAPI(client, token=TOKEN if token else None, base_url=fake.url, now=clock.now, sleep=clock.sleep)
            radar = Radar(sessionmaker, api, now=clock.now, poll_seconds=config.poll, graphql=config.mode == "graphql")
            await radar.load_state()

            async def one_pass() -> None:
                started = clock.elapsed()
                report = await radar.run_pass()
                run.passes.append((started, clock.elapsed(), report))

            await one_pass()  # the warm-up: self-check and the first open-PR sweep
            run.warm_end = clock.elapsed()
            if run.warm_end >= run.end:
                raise SystemExit(f"{label}: the first pass took {run.warm_end / 3600:.1f} h; give more hours")
            injected = inject(fake, fake.users_by_id, members, plan, run.warm_end, run.end)
            wanted = {(pr.repo.lower(), pr.number): merged for pr, merged in injected}
            while True:
                # As run_forever: passes start every poll_seconds (a longer pass is followed at once).
                await clock.sleep(max(0.0, config.poll - (run.passes[-1][1] - run.passes[-1][0])))
                draining = clock.elapsed() >= run.end
                await one_pass()
                if draining:
                    rows = await celebrations(sessionmaker)
                    if wanted.keys() <= {key for key, _ in rows} or clock.elapsed() >= run.end + DRAIN_CAP:
                        break
            rows = await celebrations(sessionmaker)
            run.limit = api.limits.buckets["search"].limit
            run.client_limited = api.limits.limited
            run.queries = list(fake.graphql.records) if fake.graphql is not None else []
        await engine.dispose()
    run.records = list(fake.searches)
    run.unprocessable = fake.unprocessable
    checks: defaultdict[str, list[float]] = defaultdict(list)
    for r in run.records:
        if r.status == 200 and r.page == 1 and kind_of(r) == "merges":
            for login in r.authors:
                checks[login].append(run.at(r))
    logins = {m.github_id: m.login.lower() for m in members}
    for q in run.queries:  # a GraphQL check: the users of a merges query GitHub answered
        if q.operation == "RadarMerges" and q.status == 200 and not set(q.errors) - {"NOT_FOUND"}:
            for github_id in q.user_ids:
                checks[logins[github_id]].append((q.at - START).total_seconds())
    run.checks = dict(checks)
    seen = Counter(key for key, _ in rows)
    run.injected = len(wanted)
    run.celebrated_once = sum(1 for key in wanted if seen[key] == 1)
    run.celebrated_twice = sum(1 for key in wanted if seen[key] > 1)
    run.missed = sum(1 for key in wanted if seen[key] == 0)
    run.unexpected = sum(n for key, n in seen.items() if key not in wanted)
    first = {}
    for key, created in rows:
        first.setdefault(key, created)
    run.latencies = sorted(clock.at(first[key]) - merged for key, merged in wanted.items() if key in first)
    run.wall = time.perf_counter() - wall
    return run


async def celebrations(sessionmaker) -> list[tuple[tuple[str, int], datetime]]:
    """Return each queued merge celebration: (repo, number) and when it was queued."""
    async with transaction(sessionmaker) as session:
        rows = await session.execute(
            select(OutboxMessage.data, OutboxMessage.created_at)
            .where(OutboxMessage.kind == "github.merged")
            .order_by(OutboxMessage.id)
        )
        return [((data["repo"], int(data["number"])), created) for data, created in rows]


# --- the report -------------------------------------------------------------------------------------


def minutes(seconds: float) -> str:
    return "never" if math.isinf(seconds) else f"{seconds / 60:.1f} min"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def rows_for(run: Run) -> list[str]:
    gaps = run.gaps()
    steady = run.steady_passes()
    seconds = [r.seconds or 0.0 for _, _, r in steady]
    first = run.passes[0][2]
    stopped = sum(1 for _, _, r in run.passes if r.stopped_because)
    per_poll = run.members_in_first(run.poll)
    lat = run.latencies
    return [
        f"{run.mode}, {run.members:,} members, every {run.poll:g} s",
        f"{run.limit}/min" if run.limit else "?",
        minutes(run.first_seen_all()),
        f"{minutes(first.seconds or 0)}, {first.searches} searches",
        f"{len(steady)}",
        f"{run.searches_per_hour():,.0f}",
        f"{run.searches_per_hour('merges'):,.0f}",
        f"{run.searches_per_hour('open') + run.searches_per_hour('open, unreviewed'):,.0f}",
        f"{minutes(statistics.median(seconds))} / {minutes(max(seconds))}" if seconds else "-",
        f"{minutes(statistics.median(gaps))} / {minutes(max(gaps))}" if gaps else "-",
        minutes(run.warm_gap()),
        f"{run.unchecked_in_steady()}",
        f"{per_poll:,.0f}",
        f"{run.limited('warm-up')} / {run.limited('steady')}",
        f"{run.unprocessable} / {stopped}",
        (f"{minutes(percentile(lat, 0.5))} / {minutes(percentile(lat, 0.9))} / {minutes(max(lat))}" if lat else "-"),
        f"{run.celebrated_once}/{run.injected}"
        + (
            f" ({run.missed} missed, {run.celebrated_twice} twice, {run.unexpected} others)"
            if run.missed or run.celebrated_twice or run.unexpected
            else ""
        ),
        f"{run.wall:.1f} s",
        f"{run.queries_per_hour():,.0f}" if run.queries else "-",
        f"{run.points_share():.1%}" if run.queries else "-",
        f"{run.graphql_limited()}" if run.queries else "-",
        f"{max(gaps):.0f} s" if gaps else "-",
        f"{percentile(lat, 0.5):.0f} s / {max(lat):.0f} s" if lat else "-",
    ]


LABELS = [
    "radar",
    "search limit (x-ratelimit-limit)",
    "every member searched once, from start",
    "first pass (self-check, open-PR sweep)",
    "steady-state passes",
    "searches/hour, steady state",
    "  merge searches/hour",
    "  open-PR sweep searches/hour",
    "steady pass: median / max",
    "between two checks: median / max",
    "between two checks, from the warm-up",
    "members not checked in steady state",
    "members searched in a pass's first {poll} s",
    "403/429: warm-up / steady state",
    "422 answers / passes cut short",
    "merge -> celebration p50 / p90 / max",
    "injected merges celebrated once",
    "wall time (seeding included)",
    "GraphQL queries/hour, steady state",
    "share of the hourly GraphQL points",
    "GraphQL 403/429/RATE_LIMITED",
    "longest time between two checks",
    "merge -> celebration p50 / max",
]


def problems(run: Run) -> list[str]:
    """Return what is wrong in a run (the --quick checks)."""
    found = []
    if run.first_seen_all() == math.inf:
        found.append(f"{run.members - len(run.checks)} members were never searched")
    if run.unchecked_in_steady():
        found.append(f"{run.unchecked_in_steady()} members were not searched in the steady state")
    limited = sum(1 for r in run.records if r.status in (403, 429)) + run.graphql_limited()
    if limited or run.client_limited:
        found.append(f"{limited} answers 403/429 (the client counted {run.client_limited})")
    if run.unprocessable:
        found.append(f"{run.unprocessable} searches refused with 422")
    if run.missed or run.celebrated_twice or run.unexpected:
        found.append(
            f"of {run.injected} injected merges {run.missed} were not celebrated and {run.celebrated_twice} twice; "
            f"{run.unexpected} other celebrations"
        )
    checked = sum(r.checked for _, _, r in run.passes)
    searched = sum(len(times) for times in run.checks.values())
    if checked != searched:
        found.append(f"the passes report {checked} members checked, the fake saw {searched} merge checks of one")
    if any(r.stopped_because for _, _, r in run.passes):
        found.append("a pass was cut short: " + next(r.stopped_because for _, _, r in run.passes if r.stopped_because))
    return found


def report(runs: list[Run], args: argparse.Namespace) -> None:
    width = max(len(label) for label in LABELS) + 2
    columns = [rows_for(run) for run in runs]
    col = max(24, *(len(v) + 2 for c in columns for v in c))
    print(
        f"\nRadar: {args.members:,} linked members in one server (and {args.large_members:,} with GraphQL), "
        f"{args.hours:g} virtual hours each (GraphQL {args.graphql_hours:g}, {args.large_hours:g} at "
        f"{args.large_members:,}), {args.merges} merges "
        f"injected, GitHub answering in {args.latency:g} s (index lag {args.index_lag:g} s); seed {args.seed}"
    )
    for run in runs:
        print(f"Seeded ({run.label}): " + ", ".join(f"{n:,} {what}" for what, n in run.seeded.items()))
    print(
        f"Steady state: from the end of the first pass ({', '.join(minutes(r.warm_end) for r in runs)}) "
        f"to {args.hours:g} h\n"
    )
    print(" " * width + "".join(f"{run.label:>{col}}" for run in runs))
    for i, label in enumerate(LABELS):
        label = label.format(poll="poll")
        print(f"{label:<{width}}" + "".join(f"{c[i]:>{col}}" for c in columns))
    print()
    goals(runs)
    for run in runs:
        gaps = run.gaps()
        worst = max(gaps, default=math.inf)
        long_gaps = [g for g in gaps if g > GOAL_GAP]
        if run.mode == "graphql":
            continue
        if run.token:
            met = worst <= GOAL_GAP and run.limited("steady") == 0 and not run.unchecked_in_steady()
            print(
                f"Goal, with a token: every member checked at least every 15 min: "
                f"{'met' if worst <= GOAL_GAP else 'NOT MET'} in steady state (longest gap {minutes(worst)}; "
                f"{len(long_gaps):,} of {len(gaps):,} gaps over 15 min, {run.long_gaps_over_sweeps():,} of them "
                f"across an open-PR sweep); no 403/429 in steady state: "
                f"{'met' if run.limited('steady') == 0 else 'NOT MET'} ({run.limited('steady')}). "
                f"Overall: {'met' if met else 'NOT met'}."
            )
        else:
            print(
                f"Without a token: a pass covers all {run.members:,} members in "
                f"{minutes(statistics.median([r.seconds or 0 for _, _, r in run.steady_passes()]))} "
                f"(passes start every {minutes(run.cycle())}); one GITHUB_POLL_SECONDS of searching "
                f"({run.poll:g} s) covers {run.members_in_first(run.poll):,.0f} members."
            )
    fits = [f"{GOAL_GAP * run.members_per_second():,.0f} {run.label}" for run in runs]
    print(f"Members that can each be checked every 15 min (at the measured pace): about {' and '.join(fits)}.")


# Today's REST radar without a token, at 1,000 members (docs/benchmarks.md, before GraphQL): p50, max.
TODAY_WITHOUT_TOKEN = (11.6 * 60, 21.3 * 60)


def goals(runs: list[Run]) -> None:
    """Print issue 20's targets, met or not, with this run's figures."""
    graphql = [run for run in runs if run.mode == "graphql"]
    small = graphql[0] if graphql else None
    large = graphql[1] if len(graphql) > 1 else None
    lines = []
    if small is not None:
        gap, lat = max(small.gaps(), default=math.inf), small.latencies
        p50, worst = (percentile(lat, 0.5), max(lat)) if lat else (math.inf, math.inf)
        lines.append(
            (
                f"{small.members:,} members with a token: longest time between two checks",
                f"{gap:.0f} s",
                "≤ 30 s",
                gap <= 30,
            )
        )
        lines.append(
            (
                f"{small.members:,} members: merge to celebration median / max",
                f"{p50:.0f} s / {worst:.0f} s",
                "≤ 20 s / ≤ 45 s",
                p50 <= 20 and worst <= 45,
            )
        )
    if large is not None:
        gap = max(large.gaps(), default=math.inf)
        lines.append(
            (
                f"{large.members:,} members with a token: longest time between two checks",
                f"{gap:.0f} s ({gap / 60:.2f} min)",
                "≤ 3 min",
                gap <= 180,
            )
        )
        share = large.points_share()
        lines.append(
            (
                f"share of the hourly GraphQL points used at {large.members:,} members",
                f"{share:.1%}",
                "≤ 40%",
                share <= 0.40,
            )
        )
    limited = sum(sum(1 for r in run.records if r.status in (403, 429)) + run.graphql_limited() for run in runs)
    lines.append(("403 / 429 / secondary-limit answers, every run", f"{limited}", "0", limited == 0))
    rest = next((run for run in runs if not run.token), None)
    if rest is not None and rest.latencies:
        p50, worst = percentile(rest.latencies, 0.5), max(rest.latencies)
        same = p50 <= TODAY_WITHOUT_TOKEN[0] * 1.1 and worst <= TODAY_WITHOUT_TOKEN[1] * 1.1
        lines.append(
            (
                f"without a token (REST search, {rest.members:,} members): merge to celebration p50 / max",
                f"{p50 / 60:.1f} / {worst / 60:.1f} min (before: 11.6 / 21.3)",
                "no worse than today",
                same,
            )
        )
    print("| figure | this run | goal | |\n|---|---|---|---|")
    for figure, value, goal, met in lines:
        print(f"| {figure} | {value} | {goal} | {'met' if met else '**not met**'} |")
    print()


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    configs = [
        Config(
            "GraphQL (token)", True, "graphql", args.members, args.graphql_hours, args.graphql_poll_seconds, args.merges
        ),
        Config("REST (token)", True, "search", args.members, args.hours, args.poll_seconds, args.merges),
        Config("REST (no token)", False, "search", args.members, args.hours, args.poll_seconds, args.merges),
    ]
    if args.large_members:
        configs.append(
            Config(
                f"GraphQL, {args.large_members:,}", True, "graphql", args.large_members, args.large_hours,
                args.graphql_poll_seconds, args.merges,
            )
        )  # fmt: skip
    runs = [await run_config(config, args) for config in configs]
    report(runs, args)
    failures = [f"{run.label}: {p}" for run in runs for p in problems(run)]
    for failure in failures:
        print(f"FAIL {failure}")
    if args.quick:
        print("quick: OK" if not failures else "quick: FAILED")
    return 1 if failures else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1000)
    parser.add_argument("--hours", type=float, default=8.0, help="virtual hours of each run, from the start")
    parser.add_argument("--merges", type=int, default=50, help="merges injected in the steady state")
    parser.add_argument("--poll-seconds", type=float, default=300.0, help="GITHUB_POLL_SECONDS for REST search")
    parser.add_argument("--graphql-poll-seconds", type=float, default=20.0, help="GITHUB_POLL_SECONDS with GraphQL")
    parser.add_argument("--graphql-hours", type=float, default=2.0, help="virtual hours of the GraphQL run")
    parser.add_argument("--large-members", type=int, default=10_000, help="members of the large GraphQL run (0: none)")
    parser.add_argument("--large-hours", type=float, default=1.5, help="virtual hours of the large GraphQL run")
    parser.add_argument("--latency", type=float, default=0.5, help="seconds GitHub takes to answer (virtual)")
    parser.add_argument("--index-lag", type=float, default=0.0, help="seconds GitHub's search index lags")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quick", action="store_true", help="60 members (300 large), 1 virtual hour, 10 merges; CI's")
    parsed = parser.parse_args()
    if parsed.quick:
        parsed.members, parsed.hours, parsed.merges = 60, 1.0, 10
        parsed.graphql_hours, parsed.large_members, parsed.large_hours = 0.5, 200, 0.25
    sys.exit(asyncio.run(main(parsed)))
