"""The outbox's claiming rules, on a real SQLite file."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bot.db.models import OutboxMessage
from bot.db.session import transaction
from bot.services import messages, outbox
from bot.workers.outbox import units
from tests.conftest import NOW


async def queue(sessionmaker, n: int, *, fold: str | None = "relay:1", at=NOW, channel: int = 1) -> int:
    async with transaction(sessionmaker) as session:
        row = await outbox.enqueue(
            session,
            messages.Relay(event="pulls", action="opened", repo="o/r", number=n),
            guild_id=None,
            channel_id=channel,
            now=at,
            fold_key=fold,
            not_before=at + timedelta(seconds=2) if fold else None,
        )
        return row.id


async def test_a_burst_is_claimed_as_one_unit_from_its_first_row(sessionmaker) -> None:
    for n in range(5):
        await queue(sessionmaker, n, at=NOW + timedelta(milliseconds=300 * n))
    # When the first row is due, the later ones (not yet due themselves) join its unit.
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))
    assert [[r.data["number"] for r in unit] for unit in units(claimed)] == [[0, 1, 2, 3, 4]]


async def test_a_retried_unit_keeps_its_members_and_new_rows_start_a_new_one(sessionmaker) -> None:
    first = await queue(sessionmaker, 1)
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))
    assert [r.id for r in claimed] == [first]
    # The process dies after posting, before marking it sent; another relay arrives meanwhile.
    await queue(sessionmaker, 2, at=NOW + timedelta(seconds=5))
    later = NOW + timedelta(minutes=2)  # past the claim lease
    claimed = await outbox.claim_due(sessionmaker, now=later)
    groups = [[r.data["number"] for r in unit] for unit in units(claimed)]
    # The retry posts #1 alone (same nonce, so Discord shows it once); #2 is its own message.
    assert groups == [[1], [2]]


async def test_rows_held_by_another_claim_do_not_join(sessionmaker) -> None:
    await queue(sessionmaker, 1)
    await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=2))  # another process holds #1
    await queue(sessionmaker, 2, at=NOW + timedelta(seconds=1))
    claimed = await outbox.claim_due(sessionmaker, now=NOW + timedelta(seconds=3))
    assert [r.data["number"] for r in claimed] == [2]


async def test_backoff_grows_and_gives_up_as_failed(sessionmaker) -> None:
    row = await queue(sessionmaker, 1, fold=None)
    first = await outbox.mark_retry(sessionmaker, [row], attempts=1, error="Discord answered 500", now=NOW)
    second = await outbox.mark_retry(sessionmaker, [row], attempts=5, error="Discord answered 500", now=NOW)
    assert first - NOW < second - NOW <= outbox.MAX_BACKOFF
    assert await outbox.mark_retry(sessionmaker, [row], attempts=outbox.MAX_ATTEMPTS, error="x", now=NOW) is None
    async with transaction(sessionmaker) as session:
        stored = await session.scalar(select(OutboxMessage))
    assert stored.status == "failed" and "gave up" in stored.last_error


async def test_dedupe_key_queues_once(sessionmaker) -> None:
    async with transaction(sessionmaker) as session:
        for _ in range(2):
            await outbox.enqueue(
                session, messages.Merged(), guild_id=None, channel_id=1, now=NOW, dedupe_key="merged:1:a/b#1"
            )
    async with transaction(sessionmaker) as session:
        assert len((await session.scalars(select(OutboxMessage))).all()) == 1


# --- Retention: sent rows older than DELIVERY_RETENTION_DAYS are pruned; nothing pending or failed.

GUILD = 4242


async def sent_row(session, *, kind: str, data: dict, sent_days_ago: float | None, status: str = "sent", **extra):
    # Stored as it is, whatever its shape: retention works on rows of any kind and version.
    at = NOW - timedelta(days=40)
    row = OutboxMessage(
        nonce=outbox.new_nonce(), guild_id=GUILD, channel_id=7, kind=kind, data=data, next_attempt_at=at, created_at=at
    )
    for key, value in extra.items():
        setattr(row, key, value)
    if status == "sent":
        row.status, row.sent_at, row.message_id = "sent", NOW - timedelta(days=sent_days_ago), 900 + len(kind)
    else:
        row.status = status
    session.add(row)
    await session.flush()
    return row.id


async def test_retention_prunes_old_sent_rows_in_batches_and_never_pending_or_failed(sessionmaker) -> None:
    from bot.services import guilds, privacy, retention

    ping = {"content": "<@5> shipped\n<@6> shipped", "user_ids": [5, 6]}
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        relays = [
            await sent_row(session, kind="github.relay", data={"title": "x" * 300}, sent_days_ago=20) for _ in range(7)
        ]
        merged = await sent_row(
            session,
            kind="github.merged",
            data={"user_id": 5, "login": "octo", "title": "Fix it", "goals": [{"number": 1, "title": "t"}]},
            sent_days_ago=20,
            dedupe_key="merged:4242:o/r#1",
        )
        kudos = await sent_row(
            session, kind="kudos", data={"from_user_id": 5, "to_user_id": 6, "reason": "r" * 200}, sent_days_ago=15
        )
        weekly = await sent_row(session, kind="rhythm.ping", data=ping, sent_days_ago=20)
        recent = await sent_row(session, kind="github.relay", data={"title": "new"}, sent_days_ago=13)
        pending = await sent_row(
            session, kind="github.relay", data={"title": "owed"}, sent_days_ago=None, status="pending"
        )
        failed = await sent_row(
            session, kind="checkin", data={"user_id": 5, "text": "t"}, sent_days_ago=None, status="failed"
        )

    result = await retention.prune(sessionmaker, days=14, now=NOW, batch=3)

    assert (result.deleted, result.slimmed) == (7, 3)
    assert result.batches == 4  # 10 rows, 3 per transaction
    async with transaction(sessionmaker) as session:
        rows = {row.id: row for row in await session.scalars(select(OutboxMessage))}
    assert not set(relays) & rows.keys()  # about nobody: gone
    # About one member: only the subject ids stay, with the message id (for /me forget) and the dedupe key.
    assert rows[merged].data == {"user_id": 5}
    assert (rows[merged].message_id, rows[merged].dedupe_key, rows[merged].nonce) == (913, "merged:4242:o/r#1", None)
    assert rows[kudos].data == {"from_user_id": 5, "to_user_id": 6}
    assert rows[weekly].data == ping  # /me forget re-draws it without the member: kept whole
    assert rows[recent].data == {"title": "new"} and rows[recent].nonce is not None
    assert rows[pending].data == {"title": "owed"} and rows[pending].status == "pending"
    assert rows[failed].data == {"user_id": 5, "text": "t"} and rows[failed].status == "failed"
    # The dedupe key still holds: the same celebration is not queued again.
    async with transaction(sessionmaker) as session:
        again = await outbox.enqueue(
            session,
            messages.Merged(),
            guild_id=GUILD,
            channel_id=7,
            now=NOW,
            dedupe_key="merged:4242:o/r#1",
        )
    assert again is None
    assert await retention.prune(sessionmaker, days=14, now=NOW) == retention.Pruned()

    # /me forget still removes the pruned posts about the member, and edits the weekly ping.
    forgotten = await privacy.forget(sessionmaker, guild_id=GUILD, user_id=5, now=NOW)
    async with transaction(sessionmaker) as session:
        cleanup = list(await session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(forgotten.cleanup))))
    assert sorted((row.kind, row.data["message_id"]) for row in cleanup) == [
        ("discord.delete", 905),  # the kudos
        ("discord.delete", 913),  # the celebration
        ("discord.edit", 911),  # the weekly ping, without <@5>
    ]


async def test_the_scheduler_runs_retention_daily_with_the_configured_days(sessionmaker) -> None:
    from types import SimpleNamespace

    from bot.config import Settings
    from bot.services import guilds
    from bot.workers.scheduler import RETENTION_JOB, SchedulerWorker

    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        old = await sent_row(session, kind="github.relay", data={}, sent_days_ago=31)
        young = await sent_row(session, kind="github.relay", data={}, sent_days_ago=29)
    settings = Settings.from_env({"DELIVERY_RETENTION_DAYS": "30"}, require_token=False)
    bot = SimpleNamespace(sessionmaker=sessionmaker, now=lambda: NOW, wake_outbox=lambda: None, runs_fleet_jobs=True)
    worker = SchedulerWorker(retention_days=settings.delivery_retention_days)
    await worker.start(bot)
    scheduler = worker.scheduler
    assert scheduler is not None
    try:
        job = scheduler.aps.get_job(RETENTION_JOB)
        assert job.trigger.interval == timedelta(days=1)
        assert scheduler.retention_days == 30
        result = await job.func()
    finally:
        scheduler.shutdown()
    assert result.deleted == 1
    async with transaction(sessionmaker) as session:
        assert set(await session.scalars(select(OutboxMessage.id))) == {young}
    assert old != young
