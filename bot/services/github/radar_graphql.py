"""The radar's merge check on GitHub's GraphQL API, used when there is a token (radar.py runs it).

Without a token the radar searches issues over REST (radar.py); with one, each pass asks GraphQL
(graphql.py) for up to 100 watched users at a time by node id, each with their merged PRs updated
last, then for the details of the few PRs updated since the member's cursor. That costs 1 point per
100 members, and GraphQL has no search index to lag behind merges. Everything after is the REST
path's: the PRs become the same `SearchItem`s and go through `Radar._apply` (one transaction per
batch with its cursors, `Merge.from_search`, `events.celebrate_merge`, spam and invalid withdrawn),
so history, ordinals, one celebration per merge whichever path sees it first, and bots never
celebrated hold alike. The open-PR sweep (the review-wait nudges) still searches REST, alongside the
merge check: the two use different budgets.

Errors: a user gone is a null node with NOT_FOUND, and only that user is asked about over REST
(renamed: followed; deleted: left alone from then on). `RATE_LIMITED` (or a 403/429) holds every
query until the reset, then the batch is asked again; a 502, 504 or timeout is asked again once,
after `TIMEOUT_BACKOFF`; then, as for a query GitHub found too big, the batch is split in halves
until one member is alone, whose check waits for the next pass.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from sqlalchemy import update

from bot.db.models import GitHubProfile
from bot.db.session import transaction
from bot.services.github import graphql
from bot.services.github.api import SearchItem
from bot.services.github.errors import GitHubError, GitHubNotFound, GitHubRateLimited
from bot.services.github.graphql import Answer, GraphQLTimeout, GraphQLTooBig, UserMerges
from bot.services.github.merges import discounted

if TYPE_CHECKING:
    from bot.services.github.radar import PassReport, Radar, Watched

log = logging.getLogger(__name__)

T = TypeVar("T")

# Each check reaches this far before the cursor (GitHub's clock and ours differ); repeats are free.
SLACK = timedelta(minutes=2)
TIMEOUT_BACKOFF = timedelta(seconds=15)
MAX_RATE_LIMITED = 3  # rate-limit answers to one query before the pass gives up (and the next resumes)
MAX_PAGES = 10  # pages of one user's merged PRs updated since their cursor, at most (1,000 PRs)
# Passes follow each other every GRAPHQL_POLL_SECONDS at most (points pace them; see ratelimits.py).
GRAPHQL_POLL_SECONDS = 20
OPEN_SWEEP_SECONDS = 6 * 3600.0  # as the REST radar: each member's open PRs noted every six hours


def node_id(w: Watched) -> str:
    """Return the id to ask GraphQL for a watched user by: the one GitHub gave, else the legacy form."""
    return w.node_id or graphql.legacy_user_id(w.id)


def sweep_share(members: int, pass_seconds: float) -> int:
    """Return how many members' open PRs one pass sweeps, so everyone's are swept every six hours."""
    return max(6, math.ceil(members * max(pass_seconds, GRAPHQL_POLL_SECONDS) / OPEN_SWEEP_SECONDS * 1.25))


async def run(radar: Radar, report: PassReport) -> None:
    """Check every watched member's merges on GraphQL, with the open-PR sweep (REST search) alongside."""
    report.mode = "graphql"
    last = (radar.state.last_pass or {}).get("seconds") or 0.0
    members = len(await radar.watched())
    sweep = asyncio.create_task(radar.sweep_open_prs(report, share=sweep_share(members, float(last))))
    try:
        await check_merges(radar, report)
    except BaseException:
        sweep.cancel()
        await asyncio.gather(sweep, return_exceptions=True)
        raise
    await sweep
    report.points_left = radar.api.limits.buckets["graphql"].remaining


async def check_merges(radar: Radar, report: PassReport) -> None:
    """Check every watched member, longest unchecked first, a batch of 100 at a time."""
    watched = await radar.watched()
    report.members = len(watched)
    for start in range(0, len(watched), graphql.USER_BATCH):
        group = watched[start : start + graphql.USER_BATCH]
        try:
            await _batch(radar, group, report)
        except GitHubError:
            raise  # GitHub itself is the problem: the pass stops, the next one resumes here
        except Exception as exc:
            # One batch's trouble (bad data, a database error) must not stop the others.
            log.exception("radar: the GraphQL batch of %s failed", [w.login for w in group])
            report.stopped_because = f"a batch failed: {exc!r}"[:300]


