"""What a GitHub event means for the servers: merge celebrations, finished goals and relays.

Webhook deliveries are stored as they arrive (webhooks.py); `process_batch`, which the processing
loop runs, applies the pending ones oldest first, and its docstring holds the rules it follows
(attempts, SAVEPOINTs, backing off). A merged pull request is read into a `Merge` (merges.py), as
the radar's finds are, and `celebrate_merge` takes it in named steps: record it in the author's
history; then, in each server that links the author, record it there once, count it, grant its
milestone roles, finish the goals it closes, note the activity and queue a `messages.Merged`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import storable
from bot.db.models import (
    GitHubAccount,
    GitHubMerge,
    Goal,
    Guild,
    MergedPullRequest,
    MilestoneRole,
    OutboxMessage,
    Subscription,
    WebhookDelivery,
)
from bot.db.session import hold, reading, transaction
from bot.services import audience, messages, outbox
from bot.services.github import history, webhooks
from bot.services.github.links import members_for
from bot.services.github.merges import Discounted, Merge, is_bot
from bot.services.github.urls import pull_url, safe_url
from bot.services.goals import close as close_goal
from bot.services.rhythm import activity
from bot.services.sharing import share

log = logging.getLogger(__name__)

PR_MILESTONES = (1, 5, 10, 25, 50, 100)
REPO_MILESTONE = 5  # merged PRs in one repo: "on the path to maintainer"
EVENT_KINDS = ("pulls", "issues", "releases", "good-first-issues")
FRIENDLY_LABELS = ("good first issue", "help wanted")
# Relays to one channel within this window are folded into one message.
FOLD_WINDOW = timedelta(seconds=2)
# Tries of a delivery that fails with a database error (or at commit) before it is marked failed.
MAX_ATTEMPTS = 5
# Deliveries applied in one transaction by process_batch (the processing loop).
BATCH_SIZE = 20
# Core statements on the table: a delivery's body is read only where it is applied, never loaded
# with its row as an object. A mapped class's __table__ is a Table (the base declares a FromClause).
_DELIVERIES = cast(Table, WebhookDelivery.__table__)
_CLOSING = re.compile(
    r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\s*:?\s+"
    r"(?:(?:https?://github\.com/)?(?P<repo>[\w.-]+/[\w.-]+)(?:#|/issues/))?#?(?P<number>\d{1,9})\b",
    re.IGNORECASE,
)


def milestone_key(kind: str, value: int) -> str:
    """Name a milestone: 'prs:5' is the 5th merged PR, 'repo:5' five in one repo."""
    return f"{kind}:{value}"


def closing_issues(body: str | None, repo: str) -> set[tuple[str, int]]:
    """Return the issues a PR body closes with GitHub's keywords ("Fixes #12", "closes o/r#3")."""
    found = set()
    for match in _CLOSING.finditer(body or ""):
        found.add(((match["repo"] or repo).lower(), int(match["number"])))
    return found


@dataclass(frozen=True, slots=True)
class Outcome:
    """What processing one delivery did."""

    celebrations: int = 0
    relays: int = 0
    goals_finished: int = 0


async def _claim(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, limit: int
) -> list[tuple[int, int | None]]:
    # Return (row id, this attempt's number) of the oldest pending deliveries, or (row id, None)
    # when its tries are spent: earlier ones were counted, then the process stopped before it
    # could record how they ended. Only the ids and the counts are read, not the bodies.
    table = _DELIVERIES
    claims: list[tuple[int, int | None]] = []
    async with transaction(sessionmaker) as session:
        rows = (
            await session.execute(
                select(table.c.id, table.c.attempts, table.c.error)
                .where(table.c.status == "pending")
                .order_by(table.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)  # two processes never claim one delivery at once (PostgreSQL)
            )
        ).all()
        for row in rows:
            if row.attempts >= MAX_ATTEMPTS:
                error = row.error or f"gave up after {row.attempts} attempts that never finished"
                await session.execute(
                    update(table).where(table.c.id == row.id).values(status="failed", error=error, processed_at=now)
                )
                log.error("GitHub delivery row %s: gave up after %d attempts: %s", row.id, row.attempts, error)
                claims.append((row.id, None))
            else:
                claims.append((row.id, row.attempts + 1))
        counted = [pk for pk, attempt in claims if attempt is not None]
        if counted:
            await session.execute(update(table).where(table.c.id.in_(counted)).values(attempts=table.c.attempts + 1))
    return claims


