"""The radar: linked members' merged PRs in any public repository, found without a webhook.

Most of what members of a #BuildInPublic server merge lands in other people's projects, where
nobody in the server can add a webhook. The radar asks GitHub's issue search instead:
`is:pr is:merged merged:>=<cursor> (author:a OR author:b ...)`.

- Batches: at most six authors (GitHub allows five AND/OR/NOT operators) and 256 characters a query;
  results are paged, and a batch with more than 1,000 results is split.
- Under GitHub's newer search syntax, space-joined `author:` qualifiers mean AND and a wrong batch
  finds nothing, silently. So at start and then daily, `self_check` compares a batch with the
  single-author searches on a sample of members; if they differ, the radar searches one author at
  a time and `/github-admin status` says so.
- Rate limits: every search goes through the API client's shared `RateLimits` as background work,
  so members' commands go first and nothing is sent before a reset.
- Each batch is applied in one transaction with its cursor: a pass cut short (a crash, a rate
  limit) has lost nothing and starts with the members checked longest ago, so it picks up where it
  stopped. A merge the radar and a webhook both report is one event (see `events.celebrate_merge`).
- With a token, merges are read from GitHub's GraphQL API instead (radar_graphql.py), then applied here.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import storable
from bot.db.models import AppState, GitHubAccount, GitHubOpenPR, GitHubProfile, Guild
from bot.db.session import reading, transaction, upsert
from bot.services import audience
from bot.services.github import history, links, radar_graphql, webhooks
from bot.services.github.api import (
    GitHubAPI,
    GitHubError,
    GitHubNotFound,
    GitHubRateLimited,
    GitHubUnprocessable,
    SearchItem,
)
from bot.services.github.events import celebrate_merge, withdraw_merge
from bot.services.github.merges import Discounted, Merge
from bot.services.github.ratelimits import BACKGROUND_SHARE, DEFAULT_SEARCH_LIMIT

log = logging.getLogger(__name__)

MAX_QUERY_CHARS = 256
MAX_AUTHORS = 6  # five OR operators
PER_PAGE = 100
RESULT_CAP = 1000  # GitHub returns at most this many results of one search
# Search is indexed with a delay: each search reaches this far back before the cursor (repeats are free).
SEARCH_LAG = timedelta(minutes=30)
OPEN_SWEEP_EVERY = timedelta(hours=6)
SWEEP_SHARES = 36  # each pass sweeps at most this share of members' open PRs (72 passes of 5 min in 6 h)
SELF_CHECK_EVERY = timedelta(days=1)
SELF_CHECK_SAMPLE = 3
IMPORTS_PER_PASS = 20
UNKNOWN_RETRY = timedelta(days=1)  # a login GitHub didn't know is asked about again after this
MAX_RATE_LIMITED = 3  # rate-limit answers to one search before the pass gives up (and the next resumes)
STATE_KEY = "radar:state"


def members_per_minute(*, has_token: bool) -> float:
    """Return how many members the radar checks a minute at most: its share of search, six a search."""
    return DEFAULT_SEARCH_LIMIT[has_token] * BACKGROUND_SHARE * MAX_AUTHORS


def author_terms(logins: Sequence[str]) -> str:
    """Return `author:a`, or `(author:a OR author:b ...)` for a batch."""
    terms = [f"author:{login}" for login in logins]
    return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"


def query(base: str, logins: Sequence[str]) -> str:
    """Return a search: the qualifiers, then the authors."""
    return f"{base} {author_terms(logins)}"


def batches(logins: Sequence[str], base: str, *, size: int = MAX_AUTHORS) -> list[list[str]]:
    """Split logins into batches whose queries stay within GitHub's limits, in the order given."""
    out: list[list[str]] = []
    for login in logins:
        if out and len(out[-1]) < size and len(query(base, [*out[-1], login])) <= MAX_QUERY_CHARS:
            out[-1].append(login)
        else:
            out.append([login])
    return out


