"""A member's own data: everything Shiplog stores about them, to take away or to erase."""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, func, inspect, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.db.base import table_of
from bot.db.models import (
    Activity,
    CheckIn,
    GitHubAccount,
    GitHubLinkRequest,
    GitHubMerge,
    GitHubOpenPR,
    GitHubProfile,
    Goal,
    JobRun,
    Kudos,
    Member,
    MemberPage,
    MemberStreak,
    MergedPullRequest,
    OutboxMessage,
    RestPeriod,
    ReviewNudge,
    WebhookDelivery,
)
from bot.db.session import changed_rows, reading, transaction
from bot.services import limits, messages, outbox
from bot.services.github.history import drop_orphans
from bot.services.github.webhooks import decode_payload

# Keys of an outbox row's data that name the member the message is about.
SUBJECT_KEYS = ("user_id", "from_user_id", "to_user_id")

# Tables whose rows belong to one member through a user_id column.
OWNED = (
    Member,
    MemberPage,
    Goal,
    CheckIn,
    Activity,
    MemberStreak,
    RestPeriod,
    GitHubAccount,
    GitHubLinkRequest,
    MergedPullRequest,
    ReviewNudge,
)


def _row(obj: object) -> dict[str, Any]:
    mapper = inspect(obj.__class__)
    out = {}
    for column in mapper.columns:
        value = getattr(obj, column.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        out[column.key] = value
    return out


async def export(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> bytes:
    """Return a JSON document of everything stored about the member in this server."""
    data: dict[str, Any] = {"guild_id": guild_id, "user_id": user_id, "exported_at": now.isoformat()}
    async with reading(sessionmaker) as session:
        for model in OWNED:
            rows = await session.scalars(select(model).where(model.guild_id == guild_id, model.user_id == user_id))
            data[model.__tablename__] = [_row(r) for r in rows]
        kudos = await session.scalars(
            select(Kudos).where(
                Kudos.guild_id == guild_id, or_(Kudos.from_user_id == user_id, Kudos.to_user_id == user_id)
            )
        )
        data["kudos"] = [_row(k) for k in kudos]
        data["outbox"] = [_row(m) for m in await _messages_about(session, guild_id, user_id)]
        # Kept from an earlier /me forget, for the limits: times, under a hash of the member's id.
        data["limit_marks"] = await limits.export_marks(session, guild_id, user_id)
        # What the radar knows of their GitHub account: the imported history, merges and open PRs.
        github_ids = [a["github_id"] for a in data[GitHubAccount.__tablename__] if a["github_id"] is not None]
        for github_model, column in (
            (GitHubProfile, GitHubProfile.id),
            (GitHubMerge, GitHubMerge.github_id),
            (GitHubOpenPR, GitHubOpenPR.github_id),
        ):
            data[github_model.__tablename__] = [
                _row(r) for r in await session.scalars(select(github_model).where(column.in_(github_ids)))
            ]
        # GitHub's deliveries about their account still stored (until retention): what they say of it.
        data[WebhookDelivery.__tablename__] = [
            {
                "delivery_id": found.delivery_id,
                "event": found.event,
                "status": found.status,
                "received_at": found.received_at.isoformat(),
                "payload": found.payload,
            }
            for found in await _deliveries_about(session, await _accounts(session, guild_id, user_id))
        ]
    return json.dumps(data, indent=2, ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Forgotten:
    """What `/me forget` did: the rows deleted, and the outbox rows that remove or edit the bot's
    messages about the member in the channels (to follow with `cleanup_status`)."""

    records: int
    cleanup: list[int]


async def forget(
    sessionmaker: async_sessionmaker[AsyncSession], *, guild_id: int, user_id: int, now: datetime
) -> Forgotten:
    """Delete everything stored about the member in this server, and the bot's posts about them.

    The bodies of GitHub's deliveries about their linked account (their login, their PRs' titles)
    are emptied at once, not at retention: the rows stay, as retention leaves them (the delivery id
    answers a redelivery). A delivery still waiting to be processed keeps its body until then.

    Only the times of their kudos of the last 24 hours and of their last shared check-in within the
    cooldown stay, as limit marks under a hash of their id (see limits.LimitMark): forgetting must not
    reset the spam limits. Each mark goes once its window has passed.

    The bot's messages about the member in the channels (goal announcements, check-ins, kudos given
    or received, celebrations) are deleted in Discord too, and messages about several members (the
    weekly ping, the digest) are edited to leave them out. That work is queued in the outbox, in
    this transaction, with nothing but the channel and message ids: it survives a crash, retries a
    Discord outage, and shows in `/settings show` when it cannot be done.
    """
    removed = 0
    cleanup: list[OutboxMessage] = []
    # GitHub's deliveries about their account (PR titles, their login) are read outside the write
    # transaction (there may be many), then emptied in it, as retention would have done later.
    async with reading(sessionmaker) as session:
        deliveries = [
            found.id
            for found in await _deliveries_about(session, await _accounts(session, guild_id, user_id))
            if found.status in PROCESSED
        ]
    async with transaction(sessionmaker) as session:
        await limits.lock_member(session, guild_id, user_id, create=False)  # no /kudos of theirs slips in
        removed += await _empty_bodies(session, deliveries)
        await limits.keep_through_forget(session, guild_id, user_id, now)
        for model in OWNED:
            result = await session.execute(delete(model).where(model.guild_id == guild_id, model.user_id == user_id))
            removed += changed_rows(result)
        result = await session.execute(delete(JobRun).where(JobRun.guild_id == guild_id, JobRun.job == f"dm:{user_id}"))
        removed += changed_rows(result)
        result = await session.execute(
            delete(Kudos).where(
                Kudos.guild_id == guild_id, or_(Kudos.from_user_id == user_id, Kudos.to_user_id == user_id)
            )
        )
        removed += changed_rows(result)
        await session.flush()
        await drop_orphans(session)  # what the radar knew of their GitHub account, unless another server links it
        # Messages about the member, sent or still waiting: their text goes too, and none is posted later.
        # Messages about several members (the weekly ping, the digest) lose only this member's part.
        seen: set[tuple[int, int]] = set()
        for row in await _messages_about(session, guild_id, user_id):
            rest = _without_member(row.kind, row.data, user_id)
            posted = None if row.channel_id is None or row.message_id is None else (row.channel_id, row.message_id)
            if row.status == "sent" and posted is not None and posted not in seen:
                seen.add(posted)
                channel_id, message_id = posted
                cleanup.append(
                    outbox.row_for(
                        messages.DiscordDelete(channel_id, message_id)
                        if rest is None
                        else messages.DiscordEdit(channel_id, message_id, rest),
                        guild_id=guild_id,
                        channel_id=channel_id,
                        now=now,
                    )
                )
            if rest is None:
                await session.delete(row)
            else:
                row.data = rest.encode()
            removed += 1
        await outbox.enqueue_many(session, cleanup)
    return Forgotten(removed, [row.id for row in cleanup])


@dataclass(frozen=True, slots=True)
class Cleanup:
    """How far the removal of the member's messages got."""

    done: int
    failed: int
    pending: int
    reasons: list[str]


async def cleanup_status(sessionmaker: async_sessionmaker[AsyncSession], ids: list[int]) -> Cleanup:
    """Return how many of the cleanup rows are done, failed (and why) or still waiting."""
    async with reading(sessionmaker) as session:
        rows = (
            await session.execute(
                select(OutboxMessage.status, OutboxMessage.last_error).where(OutboxMessage.id.in_(ids))
            )
        ).all()
    done = sum(status == "sent" for status, _ in rows)
    failed = [error or "unknown error" for status, error in rows if status == "failed"]
    return Cleanup(done, len(failed), len(rows) - done - len(failed), sorted(set(failed)))


def _is_about(data: dict[str, Any], user_id: int) -> bool:
    return any(data.get(key) == user_id for key in SUBJECT_KEYS)


def _names(value: Any, user_id: int) -> bool:
    if isinstance(value, dict):
        return _is_about(value, user_id) or any(_names(v, user_id) for v in value.values())
    if isinstance(value, list):
        return user_id in value or any(_names(v, user_id) for v in value)
    return False


def _without_member(kind: str, data: dict[str, Any], user_id: int) -> messages.Message | None:
    """Return an outbox row's message without every part about the member, or None when it is about
    them as a whole (or of a kind this version cannot read)."""
    try:
        message = messages.decode(kind, data)
    except messages.UnknownKind:
        return None
    if _is_about(data, user_id):
        return None
    if isinstance(message, messages.DiscordEdit):
        # An edit still owed redraws a message about several members: it loses this one too, and
        # goes when nobody is left (the forget queues the removal of the post itself).
        if message.message is None:
            return None
        inner = _without(message.message, user_id)
        return None if inner is None else replace(message, message=inner)
    return _without(message, user_id)


def _without(message: messages.Message, user_id: int) -> messages.Message | None:
    return message.without({subject for subject in message.subjects() if subject.user_id == user_id})


async def _messages_about(session: AsyncSession, guild_id: int, user_id: int) -> list[OutboxMessage]:
    rows = await session.scalars(select(OutboxMessage).where(OutboxMessage.guild_id == guild_id))
    # JSON is searched in Python: the same code must run on SQLite and PostgreSQL.
    return [row for row in rows if _names(row.data, user_id)]


# Deliveries whose processing is over: their body is only kept for debugging, until retention.
PROCESSED = ("done", "failed")
_SCAN_BATCH = 200


@dataclass(frozen=True, slots=True)
class _Delivery:
    id: int
    delivery_id: str
    event: str
    status: str
    received_at: datetime
    payload: dict[str, Any]


async def _accounts(session: AsyncSession, guild_id: int, user_id: int) -> list[tuple[int | None, str]]:
    """The member's linked GitHub account in this server: (numeric id, login in lower case)."""
    rows = await session.execute(
        select(GitHubAccount.github_id, GitHubAccount.login_lower).where(
            GitHubAccount.guild_id == guild_id, GitHubAccount.user_id == user_id
        )
    )
    return [(github_id, login) for github_id, login in rows]


def _mentions_account(value: Any, accounts: list[tuple[int | None, str]]) -> bool:
    """Whether a payload holds one of the accounts as a GitHub user (author, sender, owner...)."""
    if isinstance(value, dict):
        login = value.get("login")
        if isinstance(login, str):
            for github_id, login_lower in accounts:
                if login.lower() == login_lower or (github_id is not None and value.get("id") == github_id):
                    return True
        return any(_mentions_account(v, accounts) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_account(v, accounts) for v in value)
    return False


async def _deliveries_about(session: AsyncSession, accounts: list[tuple[int | None, str]]) -> list[_Delivery]:
    """Return the stored deliveries (with a body still) whose payload is about one of the accounts.

    Read a batch at a time; a body that names neither the login nor the id is not parsed.
    """
    if not accounts:
        return []
    needles = [login.encode() for _, login in accounts] + [str(i).encode() for i, _ in accounts if i is not None]
    table = table_of(WebhookDelivery)
    found: list[_Delivery] = []
    after = 0
    while True:
        rows = (
            await session.execute(
                select(
                    table.c.id,
                    table.c.delivery_id,
                    table.c.event,
                    table.c.status,
                    table.c.headers,
                    table.c.body,
                    table.c.received_at,
                )
                .where(table.c.id > after, func.length(table.c.body) > 0)
                .order_by(table.c.id)
                .limit(_SCAN_BATCH)
            )
        ).all()
        if not rows:
            return found
        after = rows[-1].id
        for row in rows:
            body = bytes(row.body)
            lowered = body.lower()
            if not any(needle in lowered for needle in needles):
                continue
            try:
                payload = decode_payload((row.headers or {}).get("content-type", "application/json"), body)
            except ValueError:
                continue  # never processed either: nothing in it was read as being about anyone
            if _mentions_account(payload, accounts):
                found.append(_Delivery(row.id, row.delivery_id, row.event, row.status, row.received_at, payload))


async def _empty_bodies(session: AsyncSession, ids: list[int]) -> int:
    """Empty the bodies of processed deliveries (never one made pending again meanwhile)."""
    if not ids:
        return 0
    table = table_of(WebhookDelivery)
    emptied = 0
    for start in range(0, len(ids), _SCAN_BATCH):  # bound the statement's parameters
        result = await session.execute(
            update(table)
            .where(table.c.id.in_(ids[start : start + _SCAN_BATCH]), table.c.status.in_(PROCESSED))
            .values(body=b"")
        )
        emptied += changed_rows(result)
    return emptied