async def _ask(radar: Radar, report: PassReport, call: Callable[[], Awaitable[tuple[T, Answer]]]) -> T:
    """Send a query, asking again after a rate limit (at the reset) or a first timeout (after a pause)."""
    limited = timeouts = 0
    while True:
        try:
            result, answer = await call()
        except GitHubRateLimited:
            # The client now holds every GraphQL query until the reset; then this one is asked again.
            limited += 1
            if limited > MAX_RATE_LIMITED:
                raise
            continue
        except GraphQLTimeout:
            timeouts += 1
            if timeouts > 1:
                raise
            bucket = radar.api.limits.buckets["graphql"]
            bucket.blocked_until = radar.api.now() + TIMEOUT_BACKOFF  # GitHub is struggling: give it a moment
            continue
        report.queries += 1
        report.points += answer.cost if answer.cost is not None else 1
        return result


async def _batch(radar: Radar, group: list[Watched], report: PassReport) -> None:
    asked_at = radar.now()
    try:
        users = await _ask(radar, report, lambda: graphql.user_merges(radar.api, [node_id(w) for w in group]))
    except (GraphQLTooBig, GraphQLTimeout) as exc:
        if len(group) > 1:
            half = len(group) // 2
            log.info("radar: GitHub could not answer for %s users at once; asking for %s", len(group), half)
            await _batch(radar, group[:half], report)
            await _batch(radar, group[half:], report)
            return
        if isinstance(exc, GraphQLTimeout):
            # Split down to one user and GitHub still times out: GitHub is down, not the batch too big.
            # The pass stops here (the next resumes with these members) instead of asking 200 times.
            raise
        log.warning("radar: GitHub could not answer for %s (%s): %s", group[0].login, group[0].id, exc)
        report.stopped_because = f"GitHub could not answer for {group[0].login}; asking again next pass"
        return
    found: list[tuple[Watched, UserMerges]] = []
    gone: list[Watched] = []
    for w, user in zip(group, users, strict=True):
        if user is None or (user.database_id is not None and user.database_id != w.id):
            gone.append(w)  # deleted, or the id no longer names them: asked about over REST
        elif not user.login:
            found.append((w, replace(user, login=w.login, prs=[])))  # no User (a bot): checked, nothing to see
        else:
            found.append((w, user))
    wanted: dict[int, list[str]] = {}
    # Members not read in full this pass: what was found is celebrated, but their cursor stays, so the
    # next pass reads the same again (a merge is never celebrated twice: celebrate_merge dedupes).
    unfinished: set[int] = set()
    for w, user in found:
        wanted[w.id], complete = await _updated_since(radar, report, user, w.checked_through - SLACK)
        if not complete:
            unfinished.add(w.id)
    items = await _details(radar, report, [pr for ids in wanted.values() for pr in ids])
    # A PR GitHub did not describe this time (a null node, a part that timed out) is asked again next pass.
    unfinished |= {w.id for w, _ in found if any(pr not in items for pr in wanted[w.id])}
    await _remember(radar, found)
    mine: list[SearchItem] = []
    for w, user in found:
        since = w.checked_through - SLACK
        for pr in wanted[w.id]:
            item = items.get(pr)
            # A merge since the cursor, or an older one labelled spam or invalid since (withdrawn).
            if item is not None and (_at_or_after(item.merged_at, since) or discounted(item.labels)):
                mine.append(replace(item, author_id=w.id, author_login=user.login))
    for members, cursor in (([f for f in found if f[0].id not in unfinished], asked_at),
                            ([f for f in found if f[0].id in unfinished], None)):  # fmt: skip
        if members:
            ids = {w.id for w, _ in members}
            theirs = [item for item in mine if item.author_id in ids]
            await radar._apply([replace(w, login=user.login) for w, user in members], theirs, cursor, report)
    if gone:
        await _resolve(radar, gone)