def since_term(when: datetime) -> str:
    """Return the `merged:>=` qualifier for an instant."""
    return f"merged:>={when:%Y-%m-%dT%H:%M:%SZ}"


@dataclass(slots=True)
class PassReport:
    """What one pass did, for `/github-admin status`."""

    started: str
    finished: str | None = None
    seconds: float | None = None
    members: int = 0
    checked: int = 0
    searches: int = 0
    merges: int = 0
    celebrations: int = 0
    withdrawn: int = 0  # merges taken out of the counts: labelled spam or invalid since they were counted
    imported: int = 0
    complete: bool = False
    stopped_because: str | None = None
    mode: str = "search"  # or "graphql": how merges were read (the open-PR sweep searches in both)
    queries: int = 0  # GraphQL queries sent
    points: int = 0  # what they cost, in GraphQL points
    points_left: int | None = None  # of the hourly GraphQL budget, after the pass


def watched_ids() -> Any:
    """The GitHub ids linked in a server with the radar on and Shiplog in it (a subquery)."""
    return (
        select(GitHubAccount.github_id)
        .join(Guild, Guild.id == GitHubAccount.guild_id)
        .where(Guild.radar_enabled.is_(True), Guild.left_at.is_(None), GitHubAccount.github_id.is_not(None))
    )


def watched_profiles() -> tuple[Any, ...]:
    """Which github_profiles the radar checks: watched, not gone, history imported (the metrics read it too)."""
    return (
        GitHubProfile.id.in_(watched_ids()),
        GitHubProfile.gone_at.is_(None),
        GitHubProfile.history_status == "done",
    )


@dataclass(slots=True)
class RadarState:
    """What the radar keeps between passes and processes (stored as JSON in app_state)."""

    mode: str = "batched"  # or "single": one author per search
    mode_checked_at: str | None = None
    mode_detail: str = "not checked yet"
    last_pass: dict[str, Any] | None = None
    unknown_logins: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Watched:
    """A GitHub user the radar checks."""

    id: int
    login: str
    checked_through: datetime
    node_id: str | None = None  # GraphQL's id for the user, once GitHub gave it