async def process_batch(
    sessionmaker: async_sessionmaker[AsyncSession], *, now: datetime, limit: int = BATCH_SIZE
) -> int:
    """Process up to `limit` of the oldest pending deliveries in one transaction; return how many were taken.

    0: none was pending. The rules every delivery is processed by:
    - Its attempt is counted in a transaction of its own, committed before it is applied: counted
      inside the delivery's transaction, it was rolled back with every failure, and one delivery
      failing with a database error was retried forever, ahead of all later ones. Only an attempt
      that reached the database counts: while the database is down the count fails too, and no
      delivery uses up its tries.
    - It is applied, with everything it queues, in a SAVEPOINT of its own. A payload the code
      cannot handle is failed at once and alone (trying it again would change nothing); the
      others commit.
    - A database error (or a failed commit) rolls the whole batch back: the batch is then applied
      again one delivery at a time, so only the faulty one fails and the others go through. The
      error is recorded on that delivery's row and the first such error is raised afterwards, so the
      processing loop backs off and tries again. At the MAX_ATTEMPTS-th try the delivery is marked
      failed with the reason, and processing goes on with the next one.
    """
    claims = await _claim(sessionmaker, now=now, limit=limit)
    live = [(pk, attempt) for pk, attempt in claims if attempt is not None]
    if not live:
        return len(claims)
    try:
        await _apply_many(sessionmaker, [pk for pk, _ in live], now=now)
    except Exception as exc:
        if len(live) == 1:
            if not await _fail_one(sessionmaker, *live[0], exc, now=now):
                raise
            return len(claims)
        log.warning("a batch of %d GitHub deliveries failed; applying them one by one", len(live), exc_info=True)
        first: Exception | None = None
        for pk, attempt in live:
            try:
                await _apply_many(sessionmaker, [pk], now=now)
            except Exception as single:
                if not await _fail_one(sessionmaker, pk, attempt, single, now=now) and first is None:
                    first = single
        if first is not None:
            raise first from None
    return len(claims)


async def _fail_one(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_pk: int, attempt: int, exc: Exception, *, now: datetime
) -> bool:
    # Record why a delivery failed; True when this was its last try and it is now marked failed.
    give_up = attempt >= MAX_ATTEMPTS
    await _record_failure(sessionmaker, delivery_pk, exc, give_up=give_up, now=now)
    if give_up:
        log.error("GitHub delivery row %s failed %d times; marked failed", delivery_pk, attempt, exc_info=exc)
    return give_up


async def _apply_many(sessionmaker: async_sessionmaker[AsyncSession], pks: list[int], *, now: datetime) -> None:
    # One transaction, one SAVEPOINT per delivery; bodies are read one at a time, not held together.
    table = _DELIVERIES
    async with transaction(sessionmaker) as session:
        for pk in pks:
            row = (
                await session.execute(
                    select(table.c.delivery_id, table.c.event, table.c.headers, table.c.body)
                    .where(table.c.id == pk, table.c.status == "pending")
                    .with_for_update()
                )
            ).first()
            if row is None:
                continue  # another process finished it since it was claimed
            values: dict[str, Any] = {"status": "done", "error": None, "processed_at": now}
            try:
                payload = webhooks.decode_payload((row.headers or {}).get("content-type", "application/json"), row.body)
                async with session.begin_nested():
                    await apply_event(session, row.event, payload, now=now)
            except Exception as exc:
                if webhooks.is_database_fault(exc):
                    raise  # the batch rolls back and is applied one by one (see process_batch)
                log.exception("could not process GitHub delivery %s (%s)", row.delivery_id, row.event)
                values |= {"status": "failed", "error": repr(exc)[:500]}
            await session.execute(update(table).where(table.c.id == pk).values(**values))
    log.debug("processed delivery rows %s", pks)