def _at_or_after(when: datetime | None, since: datetime) -> bool:
    return when is None or when >= since


async def _updated_since(radar: Radar, report: PassReport, user: UserMerges, since: datetime) -> tuple[list[str], bool]:
    """Return the node ids of a user's merged PRs updated since `since`, paging when a whole page was,
    and whether they were all read (False: paging was cut short; the caller keeps the cursor)."""
    refs, after, pages, complete = list(user.prs), user.after, 1, True
    while after and refs and _at_or_after(refs[-1].updated_at, since):
        if pages >= MAX_PAGES:
            complete = False
            break
        try:
            more = await _ask(radar, report, partial(graphql.more_merges, radar.api, user.node_id, after))
        except (GraphQLTooBig, GraphQLTimeout):
            more = None
        if more is None:
            complete = False
            break
        refs += more.prs
        after, pages = more.after, pages + 1
    if pages > 1 and complete:
        # The pages are ordered by last update: a PR updated while they were read moved to the top,
        # past the pages already read. One look at the top again finds it.
        try:
            (top,) = await _ask(radar, report, lambda: graphql.user_merges(radar.api, [user.node_id]))
        except (GraphQLTooBig, GraphQLTimeout):
            top = None
        if top is None:
            complete = False
        else:
            refs += top.prs
    ids = [r.node_id for r in refs if _at_or_after(r.updated_at, since)]
    return list(dict.fromkeys(ids)), complete


async def _details(radar: Radar, report: PassReport, prs: list[str]) -> dict[str, SearchItem]:
    """Return what a celebration needs of these PRs; a part GitHub cannot answer is split, down to one
    PR, and one it still cannot is left out (its member's cursor then stays: see `_batch`)."""
    out: dict[str, SearchItem] = {}
    unique = list(dict.fromkeys(prs))
    for start in range(0, len(unique), graphql.PR_BATCH):
        out |= await _details_of(radar, report, unique[start : start + graphql.PR_BATCH])
    return out


async def _details_of(radar: Radar, report: PassReport, ids: list[str]) -> dict[str, SearchItem]:
    try:
        return await _ask(radar, report, partial(graphql.details, radar.api, ids))
    except (GraphQLTooBig, GraphQLTimeout) as exc:
        if len(ids) == 1:
            if isinstance(exc, GraphQLTimeout):
                raise  # GitHub is down, not the query too big: the pass stops, the next resumes here
            log.warning("radar: GitHub could not describe pull request %s: %s", ids[0], exc)
            return {}
        half = len(ids) // 2
        return await _details_of(radar, report, ids[:half]) | await _details_of(radar, report, ids[half:])


async def _remember(radar: Radar, found: list[tuple[Watched, UserMerges]]) -> None:
    """Store the node ids GitHub answered with, and follow the logins it says users have now."""
    fresh = [(w.id, user.node_id) for w, user in found if w.node_id != user.node_id]
    if fresh:
        async with transaction(radar.sessionmaker) as session:
            for github_id, node in fresh:
                await session.execute(update(GitHubProfile).where(GitHubProfile.id == github_id).values(node_id=node))
    for w, user in found:
        if user.login != w.login:
            await radar.rename(w.id, user.login)


async def _resolve(radar: Radar, gone: list[Watched]) -> None:
    """Ask REST who the users GraphQL did not find are: a rename is followed, a deleted account left alone."""
    for w in gone:
        try:
            user = await radar.api.get_user_by_id(w.id, background=True)
        except GitHubNotFound:
            async with transaction(radar.sessionmaker) as session:
                profile = await session.get(GitHubProfile, w.id)
                if profile is not None and profile.gone_at is None:
                    profile.gone_at = radar.now()
                    log.info("GitHub no longer knows user %s (%s)", w.id, profile.login)
            continue
        if user.node_id and user.node_id != w.node_id:
            async with transaction(radar.sessionmaker) as session:
                await session.execute(
                    update(GitHubProfile).where(GitHubProfile.id == w.id).values(node_id=user.node_id)
                )
        await radar.rename(w.id, user.login)