class Radar:
    """Runs the passes; one per process (passes are idempotent, so two processes only cost searches)."""

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        api: GitHubAPI,
        *,
        now: Callable[[], datetime],
        poll_seconds: float = 300,
        on_queued: Callable[[], None] = lambda: None,
        on_pass: Callable[[], None] = lambda: None,
        graphql: bool | None = None,
    ) -> None:
        self.sessionmaker = sessionmaker
        # Merges are read from GraphQL when there is a token (None), or as told (a test of the REST path).
        self.graphql = api.limits.has_token if graphql is None else graphql
        self.api = api
        self.now = now
        self.poll_seconds = poll_seconds
        self.on_queued = on_queued
        # Told when a pass ends, complete or not: the open PRs it saw may be due a review nudge
        # (queued by the scheduler's review-nudges job, bot/workers/scheduler.py).
        self.on_pass = on_pass
        self.state = RadarState()
        self.wakeup = asyncio.Event()
        self.running: PassReport | None = None
        self.checked_total = 0  # members checked since this process started (shiplog_radar_members_checked)
        self._checked_since_start = False  # the query syntax is checked at every start, then daily
        self._unknown_retry: dict[str, datetime] = {}  # logins GitHub didn't know, and when to ask again
        self._one_pass = asyncio.Lock()  # the loop and a direct call (a test, the playground) never overlap
        self._repo_private: dict[str, bool] = {}  # what GitHub said of repositories' privacy this pass (audience.py)

    # --- the loop --------------------------------------------------------------------------------

    async def run_forever(self) -> None:
        """Pass after pass, `poll_seconds` apart (sooner when woken, say by a new link)."""
        loaded = False
        while True:
            self.wakeup.clear()
            started = asyncio.get_running_loop().time()
            try:
                if not loaded:
                    await self.load_state()
                    loaded = True
                await self.run_pass()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("a radar pass failed; the next one starts where it stopped")
            # Passes start every poll_seconds (a long pass is followed at once by the next).
            idle = self.poll_seconds - (asyncio.get_running_loop().time() - started)
            if idle > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), idle)

    async def run_pass(self) -> PassReport:
        """Import new histories, check the query syntax when due, then search every watched member once."""
        async with self._one_pass:
            return await self._run_pass()

    async def _run_pass(self) -> PassReport:
        started = self.now()
        report = PassReport(started=started.isoformat())
        self.running = report
        # Asked anew each pass: a repository made private since the last one is private from now on.
        self._repo_private.clear()
        try:
            await self.resolve_unknown_ids()
            report.imported = await self.import_histories()
            if self._self_check_due(started):
                await self.self_check()
            if self.graphql:
                await radar_graphql.run(self, report)
            else:
                await self.search_merges(report)
                await self.sweep_open_prs(report)
            report.complete = report.stopped_because is None
        except GitHubError as exc:  # down, rate limited past patience, or a refused token
            report.stopped_because = str(exc)
            log.warning("radar pass stopped: %s", exc)
        finally:
            finished = self.now()
            report.finished = finished.isoformat()
            report.seconds = round((finished - started).total_seconds(), 3)
            self.state.last_pass = asdict(report)
            self.running = None
            await self.save_state()
        self.on_pass()
        return report

    # --- state -----------------------------------------------------------------------------------

    async def load_state(self) -> RadarState:
        """Read the stored state (the query mode survives a restart)."""
        async with reading(self.sessionmaker) as session:
            row = await session.get(AppState, STATE_KEY)
        if row is not None:
            try:
                self.state = RadarState(**json.loads(row.value))
            except (TypeError, ValueError):
                log.warning("unreadable radar state in app_state; starting afresh")
        return self.state

    async def save_state(self) -> None:
        async with transaction(self.sessionmaker) as session:
            state = {"key": STATE_KEY, "value": json.dumps(asdict(self.state)), "updated_at": self.now()}
            await upsert(session, AppState, state, key="key")

    # --- who is watched --------------------------------------------------------------------------

    async def watched(self) -> list[Watched]:
        """Return the users to check: linked in a server with the radar on, history imported, not gone.

        Those checked longest ago come first, so an unfinished pass is continued by the next one.
        """
        async with reading(self.sessionmaker) as session:
            rows = await session.execute(
                select(GitHubProfile.id, GitHubProfile.login, GitHubProfile.checked_through, GitHubProfile.node_id)
                .where(*watched_profiles())
                .order_by(GitHubProfile.last_checked_at.asc().nulls_first(), GitHubProfile.id)
            )
            return [Watched(i, login, through or self.now(), node) for i, login, through, node in rows]

    async def resolve_unknown_ids(self) -> int:
        """Learn the numeric id of accounts an admin linked by login while GitHub was away."""
        async with reading(self.sessionmaker) as session:
            logins = sorted(
                set(await session.scalars(select(GitHubAccount.login).where(GitHubAccount.github_id.is_(None))))
            )
        unknown, learned, now = [], 0, self.now()
        for login in logins:
            if self._unknown_retry.get(login, now) > now:
                unknown.append(login)
                continue
            try:
                user = await self.api.get_user(login, background=True)
            except GitHubNotFound:
                unknown.append(login)
                self._unknown_retry[login] = now + UNKNOWN_RETRY
                continue
            async with transaction(self.sessionmaker) as session:
                await history.ensure_profile(session, user.id, user.login, now=self.now())
                await links.adopt_id(session, user.id, login)
                await links.follow_login(session, user.id, user.login)
            learned += 1
        self.state.unknown_logins = unknown
        return learned

    async def import_histories(self) -> int:
        """Import the history of every profile linked since the last pass (this posts nothing)."""
        async with reading(self.sessionmaker) as session:
            pending = list(
                await session.scalars(
                    select(GitHubProfile.id)
                    .where(GitHubProfile.history_status == "pending", GitHubProfile.gone_at.is_(None))
                    .order_by(GitHubProfile.id)
                    .limit(IMPORTS_PER_PASS)  # the rest next pass: searching for merges goes on meanwhile
                )
            )
        done = 0
        for profile_id in pending:
            try:
                imported = await history.import_history(self.sessionmaker, self.api, profile_id, now=self.now)
            except GitHubUnprocessable:
                await self.resolve_profiles([profile_id])
                continue
            done += imported is not None
        return done

    async def resolve_profiles(self, ids: Sequence[int]) -> None:
        """Ask GitHub by numeric id who these users are now: follow renames, note deleted accounts."""
        for github_id in ids:
            try:
                user = await self.api.get_user_by_id(github_id, background=True)
            except GitHubNotFound:
                async with transaction(self.sessionmaker) as session:
                    profile = await session.get(GitHubProfile, github_id)
                    if profile is not None and profile.gone_at is None:
                        profile.gone_at = self.now()
                        log.info("GitHub no longer knows user %s (%s)", github_id, profile.login)
                continue
            await self.rename(github_id, user.login)

    async def rename(self, github_id: int, login: str) -> None:
        """Follow a renamed login everywhere it is stored (see `links.follow_login`)."""
        async with transaction(self.sessionmaker) as session:
            profile = await session.get(GitHubProfile, github_id)
            if profile is not None:
                if profile.login != login:
                    log.info("GitHub user %s is now called %s (was %s)", github_id, login, profile.login)
                profile.gone_at = None
            await links.follow_login(session, github_id, login)

    # --- the query syntax self-check ---------------------------------------------------------------

    def _self_check_due(self, now: datetime) -> bool:
        checked = self.state.mode_checked_at
        return (
            not self._checked_since_start
            or checked is None
            or now - datetime.fromisoformat(checked) >= SELF_CHECK_EVERY
        )

    async def self_check(self) -> str:
        """Check on a sample that a batched search returns the union of the single-author searches.

        A PR has one author, so the union's size is the sum of the single counts. Under AND semantics
        the batch finds nothing (or far fewer): the radar then falls back to one author per search.
        """
        async with reading(self.sessionmaker) as session:
            rows = (
                await session.execute(
                    select(GitHubProfile.id, GitHubProfile.login)
                    .where(GitHubProfile.history_total > 0, GitHubProfile.gone_at.is_(None))
                    # The members with most merged PRs: a wrong batch then misses many, not one or two.
                    .order_by(GitHubProfile.history_total.desc(), GitHubProfile.id)
                    .limit(SELF_CHECK_SAMPLE)
                )
            ).all()
        sample_ids = [github_id for github_id, _ in rows]
        sample = [login for _, login in rows]
        now = self.now()
        if len(sample) < 2:
            self.state.mode_detail = "not verified yet: it needs two linked members with merged PRs"
            return self.state.mode
        base = "is:pr is:merged"
        try:
            singles = [
                (await self.api.search_issues(query(base, [login]), per_page=1, background=True)).total_count
                for login in sample
            ]
        except GitHubUnprocessable:
            # A sampled login is stale (renamed, deleted): follow it, and check again next pass.
            await self.resolve_profiles(list(sample_ids))
            self.state.mode_detail = "not verified yet: a sampled member's login had changed"
            return self.state.mode
        try:
            together = (await self.api.search_issues(query(base, sample), per_page=1, background=True)).total_count
        except GitHubUnprocessable:
            together = -1  # every single search ran, but GitHub refuses the batch: it can't be used
        self._checked_since_start = True
        expected = sum(singles)
        # A PR has one author: the batch finds at least each single count, and (give or take a merge
        # or two made between the searches) their sum.
        agrees = together >= max(singles) and abs(together - expected) <= max(2, expected // 100)
        if agrees and together > 0:
            mode, detail = "batched", f"a batch of {len(sample)} found {together} PRs, the single searches {expected}"
        else:
            mode = "single"
            found = "was refused by GitHub" if together < 0 else f"found {together} PRs"
            detail = (
                f"a batch of {len(sample)} {found} but the single searches {expected}: searching one member at a time"
            )
            log.warning("radar self-check failed (%s); falling back to one author per search", detail)
        self.state.mode, self.state.mode_detail, self.state.mode_checked_at = mode, detail, now.isoformat()
        await self.save_state()
        return mode

    # --- merged PRs --------------------------------------------------------------------------------

    @property
    def batch_size(self) -> int:
        return MAX_AUTHORS if self.state.mode == "batched" else 1

    async def search_merges(self, report: PassReport) -> None:
        """Search every watched member's merges since their cursor, a batch at a time."""
        watched = await self.watched()
        if shared := _sharing_a_login(watched):
            # Two members under one login: at least one is stale (they swapped, say). Ask GitHub by id first.
            await self.resolve_profiles(shared)
            watched = await self.watched()
        report.members = len(watched)
        # The cursor's timestamp is in every query, so batches are cut for the longest one.
        base = f"is:pr is:merged {since_term(self.now())}"
        for group in _groups(watched, base, self.batch_size):
            try:
                await self._search_batch(group, report)
            except GitHubError:
                raise  # GitHub itself is the problem: the pass stops, the next one resumes here
            except Exception as exc:
                # One batch's trouble (bad data, a database error) must not stop the others.
                log.exception("radar: the batch %s failed", [w.login for w in group])
                report.stopped_because = f"a batch failed: {exc!r}"[:300]

    async def _search_batch(self, group: list[Watched], report: PassReport, *, retried: bool = False) -> None:
        since = min(w.checked_through for w in group) - SEARCH_LAG
        searched_at = self.now()
        text = query(f"is:pr is:merged {since_term(since)}", [w.login for w in group])
        try:
            items, complete = await self._all_pages(text, report, splittable=len(group) > 1)
        except GitHubUnprocessable:
            if not retried:
                # GitHub can't search a login that no longer exists: find out who was renamed or deleted.
                await self.resolve_profiles([w.id for w in group])
                fresh = {w.id: w for w in await self.watched()}
                again = [fresh[w.id] for w in group if w.id in fresh]
                if again:
                    await self._search_batch(again, report, retried=True)
            elif len(group) > 1:
                # Still refused: one login GitHub won't search must not hide the others. Halve until it is alone.
                half = len(group) // 2
                await self._search_batch(group[:half], report, retried=True)
                await self._search_batch(group[half:], report, retried=True)
            else:
                await self._unsearchable(group[0])
            return
        except _TooMany:
            half = len(group) // 2
            await self._search_batch(group[:half], report)
            await self._search_batch(group[half:], report)
            return
        await self._apply(group, items, searched_at if complete else None, report)

    async def _all_pages(
        self, text: str, report: PassReport, *, splittable: bool = False
    ) -> tuple[list[SearchItem], bool]:
        """Read every page of a search; return the items, and whether GitHub said they are complete."""
        items: list[SearchItem] = []
        sent = 0
        page, limited, complete = 1, 0, True
        while True:
            try:
                # A fixed order keeps the pages stable while the results change.
                result = await self.api.search_issues(
                    text, page=page, per_page=PER_PAGE, sort="created", order="asc", background=True
                )
            except GitHubRateLimited:
                # A limit GitHub had not announced (a secondary one, or another user of the token):
                # the client now holds every search until the reset; then this page is asked again.
                limited += 1
                if limited > MAX_RATE_LIMITED:
                    raise
                continue
            report.searches += 1
            if result.total_count > RESULT_CAP and splittable:
                raise _TooMany  # GitHub would cut the results: the caller splits the batch
            items += result.items
            sent += result.sent  # malformed items were skipped (and logged), but paging counts them
            complete = complete and not result.incomplete
            if result.sent < PER_PAGE or sent >= min(result.total_count, RESULT_CAP):
                return items, complete
            page += 1

    async def _apply(
        self, group: list[Watched], items: list[SearchItem], searched_at: datetime | None, report: PassReport
    ) -> None:
        """Celebrate what a batch found and move its cursor, in one transaction.

        `searched_at` None (GitHub said its results were incomplete) leaves the cursor where it was:
        the next pass asks again, and what was celebrated now is not celebrated twice.
        """
        ids = {w.id for w in group}
        holders: dict[str, set[int]] = {}
        for w in group:
            holders.setdefault(w.login.lower(), set()).add(w.id)
        stale: set[int] = set()
        renamed: dict[int, str] = {}
        mine: dict[int, list[SearchItem]] = {i: [] for i in ids}
        for item in items:
            uid, login = item.author_id, item.author_login
            # Who wrote it is the numeric id. A watched member whose login GitHub now gives someone else
            # has a stale login (renamed, the login since taken): their own merges were not searched.
            if uid is None:
                continue  # whose it is can't be told: it says nothing of anyone's login either
            stale |= holders.get(login.lower(), set()) - {uid}
            if uid not in ids:
                continue
            if login and login.lower() not in {w.login.lower() for w in group if w.id == uid}:
                renamed[uid] = login
            mine[uid].append(item)
        # Which repositories are private (a token's search may see some): asked before the transaction.
        private = await audience.search_results_private(
            [item for found in mine.values() for item in found], api=self.api, known=self._repo_private
        )
        async with transaction(self.sessionmaker) as session:
            moved = {"last_checked_at": self.now()} | ({"checked_through": searched_at} if searched_at else {})
            # Members with nothing found only move their cursor: one statement for them all (most of a batch).
            quiet = sorted(i for i in ids - stale if not mine[i])
            if quiet:
                await session.execute(update(GitHubProfile).where(GitHubProfile.id.in_(quiet)).values(**moved))
                report.checked += len(quiet)
                self.checked_total += len(quiet)
            for github_id in sorted(i for i in ids - stale if mine[i]):
                # A SAVEPOINT each: one member's trouble never holds back the others in the batch.
                try:
                    async with session.begin_nested():
                        found, celebrated, withdrawn = await self._celebrate(session, mine[github_id], private)
                        # The cursor moves in the same transaction as the celebrations it covers.
                        await session.execute(
                            update(GitHubProfile).where(GitHubProfile.id == github_id).values(**moved)
                        )
                except Exception as exc:
                    if webhooks.is_database_fault(exc):
                        raise  # the database itself: the batch fails, and the next pass resumes here
                    log.exception("radar: GitHub user %s could not be recorded; trying again next pass", github_id)
                    report.stopped_because = f"GitHub user {github_id} failed: {exc!r}"[:300]
                    continue
                report.merges += found
                report.celebrations += celebrated
                report.withdrawn += withdrawn
                report.checked += 1
                self.checked_total += 1
        if report.celebrations or report.withdrawn:
            self.on_queued()  # a withdrawal queues the edit of its celebration
        for github_id, login in renamed.items():
            await self.rename(github_id, login)
        if stale:
            await self.resolve_profiles(sorted(stale))

    async def _celebrate(
        self, session: AsyncSession, items: list[SearchItem], private: Mapping[str, bool]
    ) -> tuple[int, int, int]:
        """Celebrate one member's merges a search found; return (merges, celebrations queued, merges withdrawn).

        `private` says, per repository (lower case), whether it is private (audience.search_results_private).
        A merge labelled spam or invalid since it was counted is withdrawn (events.withdraw_merge).
        """
        found = celebrated = withdrawn = 0
        for item in items:
            merge = Merge.from_search(item, private=private.get(item.repo.lower(), True))
            if merge is None:  # a bot's, or labelled spam or invalid
                if (gone := Discounted.from_search(item)) is not None:
                    withdrawn += await withdraw_merge(session, gone, now=self.now())
                continue
            found += 1
            # Every server at once: if one cannot take it, the member's cursor stays and the next pass tries again.
            queued, _ = await celebrate_merge(session, merge, now=self.now())
            celebrated += queued
        return found, celebrated, withdrawn

    async def _unsearchable(self, watched: Watched) -> None:
        """A login GitHub knows but won't search (a flagged account): leave it out, and say so in status."""
        log.warning("GitHub refuses to search the PRs of %s (%s); leaving them out", watched.login, watched.id)
        async with transaction(self.sessionmaker) as session:
            profile = await session.get(GitHubProfile, watched.id)
            if profile is not None:
                profile.gone_at = self.now()

    # --- open PRs ----------------------------------------------------------------------------------

    async def sweep_open_prs(self, report: PassReport, *, share: int | None = None) -> None:
        """Every few hours, note each watched member's open PRs and which have no review yet."""
        cutoff = self.now() - OPEN_SWEEP_EVERY
        watched = await self.watched()
        # Spread over the passes of OPEN_SWEEP_EVERY, oldest first: one pass never carries everyone's sweep.
        share = share or max(MAX_AUTHORS, math.ceil(len(watched) / SWEEP_SHARES))
        by_id = {w.id: w for w in watched}
        async with reading(self.sessionmaker) as session:
            due = list(
                await session.scalars(
                    select(GitHubProfile.id)
                    .where(
                        GitHubProfile.id.in_(watched_ids()),
                        or_(GitHubProfile.open_checked_at.is_(None), GitHubProfile.open_checked_at <= cutoff),
                    )
                    .order_by(GitHubProfile.open_checked_at.asc().nulls_first(), GitHubProfile.id)
                    .limit(share)
                )
            )
        watched = [by_id[i] for i in due if i in by_id]
        base = "is:pr is:open draft:false archived:false review:none"
        for group in _groups(watched, base, self.batch_size):
            logins = [w.login for w in group]
            try:
                opened, _ = await self._all_pages(query("is:pr is:open archived:false", logins), report)
                unreviewed, _ = await self._all_pages(query(base, logins), report)
            except (GitHubUnprocessable, _TooMany):
                continue  # the merge search resolves renames; this batch waits for the next sweep
            await self._store_open(group, opened, unreviewed)

    async def _store_open(self, group: list[Watched], opened: list[SearchItem], unreviewed: list[SearchItem]) -> None:
        ids = {w.id for w in group}
        waiting = {(i.repo.lower(), i.number) for i in unreviewed}
        now = self.now()
        unique = {(i.repo.lower(), i.number): i for i in opened}  # pages may repeat
        async with transaction(self.sessionmaker) as session:
            # A member unlinked meanwhile: their profile is gone, and nothing is stored for it.
            ids = set(await session.scalars(select(GitHubProfile.id).where(GitHubProfile.id.in_(ids))))
            await session.execute(delete(GitHubOpenPR).where(GitHubOpenPR.github_id.in_(ids)))
            for item in unique.values():
                if item.author_id not in ids or item.created_at is None:
                    continue
                session.add(
                    GitHubOpenPR(
                        github_id=item.author_id,
                        repo=item.repo.lower(),
                        number=item.number,
                        title=storable(item.title)[:300],
                        url=item.url or "",
                        opened_at=item.created_at,
                        unreviewed=(item.repo.lower(), item.number) in waiting,
                        seen_at=now,
                    )
                )
            await session.execute(update(GitHubProfile).where(GitHubProfile.id.in_(ids)).values(open_checked_at=now))


def _groups(watched: list[Watched], base: str, size: int) -> list[list[Watched]]:
    """Cut the watched users into batches (in order) whose queries fit GitHub's limits."""
    out, start = [], 0
    for logins in batches([w.login for w in watched], base, size=size):
        out.append(watched[start : start + len(logins)])
        start += len(logins)
    return out


def _sharing_a_login(watched: list[Watched]) -> list[int]:
    """Return the ids of watched users whose stored login another watched user also has."""
    by_login: dict[str, list[int]] = {}
    for w in watched:
        by_login.setdefault(w.login.lower(), []).append(w.id)
    return sorted(i for ids in by_login.values() if len(ids) > 1 for i in ids)


class _TooMany(Exception):
    """A search matched more than GitHub returns: the batch must be split."""