async def _record_failure(
    sessionmaker: async_sessionmaker[AsyncSession], delivery_pk: int, exc: Exception, *, give_up: bool, now: datetime
) -> None:
    # In a transaction of its own: the delivery's rolled back. Raises when the database is down.
    values: dict[str, Any] = {"error": repr(exc)[:500]}
    if give_up:
        values |= {"status": "failed", "processed_at": now}
    table = _DELIVERIES
    async with transaction(sessionmaker) as session:
        await session.execute(
            update(table).where(table.c.id == delivery_pk, table.c.status == "pending").values(**values)
        )


async def apply_event(session: AsyncSession, event: str, payload: dict[str, Any], *, now: datetime) -> Outcome:
    """Queue what an event means, in the caller's transaction."""
    action = payload.get("action")
    repo = str((payload.get("repository") or {}).get("full_name", "")).lower()
    if not repo:
        return Outcome()
    if event == "pull_request":
        pr = payload.get("pull_request") or {}
        if action == "closed" and pr.get("merged"):
            merge = Merge.from_webhook(payload)
            celebrations, finished = await celebrate_each(session, merge, now=now) if merge else (0, 0)
            if merge is None and (gone := Discounted.from_webhook(payload)) is not None:
                await withdraw_merge(session, gone, now=now)  # the radar may have counted it before the label
            relays = await relay(session, repo, "pulls", "merged", pr, now=now)
            return Outcome(celebrations, relays, finished)
        if action == "labeled" and (gone := Discounted.from_webhook(payload)) is not None:
            await withdraw_merge(session, gone, now=now)
            return Outcome()
        if action == "opened":
            return Outcome(relays=await relay(session, repo, "pulls", "opened", pr, now=now))
    elif event == "issues":
        issue = payload.get("issue") or {}
        if action == "opened":
            relays = await relay(session, repo, "issues", "opened", issue, now=now)
            if _friendly_labels(issue):
                relays += await relay(session, repo, "good-first-issues", "opened", issue, now=now)
            return Outcome(relays=relays)
        if action == "labeled" and str((payload.get("label") or {}).get("name", "")).lower() in FRIENDLY_LABELS:
            return Outcome(relays=await relay(session, repo, "good-first-issues", "labeled", issue, now=now))
    elif event == "release" and action == "published":
        return Outcome(
            relays=await relay(session, repo, "releases", "published", payload.get("release") or {}, now=now)
        )
    return Outcome()


def _friendly_labels(issue: dict[str, Any]) -> list[str]:
    return [
        label["name"]
        for label in issue.get("labels") or []
        if isinstance(label, dict) and str(label.get("name", "")).lower() in FRIENDLY_LABELS
    ]


def _labels(item: dict[str, Any]) -> list[str]:
    return [str(label.get("name", "")) for label in item.get("labels") or [] if isinstance(label, dict)]


async def celebrate_each(session: AsyncSession, merge: Merge, *, now: datetime) -> tuple[int, int]:
    """`celebrate_merge` in each server that links the author, each in a SAVEPOINT of its own.

    One server's trouble with this member (a row it cannot take) is logged and holds back none of
    the others; an error of the database itself, or a payload the code cannot handle, still fails
    the whole delivery. (The radar calls `celebrate_merge` itself, in a SAVEPOINT per member: what
    fails there leaves the member's cursor, and the next pass tries again.)
    """
    accounts = await members_for(session, github_id=merge.author_id, login=merge.author_login)
    by_guild: dict[int, list[GitHubAccount]] = {}
    for account in accounts:
        by_guild.setdefault(account.guild_id, []).append(account)
    celebrations = finished = 0
    fresh = True
    for guild_id in sorted(by_guild):
        try:
            async with session.begin_nested():
                # After a rollback, the links found above may be expired: each server then finds its own again.
                here = by_guild[guild_id] if fresh else None
                queued, done = await celebrate_merge(session, merge, now=now, accounts=here, guild_id=guild_id)
        except DBAPIError as exc:  # a row refused; a payload the code cannot handle still fails the delivery
            if webhooks.is_database_fault(exc):
                raise
            log.exception(
                "could not celebrate %s#%s in guild %s; the other servers go on", merge.repo, merge.number, guild_id
            )
            fresh = False
            session.info.pop("held", None)  # nothing the rolled-back steps held is kept for the next
            continue
        celebrations, finished = celebrations + queued, finished + done
    return celebrations, finished


async def celebrate_merge(
    session: AsyncSession,
    merge: Merge,
    *,
    now: datetime,
    accounts: list[GitHubAccount] | None = None,
    guild_id: int | None = None,
) -> tuple[int, int]:
    """Record a linked member's merged PR once per server and queue its celebration.

    The same merge reported twice, by any mix of webhooks and the radar, is recorded and celebrated
    once. A merge the history import already counted is from before the member linked: it is not
    celebrated. The radar's merges skip servers that turned it off, and in each server those from
    before the member linked there or from while its radar was off. A private merge (see
    audience.py) is celebrated here but never published. `accounts`: the author's links to
    celebrate in, when the caller has found them (celebrate_each, one server at a time); by default
    every link, or those in `guild_id`. Return (celebrations queued, goals finished).
    """
    if accounts is None:
        accounts = await members_for(session, github_id=merge.author_id, login=merge.author_login)
        accounts = [a for a in accounts if guild_id is None or a.guild_id == guild_id]
    if not accounts:
        return 0, 0
    merged_at = merge.merged_at or now
    if not await _record_in_history(session, merge, merged_at, now=now):
        return 0, 0
    celebrations = finished = 0
    for account in accounts:
        queued, done = await _celebrate_in_server(session, merge, account, merged_at=merged_at, now=now)
        celebrations, finished = celebrations + queued, finished + done
    return celebrations, finished


async def _record_in_history(session: AsyncSession, merge: Merge, merged_at: datetime, *, now: datetime) -> bool:
    """Store the merge in its author's history (history.py); False when the history import counted it already.

    What the import counted merged before the member linked: it is theirs, but not celebrated now.
    """
    if merge.author_id is None:
        return True  # known by login only: no history to keep
    await history.ensure_profile(session, merge.author_id, merge.author_login, now=now)
    before = await history.record_merge(
        session, merge.author_id, merge.repo, merge.number, merged_at, merge.source, private=merge.private
    )
    return before != "history"


async def _celebrate_in_server(
    session: AsyncSession, merge: Merge, account: GitHubAccount, *, merged_at: datetime, now: datetime
) -> tuple[int, int]:
    """Record the merge in one server, count it, grant its milestones, finish goals and queue the cheer.

    Return (celebrations queued, goals finished) in that server.
    """
    guild = await session.get(Guild, account.guild_id)
    if guild is None or not _radar_may_celebrate(merge, guild, account, merged_at):
        return 0, 0
    hold(session, guild)  # the streak and the milestones read it again
    merged = await _record_in_server(session, merge, account, merged_at, now=now)
    if merged is None:
        return 0, 0
    counted = await history.counts(
        session,
        github_id=merge.author_id,
        guild_id=account.guild_id,
        user_id=account.user_id,
        repo=merge.repo,
        number=merge.number,
    )
    milestones = reached_milestones(counted)
    await _grant_milestone_roles(session, account, milestones, now=now)
    finished = await _finish_linked_goals(session, merge, account, now=now)
    # Dated when it merged, in the member's zone: a backlog never moves work into another week.
    await activity.record(
        session,
        guild_id=account.guild_id,
        user_id=account.user_id,
        kind="pr",
        ref=f"{merge.repo}#{merge.number}",
        now=now,
        at=merged_at,
    )
    if merge.own_repo and not guild.celebrate_own_repos and not finished:
        return 0, 0  # merging into your own repository counts, but is not what the server cheers
    queued = await _queue_celebration(session, merge, guild, merged, counted, milestones, finished, now=now)
    return int(queued), len(finished)


async def withdraw_merge(session: AsyncSession, pr: Discounted, *, now: datetime) -> int:
    """Take a merged PR labelled spam or invalid out of every count; return how many servers had counted it.

    Its author's history row goes (so later merges are numbered without it), and in each server its
    `merged_prs` row and its activity (the streak is recomputed from what is left). Its celebrations
    are withdrawn: one still queued is dropped, one posted is redrawn to say only that it no longer
    counts. Milestone roles it granted and goals it finished stay. Seeing the label again does no
    more, except redraw a celebration that was being posted the first time (it is sent by now).
    """
    await session.execute(delete(GitHubMerge).where(GitHubMerge.repo == pr.repo, GitHubMerge.number == pr.number))
    counted = (
        await session.scalars(
            select(MergedPullRequest).where(MergedPullRequest.repo == pr.repo, MergedPullRequest.number == pr.number)
        )
    ).all()
    ref = f"{pr.repo}#{pr.number}"
    for merged in counted:
        guild_id, user_id = merged.guild_id, merged.user_id
        await session.delete(merged)
        await session.flush()
        await activity.forget(session, guild_id=guild_id, user_id=user_id, kind="pr", ref=ref, now=now)
    await _withdraw_celebrations(session, pr, now=now)
    if counted:
        log.info("withdrew %s from %d servers: labelled spam or invalid", ref, len(counted))
    return len(counted)


async def _withdraw_celebrations(session: AsyncSession, pr: Discounted, *, now: datetime) -> None:
    """Drop the PR's celebrations still queued; queue an edit of the posted ones saying it no longer counts."""
    rows = (
        await session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.kind == messages.Merged.KIND,
                # Its dedupe key, merged:<guild>:<repo>#<number>, in every server.
                OutboxMessage.dedupe_key.endswith(f":{pr.repo}#{pr.number}", autoescape=True),
            )
        )
    ).all()
    for row in rows:
        if row.status == "pending":
            # Not posted yet. (One the sender is posting this very moment is marked sent after it: the
            # next sighting of the label, the radar's or a webhook's, redraws it.)
            await session.delete(row)
        elif row.status == "sent" and row.guild_id is not None and row.channel_id is not None and row.message_id:
            withdrawn = messages.MergeWithdrawn(
                user_id=_int_of(row.data.get("user_id")), repo=pr.repo, number=pr.number
            )
            await outbox.enqueue(
                session,
                messages.DiscordEdit(row.channel_id, row.message_id, withdrawn),
                guild_id=row.guild_id,
                channel_id=row.channel_id,
                now=now,
                dedupe_key=f"withdrawn:{row.guild_id}:{pr.repo}#{pr.number}",
            )


def _int_of(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _radar_may_celebrate(merge: Merge, guild: Guild, account: GitHubAccount, merged_at: datetime) -> bool:
    """Whether a server celebrates this merge: the radar's only while it is on, and only what merged since."""
    if merge.source != "radar":
        return True
    # Merged before they linked here, or while the radar was off here: found only now, not cheered.
    return guild.radar_enabled and merged_at >= _radar_start(guild, account)


async def _record_in_server(
    session: AsyncSession, merge: Merge, account: GitHubAccount, merged_at: datetime, *, now: datetime
) -> MergedPullRequest | None:
    """Store the merge as this server's; None when another hook, delivery or radar pass already did."""
    seen = await session.scalar(
        select(MergedPullRequest.id).where(
            MergedPullRequest.guild_id == account.guild_id,
            MergedPullRequest.repo == merge.repo,
            MergedPullRequest.number == merge.number,
        )
    )
    if seen is not None:
        if merge.private:  # a later report knows better: once private, never published
            await session.execute(update(MergedPullRequest).where(MergedPullRequest.id == seen).values(private=True))
        return None
    merged = MergedPullRequest(
        guild_id=account.guild_id,
        user_id=account.user_id,
        github_id=merge.author_id,
        repo=merge.repo,
        number=merge.number,
        title=storable(merge.title)[:300],
        url=safe_url(merge.url, fallback=pull_url(merge.repo, merge.number)) or "",
        merged_at=merged_at,
        recorded_at=now,
        private=merge.private,
    )
    session.add(merged)
    await session.flush()
    return merged


def reached_milestones(counted: history.Counts) -> list[str]:
    """Name the milestones a merge reaches; only a member's true count says one."""
    if not (counted.known and counted.exact):
        return []
    milestones = [milestone_key("prs", n) for n in PR_MILESTONES if n == counted.total]
    if counted.in_repo == REPO_MILESTONE:
        milestones.append(milestone_key("repo", REPO_MILESTONE))
    return milestones


async def _grant_milestone_roles(
    session: AsyncSession, account: GitHubAccount, milestones: list[str], *, now: datetime
) -> None:
    """Queue the role each reached milestone carries in this server, if an admin set one."""
    guild_id, user_id = account.guild_id, account.user_id
    for key in milestones:
        role = await session.get(MilestoneRole, (guild_id, key))
        if role is not None:
            await outbox.enqueue(
                session,
                messages.RoleGrant(user_id=user_id, role_id=role.role_id, reason=f"Shiplog milestone {key}"),
                guild_id=guild_id,
                channel_id=None,
                now=now,
                dedupe_key=f"role:{guild_id}:{user_id}:{key}",
            )


async def _finish_linked_goals(
    session: AsyncSession, merge: Merge, account: GitHubAccount, *, now: datetime
) -> tuple[messages.FinishedGoal, ...]:
    """Close the member's open goals linked to this PR or to an issue it closes, and note each as activity."""
    targets = {(merge.repo, merge.number)} | closing_issues(merge.body, merge.repo)
    goals = (
        await session.scalars(
            select(Goal).where(
                Goal.guild_id == account.guild_id,
                Goal.user_id == account.user_id,
                Goal.status == "open",
                Goal.link_repo.in_({r for r, _ in targets}),
            )
        )
    ).all()
    finished = []
    for goal in sorted(goals, key=lambda g: g.number):
        if (goal.link_repo, goal.link_number) in targets:
            close_goal(goal, "done", now)
            finished.append(messages.FinishedGoal(goal.number, goal.text))
    for done in finished:
        await activity.record(
            session,
            guild_id=account.guild_id,
            user_id=account.user_id,
            kind="goal",
            ref=f"goal:{done.number}",
            now=now,
        )
    return tuple(finished)


async def _queue_celebration(
    session: AsyncSession,
    merge: Merge,
    guild: Guild,
    merged: MergedPullRequest,
    counted: history.Counts,
    milestones: list[str],
    finished: tuple[messages.FinishedGoal, ...],
    *,
    now: datetime,
) -> bool:
    """Queue the celebration in the server's celebrations channel; False when it has none (or it was queued)."""
    if guild.celebrations_channel_id is None:
        return False
    celebration = messages.Merged(
        merged_id=merged.id,
        user_id=merged.user_id,
        login=merge.author_login or None,
        repo=merge.repo,
        repo_name=merge.repo_name or merge.repo,
        number=merge.number,
        title=merged.title,
        url=merged.url or None,
        total=counted.total,
        in_repo=counted.in_repo,
        known=counted.known,
        exact=counted.exact,
        milestones=tuple(milestones),
        goals=finished,
        source=merge.source,
        private=merge.private,
    )
    queued = await outbox.enqueue(
        session,
        celebration,
        guild_id=guild.id,
        channel_id=guild.celebrations_channel_id,
        now=now,
        dedupe_key=f"merged:{guild.id}:{merge.repo}#{merge.number}",
    )
    return queued is not None


async def relay(
    session: AsyncSession, repo: str, kind: str, action: str, item: dict[str, Any], *, now: datetime
) -> int:
    """Queue a compact relay of an event for every subscription that wants it."""
    subscriptions = (await session.scalars(select(Subscription).where(Subscription.repo == repo))).all()
    author = item.get("user") or item.get("author") or {}
    labels = _labels(item)
    relayed = _relay_message(repo, kind, action, item, author, labels)
    queued = 0
    for sub in subscriptions:
        if kind not in sub.events.split(","):
            continue
        if is_bot(author) and not sub.include_bots:
            continue
        if sub.labels and kind in ("issues", "good-first-issues", "pulls"):
            wanted = {label.lower() for label in sub.labels}
            if not wanted & {label.lower() for label in labels}:
                continue
        row = await outbox.enqueue(
            session,
            relayed,
            guild_id=sub.guild_id,
            channel_id=sub.channel_id,
            now=now,
            not_before=now + FOLD_WINDOW,
            fold_key=f"relay:{sub.channel_id}",
            dedupe_key=f"relay:{sub.channel_id}:{repo}:{kind}:{action}:{item.get('id') or item.get('number')}",
        )
        queued += row is not None
    return queued


def _relay_message(
    repo: str, kind: str, action: str, item: dict[str, Any], author: dict[str, Any], labels: list[str]
) -> messages.Relay:
    """Read what a relay shows of an event's issue, pull request or release (the renderer escapes the text)."""
    number, tag, login = item.get("number"), item.get("tag_name"), author.get("login")
    return messages.Relay(
        event=kind,
        action=action,
        repo=repo,
        number=number if isinstance(number, int) and not isinstance(number, bool) else None,
        title=str(item.get("title") or item.get("name") or tag or "")[:256],
        tag=None if tag in (None, "") else str(tag),
        url=safe_url(item.get("html_url")),
        author=None if login in (None, "") else str(login),
        labels=tuple(labels[:10]),
    )


def _radar_start(guild: Guild, account: GitHubAccount) -> datetime:
    """Return since when the radar celebrates a member's merges in a server (GitHub counts seconds)."""
    since = max(filter(None, [account.linked_at, guild.radar_since]))
    return since.replace(microsecond=0)


def ordinal(n: int) -> str:
    """Return 1st, 2nd, 3rd, 4th, 11th, 21st..."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


@dataclass(frozen=True, slots=True)
class SharePost:
    """Ready-to-copy #BuildInPublic drafts about a merge, for its author: one per network (share.NETWORKS)."""

    user_id: int
    drafts: dict[str, str]


@audience.publisher("merged_pr")
async def share_post(sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, merged_id: int) -> SharePost:
    """Write the #BuildInPublic drafts a member can copy about one of their merged PRs, one per network."""
    from bot.errors import NotFoundError

    async with reading(sessionmaker) as session:
        merged = await session.get(MergedPullRequest, merged_id)
        if merged is None or merged.guild_id != guild_id:
            raise NotFoundError("I can't find that merged pull request any more.")
        audience.require_public_merge(merged)
        if not await audience.may_publish_member(session, guild_id, merged.user_id):
            raise NotFoundError("I can't find that merged pull request any more.")
        counted = await history.counts(
            session,
            github_id=merged.github_id,
            guild_id=guild_id,
            user_id=merged.user_id,
            repo=merged.repo,
            number=merged.number,
        )
    drafts = share.merged_pr(
        repo=merged.repo,
        title=merged.title,
        url=safe_url(merged.url) or "",
        total=counted.total,
        in_repo=counted.in_repo,
        known=counted.known,
        exact=counted.exact,
    )
    return SharePost(merged.user_id, drafts)
